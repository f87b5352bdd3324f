"""The scheduler's own health check, for the schedulers whose poll cannot tell that they are broken.

Torque answers ``pbsnodes`` and ``qstat`` while MAUI, which decides where and when every job starts,
is down or wedged: the poll then shows queued jobs and idle nodes as if all were well, and the
planner would retire the "idle" workers that MAUI was about to use.  For such a scheduler the loop
asks the adapter's ``check()`` every cycle, and a failed or malformed answer fails the poll, as a
failed ``qstat`` does (reported, nothing destructive planned).  Slurm and Grid Engine schedule in
the daemon their poll talks to, so their poll failing is already the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# cluster types whose poll does not cover the scheduler's health: Torque's is MAUI's
CHECKED_EACH_POLL = frozenset({"torque"})


class SchedulerUnhealthy(RuntimeError):
    """The scheduler's health check failed or answered something that is not a health report."""


def require_healthy(kind: str, port: Any) -> None:
    """Raise :class:`SchedulerUnhealthy` unless ``port.check()`` says the scheduler is healthy."""
    if kind not in CHECKED_EACH_POLL:
        return
    answer = port.check()
    if not isinstance(answer, Mapping) or not isinstance(answer.get("healthy"), bool):
        raise SchedulerUnhealthy(f"{kind} health check: answered {str(answer)[:300]!r}, "
                                 "not a mapping with a boolean 'healthy'")
    if not answer["healthy"]:
        problems = answer.get("problems")
        listed = "; ".join(str(p) for p in problems) if isinstance(problems, list | tuple) and problems else "no reason given"
        raise SchedulerUnhealthy(f"{kind} health check failed: {listed[:1500]}")
