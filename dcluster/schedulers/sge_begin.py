"""Grid Engine jobs submitted with ``qsub -a`` (a start time): when each may start.

``qstat -u * -xml -r`` lists such a job as ``qw`` like any other, so without this it counts as demand from
its submission on: nodes launched for it would idle until its start time, which may be days away.  Only
``qstat -j LIST -xml`` shows the time (``JB_execution_time``, seconds since the epoch; 0: none), at about
2 KB a job, so :class:`ExecutionTimes` asks only about job numbers it has not seen (and again about those
whose time is still ahead: ``qalter -a`` may move it), at most :data:`PER_POLL` a poll; the rest count as
pending until a later poll has asked (what they did before).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from .units import to_int
from .xml_stream import iter_xml

PER_POLL = 500  # job numbers asked about in one poll (a burst of submissions is read over several)
PER_CALL = 100  # ... in one qstat -j call, to keep its argument short


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
        self.known: dict[str, float] = {}

    def update(self, numbers: Iterable[str], now: float, ask: Callable[[list[str]], dict[str, float] | None]) -> None:
        """Learn the times of ``numbers`` (the pending job numbers listed now) through ``ask`` (None: it
        failed; those are asked again next poll and count as pending meanwhile)."""
        numbers = list(dict.fromkeys(numbers))
        listed = set(numbers)
        self.known = {n: t for n, t in self.known.items() if n in listed}  # ended jobs are forgotten
        todo = [n for n in numbers if n not in self.known or self.known[n] > now][:PER_POLL]
        for i in range(0, len(todo), PER_CALL):
            part = todo[i : i + PER_CALL]
            got = ask(part)
            if got is None:
                continue
            for n in part:
                self.known[n] = got.get(n, 0.0)

    def begin(self, number: str, now: float) -> float:
        """The start time of job ``number`` while it is still ahead of ``now``; 0.0 otherwise."""
        when = self.known.get(number, 0.0)
        return when if when > now else 0.0
