"""Resources taken out of the pillar whose instances still run: drained and destroyed, never leaked.

A resource renamed or removed from ``dcluster:cloud`` leaves instances tagged
with its old name, which no driver of the new pillar lists.  To list and
destroy them the engine needs the old resource's cloud settings, from one of:

* the pillar's ``retired_resources:`` section (the same keys as under
  ``cloud:``): the admin's explicit, restart-safe way;
* memory: the settings the engine read from the previous pillar, kept (with
  their credentials) in this process only, never written to ``state.json``.

Either way the resource is listed every cycle, its workers are held (running
jobs finish), then removed and destroyed (``planner.policy``), with a
``dcluster/resource/retired`` event at each step and an entry in
``state.json``'s ``retired`` (name, cloud type, what is left: no setting, no
credential), which ``salt-run dcluster.status`` shows.  When listings across a
grace agree nothing of it is left, an engine-remembered resource is forgotten;
a ``retired_resources`` entry is reported as safe to remove.

After a master restart the memory is gone: a resource still in ``retired``
(or whose signed node names the scheduler still shows) with no settings is
*stranded*: the status says so and names what is left, and the admin puts its
settings under ``retired_resources`` (or deletes the instances by hand).
"""

from __future__ import annotations

import dataclasses
import logging
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..config import Config, Resource
from ..reconcile import View
from .unlisted import Unlisted, listing_grace

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)

LEFT_SHOWN = 50  # names kept per resource in the state (the count is exact)


class Retirement:
    """The engine's memory of resources the pillar dropped (credentials included: never persisted)."""

    def __init__(self) -> None:
        self.remembered: dict[str, Resource] = {}
        self.empty = Unlisted()  # retired resources whose good listings show nothing, since when
        self.reported: set[str] = set()  # stranded resources already reported by this process
        self.from_pillar: set[str] = set()  # the names under the last pillar's retired_resources


def apply(c: Controller, cfg: Config) -> Config:
    """``cfg`` with ``retired`` = its ``retired_resources`` plus what the previous pillar had and this lacks."""
    r: Retirement = c.retirement
    previous = c.config
    if previous is not None:
        # in use before, or under retired_resources before (one the engine forgot is not brought back)
        dropped = {**previous.resources, **{n: res for n, res in previous.retired.items() if n in r.from_pillar}}
        for name, res in dropped.items():
            if name not in cfg.resources and name not in cfg.retired:
                r.remembered.setdefault(name, dataclasses.replace(res, min=0, max=0))
    r.from_pillar = set(cfg.retired)
    for name in list(r.remembered):
        if name in cfg.resources or name in cfg.retired:
            del r.remembered[name]  # back in use, or the pillar now holds its settings
    if not r.remembered:
        return cfg
    return dataclasses.replace(cfg, retired=MappingProxyType({**r.remembered, **cfg.retired}))


def observe(c: Controller, cfg: Config, view: View) -> None:
    """After reconcile: record what each retired resource has left, report, forget the finished."""
    r: Retirement = c.retirement
    left: dict[str, list[str]] = {}
    for w in view.workers:
        if w.resource and w.resource not in cfg.resources:
            left.setdefault(w.resource, []).append(w.name)
    with c.state.lock:
        saved = c.state.retired
        names = set(cfg.retired) | set(left) | set(saved)
        empty = {n for n in cfg.retired if view.cloud_ok.get(n, False) and not left.get(n)}
        r.empty.observe(empty, view.now, unsure={n for n in cfg.retired if not view.cloud_ok.get(n, False)})
        done = r.empty.confirmed(listing_grace(cfg), view.now)
        events = []
        for name in sorted(names):
            if name in cfg.resources:
                saved.pop(name, None)  # in use again
                continue
            entry = saved.get(name)
            settings = ("memory" if name in r.remembered else "pillar") if name in cfg.retired else "missing"
            if entry is None:
                entry = saved[name] = {"type": "", "since": c.clock(), "left": [], "count": 0}
                events.append({"resource": name, "state": "draining" if settings != "missing" else "stranded"})
            res = cfg.retired.get(name)
            if res is not None:
                entry["type"] = res.type
            if name in cfg.retired and view.cloud_ok.get(name, False):
                names_left = sorted(left.get(name, ()))  # a good listing and the scheduler tell all
                entry["left"], entry["count"] = names_left[:LEFT_SHOWN], len(names_left)
            elif settings == "missing" and name in left:
                # no listing: what the state last knew plus the signed node names the scheduler shows
                known = set(entry["left"]) | set(left[name])
                entry["count"] = max(int(entry.get("count") or 0), len(known))
                entry["left"] = sorted(known)[:LEFT_SHOWN]
            entry["settings"] = settings
            if name in done and settings == "memory":
                del saved[name]
                r.remembered.pop(name, None)
                r.empty.since.pop(name, None)
                events.append({"resource": name, "state": "done", "message": f"nothing of {name} is left"})
                continue
            if settings == "missing" and entry["count"] and name not in r.reported:
                r.reported.add(name)
                events.append(
                    {"resource": name, "state": "stranded", "left": entry["left"], "message": line(name, entry)}
                )
            if settings == "missing" and not entry["count"] and name not in left:
                del saved[name]  # nothing of it shows anywhere any more
            entry["done"] = name in done
    for data in events:
        if data["state"] == "stranded":
            log.warning("dcluster: %s", data["message"])
        c.fire("resource/retired", data)


def line(name: str, entry: dict[str, Any]) -> str:
    """The status line of one retired resource."""
    count, left = int(entry.get("count") or 0), list(entry.get("left") or ())
    shown = ", ".join(left[:5]) + (f" and {count - 5} more" if count > 5 else "")
    settings = entry.get("settings")
    if settings == "missing":
        return (
            f"{name}: removed from the pillar with {count} worker(s) left ({shown}); its cloud settings are "
            f"no longer known (the master restarted): put them under dcluster:retired_resources:{name} to "
            "drain and destroy them, or delete the instances by hand"
        )
    if count:
        return (
            f"{name}: retired ({'settings kept in memory until it is empty' if settings == 'memory' else 'retired_resources'}); "
            f"draining and destroying {count} worker(s): {shown}"
        )
    if settings == "pillar" and entry.get("done"):
        return f"{name}: retired, nothing left; you may remove it from dcluster:retired_resources"
    return f"{name}: retired, nothing listed; confirming before it is forgotten"


__all__ = ["Retirement", "apply", "line", "observe"]
