"""End-to-end latencies from the master's events and the jobs' own records.

Inputs: ``events`` as (time, tag, data) from :class:`dcluster.demo.stack.EventLog`,
``submitted`` (job id -> submit time) and ``finished`` (job id -> {host,
start, end}) from the demo job.  Definitions (docs/performance.md):

* submit -> launch request: for each job a launch names in its reason, the
  launch's ``dcluster/action/launch/started`` time minus the job's submit time;
* minion start -> node usable: ``salt/minion/<id>/start`` to the worker's
  first ``dcluster/worker/idle`` (or ``busy``) event;
* last job end -> instance destroyed: the end of the last job on a worker to
  its ``dcluster/action/destroy/done`` event;
* worker node-seconds: launch request to destroyed, summed over workers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Event = tuple[float, str, dict[str, Any]]
Predicate = Callable[[str, dict[str, Any]], bool]
_JOBS = re.compile(r"pending job\(s\) ([^:]*?)(?: and \d+ more)?$")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def _tagged(tags: tuple[str, ...], key: str | None = None, value: str | None = None) -> Predicate:
    """An event under one of ``tags`` whose data has ``key`` = ``value`` (any data when no ``key``)."""

    def pred(tag: str, data: dict[str, Any]) -> bool:
        return tag in tags and (key is None or data.get(key) == value)

    return pred


def _first(events: Iterable[Event], pred: Predicate) -> float | None:
    for t, tag, data in events:
        if pred(tag, data):
            return t
    return None


def compute(
    events: list[Event],
    submitted: Mapping[str, float],
    finished: Mapping[str, Mapping[str, Any]],
    end_time: float | None = None,
) -> dict[str, Any]:
    events = sorted(events, key=lambda e: e[0])
    submit_to_launch = []
    launched_at: dict[str, float] = {}
    for t, tag, data in events:
        if tag == "dcluster/action/launch/started":
            for mid in data.get("minion_ids") or ():
                launched_at.setdefault(mid, t)
            m = _JOBS.search(str(data.get("reason", "")))
            for jid in m.group(1).split(", ") if m else ():
                if jid in submitted:
                    submit_to_launch.append(t - submitted[jid])
    workers = {}
    for mid, t_launch in launched_at.items():
        t_start = _first(events, _tagged((f"salt/minion/{mid}/start",)))
        t_usable = _first(events, _tagged(("dcluster/worker/idle", "dcluster/worker/busy"), "name", mid))
        t_destroyed = _first(events, _tagged(("dcluster/action/destroy/done",), "target", mid))
        jobs = [r for r in finished.values() if r.get("host") == mid]
        last_end = max((float(r["end"]) for r in jobs), default=None)
        stop = t_destroyed or end_time
        workers[mid] = {
            "launch": t_launch,
            "minion_start": t_start,
            "usable": t_usable,
            "destroyed": t_destroyed,
            "jobs": len(jobs),
            "last_job_end": last_end,
            "minion_start_to_usable": t_usable - t_start if t_usable and t_start else None,
            "launch_to_usable": t_usable - t_launch if t_usable else None,
            "last_job_end_to_destroyed": t_destroyed - last_end if t_destroyed and last_end else None,
            "node_seconds": (stop - t_launch) if stop else None,
        }
    first_submit = min(submitted.values(), default=None)
    usable = [w["usable"] for w in workers.values() if w["usable"]]
    s2u = [w["minion_start_to_usable"] for w in workers.values() if w["minion_start_to_usable"] is not None]
    l2u = [w["launch_to_usable"] for w in workers.values() if w["launch_to_usable"] is not None]
    e2d = [w["last_job_end_to_destroyed"] for w in workers.values() if w["last_job_end_to_destroyed"] is not None]
    ran = [j for j in submitted if j in finished]
    return {
        "jobs_submitted": len(submitted),
        "jobs_run": len(ran),
        "workers": len(workers),
        "workers_with_jobs": sum(1 for w in workers.values() if w["jobs"]),
        "time_to_first_worker_s": (min(usable) - first_submit) if usable and first_submit else None,
        "worker_node_seconds": sum(w["node_seconds"] or 0 for w in workers.values()),
        "submit_to_launch_s": {
            "n": len(submit_to_launch),
            "p50": percentile(submit_to_launch, 50),
            "p95": percentile(submit_to_launch, 95),
            "max": max(submit_to_launch, default=None),
        },
        "minion_start_to_usable_s": {"n": len(s2u), "p50": percentile(s2u, 50), "max": max(s2u, default=None)},
        "launch_to_usable_s": {"n": len(l2u), "p50": percentile(l2u, 50), "max": max(l2u, default=None)},
        "last_job_end_to_destroyed_s": {"n": len(e2d), "p50": percentile(e2d, 50), "max": max(e2d, default=None)},
        "per_worker": workers,
    }


def summary_lines(m: Mapping[str, Any], max_idle_time: int) -> list[str]:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    s2l, s2u, e2d = m["submit_to_launch_s"], m["minion_start_to_usable_s"], m["last_job_end_to_destroyed_s"]
    return [
        f"jobs run:                      {m['jobs_run']} of {m['jobs_submitted']} on {m['workers_with_jobs']} worker(s)",
        f"time to first worker:          {f(m['time_to_first_worker_s'])} s (first submit -> node usable)",
        f"worker node-seconds:           {f(m['worker_node_seconds'])} s over {m['workers']} worker(s)",
        f"submit -> launch request:      p50 {f(s2l['p50'])} s, p95 {f(s2l['p95'])} s (n={s2l['n']}; target < 2 s)",
        f"minion start -> node usable:   p50 {f(s2u['p50'])} s, max {f(s2u['max'])} s (n={s2u['n']}; target < 15 s)",
        f"last job end -> destroyed:     p50 {f(e2d['p50'])} s, max {f(e2d['max'])} s (n={e2d['n']}; "
        f"target < max_idle_time {max_idle_time} + 30 s)",
    ]
