"""What the read-only runners and the dashboard read: published each cycle beside ``state.json``.

The engine is the one actor; runners (separate ``salt-run`` processes) read what it
published after its last cycle.  At scale (100,000 jobs, 5,000 workers) the whole view
as one document cost seconds to build, write and parse for every runner call (issue 15),
so it is split by what each reader needs:

- ``published.json``: a compact summary (the view without its jobs and workers, counts of
  jobs by state, the plan's actions and notes with its waiting and unplaceable jobs cut to
  :data:`SAMPLE`, resources, the redacted config, history, errors, counters);
- ``workers.json``: every worker (thousands at most: the resources' max);
- ``jobs.json``: the first :data:`PAGE` jobs of the view and of each state, with each
  state's count.  Any other page of jobs, and a job by id beyond these, comes from the
  engine's live view (``queries.jobs``), filtered on the engine side.

Every file is written atomically; the runners never see half a file.  None of them is
state: losing them loses nothing (``history`` is read back at a start, best effort).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from ..model import JobState
from . import state as st
from .timeline import on_the_wall_clock

if TYPE_CHECKING:  # for types only: the runners read these files without the planner
    from ..model import Job
    from ..planner import Plan
    from ..reconcile import View

log = logging.getLogger(__name__)

SUMMARY, WORKERS, JOBS = "published.json", "workers.json", "jobs.json"
PAGE = 1000  # jobs per published page (the runner's default shows queued_job_number_to_display: 30)
SAMPLE = 100  # waiting and unplaceable jobs kept in the summary (their counts are kept too)


def paths(state_path: str) -> dict[str, str]:
    d = os.path.dirname(state_path)
    return {"summary": os.path.join(d, SUMMARY), "workers": os.path.join(d, WORKERS), "jobs": os.path.join(d, JOBS)}


def plan_summary(result: Plan) -> dict[str, Any]:
    return {
        "actions": [a.to_dict() for a in result.actions],
        "unplaceable": [{"job": j, "reason": r} for j, r in result.unplaceable[:SAMPLE]],
        "unplaceable_count": len(result.unplaceable),
        "waiting": [{"job": j, "reason": r} for j, r in result.waiting[:SAMPLE]],
        "waiting_count": len(result.waiting),
        "notes": list(result.notes),
    }


def view_summary(view: View) -> dict[str, Any]:
    """The view without its jobs and workers (see :func:`jobs_pages`, :func:`workers_of`)."""
    # keyed by the member, not its .value (an enum property: 100,000 reads of it for 50,000 jobs)
    n = dict.fromkeys(JobState, 0)
    c = dict.fromkeys(JobState, 0)
    for j in view.jobs:
        n[j.state] += 1
        c[j.state] += j.chunks * j.chunk_cores  # Job.cores
    counts = {s.value: v for s, v in n.items()}
    cores = {s.value: v for s, v in c.items()}
    return {
        "now": view.now,
        "scheduler_ok": view.scheduler_ok,
        "cloud_ok": dict(view.cloud_ok),
        "in_flight": dict(view.in_flight),
        "maybe_launched": dict(view.maybe_launched),
        "auto_mode": view.auto_mode,
        "acting": sorted(view.acting),
        "job_counts": counts,
        "job_cores": cores,
        "workers_count": len(view.workers),
    }


def workers_of(view: View) -> list[dict[str, Any]]:
    return [w.to_dict(view.now) for w in view.workers]


def jobs_pages(view: View, offset: float = 0.0) -> dict[str, Any]:
    """The first page of all jobs and of each state, and the count of each state; their times on the
    wall clock (``offset``: the cycle's wall time minus ``view.now``; ``View.submit_times`` says whether
    submit times were moved too, as polled: a failed poll keeps them)."""
    submit_times = view.submit_times
    by_state: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    head: list[Job] = []
    seen: dict[JobState, int] = {}  # by member: .value is an enum property, read 50,000 times
    for j in view.jobs:
        s = j.state
        k = seen[s] = seen.get(s, 0) + 1
        if k <= PAGE:
            by_state.setdefault(s.value, []).append(on_the_wall_clock(j.to_dict(), offset, submit_times))
        if len(head) < PAGE:
            head.append(j)
    counts.update((s.value, k) for s, k in seen.items())
    return {
        "page": PAGE,
        "total": len(view.jobs),
        "counts": counts,
        "all": [on_the_wall_clock(j.to_dict(), offset, submit_times) for j in head],
        "by_state": by_state,
    }


def write(state_path: str, summary: dict[str, Any], view: View) -> None:
    """The three files; a failure is logged (the runners then show the previous cycle)."""
    where = paths(state_path)
    try:
        st.write_json(where["workers"], {"time": summary["time"], "workers": workers_of(view)})
        st.write_json(where["jobs"], {"time": summary["time"], **jobs_pages(view, summary["time"] - view.now)})
        st.write_json(where["summary"], summary)  # last: its time says a cycle's files are all there
    except OSError:
        log.exception("dcluster: could not publish beside %s", state_path)


def history(state_path: str) -> list[dict[str, Any]]:
    """The samples last published (a start carries the graphs on); [] when none can be read."""
    try:
        with open(paths(state_path)["summary"]) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    samples = data.get("history") if isinstance(data, dict) else None
    return [s for s in samples if isinstance(s, dict)] if isinstance(samples, list) else []


__all__ = [
    "JOBS",
    "PAGE",
    "SAMPLE",
    "SUMMARY",
    "WORKERS",
    "history",
    "jobs_pages",
    "paths",
    "plan_summary",
    "view_summary",
    "workers_of",
    "write",
]
