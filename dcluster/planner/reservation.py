"""The scheduler's reservation for the first pending job that cannot start (EASY backfilling), as the
planner works it out: when that job starts and which cores it leaves over for the jobs behind it."""

from __future__ import annotations

import math

from ..config import Resource
from ..model import Job, JobState
from ..reconcile import View
from .packing import Pool


class Reservation:
    """The scheduler's reservation for the first job that cannot start (EASY backfilling).

    ``shadow`` is when enough cores are free for it (free cores of our nodes,
    the nodes we may still launch, then each running job's cores at its start
    time + wall time); ``extra`` the cores it will not need then.  A later job
    is started by the scheduler only if it ends before the shadow time or fits
    in the extra cores.
    """

    def __init__(
        self,
        job_id: str,
        resources: frozenset[str],
        shadow: float,
        extra: int,
        unknown: int = 0,
        next_end: float | None = None,
    ):
        self.resources, self.shadow, self.extra = resources, shadow, extra
        # The soonest wall-time end still ahead of a running job it counted: a job still running then
        # is counted as ending at each later cycle, which moves the reservation by the clock alone.
        self.next_end = next_end
        # The scheduler's own extra: it knows no node still to launch or booting, so of the extra cores
        # theirs (``unknown``) are not there for it.  A later job it would start on nodes it has must fit
        # these; the nodes launched or booting for one add their cores to it.
        self.sched_extra = max(0, extra - unknown)
        self.taken_new = 0  # cores of new or booting nodes taken by jobs that run past the shadow
        self.why = f"behind job {job_id}, for which the scheduler reserves the free cores"

    def covers(self, fits: list[Resource]) -> bool:
        return any(r.name in self.resources for r in fits)


def reservation(job: Job, fits: list[Resource], pools: dict[str, Pool], view: View, now: float) -> Reservation | None:
    """The head job's reservation, or None when running jobs' ends are unknown or never free enough cores."""
    names = frozenset(r.name for r in fits)
    registered = {w.name for w in view.workers if w.resource in names and w.node is not None}
    # Like Slurm's powered-down cloud nodes, the nodes we may still launch count as free
    # capacity for the reservation, and so do our draining nodes (they are released for demand).
    free = sum(b.free for n in names for b in pools[n].bins)
    unlaunched = sum(pools[n].headroom * pools[n].cores for n in names)  # what this plan has not launched yet
    free += unlaunched
    booting = sum(b.free for n in names for b in pools[n].bins if b.name not in registered)  # launches too
    releases = []
    for j in view.jobs:
        if j.state != JobState.RUNNING or not j.nodes:
            continue
        ours = sum(1 for n in j.nodes if n in registered)
        if not ours:
            continue
        end = wall_end(j)
        if end is None:
            return None  # an end we cannot tell: no estimate at all
        releases.append((max(now, end), j.cores * ours // len(j.nodes)))
    releases.sort()
    need = job.cores
    ahead = [when for when, _ in releases if when > now]
    for when, cores in releases:
        free += cores
        if free >= need:
            # a job held until its begin time (counted as pending by preboot_begin_jobs) starts no sooner
            return Reservation(
                job.id,
                names,
                max(when, job.begin_time),
                free - need,
                unlaunched + booting,
                min(ahead) if ahead else None,
            )
    return None


def wall_end(j: Job) -> float | None:
    """A job's end by its wall time, or None when it cannot be told: no start, no wall time, or a start
    time that is no number (``squeue --json``'s ``1e999`` parses as infinity)."""
    if not j.start_time or not j.walltime_s or not math.isfinite(j.start_time):
        return None
    return j.start_time + j.walltime_s


def running_ends(view: View) -> dict[str, float]:
    """Running jobs' ends by their wall times (jobs without one are left out: they may never end)."""
    return {j.id: end for j in view.jobs if j.state == JobState.RUNNING and (end := wall_end(j)) is not None}
