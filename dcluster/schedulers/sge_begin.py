"""Grid Engine jobs submitted with ``qsub -a`` (a start time): when each may start.

``qstat -u * -xml -r`` lists such a job as ``qw`` like any other, so without this it counts as demand from
its submission on: nodes launched for it would idle until its start time, which may be days away.  Only
``qstat -j LIST -xml`` shows the time (``JB_execution_time``, seconds since the epoch; 0: none), at about
2 KB a job, so :class:`ExecutionTimes` asks about job numbers it has not seen first, then again about each
one it has once its answer is :data:`REASK_AFTER` old (``qalter -a`` may set, move or clear the time of any
pending job), at most :data:`PER_POLL` a poll; the rest count as pending until a later poll has asked
(what they did before).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping

from ..atomic_file import write_text
from .units import to_int
from .xml_stream import iter_xml

log = logging.getLogger(__name__)

PER_POLL = 500  # job numbers asked about in one poll (a burst of submissions is read over several)
PER_CALL = 100  # ... in one qstat -j call, to keep its argument short
REASK_AFTER = 60.0  # s: an answer this old is asked again (a qalter -a is seen within this and a poll)


def parse_execution_times(data: str | bytes, command: str = "qstat -xml -j LIST") -> dict[str, float]:
    """Job number -> start time (0.0: none asked) of ``qstat -xml -j LIST``.  Jobs it does not know
    (ended meanwhile: ``<unknown_jobs>``) are left out; a time that is no positive finite number is 0.0."""
    out: dict[str, float] = {}
    roots = ("detailed_job_info", "unknown_jobs")
    for elem in iter_xml(data, "element", roots, command, allow_empty=True):
        parent = elem.getparent()
        if parent is None or parent.tag != "djob_info":
            continue  # a nested list's element (mail list, requests ...)
        number = (elem.findtext("JB_job_number") or "").strip()
        if not number.isdigit():
            continue
        when = float(to_int(elem.findtext("JB_execution_time"), 0))
        out[number] = when if math.isfinite(when) and when > 0 else 0.0
    return out


class ExecutionTimes:
    """What ``qstat -j`` said of each pending job number, kept from poll to poll."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[float, float, float]] = {}  # number -> (submit time, start time, asked at)

    def update(
        self, listed: Mapping[str, float], now: float, ask: Callable[[list[str]], dict[str, float] | None]
    ) -> None:
        """Learn the times of the pending job numbers ``listed`` now (number -> submit time) through ``ask``
        (None: it failed; those are asked again next poll and count as pending meanwhile).

        A number listed with another submit time than when asked is another job (numbers wrap): asked
        afresh.  Never-asked numbers go first, so a backlog of jobs whose time is far ahead, asked again
        and again, cannot keep a new job from being asked (it would count as pending, its nodes idling).
        A number missing from the answer is asked again next poll, not taken as "no time"."""
        self.known = {n: v for n, v in self.known.items() if listed.get(n) == v[0]}  # ended or reused: forgotten
        # asked longest ago (never: -inf) first; a wall-clock step either way makes every answer old
        stale = [n for n in listed if n not in self.known or abs(now - self.known[n][2]) >= REASK_AFTER]
        stale.sort(key=lambda n: self.known[n][2] if n in self.known else -math.inf)
        todo = stale[:PER_POLL]
        for i in range(0, len(todo), PER_CALL):
            part = todo[i : i + PER_CALL]
            got = ask(part)
            if got is None:
                continue
            for n in part:
                if n in got:
                    self.known[n] = (listed[n], got[n], now)

    def begin(self, number: str, now: float) -> float:
        """The start time of job ``number`` while it is still ahead of ``now``; 0.0 otherwise."""
        hit = self.known.get(number)
        return hit[1] if hit is not None and hit[1] > now else 0.0


def load(path: str) -> ExecutionTimes:
    """The cache a previous call left at ``path``: a Salt minion runs each call of its execution module in
    a process of its own, so without it every poll asks about every pending job again and, with more than
    :data:`PER_POLL` of them, the same first ones each time (the others counting as pending for good).
    A missing or unreadable file, or an entry that is no ``[submit, start, asked]`` of numbers: not
    known, asked afresh."""
    times = ExecutionTimes()
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError):
        return times
    for n, v in raw.items() if isinstance(raw, dict) else ():
        if (
            isinstance(n, str)
            and n.isdigit()
            and isinstance(v, list)
            and len(v) == 3
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        ):
            times.known[n] = (float(v[0]), float(v[1]), float(v[2]))
    return times


def save(times: ExecutionTimes, path: str) -> None:
    """``times`` at ``path``, atomically, mode 0600; a failure is logged (the jobs are asked again)."""
    try:
        write_text(path, json.dumps(times.known, separators=(",", ":")), prefix=".sge_begin.", dir_mode=0o700)
    except OSError as exc:
        log.warning("sge: could not keep the start times (qsub -a) asked at %s: %s", path, exc)
