"""Idle timeouts that learn (issue 17, ``idle_policy: adaptive``, the default): of the idle workers no pending job
wants, the freshest ones recent demand would take within ``idle_keep_boots`` boot times are kept up to
max_idle_time, the others released at once.  Each behaviour test fails with ``idle_policy: fixed``."""

import dataclasses
import math

import pytest
from builders import NOW, config, job, view, wid, worker

from dcluster.config import ConfigError
from dcluster.demand import MIN_TAKES, Demand
from dcluster.model import JobState, NodeState, WorkerState
from dcluster.planner import Kind, plan
from dcluster.planner.explain import worker_reasons
from dcluster.reconcile import reconcile


def cfg_of(policy="adaptive", keep_boots=2.0, minimum=0):
    return config(
        {"r1": {"cores": 1, "quantity": {"min": minimum, "max": 10}}},
        max_idle_time=600,
        idle_policy=policy,
        idle_keep_boots=keep_boots,
    )


def demand(nodes_per_hour, boot=100.0, starts=8):
    """A summary of ``starts`` one-node starts ``3600 / nodes_per_hour`` s apart, the last at NOW."""
    gap = 3600.0 / nodes_per_hour
    takes = tuple((NOW - gap * (starts - 1 - k), 1) for k in range(starts))
    return {"r1": Demand(takes=takes, boots=(boot,))}


def idle_view(cfg, idle_for, seen=None, jobs=()):
    """Idle one-core workers, idle for each of ``idle_for`` seconds, with the demand summary ``seen``."""
    nodes, insts = [], []
    for k, secs in enumerate(idle_for):
        n, i = worker(wid(n=k), cores=1, since=NOW - secs, age=5000)
        nodes.append(n)
        insts.append(i)
    v = view(cfg, nodes, {"r1": insts}, jobs=jobs)
    return dataclasses.replace(v, demand=seen or {})


def destroyed(p):
    return {a.target for a in p.of(Kind.DESTROY)}


def test_with_little_demand_an_idle_worker_is_released_at_once_not_after_max_idle_time():
    seen = demand(nodes_per_hour=6)  # one node every 600 s: far beyond a 200 s horizon (2 x 100 s boot)
    adaptive, fixed = cfg_of(), cfg_of("fixed")
    assert destroyed(plan(idle_view(adaptive, [30], seen), adaptive)) == {wid(n=0)}
    assert destroyed(plan(idle_view(fixed, [30], seen), fixed)) == set()


def test_with_steady_demand_the_freshest_workers_it_would_take_are_kept_and_the_others_released():
    # 54 nodes/h over a 200 s horizon: 3 nodes expected; of 5 idle workers the 3 freshest stay
    seen = demand(nodes_per_hour=54)
    cfg = cfg_of()
    p = plan(idle_view(cfg, [50, 10, 400, 20, 300], seen), cfg)
    assert destroyed(p) == {wid(n=2), wid(n=4)}
    # and each goes with the hold, as every retirement does
    assert {a.target for a in p.of(Kind.HOLD)} == {wid(n=2), wid(n=4)}
    fixed = cfg_of("fixed")
    assert destroyed(plan(idle_view(fixed, [50, 10, 400, 20, 300], seen), fixed)) == set()


def test_a_kept_worker_still_goes_at_max_idle_time():
    seen = demand(nodes_per_hour=360)  # plenty of demand: every idle worker would be kept
    cfg = cfg_of()
    assert destroyed(plan(idle_view(cfg, [700, 10], seen), cfg)) == {wid(n=0)}


def test_idle_keep_boots_sets_how_far_ahead_demand_counts():
    seen = demand(nodes_per_hour=18)  # one node every 200 s
    assert destroyed(plan(idle_view(cfg_of(keep_boots=2.0), [30], seen), cfg_of(keep_boots=2.0))) == set()
    assert destroyed(plan(idle_view(cfg_of(keep_boots=1.0), [30], seen), cfg_of(keep_boots=1.0))) == {wid(n=0)}


def test_the_min_the_wanted_and_the_busy_are_never_released():
    seen = demand(nodes_per_hour=1)
    cfg = cfg_of(minimum=3)
    nodes, insts = [], []
    for k, (state, used, jobs_) in enumerate(
        [(NodeState.IDLE, 0, ()), (NodeState.IDLE, 0, ()), (NodeState.BUSY, 1, ("7",))]
    ):
        n, i = worker(wid(n=k), state=state, cores=1, used=used, jobs=jobs_, since=NOW - 30 * (k + 1), age=5000)
        nodes.append(n)
        insts.append(i)
    pending = [job(9, submit=NOW - 5)]  # fits on one idle worker: wanted
    v = dataclasses.replace(view(cfg, nodes, {"r1": insts}, jobs=pending), demand=seen)
    p = plan(v, cfg)
    assert destroyed(p) == set()  # one idle worker wanted by job 9, the other kept for min 3
    reasons = {r["worker"]: r for r in worker_reasons(p, v)}
    assert reasons[wid(n=2)]["reason"] == "busy"
    kept_for_min = [r for r in reasons.values() if r["reason"] == "min"]
    assert len(kept_for_min) == 1 and "beyond what recent demand would take soon" in kept_for_min[0]["why"]


def test_until_enough_is_seen_the_fixed_timeout_applies():
    few = demand(nodes_per_hour=1, starts=MIN_TAKES - 1)
    cfg = cfg_of()
    assert destroyed(plan(idle_view(cfg, [30], few), cfg)) == set()
    no_boot = {"r1": dataclasses.replace(demand(nodes_per_hour=1)["r1"], boots=())}
    assert destroyed(plan(idle_view(cfg, [30], no_boot), cfg)) == set()
    assert destroyed(plan(idle_view(cfg, [30], demand(nodes_per_hour=1)), cfg)) == {wid(n=0)}


def test_the_dry_run_says_why_a_worker_is_kept_or_released():
    seen = demand(nodes_per_hour=18)
    cfg = cfg_of()
    v = idle_view(cfg, [10, 30], seen)
    p = plan(v, cfg)
    (hold,) = p.of(Kind.HOLD)
    assert hold.target == wid(n=1)
    assert hold.reason.startswith("dcluster: idle 30 s, recent demand, 18.0 nodes/h")  # our hold: the prefix stays
    assert "would take 1 idle nodes within 200 s, idle_keep_boots x boot 100 s" in hold.reason
    kept = {r["worker"]: r for r in worker_reasons(p, v)}[wid(n=0)]
    assert kept["reason"] == "demand", kept
    assert "within max_idle_time (600 s): 590 s more; recent demand" in kept["why"]


def test_observe_counts_launches_and_idle_workers_taken_and_how_long_a_worker_took_to_boot():
    cfg = cfg_of()
    a, b = wid(n=0), wid(n=1)
    na, ia = worker(a, cores=1, since=NOW - 500, age=5000)
    _, ib = worker(b, cores=1, age=150)  # launched at NOW-150
    zero = reconcile(cfg, NOW - 200, [na], {"r1": [ia]}, [])
    first = reconcile(cfg, NOW - 60, [na], {"r1": [ia, ib]}, [], previous=zero, configured={b})
    assert first.by_resource("r1")[1].state == WorkerState.STARTING
    assert first.demand["r1"].takes == ((NOW - 150, 1),)  # a launch is demand
    running = dataclasses.replace(job(5, chunks=2), state=JobState.RUNNING, start_time=NOW - 20, nodes=(a, b))
    nb = worker(b, state=NodeState.BUSY, cores=1, used=1, jobs=("5",), since=NOW - 20)[0]
    na = worker(a, state=NodeState.BUSY, cores=1, used=1, jobs=("5",), since=NOW - 20)[0]
    second = reconcile(cfg, NOW, [na, nb], {"r1": [ia, ib]}, [running], previous=first)
    d = second.demand["r1"]
    assert d.takes == ((NOW - 150, 1), (NOW - 20, 1))  # a was idle and is taken; b's boot is no new demand
    assert d.boots == (90.0,)  # launched at NOW-150, configured (usable) when the poll at NOW-60 saw it
    # seen again the next cycle, nothing new
    third = reconcile(cfg, NOW + 10, [na, nb], {"r1": [ia, ib]}, [running], previous=second)
    assert third.demand["r1"] == d
    # a job that started and ended on an idle worker between two polls: its node's state changed meanwhile
    na2 = worker(a, cores=1, since=NOW + 15)[0]
    nb2 = worker(b, cores=1, since=NOW + 15)[0]
    idle1 = reconcile(cfg, NOW + 20, [na2, nb2], {"r1": [ia, ib]}, [], previous=third)
    na3 = worker(a, cores=1, since=NOW + 40)[0]
    idle2 = reconcile(cfg, NOW + 50, [na3, nb2], {"r1": [ia, ib]}, [], previous=idle1)
    assert idle2.demand["r1"].takes[-1] == (NOW + 40, 1)


@pytest.mark.parametrize("bad", [float("nan"), float("-inf")])
def test_a_launch_time_that_is_no_number_is_not_learned_and_the_planner_still_plans(bad):
    # a cloud answer with such a time (a hostile tag) gave a rate of NaN, and every plan raised
    cfg = cfg_of()
    na, ia = worker(wid(n=0), cores=1, since=NOW - 500, age=5000)
    v = reconcile(cfg, NOW - 300, [na], {"r1": [ia]}, [])
    nodes, insts = [na], [ia]
    for k in range(1, 7):  # each launched, seen booting, then joined: a start and a boot per worker
        n, i = worker(wid(n=k), cores=1, since=NOW - 300 + 20 * k + 10, age=300 - 20 * k + 50)
        if k == 1:
            i = dataclasses.replace(i, launch_time=bad)
        v = reconcile(cfg, NOW - 300 + 20 * k, nodes, {"r1": [*insts, i]}, [], previous=v)
        nodes, insts = [*nodes, n], [*insts, i]
        v = reconcile(cfg, NOW - 300 + 20 * k + 10, nodes, {"r1": insts}, [], previous=v)
    assert plan(v, cfg, NOW).planned
    d = v.demand["r1"]
    assert len(d.takes) == 5 and len(d.boots) == 5, d
    assert all(map(math.isfinite, [t for t, _ in d.takes] + list(d.boots))), d


def test_the_rate_fades_in_a_quiet_spell():
    d = demand(nodes_per_hour=36)["r1"]
    assert d.rate(NOW) == pytest.approx((len(d.takes) - 1) / (NOW - d.takes[0][0]))
    assert d.rate(NOW + 36_000) < d.rate(NOW) / 5


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("idle_policy", "learned", "dcluster:idle_policy: 'learned' is not one of adaptive, fixed"),
        ("idle_keep_boots", -1, "dcluster:idle_keep_boots: -1.0 is below the minimum 0"),
        ("idle_keep_boots", "two", "dcluster:idle_keep_boots: 'two' is not a number"),
        # YAML's .nan and .inf are floats: accepted, either made every plan fail converting it to a count
        ("idle_keep_boots", math.nan, "dcluster:idle_keep_boots: nan is not a finite number"),
        ("idle_keep_boots", math.inf, "dcluster:idle_keep_boots: inf is not a finite number"),
    ],
)
def test_bad_knobs_are_refused_naming_the_key(key, value, message):
    with pytest.raises(ConfigError) as err:
        config(**{key: value})
    assert message in str(err.value)


def test_recheck_is_when_the_fading_rate_keeps_one_worker_fewer():
    # the replay wakes the planner then (no event may come): before it the count holds, just after it drops
    from dcluster.planner.idle import keep_for_demand

    cfg = cfg_of()
    v = idle_view(cfg, [10], demand(nodes_per_hour=60))  # 3.3 nodes within 200 s
    keep = keep_for_demand(v, cfg, "r1", NOW)
    assert keep is not None and keep.count == 3
    again = keep.recheck()
    assert again is not None and again > NOW
    assert keep_for_demand(v, cfg, "r1", again - 1).count == 3
    assert keep_for_demand(v, cfg, "r1", again + 1).count == 2
    assert keep_for_demand(idle_view(cfg, [10], demand(nodes_per_hour=6)), cfg, "r1", NOW).recheck() is None


def test_a_released_workers_hold_reason_is_one_every_scheduler_accepts():
    # The demand figures were in brackets ("recent demand (117.2 nodes/h) would take 0 idle node(s) ..."),
    # which every adapter refuses in a hold reason: the hold failed every cycle, so the worker was never
    # removed or destroyed (seen end to end: an idle Grid Engine worker kept past max_idle_time).
    from dcluster.holds import is_our_hold
    from dcluster.schedulers.validate import check_reason

    cfg = cfg_of()
    p = plan(idle_view(cfg, [30], demand(nodes_per_hour=6)), cfg)
    (hold,) = p.of(Kind.HOLD)
    assert check_reason(hold.reason) == hold.reason and is_our_hold(hold.reason)
    assert "6.0 nodes/h" in hold.reason and "idle_keep_boots x boot 100 s" in hold.reason, hold.reason


def test_hold_text_keeps_an_accepted_reason_and_makes_any_other_one_accepted():
    from dcluster.holds import REASON_MAX, hold_text
    from dcluster.schedulers.validate import check_reason

    assert hold_text("dcluster: idle 601 s, max_idle_time 600 s") == "dcluster: idle 601 s, max_idle_time 600 s"
    assert (
        hold_text("dcluster: idle 4 s; would take 2 idle node(s) within 13 s (x)")
        == "dcluster: idle 4 s, would take 2 idle nodes within 13 s, x"
    )
    for bad in ("dcluster: a\nb;c`d$(e)", "dcluster: " + "é" * 300, "((()))", "dcluster: " + "x" * 500):
        out = hold_text(bad)
        assert check_reason(out) == out and len(out) <= REASON_MAX
