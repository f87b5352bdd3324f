"""FCFS + EASY backfilling of the simulated scheduler, and its what-if (Slurm power saving) pass."""

from __future__ import annotations

import pytest

from dcluster.sim.scheduler import Scheduler, SchedulerError, SimJob


def job(jid, cores, wall, order, run=None, submit=0.0):
    return SimJob(
        id=jid, submit=submit, cores=cores, runtime=run if run is not None else wall, walltime=wall, order=order
    )


def cluster(n, cores=1):
    s = Scheduler()
    for i in range(n):
        s.add_node(f"n{i}", cores, 0, 0.0)
    return s


def test_easy_backfills_only_what_does_not_delay_the_head():
    s = cluster(3)
    for j in (job("1", 2, 100, 0), job("2", 3, 50, 1), job("3", 1, 200, 2), job("4", 1, 50, 3)):
        s.submit(j)
    started = s.schedule(0.0)
    # J1 starts; J2 (all 3 nodes) is the head: reserved at t=100, no extra node.  J3 would run past
    # 100 and is held back; J4 ends at 50, before the reservation: backfilled.
    assert [j.id for j in started] == ["1", "4"]
    assert [j.id for j in s.pending] == ["2", "3"]
    s.finish_due(50.0)
    assert s.schedule(50.0) == []  # J3 still may not delay J2
    s.finish_due(100.0)
    assert [j.id for j in s.schedule(100.0)] == ["2"]
    assert [j.id for j in s.pending] == ["3"]


def test_without_backfill_the_queue_is_strict_fcfs():
    s = cluster(3)
    s.backfill = False
    for j in (job("1", 2, 100, 0), job("2", 3, 50, 1), job("4", 1, 50, 2)):
        s.submit(j)
    assert [j.id for j in s.schedule(0.0)] == ["1"]


def test_extra_cores_allow_long_backfill():
    # 4 nodes: J1 on 2 until 100; head J2 needs 3 -> at 100 four are free, one extra.
    s = cluster(4)
    for j in (job("1", 2, 100, 0), job("2", 3, 10, 1), job("3", 1, 500, 2), job("4", 1, 500, 3)):
        s.submit(j)
    assert [j.id for j in s.schedule(0.0)] == ["1", "3"]  # J3 uses the extra node; J4 would delay J2
    assert [j.id for j in s.pending] == ["2", "4"]


def test_held_nodes_take_no_jobs_and_busy_nodes_cannot_be_removed():
    s = cluster(2)
    s.hold("n0", "dcluster: test", 0.0)
    s.submit(job("1", 1, 100, 0))
    started = s.schedule(0.0)
    assert [j.id for j in started] == ["1"] and started[0].alloc == {"n1": 1}
    with pytest.raises(SchedulerError, match="still runs job"):
        s.remove_node("n1", 1.0)
    assert s.remove_node("n1", 1.0, vacate=True) == ["1"]
    assert [j.id for j in s.pending] == ["1"] and s.pending[0].restarts == 1


def test_whatif_counts_powered_down_nodes_the_queue_would_get():
    s = cluster(1)
    for j in (job("1", 3, 100, 0), job("2", 1, 100, 1)):
        s.submit(j)
    used, resume = s.whatif(0.0, booting=1, off=5, cores=1)
    # J1: n0 + the booting node + 1 powered-down; J2: 1 more powered-down.
    assert used == {"n0"} and resume == 2


def test_no_reservation_on_nodes_that_do_not_exist():
    # The head needs 3 cores and only 1 node is registered (others still boot): no reservation
    # can be made, so a later job that fits starts (as Slurm's backfill does).
    s = cluster(1)
    for j in (job("1", 3, 100, 0), job("2", 1, 1000, 1)):
        s.submit(j)
    assert [j.id for j in s.schedule(0.0)] == ["2"]
