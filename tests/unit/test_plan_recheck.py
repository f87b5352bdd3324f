"""Plan.recheck: when a decision of the plan changes by the clock alone (issue 17: an honest replay).

The replay skips the cycles in which nothing changes; it may do so only if every decision that turns on
the time alone says when it turns.  Each test builds a plan whose soonest such decision is the one named,
and fails with that ``_recheck_at`` left out (the replay then decided later than the engine would;
``tests/unit/sim/test_sim_policies.py::test_skipping_ticks_changes_no_result_on_a_kth_slice``).
"""

from dataclasses import replace

import pytest
from builders import NOW, config, inst, job, view, wid, worker

from dcluster.model import JobState, NodeState
from dcluster.planner import plan


def _blocked_at_max(behind=()):
    """4 one-core nodes (the max), all busy with a job whose wall time ends at NOW + 1000; a 4-core job
    waits for them (its reservation: NOW + 1000); ``behind``: jobs queued after it."""
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 4}}}, max_idle_time=300)
    names = [wid(n=i) for i in range(4)]
    pairs = [worker(n, cores=1, state=NodeState.BUSY, used=1, jobs=("run",), since=NOW - 100) for n in names]
    running = replace(
        job("run", chunks=4, state=JobState.RUNNING), nodes=tuple(names), start_time=NOW - 100, walltime_s=1100
    )
    wide = replace(job("wide", chunks=4), walltime_s=3600)
    insts = [replace(i, cores=1) for _, i in pairs]
    v = view(cfg, [n for n, _ in pairs], {"r1": insts}, jobs=[running, wide, *behind], configured=set(names))
    return cfg, v


def test_a_running_job_s_wall_time_end_is_when_the_reservation_may_move():
    # Past its wall time a running job counts as ending at each cycle: the reserved start moves with the clock.
    cfg, v = _blocked_at_max()
    assert plan(v, cfg).recheck == pytest.approx(NOW + 1000)


def test_a_job_in_the_backfill_window_is_rechecked_when_the_window_closes_on_it():
    # 600 s of wall time fits before the reserved start (NOW + 1000) until NOW + 400; after that it would
    # delay the wide job, and the plan no longer keeps or launches a node for it.
    short = replace(job("short", submit=1.0), walltime_s=600)
    cfg, v = _blocked_at_max(behind=[short])
    assert plan(v, cfg).recheck == pytest.approx(NOW + 400)


def test_a_job_younger_than_scale_up_delay_is_rechecked_when_it_may_launch():
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 4}}}, scale_up_delay=60)
    p = plan(view(cfg, jobs=[job("j", submit=NOW - 10)]), cfg)
    assert p.launches() == {} and p.recheck == pytest.approx(NOW + 50)


def test_a_booting_node_is_rechecked_at_max_launch_time():
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 4}}}, max_launch_time=900)
    a = wid(n=1)
    p = plan(view(cfg, [], {"r1": [inst(a, age=100, cores=1)]}), cfg)
    assert p.recheck == pytest.approx(NOW - 100 + 900)


def test_a_booted_node_held_back_for_a_wide_job_is_rechecked_at_half_of_max_launch_time():
    a, b = wid(n=1), wid(n=2)  # a booted and configured, b still booting
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 10}}}, max_launch_time=1200, protect_wide_jobs=True)
    insts = {"r1": [inst(a, age=200, cores=1), inst(b, age=10, cores=1)]}
    p = plan(view(cfg, [], insts, jobs=[job("wide", chunks=2)], configured={a}), cfg)
    assert p.recheck == pytest.approx(NOW - 200 + 600)  # then it is registered whatever b does


def test_a_down_node_is_rechecked_at_max_down_time():
    cfg = config(max_down_time=480)
    n, i = worker(wid(n=1), state=NodeState.DOWN, since=NOW - 100)
    first = view(cfg, [n], {"r1": [i]}, now=NOW - 100)  # one poll says down: down from here
    second = view(cfg, [n], {"r1": [i]}, now=NOW - 90, previous=first)  # once the next agrees
    p = plan(view(cfg, [n], {"r1": [i]}, previous=second), cfg)
    assert p.actions == () and p.recheck == pytest.approx(NOW - 100 + 480)
