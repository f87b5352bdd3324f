"""Timeline.jobs gives the anchored jobs as new Jobs equal to ``dataclasses.replace`` of the parsed ones
(it copies them its own, faster way) and leaves the parsed ones as they were."""

import dataclasses

from dcluster.controller.timeline import Timeline
from dcluster.model import Job, JobState


def test_anchored_jobs_are_replaced_copies_and_the_parsed_ones_are_unchanged():
    assert not hasattr(Job, "__post_init__")
    assert all(f.init for f in dataclasses.fields(Job))  # the copy passes every field to __init__
    clock = {"wall": 10_000.0, "mono": 500.0}
    tl = Timeline(lambda: clock["wall"], lambda: clock["mono"])
    full = Job(
        "7",
        JobState.RUNNING,
        queue="q",
        account="acc",
        properties=("gpu",),
        owner="u",
        name="n",
        priority=2.5,
        chunks=3,
        chunk_cores=4,
        chunk_mem_mb=100,
        distinct=False,
        walltime_s=3600,
        submit_time=9_000.0,
        nodes=("a", "b"),
        start_time=9_500.0,
        extra={"full_id": "7.srv"},
    )
    plain = Job("8", JobState.PENDING, submit_time=9_900.0)  # no walltime: its start is not anchored
    before = [dataclasses.replace(j) for j in (full, plain)]
    tl.observe()
    got = tl.jobs([full, plain], submit_times=True)
    assert got[0] is not full and got[1] is not plain
    assert got[0] == dataclasses.replace(full, submit_time=500.0 - 1_000.0, start_time=500.0 - 500.0)
    assert got[0].extra == full.extra and got[0].extra is full.extra  # shallow, as replace() is
    assert got[1] == dataclasses.replace(plain, submit_time=500.0 - 100.0)
    assert [full, plain] == before and full.start_time == 9_500.0
    clock["wall"] += 5_000.0  # a wall-clock step: the anchors made stay
    tl.observe()
    assert tl.jobs([full], submit_times=False)[0].start_time == 0.0
    assert tl.jobs([full], submit_times=False)[0].submit_time == 9_000.0


def test_a_held_jobs_begin_time_is_as_far_ahead_on_the_monotonic_clock_as_the_wall_clock_says():
    # preboot_begin_jobs compares it with the planner's now, which is monotonic in the engine: a wall time
    # left as it was would be decades away (never pre-booted); anchored like past times, "now" (at once).
    clock = {"wall": 10_000.0, "mono": 500.0}
    tl = Timeline(lambda: clock["wall"], lambda: clock["mono"])
    held = Job("9", JobState.HELD, begin_time=10_300.0, extra={"reason": "BeginTime"})
    tl.observe()
    got = tl.jobs([held], submit_times=False)[0]
    assert got == dataclasses.replace(held, begin_time=800.0) and held.begin_time == 10_300.0
    clock["mono"] += 100.0
    clock["wall"] += 40.0  # the wall clock stepped back 60 s meanwhile: the scheduler waits 60 s longer
    tl.observe()
    assert tl.jobs([held], submit_times=False)[0].begin_time == 860.0


def test_anchored_instances_and_nodes_are_what_replace_gives():
    from dcluster.controller import timeline
    from dcluster.model import Instance, InstanceState, Node, NodeState

    inst = Instance(
        id="i-1",
        resource="r1",
        minion_id="m1",
        state=InstanceState.RUNNING,
        launch_time=9_000.0,
        cluster="dc",
        name="m1",
        ip="127.0.0.2",
        cores=4,
        mem_mb=100,
        spot=True,
        tags={"a": "b"},
    )
    node = Node(name="m1", state=NodeState.IDLE, cores=4, state_since=9_600.0, extra={"x": 1})
    for obj, change in ((inst, {"launch_time": 1.0}), (node, {"state_since": 2.0})):
        got = timeline._replace(obj, **change)
        want = dataclasses.replace(obj, **change)
        assert got == want and type(got) is type(want) and got is not obj
        assert [getattr(got, f.name) for f in dataclasses.fields(got)] == [
            getattr(want, f.name) for f in dataclasses.fields(want)
        ]  # tags and extra too (compare=False)

    @dataclasses.dataclass(frozen=True)
    class Checked:  # a __post_init__ (or a field outside __init__): replace() itself
        a: int
        b: int = dataclasses.field(default=0, init=False)

        def __post_init__(self):
            object.__setattr__(self, "b", self.a * 2)

    assert timeline._replace(Checked(1), a=5).b == 10
