"""The engine's per-worker statistics: the ``dcluster_stats`` beacon's events, checked and kept bounded.

A worker's root controls what its beacon sends, and Salt does not bind a
minion event's tag or data to the minion that sent it: a worker can fire
``salt/beacon/<another id>/dcluster_stats/`` with any data (see
tests/unit/test_redteam_12.py).  So every event is hostile until checked, in
this order, cheapest first, and anything else is dropped and counted by reason:

``tag``      the tag is exactly ``salt/beacon/<id>/dcluster_stats/`` and ``<id>``
             has the shape of a dcluster minion id (a short str, checked before
             anything else looks at it);
``unknown``  ``<id>`` is one of our workers in the engine's last view;
``id``       the data is a dict whose ``id`` equals the tag's id (the id is taken
             from the tag, never from the data);
``keys``     the data has only the beacon's keys, each nested dict only its keys,
             at most ``MAX_MOUNTS`` mount points of sane names;
``number``   every value is an int or float (not a bool), finite, within the
             field's bounds (percentages 0-100, rates and sizes below an exabyte);
``rate``     the worker sent at most ``burst`` samples and then one per
             ``min_interval`` seconds (a token bucket per worker);
``full``     the store already keeps ``max_workers`` workers.

What is kept is a fixed set of eleven floats per sample (:data:`FIELDS`), timed
by the engine's clock when the event arrived (the event's own ``time`` is
checked, not trusted), in a ring of ``samples`` per worker allocated once: the
memory is at most ``max_workers x samples x (1 + len(FIELDS)) x 8`` bytes,
whatever the workers send.  A worker that leaves the view loses its history.

Nothing here is read by the reconciler or the planner: statistics never change
a decision.  What a forged event can do is bounded to the graphs of the worker
it names (and that worker's rate budget).
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import identity

TAG_PREFIX, TAG_SUFFIX = "salt/beacon/", "/dcluster_stats/"
MAX_TAG = len(TAG_PREFIX) + identity.MAX_LEN + len(TAG_SUFFIX)

SAMPLES = 240  # per worker: two hours at the beacon's default 30 s interval
MAX_WORKERS = 1000
MIN_INTERVAL = 30.0  # seconds between samples a worker may send, on average
BURST = 2  # samples a worker may send at once (a beacon's jitter)

PERCENT = 100.0
MAX_BYTES = float(2**60)  # an exabyte: no worker's memory, disk or traffic per second reaches it
MAX_LOAD = 1e6
MAX_COUNT = 1e7
MAX_MOUNTS = 32
MAX_MOUNT_LEN = 256
MAX_TIME = float(2**33)  # the year 2242

FIELDS = (
    "load1",
    "load5",
    "load15",
    "cpu",
    "memory",
    "swap",
    "net_in",
    "net_out",
    "disk_read",
    "disk_write",
    "disk_used",
)
_INDEX = {f: i + 1 for i, f in enumerate(FIELDS)}  # slot 0 of each sample is its time
_WIDTH = 1 + len(FIELDS)

# beacon key -> {its key -> (field kept or None, upper bound)}; every lower bound is 0
SCHEMA: dict[str, dict[str, tuple[str | None, float]]] = {
    "cpu": {"percent": ("cpu", PERCENT), "count": (None, MAX_COUNT)},
    "load": {"1m": ("load1", MAX_LOAD), "5m": ("load5", MAX_LOAD), "15m": ("load15", MAX_LOAD)},
    "memory": {
        "percent": ("memory", PERCENT),
        "total": (None, MAX_BYTES),
        "available": (None, MAX_BYTES),
        "used": (None, MAX_BYTES),
    },
    "swap": {"percent": ("swap", PERCENT), "total": (None, MAX_BYTES), "used": (None, MAX_BYTES)},
    "network": {
        "bytes_in": ("net_in", MAX_BYTES),
        "bytes_out": ("net_out", MAX_BYTES),
        "packets_in": (None, MAX_BYTES),
        "packets_out": (None, MAX_BYTES),
    },
    "diskio": {
        "read_bytes": ("disk_read", MAX_BYTES),
        "write_bytes": ("disk_write", MAX_BYTES),
        "read_ops": (None, MAX_BYTES),
        "write_ops": (None, MAX_BYTES),
    },
}
DISK_KEYS = {"percent": PERCENT, "total": MAX_BYTES, "used": MAX_BYTES, "free": MAX_BYTES}
SALT_KEYS = ("id", "_stamp")
TOP_KEYS = frozenset(SCHEMA) | {"time", "disk"} | set(SALT_KEYS)

REASONS = ("tag", "unknown", "id", "keys", "number", "rate", "full")

# How the series are grouped for the graphs: group -> ((label, field), ...)
GROUPS = {
    "load": (("1m", "load1"), ("5m", "load5"), ("15m", "load15")),
    "cpu": (("busy %", "cpu"),),
    "memory": (("memory %", "memory"), ("swap %", "swap")),
    "network": (("in", "net_in"), ("out", "net_out")),
    "disk_io": (("read", "disk_read"), ("write", "disk_write")),
    "disk_used": (("fullest mount %", "disk_used"),),
}


class Dropped(ValueError):
    """An event not kept; ``reason`` is one of :data:`REASONS`, the message says what was wrong and where."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def minion_of(tag: Any) -> str:
    """The minion id in a ``dcluster_stats`` beacon tag; :class:`Dropped` ("tag") if it is not one of ours."""
    if not isinstance(tag, str) or len(tag) > MAX_TAG or not (tag.startswith(TAG_PREFIX) and tag.endswith(TAG_SUFFIX)):
        raise Dropped("tag", f"not a dcluster_stats beacon tag: {str(tag)[:100]!r}")
    minion_id = tag[len(TAG_PREFIX) : -len(TAG_SUFFIX)]
    if not identity.well_formed(minion_id):
        raise Dropped("tag", f"{minion_id[:80]!r} in the tag is not a dcluster minion id")
    return minion_id


def _number(where: str, value: Any, high: float) -> float:
    # type first: a bool is an int to Python, a huge int is compared exactly before any float()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Dropped("number", f"{where}: {type(value).__name__} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Dropped("number", f"{where}: {value!r} is not finite")
    if not 0 <= value <= high:
        raise Dropped("number", f"{where}: {str(value)[:40]} is outside 0..{high:g}")
    return float(value)


def _dict(where: str, value: Any, limit: int) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Dropped("keys", f"{where}: a {type(value).__name__}, not a dict")
    if len(value) > limit:
        raise Dropped("keys", f"{where}: {len(value)} keys, at most {limit}")
    return value


def parse(minion_id: str, data: Any) -> dict[str, float]:
    """The fields of one event's data (``minion_id`` from its tag); :class:`Dropped` if anything is off."""
    data = _dict("data", data, len(TOP_KEYS))
    extra = [k for k in data if k not in TOP_KEYS]
    if extra:
        raise Dropped("keys", f"data: unknown key {str(extra[0])[:40]!r}")
    if data.get("id") != minion_id:
        raise Dropped("id", f"data['id'] {str(data.get('id'))[:80]!r} is not the tag's id {minion_id}")
    stamp = data.get("_stamp")
    if stamp is not None and not (isinstance(stamp, str) and len(stamp) <= 64):
        raise Dropped("keys", "_stamp: not a short string")
    if "time" in data:
        _number("time", data["time"], MAX_TIME)
    out: dict[str, float] = {}
    for key, subs in SCHEMA.items():
        if key not in data:
            continue
        part = _dict(key, data[key], len(subs))
        for sub, value in part.items():
            if sub not in subs:
                raise Dropped("keys", f"{key}: unknown key {str(sub)[:40]!r}")
            field, high = subs[sub]
            n = _number(f"{key}:{sub}", value, high)
            if field is not None:
                out[field] = n
    if "disk" in data:
        fullest = None
        for mount, usage in _dict("disk", data["disk"], MAX_MOUNTS).items():
            if not (
                isinstance(mount, str) and mount.startswith("/") and len(mount) <= MAX_MOUNT_LEN and mount.isprintable()
            ):
                raise Dropped("keys", f"disk: {str(mount)[:40]!r} is not a mount point")
            for sub, value in _dict(f"disk:{mount}", usage, len(DISK_KEYS)).items():
                if sub not in DISK_KEYS:
                    raise Dropped("keys", f"disk:{mount}: unknown key {str(sub)[:40]!r}")
                n = _number(f"disk:{mount}:{sub}", value, DISK_KEYS[sub])
                if sub == "percent":
                    fullest = n if fullest is None else max(fullest, n)
        if fullest is not None:
            out["disk_used"] = fullest
    return out


class _Ring:
    """One worker's samples: a fixed array of floats, NaN where a field was absent."""

    __slots__ = ("values", "head", "count", "tokens", "refilled")

    def __init__(self, samples: int, burst: int, now: float):
        self.values = array("d", [math.nan]) * (samples * _WIDTH)
        self.head = 0  # where the next sample goes
        self.count = 0
        self.tokens = float(burst)
        self.refilled = now

    def take(self, now: float, min_interval: float, burst: int) -> bool:
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.refilled) / min_interval)
        self.refilled = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def put(self, t: float, fields: Mapping[str, float], samples: int) -> None:
        base = self.head * _WIDTH
        self.values[base] = t
        for i in range(1, _WIDTH):
            self.values[base + i] = math.nan
        for name, v in fields.items():
            self.values[base + _INDEX[name]] = v
        self.head = (self.head + 1) % samples
        self.count = min(samples, self.count + 1)

    def rows(self, samples: int) -> Iterable[tuple[float, ...]]:
        start = (self.head - self.count) % samples
        for k in range(self.count):
            base = ((start + k) % samples) * _WIDTH
            yield tuple(self.values[base : base + _WIDTH])


class WorkerStats:
    """The bounded, rate-limited store of the workers' statistics; thread-safe."""

    def __init__(
        self,
        samples: int = SAMPLES,
        max_workers: int = MAX_WORKERS,
        min_interval: float = MIN_INTERVAL,
        burst: int = BURST,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        if samples < 1 or max_workers < 1 or burst < 1 or not 0 < min_interval < math.inf:
            raise ValueError("samples, max_workers and burst must be at least 1, min_interval above 0")
        self.samples, self.max_workers = int(samples), int(max_workers)
        self.min_interval, self.burst = float(min_interval), int(burst)
        self.monotonic, self.wall = monotonic, wall
        self._rings: dict[str, _Ring] = {}
        self._known: frozenset[str] = frozenset()
        self.synced_with: object = None  # the view ``known`` was last taken from (controller/stats_intake.py)
        self._lock = threading.Lock()
        self.accepted = 0
        self.dropped: dict[str, int] = dict.fromkeys(REASONS, 0)

    @property
    def capacity_bytes(self) -> int:
        """The most memory the samples can take: every worker slot full."""
        return self.max_workers * self.samples * _WIDTH * 8

    def known(self, names: Iterable[str]) -> None:
        """The workers whose statistics are kept from now on; the others' are forgotten."""
        names = frozenset(n for n in names if identity.well_formed(n))
        with self._lock:
            self._known = names
            for gone in [n for n in self._rings if n not in names]:
                del self._rings[gone]

    def offer(self, tag: Any, data: Any) -> str | None:
        """Keep one beacon event if it passes every check; None if kept, else why not (counted)."""
        try:
            self._offer(tag, data)
        except Dropped as exc:
            with self._lock:
                self.dropped[exc.reason] += 1
            return f"{exc.reason}: {exc}"
        return None

    def _offer(self, tag: Any, data: Any) -> None:
        minion_id = minion_of(tag)
        if minion_id not in self._known:
            raise Dropped("unknown", f"{minion_id} is not a worker of the engine's last view")
        fields = parse(minion_id, data)
        now = self.monotonic()
        with self._lock:
            if minion_id not in self._known:  # forgotten meanwhile
                raise Dropped("unknown", f"{minion_id} is not a worker of the engine's last view")
            ring = self._rings.get(minion_id)
            if ring is None:
                if len(self._rings) >= self.max_workers:
                    raise Dropped("full", f"already keeping {self.max_workers} workers")
                ring = self._rings[minion_id] = _Ring(self.samples, self.burst, now)
            if not ring.take(now, self.min_interval, self.burst):
                raise Dropped("rate", f"{minion_id} sent more than one sample per {self.min_interval:g} s")
            ring.put(self.wall(), fields, self.samples)
            self.accepted += 1

    def counts(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accepted": self.accepted,
                "dropped": dict(self.dropped),
                "workers": len(self._rings),
                "known": len(self._known),
            }

    def series(self, name: str, minutes: float, now: float | None = None) -> dict[str, dict[str, list[list[float]]]]:
        """``{group: {label: [[time, value], ...]}}`` of worker ``name`` over the last ``minutes``."""
        now = self.wall() if now is None else now
        since = now - minutes * 60
        with self._lock:
            ring = self._rings.get(name)
            rows = list(ring.rows(self.samples)) if ring is not None else []
        out: dict[str, dict[str, list[list[float]]]] = {g: {} for g in GROUPS}
        for group, members in GROUPS.items():
            for label, field in members:
                i = _INDEX[field]
                points = [[r[0], r[i]] for r in rows if r[0] >= since and not math.isnan(r[i])]
                if points:
                    out[group][label] = points
        return out


__all__ = ["FIELDS", "GROUPS", "REASONS", "Dropped", "WorkerStats", "minion_of", "parse"]
