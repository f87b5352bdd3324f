"""The runner behind ``reactor/stats.sls``: a worker's ``dcluster_stats`` event to Graphite.

``forward_stats(__opts__, pillar_getter, minion_id, data)`` reads the Graphite
plugin settings (``dcluster:plugins:<name>`` whose ``class_name`` names a
Graphite reporter) through :func:`dcluster.config.load`, turns the beacon
payload into metrics with :func:`dcluster.metrics.stats_to_metrics` and sends
them with a :class:`dcluster.metrics.CarbonClient`.

Every worker fires one event per interval, so the settings are cached for
``SETTINGS_TTL`` seconds (no pillar compile per event) and one client per
carbon address is kept for the life of the process (the reactor's runner
threads share it; the client is thread-safe and keeps unsent lines when
carbon is down).  Nothing here raises into the reactor: problems come back as
``{"result": False, "comment": ...}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..config import PILLAR_KEY, ConfigError, load
from ..metrics import CarbonClient, GraphiteSettings, graphite_settings, stats_to_metrics

log = logging.getLogger(__name__)

SETTINGS_TTL = 60.0

_lock = threading.Lock()
_settings_cache: dict[str, Any] = {"at": None, "value": None}
_clients: dict[tuple[str, int], CarbonClient] = {}


def _read_settings(
    opts: Mapping[str, Any] | None, pillar_getter: Callable[[str], Any] | None
) -> GraphiteSettings | None:
    data = pillar_getter(PILLAR_KEY) if pillar_getter is not None else None
    if not data and opts:
        data = opts.get(PILLAR_KEY)  # config.get semantics: master config when pillar has none
    if not data:
        raise ConfigError([f"{PILLAR_KEY}: not set in pillar or master configuration"])
    return graphite_settings(load(data))


def settings(
    opts: Mapping[str, Any] | None, pillar_getter: Callable[[str], Any] | None, now: float | None = None
) -> GraphiteSettings | None:
    """The Graphite settings, cached ``SETTINGS_TTL`` seconds; None when no Graphite plugin is configured."""
    now = time.monotonic() if now is None else now
    with _lock:
        at = _settings_cache["at"]
        if at is not None and now - at < SETTINGS_TTL:
            cached: GraphiteSettings | None = _settings_cache["value"]  # what _read_settings returned
            return cached
    value = _read_settings(opts, pillar_getter)
    with _lock:
        _settings_cache.update(at=now, value=value)
    return value


def client_for(s: GraphiteSettings) -> CarbonClient:
    with _lock:
        key = (s.hostname, s.port)
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = CarbonClient(s.hostname, s.port, timeout=s.timeout)
        return client


def reset() -> None:
    """Forget cached settings and close the clients (tests, config changes)."""
    with _lock:
        _settings_cache.update(at=None, value=None)
        clients = list(_clients.values())
        _clients.clear()
    for c in clients:
        c.close()


def forward_stats(
    opts: Mapping[str, Any] | None, pillar_getter: Callable[[str], Any] | None, minion_id: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Send one beacon event's statistics to carbon.

    Returns ``{"result": bool, "comment": str, "metrics": n}``; ``result`` is
    False (with the reason) on a bad configuration, bad data or an unreachable
    carbon (the lines stay queued for the next event).
    """
    try:
        s = settings(opts, pillar_getter)
    except ConfigError as exc:
        return {"result": False, "comment": f"graphite settings: {exc}", "metrics": 0}
    except Exception as exc:  # a pillar error must not kill the reactor thread
        log.exception("dcluster_reactor.forward_stats: reading the pillar failed")
        return {
            "result": False,
            "comment": f"reading the {PILLAR_KEY} pillar failed: {type(exc).__name__}",
            "metrics": 0,
        }
    if s is None:
        return {
            "result": False,
            "comment": f"{PILLAR_KEY}:plugins: no Graphite plugin configured; stats dropped",
            "metrics": 0,
        }
    if not minion_id or not isinstance(data, Mapping):
        return {
            "result": False,
            "comment": "forward_stats needs minion_id and the beacon's data (a dict)",
            "metrics": 0,
        }
    metrics = stats_to_metrics(str(minion_id), data, s.prefix)
    if not metrics:
        return {"result": False, "comment": f"no numeric statistics in the event from {minion_id}", "metrics": 0}
    client = client_for(s)
    if client.send(metrics):
        return {
            "result": True,
            "comment": f"{len(metrics)} metric(s) sent to {s.hostname}:{s.port}",
            "metrics": len(metrics),
        }
    return {
        "result": False,
        "metrics": len(metrics),
        "comment": (
            f"carbon {s.hostname}:{s.port} unreachable ({client.last_error or 'backing off'}); "
            f"{client.pending} line(s) queued, {client.dropped} dropped so far"
        ),
    }
