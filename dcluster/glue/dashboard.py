"""The dashboard's server side: where its assets are, and the series of its graphs.

The dashboard is a single-page app shipped in ``dcluster/data/dashboard`` and
served by salt-api (``rest_cherrypy``'s ``app`` and ``static`` options); it
talks to the ``dcluster`` runners only.  :func:`graphs` gives its graphs one
shape whatever the source: Graphite's render API when the ``graphite``
plugin names a ``render_url``, else the engine's own recent history
(``state.json``), also when Graphite does not answer (the reason is returned).

The Graphite URL comes from the pillar and the targets are built here from
the configured prefix; nothing a dashboard user sends ends up in a URL.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from ..metrics import prefix_path

APP_PATH = "/dashboard"
STATIC_PATH = "/static"


def asset_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "dashboard")


def paths() -> dict[str, str]:
    """The ``rest_cherrypy`` options that serve the installed dashboard."""
    d = asset_dir()
    return {"app": os.path.join(d, "index.html"), "app_path": APP_PATH, "static": d, "static_path": STATIC_PATH}


# ------------------------------------------------------------------ graphs

Series = dict[str, list[list[float]]]  # label -> [[time, value], ...]


def _empty() -> dict[str, Series]:
    return {"nodes_by_state": {}, "cores_by_state": {}, "nodes_by_resource": {}, "cores_by_resource": {}, "pending": {}}


def from_history(samples: list[Mapping[str, Any]], minutes: float, now: float | None = None) -> dict[str, Any]:
    """Series from the engine's history samples (see ``Controller.publish``)."""
    now = time.time() if now is None else now
    since = now - minutes * 60
    out = _empty()

    def add(group: str, label: str, t: float, v: Any) -> None:
        out[group].setdefault(label, []).append([t, v])

    for s in samples:
        t = float(s.get("time") or 0)
        if t < since:
            continue
        for state, n in (s.get("nodes") or {}).items():
            add("nodes_by_state", state, t, n)
        for state, n in (s.get("cores") or {}).items():
            add("cores_by_state", state, t, n)
        for res, n in (s.get("by_resource") or {}).items():
            add("nodes_by_resource", res, t, n)
        for res, n in (s.get("cores_by_resource") or {}).items():
            add("cores_by_resource", res, t, n)
        add("pending", "jobs", t, s.get("pending_jobs", 0))
        add("pending", "cores", t, s.get("pending_cores", 0))
    # A state no sample ever saw a worker in is noise on the graph.
    for group in ("nodes_by_state", "cores_by_state"):
        out[group] = {k: v for k, v in out[group].items() if any(p[1] for p in v)}
    return {"source": "engine", "minutes": minutes, "series": out}


def graphite_targets(prefix: str) -> dict[str, tuple[str, str]]:
    """Render targets -> (group, how to name a series from its path)."""
    base = prefix_path(prefix)
    p = f"{base}." if base else ""
    return {
        f"{p}nodes.*": ("nodes_by_state", "last"),
        f"{p}cores.*": ("cores_by_state", "last"),
        f"{p}resource.*.nodes": ("nodes_by_resource", "resource"),
        f"{p}resource.*.cores": ("cores_by_resource", "resource"),
        f"{p}jobs.pending": ("pending", "jobs"),
        f"{p}jobs.pending_cores": ("pending", "cores"),
    }


def render_request_url(render_url: str, prefix: str, minutes: float) -> str:
    query = [("target", t) for t in graphite_targets(prefix)]
    query += [("from", f"-{int(minutes)}min"), ("format", "json")]
    return render_url.rstrip("/") + "/render?" + urllib.parse.urlencode(query)


def parse_render(data: Any, prefix: str) -> dict[str, Series]:
    """Graphite's ``format=json`` answer -> our groups; null points are left out."""
    if not isinstance(data, list):
        raise ValueError(f"Graphite's render API answered {type(data).__name__}, not a list of series")
    base = prefix_path(prefix)
    out = _empty()
    for entry in data:
        path = str(entry.get("target", ""))
        rel = path[len(base) + 1 :] if base and path.startswith(base + ".") else path
        parts = rel.split(".")
        if parts[0] in ("nodes", "cores") and len(parts) == 2:
            if parts[1] == "total":
                continue
            group, label = f"{parts[0]}_by_state", parts[1]
        elif parts[0] == "resource" and len(parts) == 3:
            group, label = f"{parts[2]}_by_resource", parts[1]
        elif rel == "jobs.pending":
            group, label = "pending", "jobs"
        elif rel == "jobs.pending_cores":
            group, label = "pending", "cores"
        else:
            continue
        points = [[float(t), v] for v, t in entry.get("datapoints") or () if v is not None]
        if group.endswith("_by_state") and not any(v for _t, v in points):
            continue
        out[group][label] = points
    return out


def _fetch(url: str, timeout: float) -> Any:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - as below
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only, checked by the schema
        return json.loads(resp.read(8 * 1024 * 1024).decode())


def graphite_of(config: Mapping[str, Any]) -> dict[str, str] | None:
    """``render_url`` and ``prefix`` of the graphite plugin in a (redacted) config, if it has a render_url."""
    for _name, plugin in sorted((config.get("plugins") or {}).items()):
        if "graphite" in str(plugin.get("class_name", "")).lower():
            args = plugin.get("arguments") or {}
            if args.get("render_url"):
                return {
                    "render_url": str(args["render_url"]),
                    "prefix": str(args.get("prefix") or "headnode.dynamiccluster"),
                }
    return None


def graphs(
    published: Mapping[str, Any],
    minutes: float = 120,
    fetch: Callable[[str, float], Any] = _fetch,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The graphs' series: Graphite when configured and answering, else the engine's history."""
    minutes = max(1.0, min(float(minutes), 7 * 24 * 60))
    config = ((published.get("last") or {}).get("config")) or {}
    g = graphite_of(config)
    history = list(published.get("history") or ())
    if g is None:
        return from_history(history, minutes)
    url = render_request_url(g["render_url"], g["prefix"], minutes)
    try:
        series = parse_render(fetch(url, timeout), g["prefix"])
    except Exception as exc:  # noqa: BLE001 - the graphs fall back; the reason is shown
        out = from_history(history, minutes)
        out["graphite_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return out
    return {"source": "graphite", "minutes": minutes, "series": series}


__all__ = ["asset_dir", "from_history", "graphite_of", "graphs", "parse_render", "paths", "render_request_url"]
