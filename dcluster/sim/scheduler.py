"""A simulated batch scheduler: FCFS with EASY backfilling over elastic nodes (``scheduler: easy``).

The Slurm-like model (``scheduler: slurm``) is :mod:`.slurm`; it shares this
module's node and job bookkeeping.

Decisions (documented here because they shape every number the simulator
reports):

* **Cores, not whole nodes.**  A job of P processors needs P cores; they may
  spread over nodes (Slurm ``--ntasks=P``, Grid Engine ``$fill_up``).  The
  planner sees it as ``chunks=P, chunk_cores=1, distinct=False``, the same
  shape.  With one core per node (KTH, where a "processor" is an SP2 node)
  this is whole-node allocation.  Cores are taken from the fullest usable
  nodes first (best fit), so idle nodes stay idle and can be scaled down.
  Memory (KB per processor in SWF) is checked per node when both the job and
  the node have a figure.
* **FCFS + EASY** (as at KTH): jobs start in submit order while they fit;
  when the head does not, it gets a reservation at the *shadow time* (when
  enough cores are free, judged from running jobs' requested wall times on
  the nodes that exist now) and later jobs may start now if they fit and
  either end (by their wall time) before the shadow time or use only the
  *extra* cores the head will not need.  If the head cannot fit even when
  every running job has ended (its nodes are still booting), no reservation
  is made and any job that fits may start: a reservation is only made on
  nodes that exist.
* **Run time from the trace.**  Wall time is the requested time, or the run
  time when the trace has none.  KTH did not kill jobs strictly at their
  limit (475 jobs ran over), so by default a job runs its recorded time;
  ``kill_at_walltime=True`` cuts it at its wall time like a strict scheduler.
  Backfill estimates never trust an overrun job to end "in the past": its
  expected end is at least now.
* Held nodes (ours or an admin's) take no new jobs but keep running theirs.
  Removing a node with jobs fails, unless the jobs are vacated: they go back
  to the queue in their original order and restart from scratch later.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Job


class SchedulerError(Exception):
    """An operation the scheduler refuses (removing a busy node ...)."""


@dataclass(slots=True)
class SimJob:
    id: str
    submit: float
    cores: int
    runtime: float  # what it actually runs (recorded, possibly cut at wall time)
    walltime: float  # what the scheduler is told
    mem_mb: int = 0  # per core; 0: not requested
    order: int = 0  # FCFS rank
    start: float | None = None
    end: float | None = None
    alloc: dict[str, int] = field(default_factory=dict)  # node -> cores
    restarts: int = 0
    model: Job | None = None  # cached dcluster.model.Job of the pending job (set by the replay)

    @property
    def expected_end(self) -> float:
        return (self.start or 0.0) + self.walltime


@dataclass(slots=True)
class SimNode:
    name: str
    cores: int
    mem_mb: int = 0  # 0: unknown, never limits
    free: int = 0
    free_mem: int = 0
    jobs: dict[str, int] = field(default_factory=dict)  # job id -> cores here
    held: bool = False
    hold_reason: str = ""
    since: float = 0.0  # entered its current state (idle/busy/held)
    ver: int = 0  # bumped on every change (snapshots are cached on it)

    @property
    def usable(self) -> bool:
        return not self.held

    def state(self) -> str:
        if self.held:
            return "held"
        return "busy" if self.jobs else "idle"


# take(job, alloc) starts a job on a pass's nodes; a NodeKey orders the nodes a pass fills.
Take = Callable[[SimJob, dict[str, int]], None]
NodeKey = Callable[[SimNode], Any]


class Scheduler:
    """FCFS + EASY over the nodes currently registered.  Times are simulated seconds."""

    def __init__(self, backfill: bool = True):
        self.backfill = backfill
        self.nodes: dict[str, SimNode] = {}
        self.pending: list[SimJob] = []  # sorted by (order)
        self.running: dict[str, SimJob] = {}
        self.ends: list[tuple[float, int, str]] = []  # heap of (end, order, job id)
        # heap of (start + wall time, order, job id) of the jobs that run past their wall time (_overruns)
        self.walls: list[tuple[float, int, str]] = []
        self.done: list[SimJob] = []
        self.started = 0
        self.changed = True  # node or job set changed since the replay last looked
        self.dirty: set[str] = set()  # nodes changed since the replay last took a snapshot
        self.held: set[str] = set()
        self.nver = 0  # bumped on any node change
        self._free = (-1, 0)  # (nver, free cores on usable nodes)

    def _touch(self, node: SimNode) -> None:
        node.ver += 1
        self.nver += 1
        self.dirty.add(node.name)
        if node.held:
            self.held.add(node.name)
        else:
            self.held.discard(node.name)

    # ------------------------------------------------------------ nodes
    def add_node(self, name: str, cores: int, mem_mb: int, now: float) -> None:
        if name in self.nodes:
            raise SchedulerError(f"node {name} already exists")
        self.nodes[name] = node = SimNode(name, cores, mem_mb, free=cores, free_mem=mem_mb, since=now)
        self._touch(node)
        self.changed = True

    def hold(self, name: str, reason: str, now: float) -> None:
        node = self._node(name)
        if not node.held:
            node.held, node.hold_reason, node.since = True, reason, now
            self._touch(node)
            self.changed = True

    def release(self, name: str, now: float) -> None:
        node = self._node(name)
        if node.held:
            node.held, node.hold_reason, node.since = False, "", now
            self._touch(node)
            self.changed = True

    def remove_node(self, name: str, now: float, vacate: bool = False) -> list[str]:
        node = self._node(name)
        requeued = []
        if node.jobs:
            if not vacate:
                raise SchedulerError(f"node {name} still runs job(s) {', '.join(sorted(node.jobs))}")
            for jid in list(node.jobs):
                self._requeue(self.running[jid], now)
                requeued.append(jid)
        del self.nodes[name]
        self.held.discard(name)
        self.dirty.add(name)
        self.nver += 1
        self.changed = True
        return requeued

    def _node(self, name: str) -> SimNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise SchedulerError(f"no node {name}") from None

    # ------------------------------------------------------------ jobs
    def submit(self, job: SimJob) -> None:
        if self.pending and job.order < self.pending[-1].order:
            bisect.insort(self.pending, job, key=lambda j: j.order)
        else:
            self.pending.append(job)
        self.changed = True

    def next_end(self) -> float | None:
        while self.ends and self.ends[0][2] not in self.running:
            heapq.heappop(self.ends)
        return self.ends[0][0] if self.ends else None

    def finish_due(self, now: float) -> list[SimJob]:
        """End every running job whose end time has come."""
        out = []
        while self.ends and self.ends[0][0] <= now:
            end, _, jid = heapq.heappop(self.ends)
            job = self.running.get(jid)
            if job is None or job.end != end:
                continue  # requeued meanwhile
            del self.running[jid]
            for name, cores in job.alloc.items():
                node = self.nodes.get(name)
                if node is None:
                    continue
                node.free += cores
                if node.mem_mb and job.mem_mb:
                    node.free_mem += cores * job.mem_mb
                del node.jobs[jid]
                self._touch(node)
                if not node.jobs and not node.held:
                    node.since = end
            self.done.append(job)
            out.append(job)
        if out:
            self.changed = True
        return out

    def _requeue(self, job: SimJob, now: float) -> None:
        del self.running[job.id]
        for name, cores in job.alloc.items():
            node = self.nodes.get(name)
            if node is not None:
                node.free += cores
                if node.mem_mb and job.mem_mb:
                    node.free_mem += cores * job.mem_mb
                node.jobs.pop(job.id, None)
                self._touch(node)
                if not node.jobs and not node.held:
                    node.since = now
        job.start = job.end = None
        job.alloc = {}
        job.restarts += 1
        self.submit(job)

    # ------------------------------------------------------------ scheduling
    def _fit(self, job: SimJob, nodes: list[SimNode]) -> dict[str, int] | None:
        """Cores for ``job`` on ``nodes`` (fullest first), or None."""
        need = job.cores
        alloc: dict[str, int] = {}
        for node in nodes:
            take = node.free
            if job.mem_mb and node.mem_mb:
                take = min(take, node.free_mem // job.mem_mb)
            if take <= 0:
                continue
            take = min(take, need)
            alloc[node.name] = take
            need -= take
            if not need:
                return alloc
        return None

    def _start(self, job: SimJob, alloc: dict[str, int], now: float) -> None:
        job.start, job.alloc = now, alloc
        job.end = now + job.runtime
        for name, cores in alloc.items():
            node = self.nodes[name]
            if not node.jobs:
                node.since = now
            node.free -= cores
            if node.mem_mb and job.mem_mb:
                node.free_mem -= cores * job.mem_mb
            node.jobs[job.id] = cores
            self._touch(node)
        self.running[job.id] = job
        heapq.heappush(self.ends, (job.end, job.order, job.id))
        if job.runtime > job.walltime:
            heapq.heappush(self.walls, (now + job.walltime, job.order, job.id))
        self.started += 1
        self.changed = True

    def next_pass(self) -> float | None:
        """When a pass of this scheduler's own (not caused by an event) is due: for FCFS + EASY, when a
        running job passes its wall time while jobs wait.  The reservation counts such a job as ending
        now (``_reservation``), so the head's extra cores can grow with no event; without this pass the
        result would depend on when the replay happens to look (at its decision ticks)."""
        while self.walls and self.walls[0][2] not in self.running:
            heapq.heappop(self.walls)
        return self.walls[0][0] if self.walls and self.pending else None

    def _overruns(self, now: float) -> None:
        """Take the wall times passed by ``now``; one passed by a job still running while jobs wait is a
        change (the reservation moved), which the replay's policy gets to see as any other."""
        while self.walls and self.walls[0][0] <= now:
            _, _, jid = heapq.heappop(self.walls)
            if jid in self.running and self.pending:
                self.changed = True

    def schedule(self, now: float) -> list[SimJob]:
        """One scheduling pass; returns the jobs it started."""
        self._overruns(now)
        if not self.pending:
            return []
        if self._free[0] == self.nver and not self._free[1]:
            return []  # nothing changed on the nodes and nothing is free
        usable = [n for n in self.nodes.values() if n.free > 0 and not n.held]
        self._free = (self.nver, sum(n.free for n in usable))
        if not usable:
            return []
        started, keep = self._easy(usable, now, lambda job, alloc: self._start(job, alloc, now))
        if started:
            self.pending = keep
        return started

    def whatif(self, now: float, booting: int, off: int, cores: int, mem_mb: int = 0) -> tuple[set[str], int]:
        """Slurm power saving's view: which idle nodes and how many powered-down nodes jobs would get.

        Booting nodes count as free (Slurm already allocated them to jobs), then
        ``off`` powered-down nodes; FCFS + EASY as in :meth:`schedule`.  Returns
        the registered nodes used and the number of powered-down nodes used.
        """
        if not self.pending:
            return set(), 0
        virtual = [
            SimNode(n.name, n.cores, n.mem_mb, free=n.free, free_mem=n.free_mem)
            for n in self.nodes.values()
            if n.usable and n.free > 0
        ]
        real = {n.name for n in virtual}
        virtual += [SimNode(f"~boot{i}", cores, mem_mb, free=cores, free_mem=mem_mb) for i in range(booting)]
        virtual += [SimNode(f"~off{i}", cores, mem_mb, free=cores, free_mem=mem_mb) for i in range(off)]
        if not virtual:
            return set(), 0
        by_name = {n.name: n for n in virtual}
        used: set[str] = set()

        def take(job: SimJob, alloc: dict[str, int]) -> None:
            for name, c in alloc.items():
                node = by_name[name]
                node.free -= c
                if node.mem_mb and job.mem_mb:
                    node.free_mem -= c * job.mem_mb
                used.add(name)

        # registered nodes first, then booting, then powered-down ones
        self._whatif_pass(now, virtual, take, lambda n: (n.name[0] == "~", n.name[:5] == "~off", n.free, n.name))
        return used & real, sum(1 for name in used if name.startswith("~off"))

    def _whatif_pass(self, now: float, virtual: list[SimNode], take: Take, key: NodeKey) -> None:
        """The scheduling passes of :meth:`whatif` over the virtual nodes: FCFS + EASY here."""
        self._easy(virtual, now, take, order_key=key)

    def _easy(
        self, usable: list[SimNode], now: float, take: Take, order_key: NodeKey | None = None
    ) -> tuple[list[SimJob], list[SimJob]]:
        """FCFS + EASY over ``usable``; ``take(job, alloc)`` starts a job.  Returns (started, still pending)."""
        key = order_key or (lambda n: (n.free, n.name))
        usable.sort(key=key)
        free = sum(n.free for n in usable)
        started: list[SimJob] = []
        pending = self.pending
        i = 0
        # FCFS from the head.
        while i < len(pending) and free:
            head = pending[i]
            if head.cores > free:
                break
            alloc = self._fit(head, usable)
            if alloc is None:
                break
            take(head, alloc)
            started.append(head)
            free -= head.cores
            i += 1
            usable.sort(key=key)
        if i >= len(pending) or not free or not self.backfill:
            return started, pending[i:]
        # EASY: reserve for the head, backfill behind it.
        head = pending[i]
        shadow, extra = self._reservation(head, usable, free, now)
        keep = [head]
        for job in pending[i + 1 :]:
            if free and job.cores <= free:
                fits_window = now + job.walltime <= shadow
                if fits_window or job.cores <= extra:
                    alloc = self._fit(job, usable)
                    if alloc is not None:
                        take(job, alloc)
                        started.append(job)
                        free -= job.cores
                        if not fits_window:
                            extra -= job.cores
                        usable.sort(key=key)
                        continue
            keep.append(job)
        return started, keep

    def _reservation(self, head: SimJob, usable: list[SimNode], free: int, now: float) -> tuple[float, int]:
        """(shadow time, extra cores) of the head job's reservation."""
        held = self.held  # cores on held nodes free up for nobody
        releases = []
        for job in self.running.values():
            cores = sum(c for name, c in job.alloc.items() if name not in held) if held else job.cores
            if cores:
                releases.append((max(job.expected_end, now), cores))
        releases.sort()
        avail = free
        for when, cores in releases:
            avail += cores
            if avail >= head.cores:
                return when, avail - head.cores
        return float("inf"), 0

    # ------------------------------------------------------------ views
    def pending_cores(self) -> int:
        return sum(j.cores for j in self.pending)
