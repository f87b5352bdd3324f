"""The workers' beacon statistics in the engine: intake from the event bus, and the runner's question.

The engine's event loop hands every ``salt/beacon/*/dcluster_stats/`` event to
:func:`intake`; the store (:class:`dcluster.worker_stats.WorkerStats`, the
controller's ``worker_stats``) keeps only what passes its checks, for the
workers of the engine's last view.  Each sample it keeps is also handed to the
``worker_metrics`` port (Graphite, when a graphite plugin is configured): this is
the only way a worker's statistics reach carbon, so a flood of events costs one
check each and reaches carbon as at most the store's rate limit lets through.
:func:`query` answers ``salt-run dcluster.worker_graphs`` (through a signed
command) from that store.  Neither reads nor writes anything a decision depends on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import identity
from ..worker_stats import TAG_PREFIX, TAG_SUFFIX, minion_of

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)

MAX_MINUTES = 7 * 24 * 60


def is_stats_tag(tag: Any) -> bool:
    """Whether the engine should look at this event as a stats event (then every check applies)."""
    return isinstance(tag, str) and tag.startswith(TAG_PREFIX) and tag.endswith(TAG_SUFFIX)


def intake(c: Controller, tag: Any, data: Any) -> str | None:
    """Offer one beacon event to the store; None if kept, else why it was dropped (already counted)."""
    store = c.worker_stats
    view = c.view
    if view is not None and store.synced_with is not view:
        store.known(w.name for w in view.workers if w.resource)  # ours only: physical nodes have none
        store.synced_with = view
    why = store.offer(tag, data)
    send = c.ports.worker_metrics
    if why is None and send is not None and c.config is not None:
        try:
            send(c.config, minion_of(tag), data)
        except Exception:  # statistics must never stop the engine: the sample stays kept for the graphs
            log.exception("dcluster: forwarding the stats of %.80s failed", tag)
    return why


def query(c: Controller, name: Any = None, minutes: Any = 120) -> dict[str, Any]:
    """The series of worker ``name`` over the last ``minutes`` (1 to a week), and the intake's counts."""
    if not identity.well_formed(name):
        return {"ok": False, "message": f"worker_graphs: name must be a dcluster minion id, not {str(name)[:80]!r}"}
    try:
        minutes = float(minutes)
    except (TypeError, ValueError):
        return {"ok": False, "message": f"worker_graphs: minutes must be a number, not {str(minutes)[:40]!r}"}
    if not 1 <= minutes <= MAX_MINUTES:
        return {"ok": False, "message": f"worker_graphs: minutes must be between 1 and {MAX_MINUTES}"}
    return {
        "ok": True,
        "name": name,
        "minutes": minutes,
        "source": "engine",
        "series": c.worker_stats.series(name, minutes),
        "intake": c.worker_stats.counts(),
    }


__all__ = ["intake", "is_stats_tag", "query"]
