"""Timeline's anchors stay one per item, and the record of our create call outlives max_launch_time."""

from dcluster.controller.timeline import Timeline


def test_an_item_whose_time_changes_at_every_poll_keeps_one_anchor():
    # a source that moves running jobs' start times at each poll made an anchor per time seen, forgotten
    # only after an hour unused: 4.6 GB an hour at 50,000 jobs (red team)
    clock = {"wall": 10_000.0, "mono": 500.0}
    tl = Timeline(lambda: clock["wall"], lambda: clock["mono"])
    for k in range(200):
        clock["mono"] += 10.0
        clock["wall"] += 10.0
        tl.observe()
        at = tl.anchor("start", "7", 9_000.0 + k)
        assert at == clock["mono"] - (clock["wall"] - (9_000.0 + k))  # the new time, anchored afresh
    assert len(tl._anchors) == 1
    assert tl.anchor("start", "7", 9_199.0) == at  # seen again: the same anchor


def test_our_create_call_bounds_a_launch_time_for_as_long_as_the_worker_may_be_starting():
    # max_launch_time 2 h; the wall clock steps an hour forward while the worker starts, then the master
    # restarts: the worker must not look an hour older than it is (it was destroyed as never usable)
    launched: dict[str, float] = {}
    clock = {"wall": 10_000.0, "mono": 0.0}
    tl = Timeline(lambda: clock["wall"], lambda: clock["mono"], launched=launched)
    tl.launching(["m1"])
    tl.keep_launched = 2 * 7_200.0
    for _ in range(37):  # 3,700 s of cycles; the wall clock jumps 3,600 s on the way
        clock["mono"] += 100.0
        clock["wall"] += 100.0
        tl.observe()
    clock["wall"] += 3_600.0
    tl.observe()
    assert "m1" in launched
    restarted = Timeline(lambda: clock["wall"], lambda: clock["mono"], launched=launched)  # keep_launched unknown
    restarted.observe()
    assert restarted.anchor("launch", "m1", 10_000.0) == 0.0  # asked at 0: 3,700 s old, not 7,300
    restarted.keep_launched = 2 * 7_200.0  # its first cycle read the pillar
    restarted.observe()
    assert "m1" in launched
    clock["mono"] += 2 * 7_200.0  # long past anything it could still be starting for
    restarted.observe()
    assert "m1" not in launched
