"""The engine's Graphite reporter: call :meth:`GraphiteReporter.maybe_send` once per cycle.

It sends :func:`dcluster.metrics.engine_metrics` every ``interval`` seconds
(the ``graphite`` plugin's arguments) through one
:class:`~dcluster.metrics.CarbonClient`, and, through the same client, each
worker's beacon sample the engine accepted (:meth:`GraphiteReporter.send_stats`,
:func:`dcluster.metrics.stats_to_metrics`).  No thread of its own: the engine's
loop drives it, and a socket error costs one failed send (logged, lines kept,
retried with backoff), never the reporter.  Thread-safe: the engine and an
operator's runner may both call it.  :class:`GraphitePort` keeps the engine's
one reporter in step with the pillar's graphite plugin.

.. code-block:: python

    reporter = GraphiteReporter.from_config(cfg)   # None without a graphite plugin
    ...
    if reporter:
        reporter.maybe_send(view, plan.to_dict(), counters, now)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from ..config import Config
from ..reconcile import View
from .carbon import CarbonClient, GraphiteSettings, graphite_settings
from .paths import _number
from .shaping import engine_metrics, stats_to_metrics

log = logging.getLogger(__name__)


# How far back a worker's sample may be dated by its own ``time`` (a beacon's samples arrive seconds
# after they are taken; a master that was busy for a while still keeps their true times), and how far
# ahead of the engine's clock (a worker's clock a little fast).
STATS_TIME_WINDOW = 3600.0
STATS_CLOCK_SKEW = 60.0


class GraphiteReporter:
    def __init__(self, settings: GraphiteSettings | Mapping[str, Any], client: CarbonClient | None = None):
        if not isinstance(settings, GraphiteSettings):
            settings = GraphiteSettings.from_mapping(settings)
        self.settings = settings
        self.client = client or CarbonClient(settings.hostname, settings.port, timeout=settings.timeout)
        self._lock = threading.Lock()
        self._last: float | None = None
        self.reports = 0  # cycles whose metrics were handed to the client
        self.samples = 0  # workers' beacon samples handed to the client

    @classmethod
    def from_config(cls, config: Config) -> GraphiteReporter | None:
        s = graphite_settings(config)
        return cls(s) if s is not None else None

    def due(self, now: float) -> bool:
        with self._lock:
            return self._last is None or now - self._last >= self.settings.interval or now < self._last

    def maybe_send(
        self, view: View, plan_summary: Mapping[str, Any] | None, counters: Mapping[str, Any] | None, now: float
    ) -> bool | None:
        """Send when ``interval`` seconds passed since the last report.

        Returns None when not due, else whether carbon took everything queued
        (False: kept for the next attempt, see ``client.pending``/``dropped``).
        Never raises.
        """
        with self._lock:
            if self._last is not None and 0 <= now - self._last < self.settings.interval:
                return None
            self._last = now
            try:
                metrics = engine_metrics(view, plan_summary, counters, self.settings.prefix, timestamp=now)
            except Exception:  # metrics must never stop the engine
                log.exception("graphite: building the engine metrics failed")
                return False
            self.reports += 1
        return self.client.send(metrics)

    def send_stats(self, minion_id: str, data: Mapping[str, Any]) -> bool:
        """Send one worker's beacon sample under ``<prefix>.workers.<minion_id>``; never raises.

        The caller has checked ``data`` (:mod:`dcluster.worker_stats`): only a sample
        the engine accepted gets here.  Returns whether carbon took everything queued.
        The event's ``time`` is taken only within :data:`STATS_TIME_WINDOW` of the engine's clock
        (a beacon's samples reach the engine seconds after they were taken); any other time is the
        engine's clock at arrival.  Salt does not bind a beacon's tag to the minion that fired it,
        so a worker could otherwise rewrite the past of another worker's series (or its own) as
        far back as carbon keeps it.
        """
        try:
            now = time.time()
            claimed = _number(data.get("time"))
            sample = dict(data)
            if claimed is None or not now - STATS_TIME_WINDOW <= claimed <= now + STATS_CLOCK_SKEW:
                sample.pop("time", None)
            metrics = stats_to_metrics(minion_id, sample, self.settings.prefix, timestamp=now)
        except Exception:  # metrics must never stop the engine
            log.exception("graphite: building the metrics of %s's stats failed", minion_id)
            return False
        with self._lock:
            self.samples += 1
        return self.client.send(metrics)

    def close(self) -> None:
        self.client.close()


class GraphitePort:
    """The engine's one :class:`GraphiteReporter`, for the graphite plugin of the config it is given.

    The reporter (and its carbon connection) is made when a config first names a
    graphite plugin and replaced when the plugin's settings change; without one,
    nothing is sent.  :meth:`engine` is the controller's ``metrics`` port (once per
    cycle), :meth:`worker` its ``worker_metrics`` port (once per accepted sample).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: GraphiteSettings | None = None
        self._reporter: GraphiteReporter | None = None

    def reporter(self, config: Config) -> GraphiteReporter | None:
        settings = graphite_settings(config)
        with self._lock:
            if settings != self._settings:
                if self._reporter is not None:
                    self._reporter.close()
                self._settings = settings
                # background: a carbon that does not answer must not hold up the engine's cycle or its
                # event thread (a connect waits up to the plugin's timeout)
                self._reporter = (
                    GraphiteReporter(
                        settings,
                        client=CarbonClient(
                            settings.hostname, settings.port, timeout=settings.timeout, background=True
                        ),
                    )
                    if settings is not None
                    else None
                )
            return self._reporter

    def engine(
        self, config: Config, view: View, plan: Any, counters: Mapping[str, Any] | None, now: float
    ) -> bool | None:
        rep = self.reporter(config)
        return rep.maybe_send(view, plan.to_dict(), counters, now) if rep is not None else None

    def worker(self, config: Config, minion_id: str, data: Mapping[str, Any]) -> bool | None:
        rep = self.reporter(config)
        return rep.send_stats(minion_id, data) if rep is not None else None

    def close(self) -> None:
        with self._lock:
            if self._reporter is not None:
                self._reporter.close()
            self._settings = self._reporter = None
