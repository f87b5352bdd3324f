"""The dcluster_stats beacon, loaded by Salt's own beacon loader and run for real (psutil on this machine).

What the engine does with its events: tests/unit/test_worker_stats.py.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEACONS = os.path.join(REPO, "_beacons")

salt_config = pytest.importorskip("salt.config")
salt_loader = pytest.importorskip("salt.loader")
psutil = pytest.importorskip("psutil")


def minion_opts():
    opts = salt_config.minion_config(None)
    opts["beacons_dirs"] = [BEACONS]
    opts["file_client"] = "local"
    return opts


def _push_over_loopback(seconds: float) -> int:
    """Send bytes through a TCP connection on 127.0.0.1 for ``seconds``; returns how many."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()

    def drain():
        while conn.recv(1 << 20):
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    payload, sent, end = b"x" * 65536, 0, time.monotonic() + seconds
    while time.monotonic() < end:
        cli.sendall(payload)
        sent += len(payload)
    cli.close()
    reader.join(timeout=5)
    conn.close()
    return sent


@pytest.fixture
def loaded():
    """(beacon functions, their __context__) through salt.loader.beacons."""
    context: dict = {}
    funcs = salt_loader.beacons(minion_opts(), {}, context=context)
    assert "dcluster_stats.beacon" in funcs, f"not loaded: {funcs.missing_fun_string('dcluster_stats.beacon')}"
    return funcs, context


@pytest.mark.parametrize(
    "config, error",
    [
        ({"interval": 5}, "list of dicts"),
        ([{"interval": 0}], "interval must be a positive number"),
        ([{"interval": True}], "interval must be a positive number"),
        ([{"interval": "30"}], "interval must be a positive number"),
        ([{"disks": "/"}], "disks must be a non-empty list"),
        ([{"disks": []}], "disks must be a non-empty list"),
        ([{"disks": ["/", "scratch"]}], "'scratch'"),
        ([{"interfaces": "eth0"}], "interfaces must be a list"),
        ([{"disk": ["/"]}], "unknown option(s) disk"),
        (["interval"], "list of dicts"),
    ],
)
def test_validate_rejects_bad_config(loaded, config, error):
    funcs, _ = loaded
    ok, msg = funcs["dcluster_stats.validate"](config)
    assert ok is False
    assert error in msg


def test_validate_accepts_documented_config(loaded):
    funcs, _ = loaded
    for config in (
        [],
        [{"interval": 30}, {"disks": ["/", "/tmp"]}, {"interfaces": ["lo"]}],
        [{"interval": 2.5}, {"enabled": True}, {"_beacon_name": "dcluster_stats"}],
    ):
        assert funcs["dcluster_stats.validate"](config) == (True, "Valid beacon configuration")


def test_beacon_runs_for_real_and_computes_rates_from_deltas(loaded):
    funcs, context = loaded
    beacon = funcs["dcluster_stats.beacon"]
    t0 = time.time()
    # the same interface selection in both samples: the rate is a delta of the same counters
    (first,) = beacon([{"disks": ["/", "/no/such/mount"]}, {"interfaces": ["lo"]}])
    # first sample: levels, no rates yet (nothing to take a delta from)
    assert set(first) == {"time", "cpu", "load", "memory", "swap", "disk"}
    assert abs(first["time"] - t0) < 5
    assert first["cpu"] == {"count": psutil.cpu_count()}
    assert set(first["load"]) == {"1m", "5m", "15m"}
    assert first["memory"]["total"] == psutil.virtual_memory().total
    assert 0 < first["memory"]["used"] <= first["memory"]["total"]
    assert list(first["disk"]) == ["/"]  # a missing mount is skipped, not an error
    root = psutil.disk_usage("/")
    assert first["disk"]["/"]["total"] == root.total
    assert "dcluster_stats.last" in context

    # push bytes over lo (and burn CPU) between the two samples
    before = psutil.net_io_counters(pernic=True)["lo"]
    start = time.monotonic()
    sent = _push_over_loopback(seconds=0.5)
    after = psutil.net_io_counters(pernic=True)["lo"]
    (second,) = beacon([{"interfaces": ["lo"]}])
    elapsed = time.monotonic() - start
    assert {"network", "diskio"} <= set(second)
    assert 0 < second["cpu"]["percent"] <= 100
    lo_bytes = after.bytes_recv - before.bytes_recv
    assert lo_bytes >= sent
    # the rate is bytes since the first sample over the time since it: at least what we pushed
    # in our window, divided by a window no shorter than ours
    assert second["network"]["bytes_in"] >= lo_bytes / (elapsed + 5)
    assert second["network"]["bytes_in"] > 1_000_000 / 10
    assert second["network"]["packets_in"] > 0
    assert all(v >= 0 for v in second["diskio"].values())


def test_rates_are_exact_deltas_over_elapsed_time(monkeypatch):
    """sample() with injected clocks and counters: rate = delta / seconds; a counter reset gives no rate."""
    sys.path.insert(0, BEACONS)
    try:
        import dcluster_stats as mod
    finally:
        sys.path.remove(BEACONS)
    snetio = type(psutil.net_io_counters())  # psutil's own named tuple
    counters = {"eth0": snetio(1000, 2000, 10, 20, 0, 0, 0, 0), "lo": snetio(9, 9, 9, 9, 0, 0, 0, 0)}
    monkeypatch.setattr(mod.psutil, "net_io_counters", lambda pernic=False: counters)
    cpu = [collections.namedtuple("scputimes", "user nice system idle iowait")(10, 0, 10, 80, 0)]
    monkeypatch.setattr(mod.psutil, "cpu_times", lambda percpu=False: cpu[0])
    context: dict = {}
    first = mod.sample({}, context, mono=100.0, wall=1.0)
    assert "network" not in first and "percent" not in first["cpu"]
    counters["eth0"] = snetio(1000 + 500, 2000 + 1000, 10 + 5, 20 + 10, 0, 0, 0, 0)
    counters["lo"] = snetio(10**9, 10**9, 10**9, 10**9, 0, 0, 0, 0)  # loopback is not counted
    cpu[0] = cpu[0]._replace(user=40, idle=90)  # 30 busy of 40
    second = mod.sample({}, context, mono=110.0, wall=11.0)
    assert second["network"] == {"bytes_in": 100.0, "bytes_out": 50.0, "packets_in": 1.0, "packets_out": 0.5}
    assert second["cpu"]["percent"] == 75.0
    counters["eth0"] = snetio(1, 1, 1, 1, 0, 0, 0, 0)  # interface reset: counters went back
    third = mod.sample({}, context, mono=120.0, wall=21.0)
    assert "network" not in third
    counters["eth0"] = snetio(11, 21, 2, 3, 0, 0, 0, 0)
    fourth = mod.sample({}, context, mono=130.0, wall=31.0)
    assert fourth["network"] == {"bytes_in": 2.0, "bytes_out": 1.0, "packets_in": 0.2, "packets_out": 0.1}


def test_a_cpu_counter_that_goes_back_still_gives_a_cpu_percent(monkeypatch):
    """A cpu_times() counter may go back (Linux's iowait, proc(5); a VM's steal): summed with the others
    it made the busy time negative and the sample had no cpu percent (seen: graphite-web's test failed on
    a loaded machine), or a wrong one.  Each field's delta on its own, one that went back counting as none."""
    mod = _beacon_module()
    times = collections.namedtuple("scputimes", "user nice system idle iowait steal guest")
    cpu = [times(100, 0, 100, 700, 100, 50, 5)]
    monkeypatch.setattr(mod.psutil, "cpu_times", lambda percpu=False: cpu[0])
    context: dict = {}
    mod.sample({}, context, mono=100.0, wall=1.0)
    cpu[0] = times(user=260, nice=0, system=100, idle=740, iowait=60, steal=50, guest=25)  # iowait back 40
    second = mod.sample({}, context, mono=101.0, wall=2.0)
    assert second["cpu"]["percent"] == 80.0  # 160 busy of 200 (guest is in user: not counted twice)
    cpu[0] = cpu[0]._replace(user=270, idle=840, steal=0)  # steal back 50: 10 busy of 110
    third = mod.sample({}, context, mono=102.0, wall=3.0)
    assert third["cpu"]["percent"] == 9.09
    context["dcluster_stats.last"]["cpu"] = (1000.0, 2000.0)  # an older beacon's context: sums
    fourth = mod.sample({}, context, mono=103.0, wall=4.0)
    assert "percent" not in fourth["cpu"] and isinstance(context["dcluster_stats.last"]["cpu"], dict)


def _beacon_module():
    sys.path.insert(0, BEACONS)
    try:
        import dcluster_stats as mod
    finally:
        sys.path.remove(BEACONS)
    return mod


def test_network_rate_counts_only_interfaces_present_in_both_samples(monkeypatch):
    """A veth appearing with high counters, one vanishing, one reset: none of them distorts the rate."""
    mod = _beacon_module()
    snetio = type(psutil.net_io_counters())  # bytes_sent, bytes_recv, packets_sent, packets_recv, ...
    counters = {"eth0": snetio(1000, 2000, 10, 20, 0, 0, 0, 0)}
    monkeypatch.setattr(mod.psutil, "net_io_counters", lambda pernic=False: counters)
    context: dict = {}
    mod.sample({}, context, mono=0.0, wall=0.0)
    # a veth appears already carrying 16 GB (moved in from a namespace): it is not 1.6 GB/s of traffic
    counters["eth0"] = snetio(1100, 2200, 11, 22, 0, 0, 0, 0)
    counters["veth7"] = snetio(16 * 10**9, 16 * 10**9, 10**7, 10**7, 0, 0, 0, 0)
    appeared = mod.sample({}, context, mono=10.0, wall=10.0)
    assert appeared["network"] == {"bytes_out": 10.0, "bytes_in": 20.0, "packets_out": 0.1, "packets_in": 0.2}
    # from then on it counts, by its own delta
    counters["eth0"] = snetio(1200, 2400, 12, 24, 0, 0, 0, 0)
    counters["veth7"] = snetio(16 * 10**9 + 1000, 16 * 10**9, 10**7 + 10, 10**7, 0, 0, 0, 0)
    both = mod.sample({}, context, mono=20.0, wall=20.0)
    assert both["network"] == {"bytes_out": 110.0, "bytes_in": 20.0, "packets_out": 1.1, "packets_in": 0.2}
    # it vanishes: the others' rate is still there (the totals went down, but no counter did)
    del counters["veth7"]
    counters["eth0"] = snetio(1300, 2600, 13, 26, 0, 0, 0, 0)
    vanished = mod.sample({}, context, mono=30.0, wall=30.0)
    assert vanished["network"] == {"bytes_out": 10.0, "bytes_in": 20.0, "packets_out": 0.1, "packets_in": 0.2}
    # one interface reset (recreated under the same name) while another carried traffic: the reset one
    # is left out of this interval, not allowed to cancel or hide the other's traffic
    counters["eth1"] = snetio(50, 50, 1, 1, 0, 0, 0, 0)
    mod.sample({}, context, mono=40.0, wall=40.0)
    counters["eth0"] = snetio(1, 1, 1, 1, 0, 0, 0, 0)
    counters["eth1"] = snetio(550, 50, 6, 1, 0, 0, 0, 0)
    reset = mod.sample({}, context, mono=50.0, wall=50.0)
    assert reset["network"] == {"bytes_out": 50.0, "bytes_in": 0.0, "packets_out": 0.5, "packets_in": 0.0}
    # every interface new since the last sample: no rate can be known, none is made up
    context_only_new = {"eth9": snetio(7, 7, 7, 7, 0, 0, 0, 0)}
    monkeypatch.setattr(mod.psutil, "net_io_counters", lambda pernic=False: context_only_new)
    assert "network" not in mod.sample({}, context, mono=60.0, wall=60.0)
    # no interface selected exists at all: nothing to count is a rate of zero
    monkeypatch.setattr(mod.psutil, "net_io_counters", lambda pernic=False: {"lo": snetio(1, 1, 1, 1, 0, 0, 0, 0)})
    mod.sample({}, context, mono=70.0, wall=70.0)
    nothing = mod.sample({}, context, mono=80.0, wall=80.0)
    assert nothing["network"] == {"bytes_out": 0.0, "bytes_in": 0.0, "packets_out": 0.0, "packets_in": 0.0}


def test_interval_is_honoured_when_the_beacon_sees_it(loaded):
    funcs, _ = loaded
    beacon = funcs["dcluster_stats.beacon"]
    assert len(beacon([{"interval": 3600}])) == 1
    assert beacon([{"interval": 3600}]) == []  # too soon
    time.sleep(0.05)
    assert len(beacon([{"interval": 0.01}])) == 1


def test_salt_beacon_processing_fires_one_event_per_interval():
    """Salt's own Beacon.process: tag, data (with id), and the interval in loop_interval ticks."""
    import salt.beacons

    opts = minion_opts()
    opts["id"] = "w-test"
    opts["loop_interval"] = 1
    b = salt.beacons.Beacon(opts, {})
    config = {"dcluster_stats": [{"interval": 3}, {"disks": ["/"]}]}
    fired = [b.process(json.loads(json.dumps(config)), {}) for _ in range(10)]
    ticks = [i for i, f in enumerate(fired) if f]
    assert len(ticks) == 3 and ticks[1] - ticks[0] == ticks[2] - ticks[1] == 3, [len(f) for f in fired]
    assert all(len(fired[i]) == 1 for i in ticks)
    event = fired[ticks[0]][0]
    assert event["tag"] == "salt/beacon/w-test/dcluster_stats/"
    assert event["data"]["id"] == "w-test" and "memory" in event["data"]


def test_virtual_refuses_without_psutil():
    code = f"""
import sys
sys.modules["psutil"] = None   # import psutil -> ImportError
import salt.config, salt.loader
opts = salt.config.minion_config(None)
opts["beacons_dirs"] = [{BEACONS!r}]
funcs = salt.loader.beacons(opts, {{}}, context={{}})
print("dcluster_stats.beacon" in funcs)
print(funcs.missing_fun_string("dcluster_stats.beacon"))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    present, why = out.stdout.strip().splitlines()[-2:]
    assert present == "False"
    assert "psutil is missing" in why
