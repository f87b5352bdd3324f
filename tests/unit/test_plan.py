"""Table-driven tests for every rule of plan(), with Dynamic Cluster v1's bugs (the sim's dc1 policy) as regression cases."""

import random

import pytest
from builders import NOW, config, inst, job, node, view, wid, worker

from dcluster.model import InstanceState, JobState, NodeState, WorkerState
from dcluster.planner import Kind, plan
from dcluster.planner import backoff as bo
from dcluster.reconcile import BackoffState, Limits


def kinds(p):
    return [(a.kind, a.resource if a.kind == Kind.LAUNCH else a.target, a.count) for a in p.actions]


def launches(p):
    return p.launches()


# ----------------------------------------------------------------- scale-up
@pytest.mark.parametrize(
    "jobs, cores, expected, why",
    [
        ([job(i) for i in range(100)], 4, 25, "all 100 pending jobs count (dc1 looked at 30 only)"),
        ([job(1, chunks=6, distinct=False)], 4, 2, "6 slots on 4-core nodes need 2 nodes (dc1: floor gave 1)"),
        ([job(1, cores=4), job(2, cores=4)], 4, 2, "ncpus=4 is 4 cores on one node (original: counted as 1)"),
        ([job(1, chunks=3, cores=2)], 4, 3, "nodes=3:ppn=2 needs 3 distinct nodes"),
        ([job(1, chunks=10, distinct=False)], 4, 3, "SGE $fill_up: 10 slots pack onto 3 nodes"),
        ([job(1, cores=3), job(2, cores=1), job(3, cores=2), job(4, cores=2)], 4, 2, "chunks share nodes"),
        ([job(1, mem=3000), job(2, mem=3000)], 4, 2, "memory keeps them apart"),
        ([], 4, 0, "no demand, no launch"),
        ([job(1, state=JobState.HELD), job(2, state=JobState.RUNNING)], 4, 0, "held/running jobs are no demand"),
    ],
)
def test_scale_up_packing(jobs, cores, expected, why):
    cfg = config({"r1": {"cores": cores, "mem_mb": 4096, "quantity": {"min": 0, "max": 30}}})
    assert launches(plan(view(cfg, jobs=jobs), cfg)).get("r1", 0) == expected, why


def test_never_exceeds_max_and_reports_waiting_jobs():
    cfg = config({"r1": {"quantity": {"min": 0, "max": 3}}})
    name = wid()
    n, i = worker(name, state=NodeState.BUSY, used=4, jobs=("x",))
    p = plan(view(cfg, [n], {"r1": [i]}, jobs=[job(k, cores=4) for k in range(10)]), cfg)
    assert launches(p) == {"r1": 2}  # one exists already: 3 - 1
    assert len(p.waiting) == 8 and "at max" in p.waiting[0][1]


def test_starting_and_requested_capacity_is_counted_so_a_job_never_causes_two_launches():
    cfg = config()
    name = wid()
    starting = view(cfg, [], {"r1": [inst(name, age=30)]}, jobs=[job(1, cores=4)])
    assert launches(plan(starting, cfg)) == {}
    requested = view(cfg, jobs=[job(1, cores=4)], in_flight={"r1": 1})
    assert launches(plan(requested, cfg)) == {}
    # ...and the next cycle, with the same job still pending, asks for nothing more either
    assert launches(plan(view(cfg, jobs=[job(1, cores=4), job(2, cores=4)], in_flight={"r1": 1}), cfg)) == {"r1": 1}


def test_one_stuck_starting_node_does_not_block_scale_up():
    cfg = config()
    stuck = wid(n=1)
    v = view(cfg, [], {"r1": [inst(stuck, age=1100)]}, jobs=[job(k, cores=4) for k in range(3)])
    assert launches(plan(v, cfg)) == {"r1": 2}


def test_free_capacity_on_idle_and_partly_busy_nodes_is_used_first():
    cfg = config()
    a, b = wid(n=1), wid(n=2)
    na, ia = worker(a, state=NodeState.BUSY, used=2, jobs=("r",))
    nb, ib = worker(b)
    v = view(cfg, [na, nb], {"r1": [ia, ib]}, jobs=[job(1, cores=2), job(2, cores=4), job(3, cores=4)])
    p = plan(v, cfg)
    assert launches(p) == {"r1": 1}
    assert not p.of(Kind.HOLD)


@pytest.mark.parametrize(
    "j, reason_part",
    [
        (job(1, cores=8), "needs 8 cores"),
        (job(1, mem=999_999), "MB on one node"),
        (job(1, chunks=11, cores=1), "separate nodes"),
        (job(1, queue="gpu"), "queue gpu"),
        (job(1, props=("bigmem",)), "properties bigmem"),
    ],
)
def test_jobs_that_can_never_fit_are_reported_not_launched_for(j, reason_part):
    cfg = (
        config({"r1": {"cores": 4, "mem_mb": 8000, "reservation": {"queue": "batch"}}})
        if "queue" in reason_part
        else config({"r1": {"cores": 4, "mem_mb": 8000}})
    )
    p = plan(view(cfg, jobs=[j]), cfg)
    assert launches(p) == {}
    assert len(p.unplaceable) == 1 and reason_part in p.unplaceable[0][1]


def test_reservation_matching_and_expander_order():
    cfg = config(
        {
            "cheap": {"priority": 1},
            "dear": {"priority": 5},
            "acct": {"priority": 9, "reservation": {"account": "physics"}},
            "q": {"priority": 9, "reservation": {"queue": "long"}},
            "prop": {"priority": 9, "reservation": {"property": "ssd"}},
        }
    )
    cases = [
        (job(1, cores=4), "cheap"),  # lower priority number wins
        (job(2, cores=4, account="physics"), "acct"),  # exact reservation match first
        (job(3, cores=4, queue="long"), "q"),
        (job(4, cores=4, props=("ssd",)), "prop"),
        (job(5, cores=4, account="chemistry"), "cheap"),  # account-reserved resource refuses others
    ]
    for j, where in cases:
        assert launches(plan(view(cfg, jobs=[j]), cfg)) == {where: 1}, j


def test_property_reserved_resource_accepts_jobs_without_property():
    cfg = config({"prop": {"reservation": {"property": "ssd"}}})
    assert launches(plan(view(cfg, jobs=[job(1)]), cfg)) == {"prop": 1}


def test_equal_priority_prefers_the_resource_with_fewer_nodes():
    cfg = config({"a": {}, "b": {}})
    names = [wid("a", n) for n in range(2)]
    pairs = [worker(n, "a", state=NodeState.BUSY, used=4, jobs=("x",)) for n in names]
    v = view(cfg, [p[0] for p in pairs], {"a": [p[1] for p in pairs], "b": []}, jobs=[job(1, cores=4)])
    assert launches(plan(v, cfg)) == {"b": 1}


def test_priority_order_decides_who_gets_the_last_capacity():
    cfg = config({"r1": {"quantity": {"min": 0, "max": 1}}})
    p = plan(view(cfg, jobs=[job("low", cores=4, prio=1), job("high", cores=4, prio=10)]), cfg)
    assert p.of(Kind.LAUNCH)[0].jobs == ("high",)
    assert p.waiting[0][0] == "low"


def test_queue_to_monitor_limits_demand():
    cfg = load_with_queue = config(cluster={"type": "slurm", "config": {"queue_to_monitor": ["batch"]}})
    p = plan(view(load_with_queue, jobs=[job(1, queue="batch"), job(2, queue="debug", cores=4)]), cfg)
    assert launches(p) == {"r1": 1} and p.of(Kind.LAUNCH)[0].jobs == ("1",)


def test_top_up_to_min_and_never_over_max():
    cfg = config({"r1": {"quantity": {"min": 2, "max": 3}}})
    p = plan(view(cfg), cfg)
    assert launches(p) == {"r1": 2} and "below min" in p.of(Kind.LAUNCH)[0].reason
    name = wid()
    n, i = worker(name, state=NodeState.BUSY, used=4, jobs=("x",))
    assert launches(plan(view(cfg, [n], {"r1": [i]}, jobs=[job(k, cores=4) for k in range(5)]), cfg)) == {"r1": 2}


def test_backoff_falls_back_to_the_next_resource():
    cfg = config({"a": {"priority": 1}, "b": {"priority": 2}})
    v = view(cfg, jobs=[job(1, cores=4)], backoff={"a": BackoffState(1, NOW + 60, "capacity", "no valid host")})
    assert launches(plan(v, cfg)) == {"b": 1}
    both = {"a": BackoffState(1, NOW + 60, "quota", "q"), "b": BackoffState(1, NOW + 60, "transient", "t")}
    p = plan(view(cfg, jobs=[job(1, cores=4)], backoff=both), cfg)
    assert launches(p) == {} and "backing off" in p.waiting[0][1]
    expired = {"a": BackoffState(1, NOW - 1, "quota", "q")}
    assert launches(plan(view(cfg, jobs=[job(1, cores=4)], backoff=expired), cfg)) == {"a": 1}


def test_backoff_schedule_tells_capacity_from_transient():
    s = config().backoff
    t1 = bo.failure(None, "transient", "503", 0, s)
    t2 = bo.failure(t1, "transient", "503", 0, s)
    t9 = t2
    for _ in range(10):
        t9 = bo.failure(t9, "transient", "503", 0, s)
    assert (t1.until, t2.until, t9.until) == (s.initial, s.initial * s.factor, s.max)
    assert bo.failure(None, "capacity", "full", 0, s).until == s.capacity_pause
    assert bo.failure(None, "quota", "quota", 0, s).until == s.capacity_pause
    assert bo.failure(None, "auth", "401", 0, s).until == s.max
    assert bo.success(t9) is None


def test_backoff_lasts_at_least_the_cloud_s_retry_after_up_to_max():
    s = config().backoff
    assert bo.failure(None, "transient", "429", 0, s, retry_after=s.initial + 7).until == s.initial + 7
    assert bo.failure(None, "transient", "429", 0, s, retry_after=1).until == s.initial  # never shorter
    assert bo.failure(None, "transient", "429", 0, s, retry_after=10**9).until == s.max  # nor for ever


# ----------------------------------------------------------------- scale-down
def test_idle_past_limit_is_held_with_our_reason_and_never_below_min():
    cfg = config({"r1": {"quantity": {"min": 1, "max": 10}}}, max_idle_time=600)
    a, b, c = wid(n=1), wid(n=2), wid(n=3)
    pairs = [worker(a), worker(b), worker(c)]
    # the scheduler reports a idle since NOW-1000, b since NOW-700, c since NOW-100
    ages = {a: 1000, b: 700, c: 100}
    nodes = [node(n.name, since=NOW - ages[n.name]) for n, _ in pairs]
    v = view(cfg, nodes, {"r1": [p[1] for p in pairs]}, now=NOW)
    p = plan(v, cfg)
    held = [a.target for a in p.of(Kind.HOLD)]
    assert held == sorted([a, b], key=lambda n: {a: 0, b: 1}[n])
    assert all(x.reason.startswith("dcluster") for x in p.of(Kind.HOLD))
    # the adapters refuse hold reasons with other characters (found by the first end-to-end run: ">=")
    from dcluster.schedulers.validate import check_reason

    assert all(check_reason(x.reason) for x in p.of(Kind.HOLD))
    cfg_min2 = config({"r1": {"quantity": {"min": 2, "max": 10}}}, max_idle_time=600)
    assert [x.target for x in plan(v, cfg_min2).of(Kind.HOLD)] == [a]


def test_per_resource_idle_override():
    cfg = config({"r1": {"max_idle_time": 60}, "r2": {}}, max_idle_time=600)
    a, b = wid("r1", 1), wid("r2", 2)
    na, ia = worker(a, "r1", since=NOW - 120)
    nb, ib = worker(b, "r2", since=NOW - 120)
    p = plan(view(cfg, [na, nb], {"r1": [ia], "r2": [ib]}), cfg)
    assert [x.target for x in p.of(Kind.HOLD)] == [a]


def test_idle_node_that_pending_demand_fits_is_not_held():
    cfg = config(max_idle_time=0)
    a = wid()
    n, i = worker(a, since=NOW - 5000)
    assert plan(view(cfg, [n], {"r1": [i]}, jobs=[job(1, cores=4)]), cfg).actions == ()
    # without demand: held, removed and destroyed in one plan, in that order (the actuator stops at a failure)
    assert [x.kind for x in plan(view(cfg, [n], {"r1": [i]}), cfg).actions] == [Kind.HOLD, Kind.REMOVE, Kind.DESTROY]


def test_drained_empty_node_is_removed_then_destroyed_in_that_order():
    cfg = config()
    a = wid()
    n, i = worker(a, state=NodeState.HELD, reason="dcluster: idle 700 s")
    first = view(cfg, [n], {"r1": [i]})
    # one poll is no ground for a destroy (a wrong answer would cost a good node): the next confirms it
    assert plan(first, cfg).actions == () and plan(first, cfg).kept[a][0] == "confirming"
    p = plan(view(cfg, [n], {"r1": [i]}, now=NOW + 10, previous=first), cfg)
    assert [(x.kind, x.target) for x in p.actions] == [(Kind.REMOVE, a), (Kind.DESTROY, a)]
    assert p.actions[1].instance_id == i.id


def test_drained_node_with_jobs_waits():
    cfg = config()
    a = wid()
    n, i = worker(a, state=NodeState.HELD, reason="dcluster: idle", jobs=("5",), used=1)
    assert plan(view(cfg, [n], {"r1": [i]}), cfg).actions == ()


def test_draining_node_is_released_when_demand_returns_instead_of_launching():
    cfg = config()
    a = wid()
    n, i = worker(a, state=NodeState.HELD, reason="dcluster: idle 700 s")
    p = plan(view(cfg, [n], {"r1": [i]}, jobs=[job(1, cores=4)]), cfg)
    assert kinds(p) == [(Kind.RELEASE, a, 0)]


@pytest.mark.parametrize(
    "state, kw",
    [
        (NodeState.BUSY, {"jobs": ("1",), "used": 4}),
        (NodeState.HELD, {"reason": "hardware check (bob)"}),  # admin-held: original deleted these automatically
        (NodeState.HELD, {"reason": ""}),
    ],
)
def test_busy_and_admin_held_nodes_are_never_touched(state, kw):
    cfg = config(max_idle_time=0, max_down_time=0)
    a = wid()
    n, i = worker(a, state=state, since=NOW - 99999, **kw)
    assert plan(view(cfg, [n], {"r1": [i]}), cfg).actions == ()


def test_physical_nodes_are_never_touched():
    cfg = config(max_idle_time=0, max_down_time=0)
    nodes = [node("cn01", since=NOW - 99999), node("cn02", state=NodeState.DOWN, since=NOW - 99999)]
    assert plan(view(cfg, nodes), cfg).actions == ()


def _confirmed(cfg, *args, **kw):
    """The view after polls across confirm_absence (defaults: 3 polls, 60 s) that all agree."""
    v = None
    for ago in (60, 30, 0):
        v = view(cfg, *args, now=NOW - ago, previous=v, **kw)
    return v


def test_orphan_is_destroyed_and_stuck_starting_node_removed_then_destroyed():
    cfg = config(max_launch_time=1200, max_down_time=50)  # the polls below saw the node silent for 60 s
    orphan, stuck = wid(n=1), wid(n=2)
    v = _confirmed(
        cfg, [node(stuck, state=NodeState.STARTING)], {"r1": [inst(orphan, age=1300), inst(stuck, age=1300)]}
    )
    p = plan(v, cfg)
    assert [(x.kind, x.target) for x in p.actions] == [
        (Kind.DESTROY, orphan),
        (Kind.REMOVE, stuck),
        (Kind.DESTROY, stuck),
    ]
    assert "max_launch_time" in p.actions[0].reason


def test_down_node_is_deleted_after_max_down_time_only_without_jobs():
    cfg = config(max_down_time=480)
    a, b, c = wid(n=1), wid(n=2), wid(n=3)
    pairs = [
        worker(a, state=NodeState.DOWN, since=NOW - 500),
        worker(b, state=NodeState.DOWN, since=NOW - 100),
        worker(c, state=NodeState.DOWN, since=NOW - 500, jobs=("9",)),
    ]
    nodes, insts = [x[0] for x in pairs], {"r1": [x[1] for x in pairs]}
    before = [nodes[0], worker(b)[0], nodes[2]]  # b was up then
    first = view(cfg, before, insts, now=NOW - 500)  # a: one poll says down (unknown until the next agrees)
    second = view(cfg, before, insts, now=NOW - 490, previous=first)  # a: down, as dcluster saw it from now
    p = plan(view(cfg, nodes, insts, previous=second), cfg)
    assert [(x.kind, x.target) for x in p.actions] == [(Kind.REMOVE, a), (Kind.DESTROY, a)]
    assert any(c in note for note in p.notes)


def test_a_down_node_seen_once_is_not_destroyed_whatever_time_the_scheduler_gives():
    # after a failed poll or a restart the scheduler's "down since" may be old, or from a clock behind the
    # master's: the down time is counted from when dcluster saw it down (red team: destroyed at once)
    cfg = config(max_down_time=480)
    a = wid(n=1)
    n, i = worker(a, state=NodeState.DOWN, since=1.0)
    once = view(cfg, [n], {"r1": [i]}, now=NOW - 10)
    assert plan(once, cfg).actions == ()  # one poll: unknown, nothing done (nor a replacement launched)
    v = view(cfg, [n], {"r1": [i]}, previous=once)
    p = plan(v, cfg)
    assert p.of(Kind.DESTROY) == [] and p.recheck == pytest.approx(NOW - 10 + 480)  # from the first "down"
    assert plan(view(cfg, [n], {"r1": [i]}, now=NOW + 471, previous=v), cfg).of(Kind.DESTROY)


def test_node_whose_instance_vanished_is_removed_once_no_job_runs_on_it():
    cfg = config()
    a = wid()
    busy = _confirmed(cfg, [node(a, state=NodeState.BUSY, jobs=("3",), used=1)], {"r1": []})
    assert plan(busy, cfg).actions == ()  # the scheduler ends the jobs of a machine that is gone: not us
    p = plan(_confirmed(cfg, [node(a, state=NodeState.DOWN)], {"r1": []}), cfg)
    assert [(x.kind, x.target, x.jobs) for x in p.actions] == [(Kind.REMOVE, a, ())]


def test_instance_in_error_is_destroyed():
    cfg = config()
    a = wid()
    listed = inst(a, state=InstanceState.ERROR)
    first = view(cfg, [], {"r1": [listed]})
    assert plan(first, cfg).actions == ()  # one listing: confirmed by the next first
    same = view(cfg, [], {"r1": [listed]}, now=NOW + 10, previous=first)
    assert plan(same, cfg).actions == ()  # the same listing seen again (not polled since) is no second one
    p = plan(view(cfg, [], {"r1": [inst(a, state=InstanceState.ERROR)]}, now=NOW + 10, previous=first), cfg)
    assert [(x.kind, x.target) for x in p.actions] == [(Kind.DESTROY, a)]


def test_configured_worker_is_registered():
    cfg = config()
    a = wid()
    p = plan(view(cfg, [], {"r1": [inst(a, age=60)]}, configured={a}), cfg)
    assert [(x.kind, x.target, x.cores) for x in p.actions] == [(Kind.REGISTER, a, 4)]


# ----------------------------------------------------------------- failed polls, modes
def test_failed_scheduler_poll_plans_nothing():
    cfg = config(max_idle_time=0)
    a = wid()
    p = plan(view(cfg, None, {"r1": [inst(a, age=99999)]}, jobs=[job(1)]), cfg)
    assert p.actions == () and "scheduler poll failed" in p.notes[0]


def test_failed_cloud_poll_deletes_nothing_of_that_resource():
    cfg = config({"r1": {}, "r2": {}}, max_idle_time=0)
    a, b = wid("r1", 1), wid("r2", 2)
    nb, ib = worker(b, "r2", since=NOW - 5000)
    v = view(cfg, [node(a, since=NOW - 5000), nb], {"r1": None, "r2": [ib]}, jobs=[])
    p = plan(v, cfg)
    # r2's idle node is held, removed and destroyed; r1's unknown one is left alone
    assert [x.target for x in p.actions] == [b, b, b]


def test_auto_mode_off_keeps_the_cluster_but_still_destroys_orphans():
    cfg = config(max_idle_time=0)
    idle, orphan = wid(n=1), wid(n=2)
    n, i = worker(idle, since=NOW - 5000)
    v = _confirmed(
        cfg, [n], {"r1": [i, inst(orphan, age=99999)]}, jobs=[job(1, cores=4), job(2, cores=4)], auto_mode=False
    )
    p = plan(v, cfg)
    assert [(x.kind, x.target) for x in p.actions] == [(Kind.DESTROY, orphan)]


def test_drain_holds_idle_and_busy_and_launches_nothing():
    cfg = config()
    a, b = wid(n=1), wid(n=2)
    pa, pb = worker(a), worker(b, state=NodeState.BUSY, jobs=("1",), used=4)
    v = view(
        cfg, [pa[0], pb[0]], {"r1": [pa[1], pb[1]]}, jobs=[job(5, cores=4)], limits={"r1": Limits(0, 0, "draining")}
    )
    p = plan(v, cfg)
    assert sorted((x.kind, x.target) for x in p.actions) == sorted([(Kind.HOLD, a), (Kind.HOLD, b)])


def test_freeze_keeps_size():
    cfg = config(max_idle_time=0)
    a = wid()
    n, i = worker(a, since=NOW - 9999)
    v = view(cfg, [n], {"r1": [i]}, jobs=[job(k, cores=4) for k in range(3)], limits={"r1": Limits(1, 1, "frozen")})
    assert plan(v, cfg).actions == ()


# ----------------------------------------------------------------- properties of the plan
def test_plans_are_deterministic_whatever_the_input_order():
    cfg = config(
        {"a": {"priority": 1, "quantity": {"min": 1, "max": 5}}, "b": {"quantity": {"min": 0, "max": 5}}},
        max_idle_time=100,
    )
    names = [wid("a", n) for n in range(4)]
    pairs = [worker(n, "a", since=NOW - 50 * k) for k, n in enumerate(names)]
    jobs = [job(k, cores=1 + k % 4, prio=k % 3, submit=k) for k in range(30)]
    base = plan(view(cfg, [p[0] for p in pairs], {"a": [p[1] for p in pairs], "b": []}, jobs=jobs), cfg)
    rng = random.Random(7)
    for _ in range(5):
        ps, js = pairs[:], jobs[:]
        rng.shuffle(ps)
        rng.shuffle(js)
        again = plan(view(cfg, [p[0] for p in ps], {"a": [p[1] for p in ps], "b": []}, jobs=js), cfg)
        assert again == base
    assert all(a.reason for a in base.actions)


def test_a_worker_being_registered_still_counts_as_capacity():
    # regression: registering a configured worker must not make its capacity vanish (double launch)
    cfg = config()
    a = wid()
    p = plan(view(cfg, [], {"r1": [inst(a, age=60)]}, jobs=[job(1, cores=4)], configured={a}), cfg)
    assert [x.kind for x in p.actions] == [Kind.REGISTER]


def test_scale_up_delay_launches_only_for_jobs_that_waited_long_enough():
    cfg = config(scale_up_delay=120)
    fresh, old = job("fresh", cores=4, submit=NOW - 30), job("old", cores=4, submit=NOW - 200)
    p = plan(view(cfg, jobs=[fresh, old]), cfg)
    assert launches(p) == {"r1": 1} and p.of(Kind.LAUNCH)[0].jobs == ("old",)
    assert p.waiting == (("fresh", "pending for less than scale_up_delay (120 s)"),)
    # existing capacity is still counted for young jobs: no hold of an idle node they fit on
    a = wid()
    n, i = worker(a, since=NOW - 5000)
    cfg0 = config(scale_up_delay=120, max_idle_time=0)
    assert plan(view(cfg0, [n], {"r1": [i]}, jobs=[fresh]), cfg0).actions == ()


# ----------------------------------------------------------------- the scheduler's reservation (EASY)
def _resv_case(respect=True, known_start=True, extra_jobs=(), protect=True):
    """3 one-core nodes at max 3: A runs until NOW+900, B until NOW+100, C idle.  The head job needs 3
    cores, so the scheduler reserves them for NOW+900 (B's core at +100, A's at +900), none left over."""
    from dataclasses import replace

    cfg = config(
        {"r1": {"cores": 1, "quantity": {"min": 0, "max": 3}}},
        max_idle_time=0,
        respect_reservations=respect,
        protect_wide_jobs=protect,
    )
    a, b, c = wid(n=1), wid(n=2), wid(n=3)
    na, ia = worker(a, state=NodeState.BUSY, cores=1, used=1, jobs=("run",))
    nb, ib = worker(b, state=NodeState.BUSY, cores=1, used=1, jobs=("run2",))
    nc, ic = worker(c, cores=1, since=NOW - 5000)
    start = NOW - 100 if known_start else 0.0
    running = [
        replace(job("run", state=JobState.RUNNING), nodes=(a,), start_time=start, walltime_s=1000),
        replace(job("run2", state=JobState.RUNNING), nodes=(b,), start_time=start, walltime_s=200),
    ]
    pending = [
        replace(job("wide", chunks=3), walltime_s=100),
        replace(job("long", submit=1.0), walltime_s=5000),
        *extra_jobs,
    ]
    return cfg, c, plan(view(cfg, [na, nb, nc], {"r1": [ia, ib, ic]}, jobs=running + pending), cfg)


def test_an_idle_node_only_a_job_behind_the_reservation_wants_is_retired():
    # protect_wide_jobs off: the scheduler is left 2 nodes for the 3-node head (see the next test)
    cfg, c, p = _resv_case(protect=False)
    assert [(a.kind, a.target) for a in p.actions] == [(Kind.HOLD, c), (Kind.REMOVE, c), (Kind.DESTROY, c)]
    why = dict(p.waiting)
    assert (
        "at max (3)" in why["wide"]
        and why["long"] == "behind job wide, for which the scheduler reserves the free cores"
    )
    assert not p.launches()


def test_an_idle_node_the_blocked_heads_reservation_needs_is_kept():
    # protect_wide_jobs: without C the scheduler has 2 nodes, too few to reserve for the 3-node head
    _, c, p = _resv_case()
    assert p.actions == () and p.kept[c][0] == "wide_job"
    assert dict(p.waiting)["long"] == "behind job wide, for which the scheduler reserves the free cores"


def test_a_job_that_ends_before_the_reserved_start_backfills_the_idle_node():
    from dataclasses import replace

    # 600 s from now ends before NOW+900: EASY starts it on C, so C stays
    _, c, p = _resv_case(extra_jobs=[replace(job("short", submit=2.0), walltime_s=600)])
    assert p.actions == () and "short" not in dict(p.waiting)


@pytest.mark.parametrize("respect, known_start", [(False, True), (True, False)])
def test_without_a_reservation_every_job_that_fits_keeps_the_idle_node(respect, known_start):
    # respect_reservations false, or a running job whose end cannot be told: the long job wants C
    _, c, p = _resv_case(respect=respect, known_start=known_start)
    assert p.actions == () and "long" not in dict(p.waiting)


def test_launchable_nodes_count_for_the_reservation_and_a_job_that_fits_the_extra_goes_ahead():
    from dataclasses import replace

    # 4 one-core nodes, max 5: A runs until NOW+900, B and D one 2-core job until NOW+100, C idle.
    # The head (3 cores) has C and one launchable node now, B and D at +100: reserved for +100 with
    # 1 core over.  That core is the launchable node's, which the scheduler does not know: on C, l1
    # would leave the head 2 cores at +100, so the scheduler will not start it there.  l1 gets the
    # last node (its own core over for the scheduler too); C stays the head's; l2 would delay the
    # head: no launch for it.
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 5}}}, max_idle_time=0)
    a, b, c, d = wid(n=1), wid(n=2), wid(n=3), wid(n=4)
    na, ia = worker(a, state=NodeState.BUSY, cores=1, used=1, jobs=("run",))
    nb, ib = worker(b, state=NodeState.BUSY, cores=1, used=1, jobs=("run2",))
    nd, id_ = worker(d, state=NodeState.BUSY, cores=1, used=1, jobs=("run2",))
    nc, ic = worker(c, cores=1, since=NOW - 5000)
    running = [
        replace(job("run", state=JobState.RUNNING), nodes=(a,), start_time=NOW - 100, walltime_s=1000),
        replace(job("run2", chunks=2, state=JobState.RUNNING), nodes=(b, d), start_time=NOW - 100, walltime_s=200),
    ]
    pending = [
        replace(job("wide", chunks=3), walltime_s=100),
        replace(job("l1", submit=1.0), walltime_s=5000),
        replace(job("l2", submit=2.0), walltime_s=5000),
    ]
    v = view(cfg, [na, nb, nc, nd], {"r1": [ia, ib, ic, id_]}, jobs=running + pending)
    p = plan(v, cfg)
    assert [(a.kind, a.count, a.jobs) for a in p.actions] == [(Kind.LAUNCH, 1, ("l1",))]  # C kept, for the head
    assert dict(p.waiting)["l2"].startswith("behind job wide") and "l1" not in dict(p.waiting)
    greedy = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 5}}}, max_idle_time=0, respect_reservations=False)
    assert plan(v, greedy).launches() == {"r1": 1}  # without the reservation l2 gets the last node


def test_nodes_launched_earlier_in_the_plan_are_not_counted_twice_against_the_reservation():
    from dataclasses import replace

    # max 4 one-core nodes, A busy until NOW+1000.  j1 takes a new node (2 launchable left); the head
    # needs 3: 2 now + A's at +1000, reserved then with none over.  The long job behind it gets nothing.
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 4}}})
    a = wid(n=1)
    na, ia = worker(a, state=NodeState.BUSY, cores=1, used=1, jobs=("run",))
    running = replace(job("run", state=JobState.RUNNING), nodes=(a,), start_time=NOW - 100, walltime_s=1100)
    pending = [
        job("j1", submit=1.0),
        replace(job("head", chunks=3, submit=2.0), walltime_s=100),
        replace(job("long", submit=3.0), walltime_s=5000),
    ]
    p = plan(view(cfg, [na], {"r1": [ia]}, jobs=[running, *pending]), cfg)
    assert p.launches() == {"r1": 1} and dict(p.waiting)["long"].startswith("behind job head")


@pytest.mark.parametrize("respect", [True, False])
def test_plan_leaves_the_jobs_it_was_given_unchanged(respect):
    """model.Job is read-only by convention, not frozen: planning must not change one."""
    from dataclasses import replace

    cfg = config(
        {"r1": {"cores": 2, "quantity": {"min": 0, "max": 3}}, "r2": {"cores": 8}}, respect_reservations=respect
    )
    name = wid(n=1)
    n, i = worker(name, state=NodeState.BUSY, cores=2, used=2, jobs=("run",))
    jobs = [
        replace(job("run", state=JobState.RUNNING), nodes=(name,), start_time=NOW - 50, walltime_s=600),
        replace(job("wide", chunks=4, cores=2), walltime_s=100, extra={"chunk_list": [[4, 2]]}),
        job("held", state=JobState.HELD),
        *[job(k, cores=k % 3 + 1, mem=500 * k) for k in range(8)],
    ]
    before = [j.to_dict() for j in jobs]
    v = view(cfg, [n], {"r1": [i], "r2": []}, jobs=jobs)
    p = plan(v, cfg)
    assert p.actions and [j.to_dict() for j in jobs] == before and [j.to_dict() for j in v.jobs] == before


def test_queue_to_monitor_counts_a_job_that_names_no_queue_or_a_matching_list():
    """Grid Engine: a pending job without -q (queue "") may run in a monitored queue: it is demand (issue 16)."""
    cfg = config(cluster={"type": "sge", "config": {"queue_to_monitor": ["b.q"]}})
    jobs = [
        job("any", queue=""),
        job("list", queue="all.q,b.q", cores=4),
        job("other", queue="all.q", cores=4),
        job("pattern", queue="*.q", cores=4),
    ]
    p = plan(view(cfg, jobs=jobs), cfg)
    served = {j for a in p.of(Kind.LAUNCH) for j in a.jobs}
    assert served == {"any", "list", "pattern"}


def test_a_queue_reserved_resource_serves_jobs_the_scheduler_may_run_in_that_queue():
    cfg = config({"r1": {"reservation": {"queue": "b.q"}}}, cluster={"type": "sge"})
    for queue, ok in (("", True), ("b.q", True), ("all.q,b.q", True), ("b*", True), ("all.q", False)):
        p = plan(view(cfg, jobs=[job(1, queue=queue)]), cfg)
        assert (launches(p) == {"r1": 1}) is ok, queue


def test_a_configured_node_that_joined_by_itself_is_registered_once():
    """Issue 16: slurmd -Z makes the node itself; the engine's REGISTER (reservation, hook) must still come."""
    cfg = config()
    a, b = wid(n=1), wid(n=2)
    (na, ia), (nb, ib) = worker(a), worker(b, state=NodeState.BUSY, used=4, jobs=("7",))
    nodes, insts = [na, nb], {"r1": [ia, ib]}
    p = plan(view(cfg, nodes, insts, configured={a, b}, registered=set()), cfg)
    regs = p.of(Kind.REGISTER)
    assert sorted(r.target for r in regs) == sorted([a, b]) and all(
        "joined the scheduler by itself" in r.reason for r in regs
    )
    assert {r.target: r.cores for r in regs} == {a: 4, b: 4}
    # done (registered), not configured yet, or unknown (the simulator): nothing
    assert plan(view(cfg, nodes, insts, configured={a, b}, registered={a, b}), cfg).of(Kind.REGISTER) == []
    assert plan(view(cfg, nodes, insts, configured=set(), registered=set()), cfg).of(Kind.REGISTER) == []
    assert plan(view(cfg, nodes, insts, configured={a, b}), cfg).of(Kind.REGISTER) == []


def test_a_long_used_node_shown_not_reporting_is_not_destroyed_for_its_launch_time():
    # Grid Engine shows every host "u" until its execd reports after a qmaster restart, Slurm POWERING_UP:
    # the worker's launch was long ago, but it was in use; it goes only as a down node would, once dcluster
    # has seen it silent for max_down_time (red team: all three of a resource destroyed at once, below min)
    cfg = config(max_launch_time=600, max_down_time=480)
    a = wid(n=1)
    i = inst(a, age=5000.0)
    used = view(cfg, [node(a, state=NodeState.IDLE)], {"r1": [i]}, now=NOW - 10)
    silent = view(cfg, [node(a, state=NodeState.STARTING)], {"r1": [i]}, previous=used)
    p = plan(silent, cfg)
    assert p.of(Kind.DESTROY) == [] and p.of(Kind.REMOVE) == [] and p.recheck == pytest.approx(NOW + 480)
    assert "not reporting" in p.kept[a][1]
    later = view(cfg, [node(a, state=NodeState.STARTING)], {"r1": [i]}, now=NOW + 481, previous=silent)
    assert [x.kind for x in plan(later, cfg).actions] == [Kind.REMOVE, Kind.DESTROY]


@pytest.mark.parametrize("failing", ["scheduler", "cloud"])
def test_a_poll_failing_now_and_then_does_not_keep_a_dead_node_for_ever(failing):
    # a failed poll made the down node unknown, and the next good one started its down time over: with one
    # failure every 240 s the dead, paid-for node was never destroyed (red team on stop 30's change)
    cfg = config(max_down_time=480)
    a = wid(n=1)
    n, i = worker(a, state=NodeState.DOWN, since=NOW - 100)
    v, destroyed = None, None
    for k in range(60):  # every 20 s for 20 minutes
        now = NOW + 20 * k
        fails = k % 12 == 11
        if fails and failing == "scheduler":
            v = view(cfg, None, {"r1": [i]}, now=now, previous=v)
        elif fails:
            v = view(cfg, [n], {"r1": None}, now=now, previous=v, stale={"r1": [i]})
        else:
            v = view(cfg, [n], {"r1": [i]}, now=now, previous=v)
        if plan(v, cfg).of(Kind.DESTROY):
            destroyed = now - NOW
            break
    assert destroyed is not None and destroyed <= 480 + 40


def test_a_node_down_once_does_not_take_a_healthy_one_below_min():
    # the dead node, unknown at its first poll, counted for min, so the healthy idle node kept for min was
    # destroyed (and a replacement launched at the next poll): scale-down counts no unknown worker
    cfg = config({"r1": {"quantity": {"min": 1, "max": 10}}}, max_idle_time=300, max_down_time=3600)
    d, r = wid(n=1), wid(n=2)
    insts = {"r1": [inst(d, age=9000), inst(r, age=9000)]}
    nodes = [node(d, state=NodeState.DOWN, since=NOW - 100), node(r, since=NOW - 5000)]
    v = None
    for t in (-60, -40, -20, 0, 20):
        v = view(cfg, nodes if t else None, insts, now=NOW + t, previous=v)  # the poll at 0 fails
        assert plan(v, cfg).actions == ()


def test_a_long_outage_does_not_count_as_time_seen_silent():
    # a qmaster restart shows hosts "not reporting" at one poll, qmaster stays down 10 minutes, and its first
    # poll back shows them so again: the outage counted as seen silent and all three went, below min
    cfg = config(
        {"r1": {"quantity": {"min": 3, "max": 10}}}, cluster_type="sge", max_down_time=480, max_idle_time=10**6
    )
    ws = [wid(n=k) for k in range(3)]
    insts = {"r1": [inst(a, age=50_000) for a in ws]}
    v = view(cfg, [node(a) for a in ws], insts)
    for k, shown in enumerate([NodeState.STARTING] + [None] * 30 + [NodeState.STARTING]):
        nodes = None if shown is None else [node(a, state=shown) for a in ws]
        v = view(cfg, nodes, insts, now=NOW + 20 * (k + 1), previous=v)
        assert not plan(v, cfg).of(Kind.DESTROY)
    assert {w.state for w in v.workers} == {WorkerState.STARTING}


def test_a_node_down_after_a_long_unknown_stretch_is_down_from_then():
    # unknown for 10 minutes (its listing failing) and then down: it inherited the unknown stretch's first
    # sight and was destroyed 10 s after the first poll showing it down
    cfg = config(max_down_time=480)
    a = wid(n=1)
    i = inst(a)
    v = view(cfg, [node(a)], {"r1": [i]})
    t = NOW
    for _ in range(30):
        t += 20
        v = view(cfg, [node(a)], {"r1": None}, now=t, previous=v, stale={"r1": [i]})
    for _ in range(4):
        t += 10
        v = view(cfg, [node(a, state=NodeState.DOWN)], {"r1": [i]}, now=t, previous=v)
        assert not plan(v, cfg).of(Kind.DESTROY)
