"""The engine's and the workers' metrics as ``(path, value, timestamp)`` tuples.

:func:`engine_metrics` turns the engine's :class:`~dcluster.reconcile.View` (plus the planner's
summary and the engine's counters) into metrics.  It keeps the names of Dynamic Cluster's Graphite
plugin where they map (``nodes.{total,starting,deleting,busy,idle,error}``, the same under
``cores.*``, ``resource.<r>.{nodes,cores}``, ``jobs.queued``), so existing dashboards keep working,
and adds every :class:`~dcluster.model.WorkerState`, per-resource states, job counts and the
launch/failure counters.  :func:`stats_to_metrics` does the same for one worker's
``dcluster_stats`` beacon event.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..model import JobState, WorkerState
from ..planner.actions import Kind
from ..reconcile import View
from .paths import PHYSICAL, Metric, _number, component, join, mount_component, prefix_path


def engine_metrics(
    view: View,
    plan_summary: Mapping[str, Any] | None,
    counters: Mapping[str, Any] | None,
    prefix: str,
    timestamp: float | None = None,
) -> list[Metric]:
    """The engine's metrics for one cycle.

    ``view`` is a :class:`dcluster.reconcile.View`; ``plan_summary`` is
    ``Plan.to_dict()`` (or None before the first plan); ``counters`` maps a
    name to a number or to ``{resource: number}`` (e.g. ``{"launches": {"r1":
    3}, "launch_failures": {"r1": 1}}``), reported under ``<name>.<resource>``
    plus ``<name>.total``.  The timestamp is ``view.now`` unless given.

    Paths below the prefix:

    * ``nodes.<state>`` / ``cores.<state>`` for every WorkerState, and
      ``nodes.total`` / ``cores.total`` over all workers (physical included);
    * ``resource.<r>.nodes`` / ``.cores`` (all its workers, as Dynamic Cluster's plugin),
      ``resource.<r>.state.<state>.nodes`` / ``.cores``, ``resource.<r>.current``,
      ``.in_flight``, ``.backoff`` (1 while launches are paused),
      ``.cloud_ok``; physical nodes under ``resource._physical``;
    * ``jobs.{pending,running,held}`` and ``jobs.{pending,running,held}_cores``,
      ``jobs.queued`` (= pending, Dynamic Cluster's plugin's name);
    * ``scheduler_ok``, ``auto_mode``;
    * ``plan.actions.<kind>``, ``plan.launch.<r>``, ``plan.unplaceable``,
      ``plan.waiting`` when a plan summary is given.
    """
    ts = int(timestamp if timestamp is not None else view.now)
    base = prefix_path(prefix)
    out: list[Metric] = []

    def put(path: str, value: Any) -> None:
        number = _number(value)
        if number is not None:
            out.append((join(base, path), number, ts))

    states = [s.value for s in WorkerState]
    nodes = dict.fromkeys(states, 0)
    cores = dict.fromkeys(states, 0)
    per_res: dict[str, dict[str, list[int]]] = {}
    for w in view.workers:
        nodes[w.state.value] += 1
        cores[w.state.value] += w.cores
        slot = per_res.setdefault(w.resource or PHYSICAL, {}).setdefault(w.state.value, [0, 0])
        slot[0] += 1
        slot[1] += w.cores
    for s in states:
        put(f"nodes.{s}", nodes[s])
        put(f"cores.{s}", cores[s])
    put("nodes.total", sum(nodes.values()))
    put("cores.total", sum(cores.values()))

    resources = set(per_res) | set(view.cloud_ok) | set(view.in_flight) | set(view.backoff) | set(view.limits)
    for res in sorted(resources):
        r = f"resource.{component(res)}"
        by_state = per_res.get(res, {})
        put(f"{r}.nodes", sum(v[0] for v in by_state.values()))
        put(f"{r}.cores", sum(v[1] for v in by_state.values()))
        for s in states:
            n, c = by_state.get(s, (0, 0))
            put(f"{r}.state.{s}.nodes", n)
            put(f"{r}.state.{s}.cores", c)
        if res == PHYSICAL:
            continue
        put(f"{r}.current", view.current(res))
        put(f"{r}.in_flight", view.in_flight.get(res, 0))
        b = view.backoff.get(res)
        put(f"{r}.backoff", 1 if b is not None and b.active(view.now) else 0)
        put(f"{r}.cloud_ok", view.cloud_ok.get(res, False))

    jobs = {s: [0, 0] for s in ("pending", "running", "held")}
    for j in view.jobs:
        key = {JobState.PENDING: "pending", JobState.RUNNING: "running", JobState.HELD: "held"}.get(j.state)
        if key:
            jobs[key][0] += 1
            jobs[key][1] += j.cores
    for key, (n, c) in jobs.items():
        put(f"jobs.{key}", n)
        put(f"jobs.{key}_cores", c)
    put("jobs.queued", jobs["pending"][0])
    put("scheduler_ok", view.scheduler_ok)
    put("auto_mode", view.auto_mode)

    if plan_summary:
        kinds: dict[str, int] = {}
        launch: dict[str, float] = {}
        for action in plan_summary.get("actions") or ():
            kind = component(action.get("kind", "unknown"))
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "launch":
                res = component(action.get("resource", ""))
                launch[res] = launch.get(res, 0) + (_number(action.get("count")) or 0)
        for kind in sorted(set(kinds) | {k.value for k in Kind}):
            put(f"plan.actions.{kind}", kinds.get(kind, 0))
        for res, count in sorted(launch.items()):
            put(f"plan.launch.{res}", count)
        put("plan.unplaceable", len(plan_summary.get("unplaceable") or ()))
        put("plan.waiting", len(plan_summary.get("waiting") or ()))

    for name, value in sorted((counters or {}).items()):
        key = component(name)
        if isinstance(value, Mapping):
            total = 0.0
            for sub, v in sorted(value.items()):
                number = _number(v)
                if number is not None:
                    put(f"{key}.{component(sub)}", number)
                    total += number
            put(f"{key}.total", total)
        else:
            put(key, value)
    # One path once: a counter named like a fixed metric (say "nodes") must not overwrite it.
    unique: dict[str, Metric] = {}
    for m in out:
        unique.setdefault(m[0], m)
    return list(unique.values())


# ------------------------------------------------------------------ workers


def stats_to_metrics(
    minion_id: str, beacon_data: Mapping[str, Any], prefix: str, timestamp: float | None = None
) -> list[Metric]:
    """One ``dcluster_stats`` beacon event as metrics under ``<prefix>.workers.<minion>``.

    Nested dicts become levels (``cpu.percent``, ``memory.used``,
    ``network.bytes_in``); mount points under ``disk`` become one component
    each (``disk.root.percent``, ``disk.var_lib.used``).  Non-numeric values
    and Salt's own keys (``id``, ``_stamp``, ``tag``) are skipped.  The
    timestamp is the event's ``time`` when it is a number, else ``timestamp``
    or now.
    """
    if not isinstance(beacon_data, Mapping):
        raise TypeError(f"beacon data must be a mapping, not {type(beacon_data).__name__}")
    when = _number(beacon_data.get("time"))
    ts = int(when if when is not None else (timestamp if timestamp is not None else time.time()))
    base = join(prefix_path(prefix), "workers", component(minion_id))
    out: list[Metric] = []

    def walk(path: str, value: Any, depth: int) -> None:
        number = _number(value)
        if number is not None:
            out.append((path, number, ts))
        elif isinstance(value, Mapping) and depth < 4:
            for key, sub in value.items():
                walk(join(path, component(key)), sub, depth + 1)

    for key, value in beacon_data.items():
        if key in ("id", "_stamp", "tag", "time") or str(key).startswith("_"):
            continue
        if key == "disk" and isinstance(value, Mapping):
            for mount, usage in value.items():
                walk(join(base, "disk", mount_component(mount)), usage, 2)
        else:
            walk(join(base, component(key)), value, 1)
    return out
