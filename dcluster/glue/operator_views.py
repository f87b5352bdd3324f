"""What ``salt-run dcluster.status`` shows: one screen made of what the engine published.

Pure shaping of the published summary (``controller/publish.py``) and the last cycle's
workers into lines an operator reads; the ``dcluster`` runner reads the files and hands
them here, and Salt's outputter displays the result.
"""

from __future__ import annotations

import time
from typing import Any

from ..controller import retired


def age(now: float, since: float | None) -> str:
    s = max(0, int(now - (since or now)))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _retired_lines(entries: dict[str, Any] | None) -> list[str]:
    """Resources the pillar no longer uses whose workers are drained and destroyed, or stranded."""
    return [retired.line(name, e) for name, e in sorted((entries or {}).items()) if isinstance(e, dict)]


def _bootstrap_line(name: str, b: dict[str, Any] | None) -> str:
    if not b:
        return ""
    if b.get("protected"):
        return (
            f"; protected, no launches: {b['failures']} in a row never joined (last {', '.join(b['last'][-3:])}: "
            f"{b['reason'][:120]}); fix its image or user-data in the pillar, or salt-run dcluster.restore {name}"
        )
    return f"; {b['failures']} of {b['limit']} in a row never joined: probing until one joins"


def status(data: dict[str, Any], workers: list[dict[str, Any]]) -> dict[str, Any]:
    """Resources (min/current/max, backoff, bootstrap breaker), workers by state with age and reason,
    pending demand, what is planned, recent errors; ``data`` is ``engine_client.published()``."""
    last = data.get("last") or {}
    view = last.get("view") or {}
    now = view.get("now") or time.time()
    by_state: dict[str, list[str]] = {}
    failed = data.get("config_failed") or {}
    for w in workers:
        reason = w["reason"]
        if w["name"] in failed:  # its highstate failed: say so rather than "not yet a scheduler node"
            reason = f"configuration failed: {failed[w['name']]}"
        by_state.setdefault(w["state"], []).append(
            f"{w['name']} [{w['resource'] or 'physical'}] {age(now, w.get('since'))}: {reason}"
            + (f" (jobs {', '.join(w['jobs'][:5])})" if w.get("jobs") else "")
        )
    plan = last.get("plan") or {}
    return {
        "engine": {
            "auto_mode": view.get("auto_mode"),
            "last_cycle_age_s": data["engine_age_s"],
            "stale": data["engine_stale"],
            "scheduler_ok": view.get("scheduler_ok"),
        },
        "resources": {
            name: f"{r['current']}/{r['max']} (min {r['min']}{', ' + r['mode'] if r['mode'] != 'normal' else ''})"
            + (
                f"; backing off ({r['backoff']['kind']}): {r['backoff']['last_error'][:120]}"
                if r.get("backoff")
                else ""
            )
            + _bootstrap_line(name, r.get("bootstrap"))
            + ("" if r.get("cloud_ok") else "; cloud poll failing")
            for name, r in (last.get("resources") or {}).items()
        },
        "retired": _retired_lines(data.get("retired")),
        "workers": by_state,
        "pending": {
            "jobs": (view.get("job_counts") or {}).get("pending", 0),
            "cores": (view.get("job_cores") or {}).get("pending", 0),
            "unplaceable": [f"{u['job']}: {u['reason']}" for u in plan.get("unplaceable", [])[:10]],
            "waiting": plan.get("waiting_count", len(plan.get("waiting", []))),
        },
        "planned": [f"{a['kind']} {a.get('target') or a.get('count')}: {a['reason']}" for a in plan.get("actions", [])],
        "notes": plan.get("notes", []),
        "recent_errors": [
            f"{time.strftime('%H:%M:%S', time.localtime(e['time']))} {e['where']}: {e['message'][:300]}"
            for e in list(data.get("errors", []))[-8:]
        ],
    }
