"""A blocked wide job whose start is far (issue 17, ``wide_job_idle: release``; the default is ``keep``).

Under ``protect_wide_jobs`` the idle nodes a blocked wide job counts on used to idle until its reserved
start, which can be hours away (a static machine's cost, paid by the hour in a cloud).  With
``release`` they are released while that start is more than ``idle_keep_boots`` boot times (+ a poll)
away, the busy nodes that free by then are held so no job queued behind it takes them, and nothing is
launched for it; once its start is that close, the missing nodes are launched.  Each behaviour test
fails with ``wide_job_idle: keep``.  With no boot seen yet (no demand summary) it is ``keep``: the
older tests in test_plan_wide_job.py run that way.
"""

import dataclasses
import math
from dataclasses import replace

import pytest
from builders import NOW, config, inst, job, seen_before, view, wid, worker

from dcluster.config import ConfigError
from dcluster.demand import Demand
from dcluster.model import JobState, NodeState
from dcluster.planner import Kind, plan
from dcluster.planner.explain import worker_reasons
from dcluster.reconcile import BackoffState

BOOT = 100.0  # median boot seen: the lead is 2 x 100 + 10 (poll) = 210 s


def cfg_of(mode="release", min_nodes=0, max_nodes=4):
    spec = {"cores": 1, "quantity": {"min": min_nodes, "max": max_nodes}}
    return config({"r1": spec}, protect_wide_jobs=True, wide_job_idle=mode, max_idle_time=600)


def seen():
    """Steady demand (54 nodes/h: adaptive idle alone would keep 3 idle workers) and boots of BOOT s."""
    takes = tuple((NOW - 66.7 * (7 - k), 1) for k in range(8))
    return {"r1": Demand(takes=takes, boots=(BOOT,))}


def running(jid, nodes, ends_in):
    j = job(jid, chunks=len(nodes), state=JobState.RUNNING)
    return replace(j, nodes=tuple(nodes), start_time=NOW - 100, walltime_s=100 + ends_in)


def blocked(cfg, ends_in, idle=2, busy=2, held=()):
    """``busy`` one-core nodes running a job that ends (by its wall time) in ``ends_in`` s, ``idle`` fresh
    idle ones, and a job as wide as all of them pending; ``held``: these busy-turned-empty nodes are
    held for it (drained by the planner's hold for the wide job)."""
    names = [wid(n=i) for i in range(busy + idle)]
    nodes, insts = [], []
    for i, name in enumerate(names):
        if i < busy:
            n, i_ = worker(name, cores=1, since=NOW - 10, state=NodeState.BUSY, used=1, jobs=("run",))
        else:
            n, i_ = worker(name, cores=1, since=NOW - 10)
        if name in held:
            n = replace(n, state=NodeState.HELD, hold_reason="dcluster: kept for job wide", cores_used=0, jobs=())
        nodes.append(n)
        insts.append(replace(i_, cores=1))
    runs = [n for n in names[:busy] if n not in held]
    jobs = [replace(job("wide", chunks=busy + idle), walltime_s=3600)]
    if runs:
        jobs.insert(0, running("run", runs, ends_in))
    v = view(cfg, nodes, {"r1": insts}, jobs=jobs, configured=set(names))
    return names, dataclasses.replace(v, demand=seen())


def test_while_its_start_is_far_its_idle_nodes_are_released_and_its_busy_ones_held():
    cfg = cfg_of()
    names, v = blocked(cfg, ends_in=3000)  # 3,000 s away: far beyond the 210 s lead
    p = plan(v, cfg)
    assert sorted(a.target for a in p.of(Kind.DESTROY)) == sorted(names[2:])
    assert sorted(a.target for a in p.of(Kind.HOLD) if "kept for job wide" in a.reason) == sorted(names[:2])
    assert p.launches() == {}  # nothing launched for it yet: its start is far
    why = next(a.reason for a in p.of(Kind.DESTROY))
    assert "reserved start is 3000 s away" in why and "wide_job_idle release" in why, why
    # keep: they idle until it starts, so the scheduler can reserve on them; nothing is held or destroyed
    keep = cfg_of("keep")
    _, v = blocked(keep, ends_in=3000)
    p = plan(v, keep)
    assert p.of(Kind.DESTROY) == [] and p.of(Kind.HOLD) == []
    assert {r["reason"] for r in worker_reasons(p, v) if r["worker"] in names[2:]} == {"wide_job"}


def test_once_its_start_is_near_its_idle_nodes_are_kept():
    cfg = cfg_of()
    names, v = blocked(cfg, ends_in=150)  # within the lead: a release would cost a boot of its wait
    p = plan(v, cfg)
    assert p.of(Kind.DESTROY) == []
    rows = {r["worker"]: r for r in worker_reasons(p, v)}
    assert rows[names[2]]["reason"] == "wide_job", rows[names[2]]


def test_once_its_start_is_near_the_nodes_it_lacks_are_launched():
    # after the far cycles: 2 busy nodes held for it, the idle ones released; max 4 -> 2 to launch
    cfg = cfg_of()
    names, v = blocked(cfg, ends_in=3000, idle=0)
    v = dataclasses.replace(v, jobs=tuple(replace(j, chunks=4) if j.id == "wide" else j for j in v.jobs))
    assert plan(v, cfg).launches() == {}  # far: the missing nodes are not launched yet
    names, near = blocked(cfg, ends_in=150, idle=0)
    near = dataclasses.replace(near, jobs=tuple(replace(j, chunks=4) if j.id == "wide" else j for j in near.jobs))
    assert plan(near, cfg).launches() == {"r1": 2}
    # keep launches them at once, far or not
    keep = cfg_of("keep")
    _, v = blocked(keep, ends_in=3000, idle=0)
    v = dataclasses.replace(v, jobs=tuple(replace(j, chunks=4) if j.id == "wide" else j for j in v.jobs))
    assert plan(v, keep).launches() == {"r1": 2}


def test_a_node_held_for_it_that_has_emptied_is_destroyed_while_its_start_is_far():
    cfg = cfg_of()
    names = [wid(n=i) for i in range(4)]
    _, v = blocked(cfg, ends_in=3000, held={names[1]})
    p = plan(seen_before(v), cfg)
    assert names[1] in {a.target for a in p.of(Kind.DESTROY)}
    keep = cfg_of("keep")
    _, v = blocked(keep, ends_in=3000, held={names[1]})
    assert names[1] not in {a.target for a in plan(v, keep).of(Kind.DESTROY)}


def test_min_still_holds():
    cfg = cfg_of(min_nodes=4)
    names, v = blocked(cfg, ends_in=3000)
    p = plan(v, cfg)
    assert p.of(Kind.DESTROY) == []
    assert {r["reason"] for r in worker_reasons(p, v) if r["worker"] in names[2:]} == {"min"}


def test_without_a_boot_seen_it_is_keep():
    cfg = cfg_of()
    names, v = blocked(cfg, ends_in=3000)
    v = dataclasses.replace(v, demand={})
    assert plan(v, cfg).of(Kind.DESTROY) == []


def test_a_bad_wide_job_idle_is_refused_by_name():
    with pytest.raises(ConfigError, match="wide_job_idle"):
        cfg_of("sometimes")


def _held_while_launching(backoff=None):
    """Max 7: 2 busy one-core nodes free in 150 s, 2 more in 5,000 s, 1 held (empty) for a 5-node job, which
    the planner then reserves at +150 s on them and 2 nodes from the headroom, launched for it."""
    cfg = cfg_of(max_nodes=7)
    names = [wid(n=i) for i in range(5)]
    nodes, insts = [], []
    for i, name in enumerate(names):
        n, i_ = worker(name, cores=1, since=NOW - 10, state=NodeState.BUSY, used=1, jobs=("soon" if i < 2 else "late",))
        if i == 4:
            n = replace(n, state=NodeState.HELD, hold_reason="dcluster: kept for job wide", cores_used=0, jobs=())
        nodes.append(n)
        insts.append(replace(i_, cores=1))
    jobs = [
        running("soon", names[:2], 150),
        running("late", names[2:4], 5000),
        replace(job("wide", chunks=5), walltime_s=60),
    ]
    extra = {"backoff": {"r1": backoff}} if backoff else {}
    v = view(cfg, nodes, {"r1": insts}, jobs=jobs, configured=set(names), **extra)
    return cfg, names, dataclasses.replace(v, demand=seen())


def test_a_node_held_for_it_is_not_destroyed_while_its_launches_back_off():
    # Backing off after a launch error, the resource has no headroom this cycle, so the reservation moves
    # to when the late jobs end, 5,000 s away.  Released then, the held node could not be launched back
    # while the cloud refuses launches: it is kept, as with keep.
    cfg, names, v = _held_while_launching(BackoffState(1, NOW + 600, "capacity", "no valid host"))
    p = plan(v, cfg)
    assert names[4] not in {a.target for a in p.of(Kind.DESTROY)}
    # without the back-off its start is near (+150 s): it is kept as well, and the 2 nodes are launched
    cfg, names, v = _held_while_launching()
    p = plan(v, cfg)
    assert p.of(Kind.DESTROY) == [] and p.launches() == {"r1": 2}


def test_a_running_job_whose_start_time_is_no_number_gives_no_reservation():
    # squeue --json's parser takes 1e999 as infinity: the reserved start was then never, every busy node
    # (their jobs all end by then) was held for the wide job and the idle ones destroyed.  An end that is no
    # number is one the planner cannot tell, as without a wall time: no reservation is worked out.
    cfg = cfg_of()
    names, v = blocked(cfg, ends_in=3000)
    jobs = tuple(replace(j, start_time=math.inf) if j.id == "run" else j for j in v.jobs)
    p = plan(dataclasses.replace(v, jobs=jobs), cfg)
    assert p.of(Kind.HOLD) == [] and p.of(Kind.DESTROY) == []


def test_the_nodes_launched_for_it_are_not_destroyed_when_faster_boots_shorten_the_lead():
    # far or near is decided afresh each cycle: with the median boot, faster boots after the launch shortened
    # the lead, the nodes joined "far" from its start and were destroyed, to be launched again later
    cfg = cfg_of()
    names, v = blocked(cfg, ends_in=200, idle=0)  # 2 busy nodes, held; a 4-node job; max 4
    wide = tuple(replace(j, chunks=4) if j.id == "wide" else j for j in v.jobs)
    assert plan(dataclasses.replace(v, jobs=wide), cfg).launches() == {"r1": 2}  # within the 210 s lead
    # 64 s later both joined, each booted in 60 s: the median boot is 60 s, the lead 130 s, its start 136 s away
    new = [wid(n=7), wid(n=8)]
    held = [replace(w.node, state=NodeState.HELD, hold_reason="dcluster: kept for job wide") for w in v.workers]
    nodes = held + [worker(n, cores=1, since=NOW - 4)[0] for n in new]
    insts = [w.instance for w in v.workers] + [inst(n, age=64, cores=1) for n in new]
    jobs = tuple(replace(j, walltime_s=j.walltime_s - 64) if j.id == "run" else j for j in wide)
    later = view(cfg, nodes, {"r1": insts}, jobs=jobs, configured={*names, *new})
    takes = tuple((NOW - 66.7 * (7 - k), 1) for k in range(8))
    later = dataclasses.replace(later, demand={"r1": Demand(takes=takes, boots=(BOOT, 60.0, 60.0))})
    assert plan(later, cfg).of(Kind.DESTROY) == []
