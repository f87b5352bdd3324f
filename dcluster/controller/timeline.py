"""Two clocks: intervals on a monotonic one, times from outside anchored to it when first seen.

Every interval the controller measures (idle time, ``max_launch_time``, backoff,
grace periods, a chain's end, the view's age) is on the monotonic clock, so a
step of the wall clock (NTP, an operator's ``date -s``) neither stalls actions
for the size of a backward step nor makes everything look old at once after a
forward one.

Times that come from outside are wall-clock times: an instance's launch-time
tag, when the scheduler says a node entered its state, a job's submit and
start times.  Each is anchored to the monotonic clock the first time it is
seen (its age then, by the wall clock, never negative) and keeps that anchor
while it is seen again, so a later step does not move it.  A step can only
mislead about a time first seen after it, and then by at most the step:

- a backward step makes such a time look at most "now" (age 0, never in the
  future), which delays, never hastens, what its age decides;
- a forward step makes it look older by the step; for our own launches this is
  bounded by when we asked the cloud (an instance is never older than the
  call that made it).

Anchors live in memory only: after a restart each outside time is anchored
again from the wall clock (persisted times of our own are converted on save
and load, see :mod:`.state`).  When we asked the cloud for each of our
launches is such a time of our own: it is kept in the persisted state, so a
forward step before a restart does not make a worker that is still starting
look older than ``max_launch_time`` to the restarted master.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..model import Instance, Job, Node

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")

# An anchor not used for this long is forgotten (the item is gone, or its source has failed
# that long; it is then anchored again from the wall clock).
FORGET_AFTER = 3600.0


class Timeline:
    """The controller's two clocks and the anchors of outside times."""

    def __init__(
        self,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
        launched: dict[str, float] | None = None,
        lock: threading.RLock | None = None,
    ):
        """``launched``: minion id -> monotonic time before our create call for it, changed in place
        (the controller passes its persisted state's, with that state's ``lock``)."""
        self.wall, self.monotonic = wall, monotonic
        # (kind, item) -> [its wall time, that time on the monotonic clock, last used]: one entry an item,
        # replaced when the item's time changes (keyed by the time too, a source changing the start times
        # of 50,000 running jobs at every poll grew it by 4.6 GB an hour)
        self._anchors: dict[tuple[str, str], list[float]] = {}
        # how long a record of our create call is kept: beyond max_launch_time (the controller sets it from
        # the pillar; None: not known yet, as in a restarted master's first cycle, and none is dropped), or a
        # worker still starting past an hour would look as old as the wall clock says after a restart
        self.keep_launched: float | None = None
        self._launched = {} if launched is None else launched
        self._lock = lock or threading.RLock()
        self._mono = monotonic()
        self._wall = wall()

    def observe(self) -> tuple[float, float]:
        """The start of an observation (a cycle): both clocks, read once, used for every anchor made."""
        self._mono, self._wall = self.monotonic(), self.wall()
        cutoff = self._mono - FORGET_AFTER
        if len(self._anchors) > 64 and any(used < cutoff for _w, _t, used in self._anchors.values()):
            self._anchors = {k: v for k, v in self._anchors.items() if v[2] >= cutoff}
        if self.keep_launched is not None:
            asked_before = self._mono - max(FORGET_AFTER, self.keep_launched)
            with self._lock:
                for mid in [k for k, t in self._launched.items() if t < asked_before]:
                    del self._launched[mid]
        return self._mono, self._wall

    def launching(self, minion_ids: Iterable[str]) -> None:
        """We are about to ask the cloud for these: none of them can be older than now."""
        now = self.monotonic()
        with self._lock:
            for mid in minion_ids:
                self._launched[mid] = now

    def anchor(self, kind: str, key: str, wall_time: float | None) -> float | None:
        """``wall_time`` (seen now, of item ``key``) on the monotonic clock; 0 and None mean unknown."""
        if not wall_time:
            return wall_time
        k = (kind, key)
        hit = self._anchors.get(k)
        if hit is None or hit[0] != wall_time:
            at = self._mono - max(0.0, self._wall - wall_time)
            if kind == "launch":
                asked = self._launched.get(key)
                if asked is not None:
                    at = max(at, asked)
            hit = self._anchors[k] = [wall_time, at, self._mono]
        else:
            hit[2] = self._mono
        return hit[1]

    # ------------------------------------------------------------ snapshots
    def instances(self, items: Iterable[Instance] | None) -> list[Instance] | None:
        if items is None:
            return None
        return [self.instance(i) for i in items]

    def instance(self, inst: Instance) -> Instance:
        at = self.anchor("launch", inst.minion_id, inst.launch_time)
        return inst if at == inst.launch_time else _replace(inst, launch_time=at)

    def nodes(self, items: Iterable[Node] | None) -> list[Node] | None:
        if items is None:
            return None
        out = []
        for n in items:
            at = self.anchor("node", n.name, n.state_since)
            out.append(n if at == n.state_since else _replace(n, state_since=at))
        return out

    def jobs(self, items: Iterable[Job] | None, submit_times: bool = True) -> list[Job] | None:
        """Jobs with the times the planner measures from on the monotonic clock: start times of jobs
        with a walltime (reservations), and submit times when ``submit_times`` (``scale_up_delay`` is
        set; all or none, as the planner also orders by them).  The others keep the scheduler's wall
        times: copying each of 50,000 jobs every cycle would cost a third of a second for nothing.
        :func:`on_the_wall_clock` undoes this for what people read."""
        if items is None:
            return None
        out = []
        for j in items:
            submit = self.anchor("submit", j.id, j.submit_time) if submit_times else j.submit_time
            start = self.anchor("start", j.id, j.start_time) if j.walltime_s else j.start_time
            begin = self.ahead(j.begin_time) if j.begin_time else j.begin_time
            if submit == j.submit_time and start == j.start_time and begin == j.begin_time:
                out.append(j)
                continue
            out.append(_with_times(j, submit, start, begin))  # a Job is read-only by convention: a new one
        return out

    def ahead(self, wall_time: float) -> float:
        """A time still to come (a held job's begin time) on the monotonic clock: as far ahead of now as
        the wall clock says, again each cycle.  Not anchored as past times are: the scheduler starts
        the job by its own wall clock, so after a step of that clock it is the new distance that holds."""
        return self._mono + (wall_time - self._wall)


def on_the_wall_clock(job: dict[str, Any], offset: float, submit_times: bool) -> dict[str, Any]:
    """A job's ``to_dict()`` with the times :meth:`Timeline.jobs` put on the monotonic clock put back on
    the wall clock, in place, for people (``salt-run dcluster.jobs``, jobs.json, the dashboard's ages): the
    same rule as there (submit times when ``submit_times``, start times of jobs with a walltime, begin
    times).  ``offset``: the wall clock minus the monotonic one at the view; after a step of the wall clock
    a time anchored before it shows shifted by the step, as its age does."""
    if submit_times and job["submit_time"]:
        job["submit_time"] += offset
    if job["walltime_s"] and job["start_time"]:
        job["start_time"] += offset
    if job["begin_time"]:
        job["begin_time"] += offset
    return job


def _with_times(job: Job, submit: float | None, start: float | None, begin: float) -> Job:
    """``dataclasses.replace(job, submit_time=submit, start_time=start, begin_time=begin)``, a shallow copy without its
    checks: every field read at once and passed by position (half the cost of copying slot by slot,
    a third of copy.copy's; 20,000 running jobs to anchor every cycle; issue 15).  Job has no
    ``__post_init__`` and no field outside ``__init__`` (tests/unit/controller/test_timeline_jobs.py)."""
    values = list(_JOB_VALUES(job))
    values[_SUBMIT] = submit
    values[_START] = start
    values[_BEGIN] = begin
    return Job(*values)


_JOB_SLOTS = tuple(f.name for f in dataclasses.fields(Job))
_JOB_VALUES = operator.attrgetter(*_JOB_SLOTS)
_SUBMIT, _START, _BEGIN = (_JOB_SLOTS.index(f) for f in ("submit_time", "start_time", "begin_time"))


def _replace(obj: _D, **changes: Any) -> _D:
    """``dataclasses.replace``, every field read at once and passed by position (5,000 instances
    anchored every cycle: a third of replace()'s cost, its per-field checks and keywords; issue 15).
    A class with a ``__post_init__`` or a field outside ``__init__`` goes through replace() itself."""
    cls = type(obj)
    spec = _SPECS.get(cls)
    if spec is None:
        fields = dataclasses.fields(cls)
        plain = all(f.init for f in fields) and not hasattr(cls, "__post_init__")
        names = tuple(f.name for f in fields)
        spec = _SPECS[cls] = (operator.attrgetter(*names), {n: i for i, n in enumerate(names)}) if plain else False
    if spec is False:
        return dataclasses.replace(obj, **changes)
    getter, index = spec
    values = list(getter(obj))
    for name, value in changes.items():
        values[index[name]] = value
    return cls(*values)


# per class: its fields' getter and positions, or False (replace() itself)
_SPECS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]] | Literal[False]] = {}


__all__ = ["Timeline", "FORGET_AFTER"]
