"""Protection of a blocked wide job (``protect_wide_jobs``, ``wide_job_idle``): the planner acts for the
scheduler's head job so that the nodes it needs are not taken by narrower jobs queued behind it.

A scheduler reserves only on the nodes it has, and under dcluster those are often fewer than a wide
job's cores.  These steps of the plan (called by ``policy.Planner.scale_up``) hold back booted nodes,
keep idle ones, hold busy ones that free by the job's start and launch the missing ones, using only
what every scheduler allows: add a node, drain it, resume it (docs/performance.md, "Wide jobs").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..model import Job, Worker, WorkerState
from . import explain as why_
from .actions import Action, Kind
from .packing import Pool
from .reservation import Reservation, running_ends

if TYPE_CHECKING:
    from .policy import Planner

# the hold reason of a node held for a blocked wide job (hold_for); scale_down tells it from its own drains by it
WIDE_HOLD = "dcluster: kept for job "


def protect(
    p: Planner, job: Job, pool: Pool, idxs: list[int], first_new: int, draining: set[str], booting: set[str]
) -> bool:
    """Whether ``job``, just placed on ``pool``'s bins ``idxs``, is the scheduler's head: the first job
    that does not fit on free cores of registered nodes (False: the scheduler starts it now).

    With ``protect_wide_jobs``, while some of the head's nodes still boot, its booted ones are not
    registered and its draining ones not released.  Registered one by one, each would go to a
    narrower job queued behind it: a scheduler reserves nothing for a job wider than the nodes it
    has.  Registered in one cycle, the whole set is free at once and the scheduler starts the head
    first.
    """
    used = sorted(set(idxs))
    names = [pool.bins[i].name for i in used]
    coming = sum(
        1
        for i, n in zip(used, names, strict=True)
        if i >= first_new or not n or (n in booting and n not in p.registering)
    )
    if not coming and draining.isdisjoint(names) and not any(n in p.registering for n in names):
        return False
    if not coming or not p.config.protect_wide_jobs or not p.view.auto_mode:
        return True  # all up: what it needs joins (or is released) in this cycle
    text = f"for job {job.id} ({job.cores} cores): {coming} of its {len(used)} node(s) still booting"
    kept = defer(p, [n for n in names if n in p.registering], job, text)
    for name in sorted(draining & set(names)):
        p.kept[name] = (why_.WIDE_JOB, f"drained, not released {text} (protect_wide_jobs)")
        kept.add(name)
        p.earmarked.add(name)
        p.acted.add(name)  # not destroyed as drained and empty either
    if kept:
        p.placed[-1] = (
            job.id,
            p._why(
                why_.WIDE_JOB,
                f"{pool.resource}: waits {text}; {len(kept)} up, kept out of the scheduler until all are, so "
                f"jobs behind it do not take them (protect_wide_jobs)",
            ),
        )
    return True


def defer(p: Planner, names: list[str], job: Job, text: str) -> set[str]:
    """Leave the booted ``names`` unregistered this cycle (their REGISTER dropped), for ``job``.  A node
    waits at most half of max_launch_time (past it, it would be destroyed as never usable)."""
    limit = p.config.max_launch_time / 2
    held = {n for n in names if p.now - p.registering[n] < limit}
    for n in held:
        p._recheck_at(p.registering[n] + limit)
    if held:
        p.actions = [a for a in p.actions if a.kind != Kind.REGISTER or a.target not in held]
        for name in held:
            p.kept[name] = (why_.WIDE_JOB, f"booted, not registered {text} (protect_wide_jobs)")
    return held


def keep_for(p: Planner, job: Job, resv: Reservation, pools: dict[str, Pool], motivated: dict[str, list[str]]) -> None:
    """With ``protect_wide_jobs``, the blocked head ``job`` (no capacity takes it now) gets a reservation
    from the scheduler: one reserves only on the nodes it has, so they must hold ``job``'s cores.
    While they do, the idle ones that keep them so are not retired.  While they do not, the missing
    nodes are launched, and until they are up nothing ``job`` counts on goes to a narrower job
    queued behind it (each would push its start back): the booted ones are not registered, the idle
    ones and those whose jobs end by its reserved start are held.  Once all are up they join (are
    registered and released) in one cycle, and the scheduler backfills behind the reservation as on
    a static machine."""
    if not p.config.protect_wide_jobs or not p.view.auto_mode:
        return
    ours = [w for w in p.view.workers if w.resource in resv.resources and w.name not in p.doomed]
    drained = [w for w in ours if w.state == WorkerState.DRAINING and w.name not in p.acted]
    text = f"for job {job.id} ({job.cores} cores), which the scheduler can reserve only on the nodes it has"
    idle = sorted(
        (w for w in ours if w.state == WorkerState.IDLE and w.name not in p.wanted and w.name not in p.acted),
        key=lambda w: (w.since, w.name),
    )
    # What the scheduler can count on at the reserved start: the idle nodes, and the busy or held ones
    # whose jobs end by then.  A node whose job runs past it is no help: the scheduler, which knows no
    # node still to launch, would reserve later (when that job ends) and start jobs behind ``job`` on the
    # others until then; the nodes the planner's reservation takes from the headroom must exist for the
    # two to agree, so they count as missing.
    ends = running_ends(p.view)
    frees = [
        w
        for w in ours
        if w.state == WorkerState.IDLE
        or (
            w.state in (WorkerState.BUSY, WorkerState.DRAINING)
            and w.name not in p.acted
            and all(ends.get(j, float("inf")) <= resv.shadow for j in w.jobs)
        )
    ]
    lead = idle_lead(p, resv)
    if lead is not None and resv.shadow - p.now > lead:
        wait_away(p, job, resv, idle, drained, frees, lead)
        return
    drained = [w for w in drained if w in frees]
    spare = sum(w.cores for w in frees) - job.cores  # idle cores that may still be retired
    ready = [w for w in ours if w.name in p.registering]
    coming = sum(w.cores for w in ours if w.state == WorkerState.STARTING and w.name not in p.registering)
    coming += sum(p.view.launching(r) * pools[r].cores + pools[r].new_nodes * pools[r].cores for r in resv.resources)
    coming -= resv.taken_new  # launched for jobs behind it that run past its start: not free then
    missing = -spare - sum(w.cores for w in ready) - coming
    for name in sorted(resv.resources):
        pool = pools[name]
        n = min(pool.headroom, -(-missing // pool.cores)) if missing > 0 else 0
        if n > 0:
            pool.headroom -= n
            pool.new_nodes += n
            missing -= n * pool.cores
            coming += n * pool.cores
            motivated.setdefault(name, []).append(job.id)
    if spare < 0 and coming > 0:
        text = f"{text}: {coming} more core(s) booting"
        defer(p, [w.name for w in ready], job, text)
        hold = [w.name for w in idle] + [w.name for w in frees if w.state == WorkerState.BUSY]
        hold_for(p, job, hold, text)
        for w in drained:
            p.kept[w.name] = (why_.WIDE_JOB, f"drained, kept {text} (protect_wide_jobs)")
            p.acted.add(w.name)  # neither destroyed as drained and empty nor released yet
            p.earmarked.add(w.name)
        return
    for w in drained:  # all up: what was held for it joins with the rest
        p.actions.append(
            Action(Kind.RELEASE, w.resource, f"kept for job {job.id}: all its nodes are up", target=w.name)
        )
        p.acted.add(w.name)
    for w in idle:
        if spare >= w.cores:
            spare -= w.cores
            continue
        p.acted.add(w.name)  # scale_down leaves it as it is
        p.kept[w.name] = (why_.WIDE_JOB, f"kept idle {text} (protect_wide_jobs)")


def idle_lead(p: Planner, resv: Reservation) -> float | None:
    """How far ahead of a blocked wide job's reserved start its idle nodes are worth keeping
    (``wide_job_idle: release``): idle_keep_boots x the slowest of its resources' latest boots, the
    adaptive idle policy's trade-off (a release costs a boot of node time and a boot of its wait).  The
    slowest, not the median: the nodes launched for it once its start was that close must not turn
    "far" and be destroyed when they join faster than the median had it.
    None: keep them (``keep``, no boot seen yet, or a resource that may launch nothing now: backing
    off, the bootstrap breaker, a failed listing or an operator's drain would not launch them back,
    and its headroom missing from the reservation puts the start far when it is not)."""
    if p.config.wide_job_idle != "release" or not p.no_launch.isdisjoint(resv.resources):
        return None
    slowest = p._slowest_boot(resv.resources)
    if slowest is None:
        return None
    return p.config.idle_keep_boots * slowest + p.config.cluster_poller_interval


def wait_away(
    p: Planner, job: Job, resv: Reservation, idle: list[Worker], drained: list[Worker], frees: list[Worker], lead: float
) -> None:
    """``wide_job_idle: release``: the blocked head ``job``'s reserved start is more than ``lead`` away.
    Its idle nodes and its held nodes that have emptied are released instead of idling until then
    (a static machine's cost), and nothing is launched for it yet.  The busy nodes whose jobs end by
    its start (``frees``) are held, so no job queued behind it takes them as they free: what it needs is then
    free capacity under max, which keep_for launches once its start is within ``lead`` (or enough
    running jobs ended early to start it now).  The scheduler cannot reserve for it meanwhile; the
    planner's own reservation keeps the jobs behind it from launches that would delay it."""
    away = resv.shadow - p.now
    p._recheck_at(resv.shadow - lead)  # from then on the nodes it lacks are launched
    text = f"for job {job.id} ({job.cores} cores), whose reserved start is {away:.0f} s away"
    hold_for(p, job, [w.name for w in frees if w.state == WorkerState.BUSY], text)
    why = (
        f"dcluster: not kept idle {text}, more than idle_keep_boots x boot + poll ({lead:.0f} s); "
        "launched again by then (wide_job_idle release)"
    )
    for w in idle:
        p.let_go[w.name] = why
    for w in drained:
        if w.jobs or (w.node is not None and w.node.cores_used):
            p.kept[w.name] = (why_.WIDE_JOB, f"held {text}: its jobs end by then (protect_wide_jobs)")
            p.acted.add(w.name)
            p.earmarked.add(w.name)
        elif held_for_job(w.reason):
            p.let_go[w.name] = why


def hold_for(p: Planner, job: Job, names: list[str], text: str) -> None:
    """Hold (drain) ``names`` for ``job``: they take no new job and finish their running ones."""
    for name in names:
        w = p._by_name[name]
        p.actions.append(Action(Kind.HOLD, w.resource, f"{WIDE_HOLD}{reason_id(job.id)}", target=name))
        p.kept[name] = (why_.WIDE_JOB, f"held {text} (protect_wide_jobs)")
        p.acted.add(name)


def reason_id(job_id: str) -> str:
    """A job id as a hold reason may carry it: adapters accept letters, digits and ``_.@:%=,+/-`` only
    (schedulers/validate.py), and Torque's array tasks are ``1234[5]``."""
    return re.sub(r"[^A-Za-z0-9_.@:%=,+/-]", "_", job_id)[:100]


def held_for_job(reason: str) -> bool:
    """Whether a hold reason is the one hold_for gives (Grid Engine keeps no reason: never there)."""
    return reason.lstrip().startswith(WIDE_HOLD)
