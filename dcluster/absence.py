"""No destruction on one observation (issue 13): a worker missing from one source is *unconfirmed*.

A poll's answer can be valid and wrong (an ``sinfo`` that leaves out a node, a
cloud listing that leaves out a live instance, a byte flip that still parses).
So a worker whose instance is listed but whose node is not, or whose node is
listed but whose instance is not, is put in UNKNOWN ("confirming") until
``confirm_absence.polls`` consecutive successful polls of that source, spanning
``confirm_absence.seconds`` (and at least twice that source's poll interval, so
one cached listing never counts as several), all miss it.  And whatever the
count, nothing is done to it while any source shows a job on it: the node's
own job list or a running job of the job list that names it.

The memory is an :class:`Absence` per worker, carried from the previous View
(reconcile's ``previous=``).  It is not persisted: a restart restarts every
confirmation, which delays an action, never hastens one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .config import Config
from .model import Instance, Job, JobState, Node, WorkerState

SCHEDULER = "scheduler"  # listed by the cloud, missing from the scheduler's node list
CLOUD = "cloud"  # a node of ours, missing from its resource's cloud listing


@dataclass(frozen=True, slots=True)
class Absence:
    source: str  # SCHEDULER or CLOUD: the source that misses the worker
    since: float  # the first successful poll that missed it
    polls: int  # consecutive successful polls of that source that missed it
    had_node: bool = False  # it was a scheduler node before it went missing
    # CLOUD: the last view showed its instance being deleted, so its absence is what the cloud announced
    # (a listing that leaves out a live instance never says "deleting" first): nothing to confirm
    expected: bool = False

    def needed(self, config: Config) -> tuple[int, float]:
        interval = config.cluster_poller_interval if self.source == SCHEDULER else config.cloud_poller_interval
        return config.confirm_absence.polls, float(max(config.confirm_absence.seconds, 2 * interval))

    def confirmed(self, config: Config, now: float) -> bool:
        if self.expected:
            return True
        polls, seconds = self.needed(config)
        return self.polls >= polls and now - self.since >= seconds

    def progress(self, config: Config, now: float) -> str:
        polls, seconds = self.needed(config)
        return (
            f"since {self.since:.0f}: {self.polls} of {polls} polls, {max(0.0, now - self.since):.0f} of "
            f"{seconds:.0f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "since": self.since,
            "polls": self.polls,
            "had_node": self.had_node,
            "expected": self.expected,
        }


def running_on(jobs: Iterable[Job]) -> dict[str, tuple[str, ...]]:
    """Running jobs of the job list by the node names they give."""
    out: dict[str, list[str]] = {}
    for job in jobs:
        if job.state == JobState.RUNNING:
            for name in job.nodes:
                out.setdefault(name, []).append(job.id)
    return {name: tuple(ids) for name, ids in out.items()}


def observe(
    prev: Absence | None,
    node: Node | None,
    inst: Instance | None,
    resource: str,
    scheduler_ok: bool,
    cloud_ok: Mapping[str, bool],
    had_node: bool,
    now: float,
    was_deleting: bool = False,
) -> Absence | None:
    """This cycle's absence record of one worker, from last cycle's and what the polls say.

    ``was_deleting``: the last view showed its instance being deleted."""
    if node is None and inst is not None:
        source, observed = SCHEDULER, scheduler_ok
    elif inst is None and node is not None and resource:
        source, observed = CLOUD, cloud_ok.get(resource, False)
    else:
        return None
    if prev is not None and prev.source != source:
        prev = None
    if not observed:
        return prev  # a failed poll is no observation: the count neither grows nor restarts
    if prev is None:
        return Absence(source, now, 1, had_node, expected=source == CLOUD and was_deleting)
    return replace(prev, polls=prev.polls + 1)


def judge(
    config: Config,
    now: float,
    state: WorkerState,
    reason: str,
    absence: Absence | None,
    node: Node | None,
    resource: str,
    listed: tuple[str, ...],
) -> tuple[WorkerState, str]:
    """The worker's state once unconfirmed absences and jobs shown by any source are taken into account.

    ``listed``: running jobs of the job list that name the worker.
    """
    if state in (WorkerState.UNKNOWN, WorkerState.PHYSICAL):
        return state, reason  # already untouchable, and its reason (a failed poll) says why
    if absence is not None and absence.source == SCHEDULER:
        if listed:
            return WorkerState.UNKNOWN, (
                f"absent from the scheduler's node list, but the job list shows "
                f"{_jobs(listed)} running on it: no action while it does"
            )
        # An instance the cloud says it is deleting is no live worker whichever way the scheduler answers:
        # "confirming" it would keep its cores as free capacity (jobs planned onto a dying machine instead of
        # a launch), and nothing destructive is planned for a deleting instance without a node.
        if (
            not absence.confirmed(config, now)
            and state != WorkerState.DELETING
            and (state == WorkerState.ORPHAN or absence.had_node)
        ):
            what = "was a scheduler node, " if absence.had_node else ""
            return WorkerState.UNKNOWN, (
                f"{what}absent from the scheduler's node list ({absence.progress(config, now)}): confirming"
            )
        return state, reason
    if absence is not None and absence.source == CLOUD:
        shown = tuple(sorted(set(node.jobs if node else ()) | set(listed)))
        if shown:
            return WorkerState.UNKNOWN, (
                f"absent from the {resource} cloud listing, but {_jobs(shown)} still "
                f"run on it by the scheduler: no action while they do"
            )
        if not absence.confirmed(config, now):
            return WorkerState.UNKNOWN, (
                f"absent from the {resource} cloud listing ({absence.progress(config, now)}): confirming"
            )
        return state, reason
    if (
        node is not None
        and listed
        and state in (WorkerState.IDLE, WorkerState.DRAINING, WorkerState.ERROR, WorkerState.STARTING)
    ):
        extra = sorted(set(listed) - set(node.jobs))
        if extra:
            return WorkerState.UNKNOWN, (
                f"the job list shows {_jobs(extra)} running on it but its node shows "
                f"{state.value}: no action until they agree"
            )
    return state, reason


def _jobs(ids: Iterable[str]) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"job{'s' if len(ids) > 1 else ''} {shown}"
