"""Recent demand per resource, what the adaptive idle policy learns from (``planner/idle.py``).

Each cycle :func:`observe` compares the view with the previous one.  A worker
*taken* by demand is one launched since (at its launch time) or one idle then
and busy now, or idle again with a later ``since`` (a job ran on it between
the polls); takes at the same time count as one event of that many nodes.  A
worker starting then and usable now *booted* in ``since - launch_time``
seconds.  Only the
latest events are kept, so the summary stays small and follows the load.

Nothing here is stored on disk: after a master restart the history starts
empty and the planner falls back to the fixed ``max_idle_time`` until it has
seen enough (``MIN_TAKES`` starts and one boot).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import Worker, WorkerState

if TYPE_CHECKING:
    from .reconcile import View

# Job starts kept per resource: a rate over n events has a relative error of about 1/sqrt(n)
# (Poisson), so 32 gives about 18 %, while a change of load shows within 32 starts.
TAKES = 32
MIN_TAKES = 4  # below this the rate is a guess: the planner keeps the fixed timeout
BOOTS = 16  # boot durations kept; their median is the boot time (robust to one slow boot)


@dataclass(frozen=True, slots=True)
class Demand:
    takes: tuple[tuple[float, int], ...] = ()  # (start time, nodes of this resource) of the latest job starts
    boots: tuple[float, ...] = ()  # seconds from launch to usable, of the latest workers that joined

    def rate(self, now: float) -> float | None:
        """Nodes taken per second: the nodes of every start after the oldest kept, over the time since it.

        Measured up to ``now``, so a quiet spell lowers it without any new event.  None while fewer than
        ``MIN_TAKES`` starts are known."""
        if len(self.takes) < MIN_TAKES:
            return None
        span = now - self.takes[0][0]
        if span <= 0:
            return None
        return sum(n for _, n in self.takes[1:]) / span

    def boot(self) -> float | None:
        """The median of the latest boot durations, or None before a worker has joined."""
        return statistics.median(self.boots) if self.boots else None


def observe(
    previous: View | None,
    workers: Iterable[Worker],
    now: float,
    scheduler_ok: bool,
    prev_workers: Mapping[str, Worker],
) -> Mapping[str, Demand]:
    """The per-resource summary of this cycle: the previous one with the starts and boots seen since
    (``prev_workers``: the previous view's workers by name, which reconcile has made already)."""
    before: Mapping[str, Demand] = previous.demand if previous is not None else {}
    if previous is None or not scheduler_ok or not previous.scheduler_ok:
        return before  # nothing to compare with: a job running now may have started long ago
    takes: dict[str, dict[float, int]] = {}
    boots: dict[str, list[float]] = {}
    for w in workers:
        if not w.resource:
            continue
        p = prev_workers.get(w.name)
        at: float | None = None
        if p is None and w.instance is not None:
            at = w.instance.launch_time  # launched for demand (or for min: demand too)
        elif p is not None and p.state == WorkerState.IDLE and w.state == WorkerState.BUSY:
            at = w.since  # an idle worker taken by a job
        elif p is not None and p.state == WorkerState.IDLE and w.state == WorkerState.IDLE and _ran_since(w, p):
            at = w.node.state_since if w.node is not None and w.node.state_since is not None else now
        if at is not None and math.isfinite(at):  # a time that is no number would make the rate none
            per = takes.setdefault(w.resource, {})
            at = min(at, now)
            per[at] = per.get(at, 0) + 1
        if (
            p is not None
            and p.state == WorkerState.STARTING
            and w.state in (WorkerState.IDLE, WorkerState.BUSY)
            and w.instance is not None
        ):
            ready = min(w.since, now)
            if p.instance is not None and p.instance.state.value == "running" and p.name in previous.configured:
                ready = min(ready, previous.now)  # usable already then (a job may have run on it since)
            took = ready - w.instance.launch_time
            if math.isfinite(took):
                boots.setdefault(w.resource, []).append(max(0.0, took))
    if not takes and not boots:
        return before
    out = dict(before)
    for res in takes.keys() | boots.keys():
        old = before.get(res, Demand())
        new_takes = old.takes + tuple(takes.get(res, {}).items())
        out[res] = Demand(
            takes=tuple(sorted(new_takes))[-TAKES:],
            boots=(old.boots + tuple(boots.get(res, ())))[-BOOTS:],
        )
    return out


def _ran_since(w: Worker, p: Worker) -> bool:
    """Whether the node of a worker idle at both polls changed state in between (a job started and ended:
    the worker's own ``since`` carries over while its state is the same)."""
    before = p.node.state_since if p.node is not None else None
    after = w.node.state_since if w.node is not None else None
    return before is not None and after is not None and after > before
