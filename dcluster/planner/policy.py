"""``plan(view, config, now) -> Plan``: the scaling policy, pure and deterministic.

Order of business each cycle:

1. **Safety** (always, even with auto mode off: it prevents leaks): destroy
   orphans (instances that never joined within ``max_launch_time``), remove
   and destroy workers stuck starting past it, destroy instances the cloud
   put in ERROR, take nodes whose instance vanished out of the scheduler.
2. **Scale-up** (auto mode): every pending job, in priority order, is packed
   onto free capacity of live workers first (idle, partly busy, starting,
   requested), then onto our draining workers (which are released), then onto
   new nodes of the best eligible resource within its max (among resources of
   the same priority, by ``node_size_choice``: the size that wastes least).  Capacity already
   starting or requested is counted, so a job never causes two launches.
   Jobs no resource can ever fit are reported, never launched for.  Then
   every resource is topped up to its min.
3. **Scale-down** (auto mode): idle workers past their idle limit that got no
   demand in step 2 are held (drained), longest idle first, never below min;
   drained workers with no jobs are removed from the scheduler, then
   destroyed; workers down past ``max_down_time`` with no jobs likewise.

Busy, physical, admin-held and unknown workers are never acted on.  If the
scheduler poll failed nothing is planned at all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

from ..config import Config, Resource
from ..holds import hold_text
from ..model import MAX_NODE_CORES, Job, JobState, Worker, WorkerState
from ..reconcile import Limits, View
from . import backoff, eligibility
from . import explain as why_
from . import idle as idle_
from .actions import Action, Kind, Plan
from .node_size import size_choice
from .packing import DRAINING, LIVE, Pool
from .reservation import Reservation, reservation
from .wide_job import held_for_job, keep_for, protect

MAX_JOBS_IN_REASON = 5


def limits_of(view: View, res: Resource) -> Limits:
    return view.limits.get(res.name) or Limits(res.min, res.max)


def shape_of(view: View, res: Resource) -> tuple[int, int]:
    """(cores, mem_mb) of a new node of ``res``: config, else what the cloud said, else what its nodes report."""
    cores, mem = res.cores, res.mem_mb
    reported = view.shapes.get(res.name)
    if reported:
        cores = cores or reported[0]
        mem = mem or reported[1]
    if not cores:
        # a node's claim beyond any node's (a worker may register itself with any count) sizes no new one
        seen = [w.cores for w in view.workers if w.resource == res.name and 0 < w.cores <= MAX_NODE_CORES]
        cores = max(seen) if seen else 0
    return cores or 0, mem or 0


def plan(view: View, config: Config, now: float | None = None) -> Plan:
    now = view.now if now is None else now
    if not view.scheduler_ok:
        return Plan(notes=("scheduler poll failed: planning nothing until it answers",), planned=False)
    out = Planner(view, config, now)
    out.safety()
    out.retire()  # like safety, also in manual mode: the pillar no longer has the resource
    suppressed: tuple[Action, ...] = ()
    if view.auto_mode:
        out.scale_up()
        out.scale_down()
    else:
        # The same decisions, set aside and not carried out: the dry-run shows what auto mode would do.
        n_actions, n_notes = len(out.actions), len(out.notes)
        out.scale_up()
        out.scale_down()
        suppressed = tuple(out.actions[n_actions:])
        del out.actions[n_actions:], out.notes[n_notes:]
        out.notes.append("auto mode is off: only leak prevention runs")
    out.leave_acting()
    return Plan(
        actions=tuple(out.actions),
        unplaceable=tuple(out.unplaceable),
        waiting=tuple(out.waiting),
        notes=tuple(out.notes),
        placed=tuple(out.placed),
        kept=out.kept,
        codes=out.codes,
        suppressed=suppressed,
        recheck=out.recheck,
    )


class Planner:
    def __init__(self, view: View, config: Config, now: float):
        self.view, self.config, self.now = view, config, now
        self.actions: list[Action] = []
        self.unplaceable: list[tuple[str, str]] = []
        self.waiting: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.wanted: set[str] = set()  # workers that got demand in the simulation
        self.acted: set[str] = set()  # workers that already have an action in this plan
        self.doomed: set[str] = set()  # ...of which these are being removed or destroyed
        self.launched: dict[str, int] = {}
        # for the dry-run (explain.py): where each placed job goes, why a worker is left as it is, and
        # the code of each reason text (texts are shared per job class: one entry per distinct text)
        self.placed: list[tuple[str, str]] = []
        self.kept: dict[str, tuple[str, str]] = {}
        self.codes: dict[str, str] = {}
        self._launch_why: dict[str, str] = {}
        self._live_base: dict[tuple[str, bool], int] | None = None  # (resource, unknown) -> workers (_live)
        self._by_name = {w.name: w for w in view.workers}
        self.known = {w.name for w in view.workers if w.node is not None}  # the nodes the scheduler has
        self.registering: dict[str, float] = {}  # booted workers safety() registers -> their launch time
        self.earmarked: set[str] = set()  # draining workers kept, unreleased, for a protected job (wide_job.protect)
        self.recheck: float | None = None  # Plan.recheck
        self.let_go: dict[str, str] = {}  # idle or drained-for-a-job workers scale_down retires (wide_job.wait_away)
        # resources that may launch nothing now, whatever their max (wide_job.idle_lead)
        self.no_launch: set[str] = set()

    # ------------------------------------------------------------ helpers
    def _confirmed(self, w: Worker, what: str, agreed: bool | None = None, by: str = "poll") -> bool:
        """Whether an earlier poll saw ``w`` in its state too (``agreed``: whether an earlier ``by`` said what
        this one says): one answer is no ground for destroying a machine (a wrong one would cost a good
        node).  Until then it is left as it is, and looked at again."""
        if w.seen < self.now if agreed is None else agreed:
            return True
        self.kept[w.name] = (why_.CONFIRMING, f"{what}: acted on if the next {by} says so too")
        self.acted.add(w.name)
        self._recheck_at(self.now)
        return False

    def _why(self, code: str, text: str) -> str:
        """``text``, filed under ``code`` for the dry-run."""
        self.codes[text] = code
        return text

    def _remove_and_destroy(self, w: Worker, reason: str, vacate: bool = False, never_joined: bool = False) -> None:
        if w.node is not None:
            self.actions.append(
                Action(Kind.REMOVE, w.resource, reason, target=w.name, jobs=tuple(w.jobs) if vacate else ())
            )
        if w.instance is not None:
            self.actions.append(
                Action(
                    Kind.DESTROY,
                    w.resource,
                    reason,
                    target=w.name,
                    instance_id=w.instance.id,
                    never_joined=never_joined,
                )
            )
        self.acted.add(w.name)
        self.doomed.add(w.name)

    def leave_acting(self) -> None:
        """Drop what this plan would do to workers the actuator is acting on (``view.acting``).

        Their view may be half done (a chain removed the node, its instance is
        still listed); the next cycle's view, observed after the chain ended,
        decides.  Launches are no action on a worker and stay; max counts every
        instance, these workers' too.
        """
        acting = self.view.acting
        if not acting:
            return
        kept, left = [], set()
        for a in self.actions:
            if a.kind != Kind.LAUNCH and a.target in acting:
                left.add(a.target)
            else:
                kept.append(a)
        self.actions = kept
        for name in sorted(left):
            self.notes.append(f"{name}{why_.ACTING_NOTE}; the next cycle decides")

    # ------------------------------------------------------------ 1. safety
    def safety(self) -> None:
        cfg = self.config
        for w in self.view.workers:
            if w.state == WorkerState.ORPHAN:
                self._remove_and_destroy(w, w.reason, never_joined=not backoff.joined(w, self.view.configured))
            elif w.state == WorkerState.STARTING and w.instance is not None:
                age = self.now - w.instance.launch_time
                # what the dry-run says while it boots (an action below on it says more)
                self.kept[w.name] = (
                    why_.BOOTING,
                    f"booting: launched {age:.0f} s ago; destroyed if not usable "
                    f"within max_launch_time ({cfg.max_launch_time - age:.0f} s more)",
                )
                if age > cfg.max_launch_time and w.node is not None:
                    # A scheduler node not reporting: maybe never (a bad image), maybe a node long in use
                    # whose scheduler restarted or shows it powering up.  Either way it is a down node, and
                    # goes as one: only once dcluster itself has seen it so for max_down_time.
                    silent = self.now - w.seen
                    if silent < cfg.max_down_time:
                        self.kept[w.name] = (
                            why_.BOOTING,
                            f"a scheduler node not reporting, seen so for {silent:.0f} s: destroyed if it still "
                            f"is after max_down_time ({cfg.max_down_time - silent:.0f} s more)",
                        )
                        self.acted.add(w.name)
                        self._recheck_at(w.seen + cfg.max_down_time)
                        continue
                if age > cfg.max_launch_time:
                    self._remove_and_destroy(
                        w,
                        f"not usable {age:.0f} s after launch (max_launch_time {cfg.max_launch_time} s)",
                        never_joined=not backoff.joined(w, self.view.configured),
                    )
                    continue
                self._recheck_at(w.instance.launch_time + cfg.max_launch_time)  # destroyed just after it
                if (
                    w.node is None
                    and w.instance.state.value == "running"
                    and w.name in self.view.configured
                    and w.resource in cfg.resources
                ):  # a retired resource's worker is never registered
                    cores, mem = (
                        shape_of(self.view, cfg.resources[w.resource]) if w.resource in cfg.resources else (0, 0)
                    )
                    self.actions.append(
                        Action(
                            Kind.REGISTER,
                            w.resource,
                            "configuration finished",
                            target=w.name,
                            cores=w.instance.cores or cores,
                            mem_mb=w.instance.mem_mb or mem,
                        )
                    )
                    self.acted.add(w.name)
                    self.registering[w.name] = w.instance.launch_time
            elif w.state == WorkerState.ERROR and w.instance is None and w.jobs:
                # reconcile keeps such a worker unknown (absence.py); should one get here, jobs the
                # scheduler still shows are never requeued on the word of a listing.
                self.notes.append(f"{w.name}: {w.reason}, but it still runs jobs {', '.join(w.jobs)}; not touched")
                self.acted.add(w.name)
            elif w.state == WorkerState.ERROR and w.instance is None:
                # Ours by its signed name, and the cloud answered without it in polls across
                # confirm_absence (reconcile): the machine is gone; take the node out of the scheduler.
                self.actions.append(Action(Kind.REMOVE, w.resource, w.reason, target=w.name, jobs=tuple(w.jobs)))
                self.acted.add(w.name)
                self.doomed.add(w.name)
            elif w.state == WorkerState.ERROR and w.instance is not None and w.instance.state.value == "error":
                if w.jobs:
                    self.notes.append(f"{w.name}: instance in ERROR with jobs {', '.join(w.jobs)}; needs an admin")
                elif self._confirmed(  # one listing is no proof (the DELETING rule's reason): a new one must agree
                    w, "its instance is listed in ERROR", self.view.in_error.get(w.name, 0) >= 2, "listing"
                ):
                    self._remove_and_destroy(w, w.reason)
            elif w.state == WorkerState.DELETING and w.node is not None and not w.jobs:
                # One listing that says "deleting" is no proof (a wrong answer would cost a good node: out
                # of the scheduler, then destroyed as an orphan): the next listing must say so too.
                if self.view.deleting.get(w.name, 0) < 2:
                    self.kept[w.name] = (
                        why_.DELETING,
                        "its instance is listed as being deleted: out of the scheduler if the next listing says so too",
                    )
                    self.acted.add(w.name)
                    continue
                self.actions.append(Action(Kind.REMOVE, w.resource, "its instance is being deleted", target=w.name))
                self.acted.add(w.name)
                self.doomed.add(w.name)
        self.register_self_joined()

    def register_self_joined(self) -> None:
        """A configured worker whose node joined the scheduler by itself (Slurm's ``slurmd -Z``, the worker
        formula's way) never met the REGISTER above: it gets the same one, once (``view.registered``), so
        its reservation (features, account) and ``post_add_node_command`` apply whichever way it joined;
        the adapters' add_node gives an existing node only what it lacks."""
        if self.view.registered is None:
            return  # not known (simulator, tests): never register a node twice
        for w in self.view.workers:
            if (
                w.node is None
                or w.instance is None
                or w.instance.state.value != "running"
                or w.name in self.view.registered
                or w.name not in self.view.configured
                or w.name in self.acted
                or w.resource not in self.config.resources
                or w.state not in (WorkerState.STARTING, WorkerState.IDLE, WorkerState.BUSY)
            ):
                continue
            cores, mem = shape_of(self.view, self.config.resources[w.resource])
            self.actions.append(
                Action(
                    Kind.REGISTER,
                    w.resource,
                    "joined the scheduler by itself: applying its reservation and post_add_node_command",
                    target=w.name,
                    cores=w.node.cores or w.instance.cores or cores,
                    mem_mb=w.instance.mem_mb or mem,
                )
            )
            self.acted.add(w.name)

    def retire(self) -> None:
        """Workers of a retired resource (dcluster.controller.retired): held so running jobs finish, then
        removed and destroyed once empty; an instance not yet in the scheduler is destroyed at once."""
        for w in self.view.workers:
            if w.resource not in self.config.retired or w.name in self.acted:
                continue
            why = f"dcluster: resource {w.resource} is retired from the pillar"
            if w.state in (WorkerState.IDLE, WorkerState.BUSY):
                self.actions.append(Action(Kind.HOLD, w.resource, why, target=w.name))
                if w.state == WorkerState.IDLE and not w.jobs:
                    # held, removed, destroyed in one chain; removal is refused if a job started meanwhile,
                    # which stops the chain with the node held until it is empty
                    self._remove_and_destroy(w, why)
                self.acted.add(w.name)
            elif w.state == WorkerState.DRAINING and not w.jobs and (w.node is None or w.node.cores_used == 0):
                self._remove_and_destroy(w, f"drained and empty ({why})")
            elif w.state == WorkerState.STARTING and w.node is None and w.instance is not None:
                self._remove_and_destroy(w, f"{why}; never registered")
            elif w.state == WorkerState.ERROR and w.instance is not None and not w.jobs:
                self._remove_and_destroy(w, f"{w.reason}; {why}")

    # ------------------------------------------------------------ 2. scale-up
    def scale_up(self) -> None:
        view, cfg = self.view, self.config
        resources = [r for r in sorted(cfg.resources.values(), key=lambda r: r.name)]
        sizes = {r.name: view.current(r.name) for r in resources}
        pools: dict[str, Pool] = {}
        draining = {w.name for w in view.workers if w.state == WorkerState.DRAINING}
        blocked: dict[str, str] = {}  # resource -> why it may not launch now
        blocked_code: dict[str, str] = {}  # ... filed under which code (explain.py)
        booting: set[str] = set()  # starting workers: a job placed on one waits for it to boot
        first_new: dict[str, int] = {}  # per pool, the index of the first node this plan launches
        for res in resources:
            lim = limits_of(view, res)
            cores, mem = shape_of(view, res)
            headroom = max(0, lim.max - sizes[res.name])
            room, protected = self._bootstrap_room(res)
            if lim.mode == "draining":
                headroom, why, code = 0, "draining (salt-run dcluster.drain): launches nothing", why_.DRAINED
            elif room == 0:
                headroom, why, code = 0, protected, why_.PROTECTED
            elif view.backoff.get(res.name) and view.backoff[res.name].active(self.now):
                b = view.backoff[res.name]
                why = f"backing off after {b.kind} error for {b.until - self.now:.0f} s more: {b.last_error}"
                headroom, code = 0, why_.BACKOFF
            elif not view.cloud_ok.get(res.name, True):
                why, headroom, code = "cloud poll failed", 0, why_.CLOUD_FAILED
            elif not cores:
                why, headroom = f"cores per node unknown (set dcluster:cloud:{res.name}:cores)", 0
                code = why_.CORES_UNKNOWN
            elif lim.mode == "frozen":
                why, code = f"frozen at {lim.max} node(s) (salt-run dcluster.restore {res.name})", why_.FROZEN
            else:
                why, code = f"at max ({lim.max})", why_.AT_MAX
            if room is not None and room < headroom:
                headroom, why, code = room, protected, why_.PROTECTED  # probing: one that joins lifts it
            blocked[res.name], blocked_code[res.name] = why, code
            if code in (why_.DRAINED, why_.PROTECTED, why_.BACKOFF, why_.CLOUD_FAILED, why_.CORES_UNKNOWN):
                self.no_launch.add(res.name)
            pool = Pool(res.name, cores or 1, mem, headroom)
            for w in view.workers:
                if w.resource != res.name or w.name in self.doomed:
                    continue
                if w.state in (WorkerState.IDLE, WorkerState.BUSY, WorkerState.STARTING):
                    if w.state == WorkerState.STARTING:
                        booting.add(w.name)
                    used = w.node.cores_used if w.node else 0
                    wc = w.cores or cores
                    pool.add(
                        max(0, wc - used), (w.node.mem_mb if w.node and w.node.mem_mb else mem) or -1, w.name, LIVE
                    )
                elif w.state == WorkerState.DRAINING and lim.mode != "draining":
                    used = w.node.cores_used if w.node else 0
                    pool.add(max(0, (w.cores or cores) - used), -1, w.name, DRAINING)
                elif w.state == WorkerState.UNKNOWN:
                    # Its resource's listing failed, but it most likely still exists (starting or up):
                    # its capacity counts, or another resource would launch for the same job.
                    used = w.node.cores_used if w.node else 0
                    pool.add(
                        max(0, (w.cores or cores) - used),
                        (w.node.mem_mb if w.node and w.node.mem_mb else mem) or -1,
                        w.name,
                        LIVE,
                    )
            for _ in range(view.launching(res.name)):
                pool.add(cores or 1, mem or -1, "", LIVE)
            pools[res.name] = pool
            first_new[res.name] = len(pool.bins)

        queues = cfg.cluster.config.queue_to_monitor
        # demand: pending jobs that some monitored queue may run
        pending = [
            j for j in self._due(view.jobs, queues) if j.state == JobState.PENDING and eligibility.monitored(j, queues)
        ]
        pending.sort(key=lambda j: (-j.priority, j.submit_time, j.id))
        order_cache: dict[tuple[Any, ...], list[Resource]] = {}
        fits_cache: dict[tuple[Any, ...], list[Resource]] = {}
        # Free capacity and headroom only shrink during a plan, so a job shape
        # that found no room once finds none later either: remember it.
        failed: dict[tuple[Any, ...], str] = {}
        motivated: dict[str, list[str]] = {}
        passes = (((LIVE,), False), ((LIVE, DRAINING), False), ((LIVE, DRAINING), True))
        resv: Reservation | None = None  # the first job that found no room, as the scheduler reserves for it
        head_seen = False  # EASY reserves for that one job only: worked out once, even when there is none
        young_why = self._why(why_.SCALE_UP_DELAY, f"pending for less than scale_up_delay ({cfg.scale_up_delay} s)")
        # node_size_choice waste: among same-priority resources, the size that wastes least (node_size.size_choice);
        # backlog: cores of the pending jobs behind each one of its class (they would fill a new node's
        # spare cores), promised: those already counted on to fill a node launched in this plan
        by_waste = cfg.node_size_choice == "waste" and len(resources) > 1
        classes = [eligibility.job_class(j) for j in pending]
        backlog: dict[str, int] = {}
        if by_waste:
            after: dict[tuple[Any, ...], int] = {}
            for j, c in zip(reversed(pending), reversed(classes), strict=True):
                backlog[j.id] = after.get(c, 0)
                after[c] = backlog[j.id] + j.cores
        promised: dict[tuple[Any, ...], int] = {}
        rank_cache: dict[tuple[Any, ...], dict[str, tuple[bool, int]]] = {}
        head_found = False  # the scheduler's head: the first job not started on free cores of registered nodes
        blocked_head: Job | None = None  # ... when no capacity can take it now (its reservation: resv)
        for job, cls in zip(pending, classes, strict=True):
            shape = (cls, job.chunks, job.chunk_cores, job.chunk_mem_mb, job.distinct)
            if shape in failed:
                self.waiting.append((job.id, failed[shape]))
                continue
            fits = fits_cache.get(shape)
            if fits is None:
                order = order_cache.get(cls)
                if order is None:
                    order = order_cache[cls] = eligibility.order(job, resources, sizes, cfg.cluster)
                if not order:
                    self.unplaceable.append(
                        (job.id, self._why(why_.RESERVATION, eligibility.unreadable(job) or _no_match(job)))
                    )
                    continue
                # ever: the pillar's max counts, not only an operator's freeze or drain of it (then the
                # job waits for the resource, it is not unplaceable)
                fits = [
                    r
                    for r in order
                    if pools[r.name].can_ever_fit(job.chunk_cores, job.chunk_mem_mb)
                    and (not job.distinct or job.chunks <= r.max or job.chunks <= limits_of(view, r).max)
                ]
                if not fits:
                    self.unplaceable.append((job.id, self._why(why_.SHAPE, _too_big(job, order, pools, view))))
                    continue
                fits_cache[shape] = fits
            on_extra = False
            on_old = 0  # cores it takes on existing nodes, when on_extra
            if resv is not None and resv.covers(fits):
                in_window = bool(job.walltime_s) and self.now + job.walltime_s <= resv.shadow
                if in_window:
                    self._recheck_at(resv.shadow - job.walltime_s)  # past it, it would delay the reserved job
                if not in_window and job.cores > resv.extra:
                    # It would delay the reserved job, so the scheduler will not start it
                    # before that one: it neither keeps an idle node up nor launches one.
                    self.waiting.append((job.id, resv.why))
                    continue
                on_extra = not in_window
            placed = None
            young = cfg.scale_up_delay and job.submit_time and self.now - job.submit_time < cfg.scale_up_delay
            if young:
                self._recheck_at(job.submit_time + cfg.scale_up_delay)
            if promised and cls in promised:  # this job was one of those counted on
                promised[cls] = max(0, promised[cls] - job.cores)
            size_why = ""
            for tiers, allow_new in passes:
                if allow_new and young:
                    break  # existing capacity only, until it has waited scale_up_delay
                tried = fits
                if allow_new and by_waste and len(fits) > 1:
                    behind = max(0, backlog[job.id] - promised.get(cls, 0))
                    choice = size_choice(cfg, job, cls, fits, pools, tiers, behind, rank_cache)
                    if choice is not None:
                        tried, size_why, credit = [choice[0]], choice[1], choice[2]
                        promised[cls] = promised.get(cls, 0) + credit
                for res in tried:
                    pool = pools[res.name]
                    if not pool.might_fit(job.chunk_cores, tiers, allow_new):
                        continue
                    before = pool.new_nodes
                    if on_extra and resv is not None:
                        idxs, on_old = self._place_on_extra(job, pool, tiers, allow_new, resv.sched_extra)
                    else:
                        idxs = pool.place(job.chunks, job.chunk_cores, job.chunk_mem_mb, job.distinct, tiers, allow_new)
                    if idxs is not None:
                        placed = res.name
                        for idx in idxs:
                            if pool.bins[idx].name:
                                self.wanted.add(pool.bins[idx].name)
                        self.placed.append(
                            (job.id, self._placement(res.name, pool, idxs, first_new[res.name], draining, booting))
                        )
                        if pool.new_nodes > before:
                            if size_why:
                                self.placed[-1] = (job.id, self._why(why_.LAUNCH, size_why))
                            motivated.setdefault(res.name, []).append(job.id)
                            sizes[res.name] += pool.new_nodes - before
                            # "fewer nodes first" may now order differently
                            order_cache.clear()
                            fits_cache.clear()
                        if not head_found:
                            head_found = protect(self, job, pool, idxs, first_new[res.name], draining, booting)
                        break
                if placed:
                    break
            if placed and on_extra and resv is not None:  # on_extra: resv covered this job
                resv.extra -= job.cores
                resv.sched_extra -= on_old
                resv.taken_new += job.cores - on_old  # new nodes busy past the head's start: not its
            if not placed and young:
                self.waiting.append((job.id, young_why))
            elif not placed:
                # filed under the code of the best eligible resource; the text names every one's reason
                failed[shape] = self._why(
                    blocked_code[fits[0].name], "; ".join(f"{r.name} {blocked[r.name]}" for r in fits)
                )
                self.waiting.append((job.id, failed[shape]))
                if not head_seen and cfg.respect_reservations:  # off: no reservation is worked out at all
                    head_seen = True
                    resv = reservation(job, fits, pools, view, self.now)
                    if resv is not None:
                        if resv.next_end is not None:
                            self._recheck_at(resv.next_end)  # a job running past its wall time moves the start
                        self._why(why_.BEHIND_RESERVATION, resv.why)
                        blocked_head = None if head_found else job
            head_found = head_found or not placed
        if blocked_head is not None and resv is not None:
            keep_for(self, blocked_head, resv, pools, motivated)

        for res in resources:
            pool = pools[res.name]
            for bin_ in pool.bins:
                if bin_.used and bin_.name in draining and bin_.name not in self.earmarked:
                    self.actions.append(
                        Action(
                            Kind.RELEASE, res.name, "pending jobs fit on it: cheaper than a new node", target=bin_.name
                        )
                    )
                    self.acted.add(bin_.name)
            n = pool.new_nodes
            if n:
                jobs = motivated.get(res.name, [])
                self.actions.append(
                    Action(
                        Kind.LAUNCH, res.name, _launch_reason(n, jobs), count=n, jobs=tuple(jobs[:MAX_JOBS_IN_REASON])
                    )
                )
                self.launched[res.name] = n
        self._top_up(resources, pools)

    def _due(self, jobs: tuple[Job, ...], queues: tuple[str, ...]) -> list[Job] | tuple[Job, ...]:
        """``jobs`` with each job held until a begin time within the preboot lead as pending
        (``preboot_begin_jobs``): its nodes boot now and are up when the scheduler may start it.  For one
        further away, Plan.recheck says when it comes within the lead.  Only jobs some queue of
        ``queues`` (queue_to_monitor) may run count, and the notes say which do, due or not yet."""
        if not self.config.preboot_begin_jobs or not any(j.begin_time > 0 for j in jobs):
            return jobs
        lead, how = self._preboot_lead()
        out = []
        due: list[tuple[float, str]] = []
        far: list[tuple[float, str]] = []
        for j in jobs:
            if (
                j.state == JobState.HELD
                and math.isfinite(j.begin_time)
                and j.begin_time > 0
                and eligibility.monitored(j, queues)
            ):
                away = j.begin_time - self.now
                if away > lead:
                    self._recheck_at(j.begin_time - lead)
                    far.append((away, j.id))
                else:
                    due.append((away, j.id))
                    j = dataclasses.replace(j, state=JobState.PENDING)
            out.append(j)
        tail = f"the preboot lead of {lead:.0f} s ({how}; preboot_begin_jobs)"
        if due:  # one note, not one a job: an array of thousands would fill the published summary each cycle
            self.notes.append(
                f"{_soonest(due)} (its begin time{', the soonest' if len(due) > 1 else ''}): counted as pending, within {tail}"
            )
        if far:  # the operator asking why nothing is launched for a job submitted with a begin time
            self.notes.append(f"{_soonest(far)}: no demand until its begin time is within {tail}")
        return out

    def _preboot_lead(self) -> tuple[float, str]:
        """How long before a held job's begin time it becomes demand, and whence that figure."""
        cfg = self.config
        if cfg.preboot_lead:
            return float(cfg.preboot_lead), "preboot_lead"
        slowest = self._slowest_boot(self.view.demand)
        if slowest is None:
            return 300.0, "no boot seen yet"
        return slowest + cfg.cluster_poller_interval, "slowest recent boot + a poll"

    def _slowest_boot(self, resources: Iterable[str]) -> float | None:
        """The slowest of the latest boots seen of ``resources`` (None: none seen yet).  The slowest, not
        the median: what is launched ahead by it must be up in time however fast the others were."""
        known = [b for r in resources if (d := self.view.demand.get(r)) is not None for b in d.boots]
        return max(known) if known else None

    def _recheck_at(self, when: float) -> None:
        """A decision of this plan changes by the clock alone at ``when``: Plan.recheck is the soonest."""
        self.recheck = when if self.recheck is None else min(self.recheck, when)

    def _place_on_extra(
        self, job: Job, pool: Pool, tiers: tuple[int, ...], allow_new: bool, extra: int
    ) -> tuple[list[int] | None, int]:
        """Place ``job``, which runs past the blocked head's reserved start, so that the scheduler will
        start it: on free cores of the nodes it has only if they are within its own extra (``extra``),
        else all on new nodes (they raise that extra by their cores).  Placed on those nodes beyond it, the job
        would keep them idle, or take a launch, for a start the scheduler does not make.  Returns the
        bins used (None: no room) and the cores taken on existing ones."""
        shape = (job.chunks, job.chunk_cores, job.chunk_mem_mb, job.distinct)
        lay = pool.layout(*shape, tiers, allow_new)
        # a booting node is one the scheduler does not have yet either: as a new one, it adds its cores
        # to the scheduler's extra when it joins (counted against it, the node launched for this job in
        # the last cycle was refused to it and another launched, every cycle until the first joined)
        on_old = sum(n for i, n in lay.existing if pool.bins[i].name in self.known) * job.chunk_cores if lay else 0
        if lay is not None and on_old > extra:
            lay, on_old = (pool.layout(*shape, (), True), 0) if allow_new else (None, 0)
        return (None if lay is None else pool.commit(lay, job.chunk_cores, job.chunk_mem_mb)), on_old

    def _placement(
        self, resource: str, pool: Pool, used: list[int], first_new: int, draining: set[str], booting: set[str]
    ) -> str:
        """Where a placed job goes, in words filed under a code (explain.py)."""
        if used[-1] >= first_new:  # place() lists the nodes it launches last; one text per resource
            why = self._launch_why.get(resource)
            if why is None:
                why = self._launch_why[resource] = self._why(
                    why_.LAUNCH, f"{resource}: on new node(s) this plan launches"
                )
            return why
        # set operations, no generator: this runs once per placed job
        names = [pool.bins[i].name for i in used]
        launching = "" in names  # a launch under way (its node has no name yet)
        if launching:
            names = [n or "a launch under way" for n in names]
        shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
        if not draining.isdisjoint(names):
            return self._why(why_.RELEASE, f"{resource}: releases draining worker(s) {shown}")
        if launching or not booting.isdisjoint(names):
            return self._why(why_.BOOTING, f"{resource}: waits for {shown}, already booting")
        return self._why(why_.EXISTING, f"{resource}: fits on {shown}; the scheduler starts it there")

    def _bootstrap_room(self, res: Resource) -> tuple[int | None, str]:
        """The bootstrap breaker's limit on new instances of ``res`` (None: none), counting the
        never-joined instances this plan destroys as failed already."""
        pending = [a.target for a in self.actions if a.never_joined and a.resource == res.name]
        return backoff.launch_room(self.view, res, self.config.bootstrap_failures, pending)

    def _live(self, res: Resource, unknown: bool = False) -> int:
        """Workers that serve or will serve jobs: what min is measured against.  ``unknown``: count those
        that most likely still do, unknown (a failed or one-off answer about them), as the top-up to min
        must (one wrong answer must not launch a replacement); scale-down must not (a healthy node would
        go for one that may be dead)."""
        if self._live_base is None:
            self._live_base = {}
            for w in self.view.workers:
                if _serves(w) or w.state == WorkerState.UNKNOWN:
                    key = (w.resource, w.state == WorkerState.UNKNOWN)
                    self._live_base[key] = self._live_base.get(key, 0) + 1
        doomed = sum(1 for n in self.doomed if self._by_name[n].resource == res.name and _serves(self._by_name[n]))
        counted = self._live_base.get((res.name, False), 0) + (
            self._live_base.get((res.name, True), 0) if unknown else 0
        )
        return counted - doomed + self.view.launching(res.name) + self.launched.get(res.name, 0)

    def _top_up(self, resources: list[Resource], pools: dict[str, Pool]) -> None:
        for res in resources:
            lim = limits_of(self.view, res)
            if lim.mode == "draining":
                continue
            short = lim.min - self._live(res, unknown=True)
            if short <= 0:
                continue
            room = lim.max - self.view.current(res.name) - self.launched.get(res.name, 0)
            probe, protected = self._bootstrap_room(res)
            if probe is not None:
                if probe - self.launched.get(res.name, 0) <= 0:
                    self.notes.append(f"{res.name}: below min ({lim.min}) but {protected}")
                    continue
                room = min(room, probe - self.launched.get(res.name, 0))
            b = self.view.backoff.get(res.name)
            if b and b.active(self.now):
                self.notes.append(f"{res.name}: below min ({lim.min}) but backing off after {b.kind} error")
                continue
            if not self.view.cloud_ok.get(res.name, True):
                continue
            n = min(short, room)
            if n > 0:
                self.actions.append(
                    Action(Kind.LAUNCH, res.name, f"below min: {lim.min - short} of {lim.min} nodes", count=n)
                )
                self.launched[res.name] = self.launched.get(res.name, 0) + n

    # ------------------------------------------------------------ 3. scale-down
    def scale_down(self) -> None:
        view, cfg = self.view, self.config
        for res in sorted(cfg.resources.values(), key=lambda r: r.name):
            lim = limits_of(view, res)
            workers = [w for w in view.workers if w.resource == res.name and w.name not in self.acted]
            # Drained and empty: out of the scheduler, then out of the cloud.
            for w in workers:
                if (
                    w.name in self.let_go
                    and w.state == WorkerState.DRAINING
                    and lim.mode != "draining"
                    and self._live(res) - 1 >= lim.min
                ):
                    if self._confirmed(w, "drained"):
                        self._remove_and_destroy(w, self.let_go[w.name])
                elif w.state == WorkerState.DRAINING and lim.mode != "draining" and held_for_job(w.reason):
                    # Held for a wide job that no longer counts on it (cancelled, held by its user, another job
                    # now first, or no reservation worked out this cycle): no scale-down decision drained it,
                    # so it goes back to the idle policy (and min) instead of being destroyed as drained.
                    self.actions.append(
                        Action(Kind.RELEASE, res.name, f"no longer kept for a job ({w.reason})", target=w.name)
                    )
                    self.acted.add(w.name)
                elif w.state == WorkerState.DRAINING and not w.jobs and (w.node is None or w.node.cores_used == 0):
                    if self._confirmed(w, "drained and empty"):
                        self._remove_and_destroy(w, f"drained and empty ({w.reason})")
                elif w.state == WorkerState.ERROR and w.instance is not None and not w.jobs:
                    # down since the later of the scheduler's word and dcluster's first sight of it: a
                    # timestamp from the scheduler (old, or from a clock behind ours) read after a failed
                    # poll or a restart must not make a node that just went down look down for long
                    down = self.now - max(w.since, w.seen)
                    if down > cfg.max_down_time:
                        self._remove_and_destroy(
                            w, f"{w.reason} for {down:.0f} s (max_down_time {cfg.max_down_time} s)"
                        )
                    else:
                        self._recheck_at(max(w.since, w.seen) + cfg.max_down_time)
                elif w.state == WorkerState.ERROR and w.jobs:
                    self.notes.append(f"{w.name}: {w.reason} with jobs {', '.join(w.jobs)}; not touched")
            keep = self._live(res)
            if lim.mode == "draining":
                for w in workers:
                    if w.state in (WorkerState.IDLE, WorkerState.BUSY) and w.name not in self.acted:
                        self.actions.append(
                            Action(Kind.HOLD, res.name, "dcluster: resource is being drained", target=w.name)
                        )
                        self.acted.add(w.name)
                continue
            limit = cfg.idle_limit(res.name)
            idle = []
            unwanted = []
            for w in workers:
                if w.state != WorkerState.IDLE or w.name in self.acted:
                    continue
                if w.name in self.wanted:
                    self.kept[w.name] = (why_.WANTED, "a pending job would run on it")
                else:
                    unwanted.append(w)
            # idle_policy adaptive: only the freshest idle workers recent demand would take soon are kept
            learned = idle_.keep_for_demand(view, cfg, res.name, self.now)
            released: dict[str, str] = {}
            if learned is not None:
                unwanted.sort(key=lambda w: (-w.since, w.name))
            for w in unwanted:
                if w.name in self.let_go:  # a wide job's far start: not kept for demand either (wide_job.wait_away)
                    released[w.name] = self.let_go[w.name]
                    idle.append(w)
            unwanted = [w for w in unwanted if w.name not in self.let_go]
            for k, w in enumerate(unwanted):
                if learned is not None and k >= learned.count:
                    released[w.name] = f"dcluster: idle {self.now - w.since:.0f} s; {learned.demand()}"
                    idle.append(w)
                elif self.now - w.since < limit:
                    self.kept[w.name] = (
                        why_.IDLE_TIME if learned is None else why_.DEMAND,
                        f"idle {self.now - w.since:.0f} s, within max_idle_time "
                        f"({limit} s): {limit - (self.now - w.since):.0f} s more"
                        + (f"; {learned.demand()}" if learned is not None else ""),
                    )
                else:
                    idle.append(w)
            idle.sort(key=lambda w: (w.since, w.name))
            for k, w in enumerate(idle):
                if keep - 1 < lim.min:
                    frozen = ", frozen by an operator" if lim.mode == "frozen" else ""
                    for left in idle[k:]:
                        self.kept[left.name] = (
                            why_.MIN,
                            (
                                "idle, beyond what recent demand would take soon"
                                if left.name in released
                                else f"idle past max_idle_time ({limit} s)"
                            )
                            + f", kept for the resource's min ({lim.min}{frozen})",
                        )
                    break
                why = hold_text(
                    released.get(w.name) or f"dcluster: idle {self.now - w.since:.0f} s, max_idle_time {limit} s"
                )
                # Held, removed and destroyed in one go: the actuator stops at the first step
                # that fails, and removal is refused while the node runs a job (one the
                # scheduler started between our poll and the hold), which then keeps the
                # node held until it is empty.
                self.actions.append(Action(Kind.HOLD, res.name, why, target=w.name))
                self._remove_and_destroy(w, why)
                keep -= 1


def _serves(w: Worker) -> bool:
    """Whether ``w`` serves or will serve jobs (min counts it): held for a wide job, it comes back."""
    live = (WorkerState.IDLE, WorkerState.BUSY, WorkerState.STARTING)
    return w.state in live or (w.state == WorkerState.DRAINING and held_for_job(w.reason))


def _soonest(jobs: list[tuple[float, str]]) -> str:
    """'job A and N more (B, C, ...) may start in S s' for (seconds away, job id) pairs, A the soonest."""
    away, first = min(jobs)
    others = sorted(jid for _, jid in jobs if jid != first)
    shown = ", ".join(others[:MAX_JOBS_IN_REASON]) + (", ..." if len(others) > MAX_JOBS_IN_REASON else "")
    more = f" and {len(others)} more ({shown})" if others else ""
    return f"job {first}{more} may start in {max(0.0, away):.0f} s"


def _launch_reason(n: int, jobs: list[str]) -> str:
    shown = ", ".join(jobs[:MAX_JOBS_IN_REASON])
    more = f" and {len(jobs) - MAX_JOBS_IN_REASON} more" if len(jobs) > MAX_JOBS_IN_REASON else ""
    return f"{n} node(s) for pending job(s) {shown}{more}"


def _no_match(job: Job) -> str:
    want = []
    if job.queue:
        want.append(f"queue {job.queue}")
    if job.account:
        want.append(f"account {job.account}")
    if job.constraint:
        want.append(f"constraint {job.constraint}")
    elif job.properties:
        want.append(f"properties {','.join(job.properties)}")
    return "no resource's reservation accepts " + (" / ".join(want) or "it")


def _too_big(job: Job, order: list[Resource], pools: dict[str, Pool], view: View) -> str:
    biggest = max(order, key=lambda r: pools[r.name].cores)
    pool = pools[biggest.name]
    if job.chunk_cores > pool.cores or (pool.mem and job.chunk_mem_mb > pool.mem):
        return (
            f"needs {job.chunk_cores} cores / {job.chunk_mem_mb} MB on one node; the largest eligible node "
            f"({biggest.name}) has {pool.cores} cores / {pool.mem or '?'} MB"
        )
    most = max(max(r.max, limits_of(view, r).max) for r in order)
    return f"needs {job.chunks} separate nodes; no eligible resource may have that many (at most {most})"
