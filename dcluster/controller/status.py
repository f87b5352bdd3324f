"""What the engine publishes each cycle for the runners and the dashboard: the status and its history.

Times here are on the wall clock (``wall``: the cycle's), for people and graphs; the view's own
times are monotonic.  The files themselves are written by :mod:`.publish`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..config import Config
from ..model import COUNTED_STATES, JobState, WorkerState
from ..planner import Plan
from ..planner.policy import limits_of, shape_of
from ..reconcile import View
from . import publish as files
from .state import ControllerState

# worker states a history sample counts per resource (the graphs' nodes by resource): those that count
# toward its size, "unknown" (its cloud poll failed) included
_SAMPLED = frozenset(s.value for s in COUNTED_STATES)


def publish(
    cfg: Config,
    view: View,
    result: Plan,
    wall: float,
    state: ControllerState,
    state_path: str | None,
    busy_targets: Collection[str],
    meta: Mapping[str, Any],
    write: Callable[[str, dict[str, Any], View], None] = files.write,
) -> None:
    """Append the cycle's sample to the history, keep the status as ``state.last`` and have both
    written beside ``state_path`` (None: nothing written) by ``write`` (the engine's: its
    :class:`.publisher.Publisher`, off the cycle)."""
    sample = history_sample(cfg, view, wall)
    last = {
        "time": wall,
        "view": files.view_summary(view),  # jobs and workers: in files of their own (controller/publish.py)
        "plan": files.plan_summary(result),
        "config": cfg.redacted(),
        "resources": resources_summary(cfg, view, wall),
        "busy_targets": sorted(busy_targets),
        "meta": dict(meta),
    }
    with state.lock:
        state.history.append(sample)
        state.last = last
        summary = {
            "time": wall,
            "last": last,
            "history": list(state.history),
            "errors": list(state.errors),
            "counters": dict(state.counters),
            "config_failed": dict(state.config_failed),
            "auto_mode": state.auto_mode,
            "retired": {k: dict(v) for k, v in state.retired.items()},
        }
    if state_path:
        write(state_path, summary, view)


def history_sample(cfg: Config, view: View, wall: float) -> dict[str, Any]:
    """Workers and cores per state and per resource, pending jobs and their cores, at ``wall``."""
    counts = {s.value: 0 for s in WorkerState}
    cores = {s.value: 0 for s in WorkerState}
    # one pass over the workers and one over the jobs (these were 2 per resource and 2 over 50,000 jobs)
    by_resource = dict.fromkeys(cfg.resources, 0)
    cores_by_resource = dict.fromkeys(cfg.resources, 0)
    for w in view.workers:
        state, wc = w.state.value, w.cores
        counts[state] += 1
        cores[state] += wc
        if state in _SAMPLED and w.resource in by_resource:
            by_resource[w.resource] += 1
            cores_by_resource[w.resource] += wc
    pending_jobs = pending_cores = 0
    for j in view.jobs:
        if j.state == JobState.PENDING:
            pending_jobs += 1
            pending_cores += j.chunks * j.chunk_cores  # Job.cores
    return {
        "time": wall,
        "nodes": counts,
        "cores": cores,
        "pending_jobs": pending_jobs,
        "pending_cores": pending_cores,
        "by_resource": by_resource,
        "cores_by_resource": cores_by_resource,
    }


def resources_summary(cfg: Config, view: View, wall: float) -> dict[str, Any]:
    """Per resource, what the runners and the dashboard show; ``wall``: the view's time on the wall
    clock, to show when a backoff ends."""
    out = {}
    for name, res in cfg.resources.items():
        lim = limits_of(view, res)
        b = view.backoff.get(name)
        states: dict[str, int] = {}
        for w in view.workers:
            if w.resource == name:
                states[w.state.value] = states.get(w.state.value, 0) + 1
        cores, mem = shape_of(view, res)
        out[name] = {
            "type": res.type,
            "priority": res.priority,
            "min": lim.min,
            "max": lim.max,
            "mode": lim.mode,
            "configured_min": res.min,
            "configured_max": res.max,
            "current": view.current(name),
            "in_flight": view.in_flight.get(name, 0),
            "states": states,
            "cores_per_node": cores,
            "mem_mb_per_node": mem,
            "reservation": {
                "queue": res.reservation.queue,
                "account": res.reservation.account,
                "properties": list(res.reservation.properties) or None,
            },
            "cloud_ok": view.cloud_ok.get(name, False),
            "backoff": None
            if not b or not b.active(view.now)
            else {
                "until": wall + (b.until - view.now),
                "failures": b.failures,
                "kind": b.kind,
                "last_error": b.last_error,
            },
            "bootstrap": _bootstrap_summary(view, name, cfg.bootstrap_failures),
        }
    return out


def _bootstrap_summary(view: View, resource: str, limit: int) -> dict[str, Any] | None:
    b = view.bootstrap.get(resource)
    if b is None:
        return None
    return {
        "failures": b.failures,
        "limit": limit,
        "protected": b.protected(limit),
        "last": list(b.last[-limit:]),
        "reason": b.reason,
    }
