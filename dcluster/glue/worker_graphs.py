"""One worker's graphs (load, CPU, memory, network, disk) for ``salt-run dcluster.worker_graphs``.

From Graphite's render API when the ``graphite`` plugin names a ``render_url``
(what the engine wrote there under ``<prefix>.workers.<minion>``, each beacon
sample it accepted), else, and also when Graphite does not answer
(the reason is returned), from the engine's own bounded history of the beacon's
events (``dcluster.worker_stats``).  Both give the groups of
:data:`dcluster.worker_stats.GROUPS`.

The render URL comes from the pillar; the targets are built here from the
configured prefix and a name that must have the shape of a dcluster minion id,
so nothing a dashboard user sends ends up in a URL but that checked name.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from .. import identity
from ..metrics import component, join, prefix_path
from ..worker_stats import GROUPS
from . import dashboard

# group -> ((label, path below <prefix>.workers.<minion>, or a render function of that base), ...)
PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "load": (("1m", "load.1m"), ("5m", "load.5m"), ("15m", "load.15m")),
    "cpu": (("busy %", "cpu.percent"),),
    "memory": (("memory %", "memory.percent"), ("swap %", "swap.percent")),
    "network": (("in", "network.bytes_in"), ("out", "network.bytes_out")),
    "disk_io": (("read", "diskio.read_bytes"), ("write", "diskio.write_bytes")),
    "disk_used": (("fullest mount %", "maxSeries({base}.disk.*.percent)"),),
}


def base_path(prefix: str, name: str) -> str:
    return join(prefix_path(prefix), "workers", component(name))


def targets(prefix: str, name: str) -> dict[str, tuple[str, str]]:
    """Render target -> (group, label) for worker ``name``."""
    base = base_path(prefix, name)
    out = {}
    for group, members in PATHS.items():
        for label, path in members:
            target = path.format(base=base) if "{base}" in path else f"{base}.{path}"
            out[target] = (group, label)
    return out


def render_url(render: str, prefix: str, name: str, minutes: float) -> str:
    query = [("target", t) for t in targets(prefix, name)]
    query += [("from", f"-{int(minutes)}min"), ("format", "json")]
    return render.rstrip("/") + "/render?" + urllib.parse.urlencode(query)


def parse_render(data: Any, prefix: str, name: str) -> dict[str, dict[str, list[list[float]]]]:
    """Graphite's ``format=json`` answer -> our groups; null points and unknown targets are left out."""
    if not isinstance(data, list):
        raise ValueError(f"Graphite's render API answered {type(data).__name__}, not a list of series")
    wanted = targets(prefix, name)
    out: dict[str, dict[str, list[list[float]]]] = {g: {} for g in GROUPS}
    for entry in data:
        if not isinstance(entry, Mapping):
            raise ValueError("Graphite's render API answered a series that is not an object")
        hit = wanted.get(str(entry.get("target", "")))
        if hit is None:
            continue
        points = [[float(t), float(v)] for v, t in entry.get("datapoints") or () if v is not None]
        if points:
            out[hit[0]][hit[1]] = points
    return out


def worker_graphs(
    published: Mapping[str, Any],
    name: Any,
    minutes: Any,
    engine: Callable[[str, float], Mapping[str, Any]],
    fetch: Callable[[str, float], Any] = dashboard._fetch,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The series of worker ``name``: Graphite when configured and answering, else ``engine(name, minutes)``."""
    if not identity.well_formed(name):
        return {"ok": False, "message": f"worker_graphs: name must be a dcluster minion id, not {str(name)[:80]!r}"}
    try:
        minutes = max(1.0, min(float(minutes), 7 * 24 * 60))
    except (TypeError, ValueError):
        return {"ok": False, "message": f"worker_graphs: minutes must be a number, not {str(minutes)[:40]!r}"}
    config = ((published.get("last") or {}).get("config")) or {}
    g = dashboard.graphite_of(config)
    graphite_error = None
    if g is not None:
        try:
            series = parse_render(
                fetch(render_url(g["render_url"], g["prefix"], name, minutes), timeout), g["prefix"], name
            )
            return {"ok": True, "name": name, "minutes": minutes, "source": "graphite", "series": series}
        except Exception as exc:  # noqa: BLE001 - the graphs fall back; the reason is shown
            graphite_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    out = dict(engine(name, minutes))
    if graphite_error is not None:
        out["graphite_error"] = graphite_error
    return out


__all__ = ["parse_render", "render_url", "targets", "worker_graphs"]
