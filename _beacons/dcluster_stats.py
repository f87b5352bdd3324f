"""
Worker statistics for Graphite: CPU, load, memory, swap, network, disk (psutil).

One event per interval on ``salt/beacon/<minion>/dcluster_stats/``; the
master's dcluster engine reads it off the event bus, checks it (one of its workers,
the beacon's keys, bounded numbers, at most one sample per ``stats_interval``), keeps it
for the worker's graphs and writes it to Graphite under ``<prefix>.workers.<minion>``
when a graphite plugin is configured (Dynamic Cluster's Salt-scheduled collectors, as a
beacon).  No reactor is involved.

:depends: psutil

Minion configuration (every key optional):

.. code-block:: yaml

    beacons:
      dcluster_stats:
        - interval: 30          # seconds between events (Salt's beacon interval)
        - disks:                # mount points whose usage is reported; default ["/"]
            - /
            - /scratch
        - interfaces:           # network interfaces summed; default all but loopback
                                # (rates count only interfaces present in both samples)
            - eth0

The event data:

.. code-block:: python

    {"time": 1767225600.0,                       # wall clock of the sample
     "cpu": {"percent": 12.5, "count": 4},        # percent busy since the last sample
     "load": {"1m": 0.4, "5m": 0.3, "15m": 0.2},
     "memory": {"total": ..., "available": ..., "used": ..., "percent": ...},
     "swap": {"total": ..., "used": ..., "percent": ...},
     "network": {"bytes_in": ..., "bytes_out": ..., "packets_in": ..., "packets_out": ...},  # per second
     "disk": {"/": {"total": ..., "used": ..., "free": ..., "percent": ...}},
     "diskio": {"read_bytes": ..., "write_bytes": ..., "read_ops": ..., "write_ops": ...}}  # per second

Rates (cpu percent, network, diskio) come from the difference with the
previous sample, kept in ``__context__``; the first event after a minion
start has none of them.  Nothing blocks: CPU use is computed from
``psutil.cpu_times()`` deltas rather than ``psutil.cpu_percent()``, whose
module-global window any other caller in the minion process would reset.
"""

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import salt.utils.beacons

try:
    import psutil

    HAS_PSUTIL = True
except ImportError:
    HAS_PSUTIL = False

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_stats"

if TYPE_CHECKING:
    __context__: dict[str, Any]

CONTEXT_KEY = "dcluster_stats.last"
DEFAULT_DISKS = ["/"]
OWN_KEYS = {"interval", "disks", "interfaces"}
SALT_KEYS = {"enabled", "beacon_module", "disable_during_state_run", "run_once", "emitatstartup", "onchangeonly"}


def __virtual__():
    if not HAS_PSUTIL:
        return False, "psutil is missing"
    return __virtualname__


def validate(config):
    """
    Check the beacon configuration: a list of dicts with optional ``interval``
    (positive number), ``disks`` (absolute mount points) and ``interfaces``
    (names).
    """
    if not isinstance(config, list) or not all(isinstance(item, dict) for item in config):
        return False, "Configuration for dcluster_stats beacon must be a list of dicts."
    conf = salt.utils.beacons.list_to_dict(config)
    unknown = sorted(k for k in conf if k not in OWN_KEYS | SALT_KEYS and not str(k).startswith("_"))
    if unknown:
        return False, (
            f"dcluster_stats beacon: unknown option(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(sorted(OWN_KEYS))}"
        )
    if "interval" in conf:
        value = conf["interval"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return False, f"dcluster_stats beacon: interval must be a positive number of seconds, not {value!r}"
    if "disks" in conf:
        disks = conf["disks"]
        if not isinstance(disks, list) or not disks:
            return False, "dcluster_stats beacon: disks must be a non-empty list of mount points"
        bad = [d for d in disks if not isinstance(d, str) or not d.startswith("/")]
        if bad:
            return False, f"dcluster_stats beacon: disks: {bad!r} are not absolute mount points"
    if "interfaces" in conf:
        ifaces = conf["interfaces"]
        if not isinstance(ifaces, list) or not all(isinstance(i, str) and i for i in ifaces):
            return False, "dcluster_stats beacon: interfaces must be a list of interface names"
    return True, "Valid beacon configuration"


def _rate(now, before, elapsed):
    """Per-second rate of a counter; None when it went backwards (reset, wrap)."""
    delta = now - before
    if delta < 0 or elapsed <= 0:
        return None
    return delta / elapsed


NET_FIELDS = (
    ("bytes_in", "bytes_recv"),
    ("bytes_out", "bytes_sent"),
    ("packets_in", "packets_recv"),
    ("packets_out", "packets_sent"),
)


def _network(interfaces):
    """Counters per selected interface present now: {name: (bytes_in, bytes_out, packets_in, packets_out)}."""
    counters = psutil.net_io_counters(pernic=True)
    names = interfaces if interfaces is not None else [n for n in counters if n != "lo"]
    # a configured interface that is absent (not up yet) is simply not there
    return {n: tuple(getattr(counters[n], f) for _, f in NET_FIELDS) for n in names if n in counters}


def _network_rates(now, before, elapsed):
    """
    Per-second rates summed over the interfaces present in both samples.

    Totals over whatever interfaces exist at each sample are wrong whenever the
    set changes: a veth appearing with its counters already high reads as gigabytes
    per second, one vanishing as a negative rate.  So an interface counts only
    when it is in both samples and none of its counters went back (a reset, or an
    interface deleted and recreated under the same name: its delta is unknown,
    and the current counters are the baseline for the next sample).  None when
    interfaces exist now but none of them can give a delta.
    """
    if elapsed <= 0:
        return None
    sums = [0] * len(NET_FIELDS)
    common = 0
    for name, values in now.items():
        old = before.get(name)
        if old is None or any(v < o for v, o in zip(values, old, strict=False)):
            continue
        common += 1
        for i, (v, o) in enumerate(zip(values, old, strict=False)):
            sums[i] += v - o
    if now and not common:
        return None
    return {key: total / elapsed for (key, _), total in zip(NET_FIELDS, sums, strict=True)}


def _diskio():
    c = psutil.disk_io_counters()
    if c is None:  # no disks the kernel reports (some containers)
        return None
    return {
        "read_bytes": c.read_bytes,
        "write_bytes": c.write_bytes,
        "read_ops": c.read_count,
        "write_ops": c.write_count,
    }


def _cpu_percent(times, before):
    """Percent busy between two ``psutil.cpu_times()`` (as dicts), or None.  Each field's delta on its
    own, one that went back counting as no time: Linux's iowait may decrease (proc(5)), and summed with
    the others it made the busy time negative under load, so a sample had no cpu percent at all."""
    if not isinstance(before, dict):
        return None  # a context from an older beacon version held (busy, total) sums
    d = {k: max(0.0, v - before.get(k, v)) for k, v in times.items()}
    # guest time is already in user/nice on Linux: do not count it twice
    total = sum(d.values()) - d.get("guest", 0.0) - d.get("guest_nice", 0.0)
    if total <= 0:
        return None
    busy = total - d.get("idle", 0.0) - d.get("iowait", 0.0)
    return round(min(100.0, max(0.0, 100.0 * busy / total)), 2)


def sample(conf, context, mono=None, wall=None):
    """One event dict; ``context`` keeps the previous counters for the rates."""
    mono = time.monotonic() if mono is None else mono
    wall = time.time() if wall is None else wall
    cpu = psutil.cpu_times()._asdict()
    net = _network(conf.get("interfaces"))
    dio = _diskio()
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    load1, load5, load15 = os.getloadavg()
    event = {
        "time": wall,
        "cpu": {"count": psutil.cpu_count() or 0},
        "load": {"1m": load1, "5m": load5, "15m": load15},
        "memory": {"total": vm.total, "available": vm.available, "used": vm.used, "percent": vm.percent},
        "swap": {"total": sw.total, "used": sw.used, "percent": sw.percent},
        "disk": {},
    }
    for mount in conf.get("disks", DEFAULT_DISKS):
        try:
            du = psutil.disk_usage(mount)
        except OSError as exc:
            log.debug("dcluster_stats: no usage for %s: %s", mount, exc)
            continue
        event["disk"][mount] = {"total": du.total, "used": du.used, "free": du.free, "percent": du.percent}

    last = context.get(CONTEXT_KEY)
    if last is not None:
        elapsed = mono - last["mono"]
        percent = _cpu_percent(cpu, last["cpu"])
        if percent is not None:
            event["cpu"]["percent"] = percent
        # a context from an older beacon version held totals, not per-interface counters
        before = last["net"] if all(isinstance(v, tuple) for v in last["net"].values()) else {}
        rates = _network_rates(net, before, elapsed)
        if rates is not None:
            event["network"] = rates
        if dio is not None and last.get("diskio") is not None:
            rates = {k: _rate(v, last["diskio"][k], elapsed) for k, v in dio.items()}
            if all(r is not None for r in rates.values()):
                event["diskio"] = rates
    context[CONTEXT_KEY] = {"mono": mono, "cpu": cpu, "net": net, "diskio": dio}
    return event


def beacon(config):
    """
    Emit one event with this worker's statistics.

    .. code-block:: yaml

        beacons:
          dcluster_stats:
            - interval: 30
            - disks: ["/", "/scratch"]
    """
    conf = salt.utils.beacons.list_to_dict(config)
    interval = conf.get("interval")
    last = __context__.get(CONTEXT_KEY)
    # Salt strips ``interval`` and schedules the call itself; when the beacon is
    # called with it (directly, or by a loader that does not), honour it here.
    if interval and last is not None and time.monotonic() - last["mono"] < float(interval):
        return []
    return [sample(conf, __context__)]
