"""Read-only questions a runner asks the engine itself: what is not published (controller/publish.py).

Answered from the live view between cycles; they change nothing, fire no event and write
nothing.  Arguments come from a signed runner call, still checked: a bad one is an
error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..model import JobState
from . import stats_intake
from .timeline import on_the_wall_clock

if TYPE_CHECKING:
    from .loop import Controller

MAX_PAGE = 5000  # jobs in one answer: it travels on the event bus


def _int(name: str, value: Any, low: int, high: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= n <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {n}")
    return n


def jobs(
    c: Controller,
    state: str = "pending",
    id: Any = None,  # noqa: A002 - the runner's parameter name
    offset: Any = 0,
    limit: Any = MAX_PAGE,
) -> dict[str, Any]:
    """One page of the view's jobs: of ``state`` (``all``: every state), or the job ``id``."""
    if c.view is None:
        return {"ok": False, "message": "the engine has not completed a cycle yet"}
    states = {s.value for s in JobState}
    try:
        if state != "all" and state not in states:
            raise ValueError(f"state must be 'all' or one of {', '.join(sorted(states))}, not {str(state)[:40]!r}")
        offset = _int("offset", offset, 0, 10**9)
        limit = _int("limit", limit, 1, MAX_PAGE)
    except ValueError as exc:
        return {"ok": False, "message": f"jobs: {exc}"}
    out: list[dict[str, Any]] = []
    matched = 0
    want = None if id is None else str(id)
    offset_s, submit_times = c.clock() - c.monotonic(), c.view.submit_times  # not c.config: the view's jobs' clock
    for j in c.view.jobs:
        if want is not None:
            if j.id != want:
                continue
        elif state != "all" and j.state.value != state:
            continue
        if matched >= offset and len(out) < limit:
            out.append(on_the_wall_clock(j.to_dict(), offset_s, submit_times))
        matched += 1
    return {"ok": True, "jobs": out, "total": matched, "offset": offset}


def _name(what: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not 0 < len(str(value)) <= 200:
        raise ValueError(f"{what} must be a job id or worker name of 1 to 200 characters, not {str(value)[:40]!r}")
    return str(value)


def plan(
    c: Controller, offset: Any = 0, limit: Any = 50, job: Any = None, worker: Any = None, reason: Any = None
) -> dict[str, Any]:
    """The dry-run of the plan the engine made on its live view (planner/explain.py): counts per
    reason, the actions, and a page of pending jobs and of workers with where they go or why not."""
    from ..planner import explain

    if c.view is None or c.plan is None or c.config is None:
        return {"ok": False, "message": "the engine has not completed a cycle yet"}
    try:
        offset = _int("offset", offset, 0, 10**9)
        limit = _int("limit", limit, 1, explain.MAX_LIMIT)
        job, worker = _name("job", job), _name("worker", worker)
        if reason is not None and reason not in explain.CODES:
            raise ValueError(f"reason must be one of {', '.join(sorted(explain.CODES))}, not {str(reason)[:40]!r}")
    except ValueError as exc:
        return {"ok": False, "message": f"plan: {exc}"}
    monitored = c.config.cluster.config.queue_to_monitor
    out = explain.dry_run(c.plan, c.view, monitored, offset=offset, limit=limit, job=job, worker=worker, reason=reason)
    return {"ok": True, "view_age_s": round(c.monotonic() - c.view.now, 1), **out}


QUERIES: dict[str, Callable[..., dict[str, Any]]] = {"jobs": jobs, "plan": plan}
QUERIES["worker_stats"] = stats_intake.query  # a worker's beacon statistics (the engine's own history)

__all__ = ["MAX_PAGE", "QUERIES", "jobs", "plan"]
