"""The Slurm-like scheduler model: priority, the main pass, the periodic backfill pass, its window and reservations."""

from __future__ import annotations

import pytest

from dcluster.sim.scheduler import SimJob
from dcluster.sim.slurm import Profile, SlurmParams, SlurmScheduler

H = 3600.0


def job(jid, cores, wall, order, submit=0.0):
    return SimJob(id=jid, submit=submit, cores=cores, runtime=wall, walltime=wall, order=order)


def cluster(n, machine=None, **params):
    s = SlurmScheduler(SlurmParams(**params), machine_cores=machine or n)
    for i in range(n):
        s.add_node(f"n{i}", 1, 0, 0.0)
    return s


def blocked_wide_and_narrow(s, narrow_wall):
    """A runs on 3 of 4 nodes until 2 h; W (4 nodes) is blocked behind it; N (1 node) could use the free one."""
    s.submit(job("A", 3, 2 * H, 0))
    assert [j.id for j in s.schedule(0.0)] == ["A"]
    s.submit(job("W", 4, H, 1, submit=5.0))
    s.submit(job("N", 1, narrow_wall, 2, submit=5.0))


def test_the_main_pass_stops_at_the_blocked_top_job_and_backfill_runs_on_its_own_ticks():
    s = cluster(4, bf_window=H)
    blocked_wide_and_narrow(s, narrow_wall=3 * H)
    # At the submit only the main pass runs: W (wider, so higher priority) is blocked, N waits behind it.
    assert s.schedule(5.0) == [] and s.next_pass() == 30.0
    assert s.schedule(29.0) == []
    # The backfill tick at 30 s: W's earliest start (2 h) is beyond the 1 h window, so no reservation is
    # made for it and N, which would hold the fourth node past 2 h, starts.
    assert [j.id for j in s.schedule(30.0)] == ["N"]
    assert s.bf_passes == 1 and s.next_pass() is None


def test_within_the_window_the_blocked_job_s_reservation_holds_longer_jobs_back():
    s = cluster(4, bf_window=3 * H)
    blocked_wide_and_narrow(s, narrow_wall=3 * H)
    assert s.schedule(30.0) == []  # N would end after W's reserved start at 2 h
    assert s.bf_passes == 1


def test_a_job_that_ends_before_the_reservation_is_backfilled():
    s = cluster(4, bf_window=3 * H)
    blocked_wide_and_narrow(s, narrow_wall=H)
    assert [j.id for j in s.schedule(30.0)] == ["N"]


def test_a_reservation_for_a_blocked_wide_job_counts_booting_nodes():
    # Two nodes registered and idle, two more booting (ready at 200 s).  W needs all four.
    s = cluster(2, machine=4, bf_window=H)
    s.submit(job("W", 4, H, 0))
    s.submit(job("N", 1, 1000.0, 1))
    s.future_nodes = lambda now: [(200.0, 1), (200.0, 1)]
    # Counting them, W is reserved from 200 s and N (running to 1030 s) would take a node it needs.
    assert s.schedule(30.0) == []
    s2 = cluster(2, machine=4, bf_window=H)
    s2.submit(job("W", 4, H, 0))
    s2.submit(job("N", 1, 1000.0, 1))
    # Not counting them, W can never fit on the two nodes there are: no reservation, N starts.
    assert [j.id for j in s2.schedule(30.0)] == ["N"]


def test_priority_weights_age_and_size():
    # Two idle nodes; a 2-node job submitted after a 1-node job.
    def first(**params):
        s = cluster(2, **params)
        s.submit(job("small", 1, 100, 0, submit=0.0))
        s.submit(job("wide", 2, 100, 1, submit=3600.0))
        return [j.id for j in s.by_priority(3600.0)]

    assert first(prio_age=1000, prio_size=1000) == ["wide", "small"]  # size outweighs an hour of age
    assert first(prio_age=1000, prio_size=1000, favor_small=True) == ["small", "wide"]
    assert first(prio_age=1000, prio_size=0) == ["small", "wide"]  # age alone: the older first
    assert first(prio_age=1000, prio_size=1, prio_max_age=3600) == ["small", "wide"]  # age dominates when it caps fast


def test_the_backfill_pass_tests_at_most_bf_max_job_test_jobs():
    def started(cap):
        s = cluster(4, bf_window=3 * H, bf_max_job_test=cap)
        blocked_wide_and_narrow(s, narrow_wall=H)
        return [j.id for j in s.schedule(30.0)]

    assert started(1) == []  # only W, the top job, is tested
    assert started(2) == ["N"]


def test_bf_reserve_limits_reservations_to_the_top_jobs():
    # A on 3 of 4 nodes until 2 h; W0 (3 nodes, 1 h) is reserved 2-3 h, W1 (4 nodes, 1 h) 3-4 h;
    # N (1 node, 3.5 h) fits beside A and W0 but not W1.
    def started(reserve):
        s = cluster(4, bf_window=30 * H, bf_reserve=reserve, prio_size=0)
        s.submit(job("A", 3, 2 * H, 0))
        s.schedule(0.0)
        s.submit(job("W0", 3, H, 1, submit=1.0))
        s.submit(job("W1", 4, H, 2, submit=1.0))
        s.submit(job("N", 1, 3.5 * H, 3, submit=2.0))
        return [j.id for j in s.schedule(30.0)]

    assert started(0) == []  # every job tested is reserved for: N would delay W1
    assert started(2) == []
    assert started(1) == ["N"]  # only W0 is protected


def test_profile_finds_the_first_gap_long_enough():
    p = Profile(0.0, 1, [(100.0, 2), (300.0, -2)])  # 1 core until 100, 3 until 300, 1 after
    assert p.earliest(1, 1000.0, 1e9) == 0.0
    assert p.earliest(3, 200.0, 1e9) == 100.0
    assert p.earliest(3, 201.0, 1e9) is None
    assert p.earliest(3, 100.0, 50.0) is None  # the start is past the window
    p.take(100.0, 200.0, 2)
    assert p.earliest(3, 100.0, 1e9) == 200.0


def test_whatif_counts_powered_down_nodes_in_priority_order():
    s = cluster(1)
    s.submit(job("1", 3, 100, 0))
    s.submit(job("2", 1, 100, 1))
    used, resume = s.whatif(0.0, booting=1, off=5, cores=1)
    # Job 1 (3 nodes): n0, the booting node and one powered-down; job 2: one more powered-down.
    assert used == {"n0"} and resume == 2


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="bf_interval is 0; it must be at least 1"):
        SlurmScheduler(SlurmParams(bf_interval=0))


BLOCKED = """\
1 0 -1 300 2 -1 -1 2 300 -1 1 1 1 -1 -1 -1 -1 -1
2 400 -1 1000 4 -1 -1 4 1000 -1 1 1 1 -1 -1 -1 -1 -1
3 400 -1 5000 1 -1 -1 1 5000 -1 1 1 1 -1 -1 -1 -1 -1
"""


@pytest.mark.parametrize(
    "policy, reserve_future, wide_start, protect",
    [
        ("powersave", None, 540.0, True),  # Slurm knows its powered-down nodes: the wide job's reservation counts them
        ("powersave", False, 5540.0, True),
        ("dcluster", None, 5540.0, False),  # dcluster adds a node to Slurm once it has booted: nothing to count
        ("dcluster", True, 540.0, False),
        # protect_wide_jobs: at 400 dcluster launches the 2 nodes job 2 lacks and holds the 2 it counts on,
        # so job 3 cannot take one at 420; at 520 all four join together and job 2 starts
        ("dcluster", None, 520.0, True),
    ],
)
def test_the_replay_lets_reservations_count_nodes_to_come(policy, reserve_future, wide_start, protect):
    # Job 1 holds the only 2 nodes until 420 s; at 400 s job 2 (all 4 nodes) and job 3 (1 node, 5000 s) arrive.
    # When job 1 ends, 2 nodes are idle: counting the 2 the cloud may still give (one boot away), job 2 is
    # reserved and job 3 is held back; otherwise job 3 takes a node and job 2 waits for it to end.
    from dcluster.sim.replay import Settings, jobs_from_swf, replay
    from dcluster.sim.swf import parse_line

    records = [r for r in (parse_line(line, "t.swf", i) for i, line in enumerate(BLOCKED.splitlines(), 1)) if r]
    jobs, _ = jobs_from_swf(records)
    r = replay(
        jobs,
        Settings(
            policy=policy,
            max_nodes=4,
            boot=120,
            idle=600,
            scheduler="slurm",
            reserve_future=reserve_future,
            wide_protection=protect,
        ),
    )
    assert {j.id: j.start for j in r.jobs}["2"] == wide_start


def test_slurm_options_from_the_salt_cli_are_converted_and_checked():
    from dcluster.sim.simulation import settings_from

    s = settings_from("kth", {"scheduler": "slurm", "slurm": {"bf_window": "7200", "favor_small": "yes"}})
    assert (s.slurm.bf_window, s.slurm.favor_small) == (7200, True)
    with pytest.raises(ValueError, match="unknown slurm option 'bf_windw'"):
        settings_from("kth", {"slurm": {"bf_windw": 1}})
    with pytest.raises(ValueError, match="slurm option bf_window='day' is not an integer"):
        settings_from("kth", {"slurm": {"bf_window": "day"}})
