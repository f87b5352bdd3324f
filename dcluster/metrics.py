"""Metrics for Graphite: what the engine and the workers report, and a carbon client.

Pure Python, no Salt.  Three parts:

* :func:`engine_metrics` turns the engine's :class:`~dcluster.reconcile.View`
  (plus the planner's summary and the engine's counters) into metric tuples
  ``(path, value, timestamp)``.  It keeps Dynamic Cluster's Graphite plugin's
  names where they map, so existing dashboards keep working (``nodes.{total,starting,deleting,busy,idle,error}``, the
  same under ``cores.*``, ``resource.<r>.{nodes,cores}``, ``jobs.queued``) and
  adds every :class:`~dcluster.model.WorkerState`, per-resource states, job
  counts and the launch/failure counters.
* :func:`stats_to_metrics` does the same for one worker's ``dcluster_stats``
  beacon event.
* :class:`CarbonClient` sends metrics to carbon's plaintext receiver
  (``path value timestamp\\n`` over TCP).  It connects lazily, reconnects after
  any socket error with a capped exponential backoff, never raises into its
  caller (``send`` returns False and logs), and keeps unsent lines in a bounded
  buffer (oldest dropped first, drops counted) so a dead carbon cannot grow
  memory without bound, and one socket error cannot stop the reporting.

Every path component built from outside data (resource, host and mount names,
the configured prefix) goes through :func:`component`: anything but letters,
digits, ``_`` and ``-`` becomes ``_``, so a dot cannot add a level and a space
or newline cannot inject a second line into carbon's line protocol.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import JobState, WorkerState
from .planner.actions import Kind

log = logging.getLogger(__name__)

Metric = tuple[str, float, int]

PHYSICAL = "_physical"  # resource component of nodes not launched by us ("_" cannot start a resource name)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def component(text: Any) -> str:
    """One safe path component: ``[A-Za-z0-9_-]+`` (anything else becomes ``_``)."""
    out = _UNSAFE.sub("_", str(text))
    return out or "_"


def prefix_path(prefix: str) -> str:
    """The configured prefix, each dot-separated level made safe; empty levels dropped."""
    return ".".join(component(p) for p in str(prefix or "").split(".") if p.strip())


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def mount_component(mount: str) -> str:
    """A mount point as one component: ``/`` -> ``root``, ``/var/lib`` -> ``var_lib``."""
    stripped = str(mount).strip("/")
    return component(stripped.replace("/", "_")) if stripped else "root"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


# ------------------------------------------------------------------ engine


def engine_metrics(
    view, plan_summary: Mapping | None, counters: Mapping | None, prefix: str, timestamp: float | None = None
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
    * ``resource.<r>.nodes`` / ``.cores`` (all its workers, as Dynamic Cluster counted),
      ``resource.<r>.state.<state>.nodes`` / ``.cores``, ``resource.<r>.current``,
      ``.in_flight``, ``.backoff`` (1 while launches are paused),
      ``.cloud_ok``; physical nodes under ``resource._physical``;
    * ``jobs.{pending,running,held}`` and ``jobs.{pending,running,held}_cores``,
      ``jobs.queued`` (= pending, Dynamic Cluster's name);
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
        for res, n in sorted(launch.items()):
            put(f"plan.launch.{res}", n)
        put("plan.unplaceable", len(plan_summary.get("unplaceable") or ()))
        put("plan.waiting", len(plan_summary.get("waiting") or ()))

    for name, value in sorted((counters or {}).items()):
        key = component(name)
        if isinstance(value, Mapping):
            total = 0.0
            for sub, v in sorted(value.items()):
                n = _number(v)
                if n is not None:
                    put(f"{key}.{component(sub)}", n)
                    total += n
            put(f"{key}.total", total)
        else:
            put(key, value)
    # One path once: a counter named like a fixed metric (say "nodes") must not overwrite it.
    unique: dict[str, Metric] = {}
    for m in out:
        unique.setdefault(m[0], m)
    return list(unique.values())


# ------------------------------------------------------------------ workers


def stats_to_metrics(minion_id: str, beacon_data: Mapping, prefix: str, timestamp: float | None = None) -> list[Metric]:
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


# ------------------------------------------------------------------ settings


@dataclass(frozen=True, slots=True)
class GraphiteSettings:
    hostname: str = "localhost"
    port: int = 2003
    prefix: str = "headnode.dynamiccluster"
    interval: int = 60
    timeout: float = 5.0

    @classmethod
    def from_mapping(cls, data: Mapping) -> GraphiteSettings:
        """From a plugin entry (``{class_name, arguments}``) or from its ``arguments`` alone."""
        args = data.get("arguments", data)
        d = cls()
        return cls(
            hostname=str(args.get("hostname", d.hostname)),
            port=int(args.get("port", d.port)),
            prefix=str(args.get("prefix", d.prefix)),
            interval=int(args.get("interval", d.interval)),
            timeout=float(args.get("timeout", d.timeout)),
        )


def graphite_settings(config) -> GraphiteSettings | None:
    """The first ``plugins`` entry whose ``class_name`` names a Graphite reporter, or None."""
    for _name, plugin in sorted(dict(config.plugins).items()):
        if "graphite" in str(plugin.get("class_name", "")).lower():
            return GraphiteSettings.from_mapping(plugin)
    return None


# ------------------------------------------------------------------ client


def format_line(path: str, value: float, timestamp: int) -> str:
    """One plaintext line; whitespace and control characters in ``path`` become ``_``."""
    safe = re.sub(r"[\s\x00-\x1f\x7f]", "_", str(path)) or "_"
    text = repr(float(value)) if not float(value).is_integer() else str(int(value))
    return f"{safe} {text} {int(timestamp)}\n"


class CarbonClient:
    """Carbon plaintext sender; thread-safe, never raises from :meth:`send`.

    ``send(metrics)`` queues the lines and tries to flush the whole queue.
    On a socket error the connection is dropped, the lines stay queued and
    the next attempt waits ``backoff_initial * 2**(failures-1)`` seconds,
    capped at ``backoff_max``; ``send`` calls during the wait only queue.
    Lines already sent may be sent again after an error: carbon keeps the last
    value for a path and timestamp, so a resend is harmless.  Before each write
    the socket is polled: carbon never writes on this port, so a readable
    socket means the peer closed it (restart), and we reconnect instead of
    losing the next write to a dead connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 5.0,
        max_buffer: int = 10_000,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self.backoff_initial, self.backoff_max, self.batch = backoff_initial, backoff_max, batch
        self.clock = clock
        self._buffer: collections.deque[str] = collections.deque(maxlen=max_buffer)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._next_try = 0.0
        self.failures = 0  # consecutive failed attempts
        self.dropped = 0  # lines lost to the buffer bound
        self.sent = 0  # lines written to a socket
        self.connects = 0
        self.last_error = ""

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def send(self, metrics: Iterable[Metric]) -> bool:
        """Queue ``metrics`` and flush; True when the queue is empty afterwards."""
        try:
            lines = [format_line(*m) for m in metrics]
        except (TypeError, ValueError) as exc:
            log.error("carbon %s:%s: bad metric, nothing queued: %s", self.host, self.port, exc)
            return False
        with self._lock:
            for line in lines:
                if len(self._buffer) == self._buffer.maxlen:
                    self.dropped += 1  # deque drops the oldest on append
                self._buffer.append(line)
            return self._flush_locked()

    def flush(self) -> bool:
        with self._lock:
            return self._flush_locked()

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    def _flush_locked(self) -> bool:
        if not self._buffer:
            return True
        now = self.clock()
        if now < self._next_try:
            return False
        try:
            if self._sock is not None and self._peer_closed():
                log.info("carbon %s:%s closed the connection; reconnecting", self.host, self.port)
                self._disconnect()
            if self._sock is None:
                self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
                self.connects += 1
            while self._buffer:
                n = min(self.batch, len(self._buffer))
                chunk = "".join(self._buffer[i] for i in range(n))
                self._sock.sendall(chunk.encode("utf-8"))
                for _ in range(n):
                    self._buffer.popleft()
                self.sent += n
        except Exception as exc:  # noqa: BLE001 - never raise into the engine or the reactor
            self._disconnect()
            self.failures += 1
            delay = min(self.backoff_max, self.backoff_initial * 2 ** (self.failures - 1))
            self._next_try = now + delay
            self.last_error = f"{type(exc).__name__}: {exc}"
            level = logging.WARNING if self.failures == 1 else logging.DEBUG
            log.log(
                level,
                "carbon %s:%s: send failed (%s); %d line(s) kept, next try in %.0f s",
                self.host,
                self.port,
                self.last_error,
                len(self._buffer),
                delay,
            )
            return False
        if self.failures:
            log.info("carbon %s:%s: sending again after %d failed attempt(s)", self.host, self.port, self.failures)
        self.failures = 0
        self._next_try = 0.0
        return True

    def _peer_closed(self) -> bool:
        readable, _, errored = select.select([self._sock], [], [self._sock], 0)
        if errored:
            return True
        if not readable:
            return False
        try:
            return self._sock.recv(4096, socket.MSG_DONTWAIT) == b""  # EOF; data would be odd but harmless
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _disconnect(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
