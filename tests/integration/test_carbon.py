"""Metrics reach a real carbon-cache (Debian graphite-carbon) and are read back from whisper.

carbon-cache runs as our child (``--nodaemon``) with a config in a temp dir,
receivers on 127.0.0.1 and free ports; a finalizer stops it by PID even when a
test fails.  Values are read back with Debian's python3-whisper through
/usr/bin/python3.  Carbon is restarted mid-test to prove the client
reconnects and delivers what it queued while carbon was down.  A flood of
beacon events through the engine's own loop reaches carbon only as the samples
its intake keeps.
"""

from __future__ import annotations

import os
import time

import pytest

from dcluster.glue.engine_loop import EngineLoop
from dcluster.metrics import CarbonClient, GraphiteSettings, engine_metrics, stats_to_metrics
from dcluster.metrics.reporter import GraphitePort, GraphiteReporter
from dcluster.model import JobState, NodeState
from dcluster.worker_stats import WorkerStats
from tests.support.carbon import CarbonCache, skip_reason
from tests.unit.builders import config, inst, job, node, view, wid
from tests.unit.test_worker_stats import Clock, event, real_event, started_engine, tag  # noqa: F401 - a fixture

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

_why = skip_reason()
if _why:
    pytest.skip(_why, allow_module_level=True)


def synthetic_view():
    """Two idle r1 workers, one busy, one starting; two pending jobs (3 cores), one running."""
    cfg = config({"r1": {"cores": 4}})
    names = [wid("r1", n) for n in range(4)]
    nodes = [node(names[0]), node(names[1]), node(names[2], NodeState.BUSY, jobs=("9",), used=4)]
    instances = {"r1": [inst(n) for n in names[:3]] + [inst(names[3], age=30)]}
    jobs = [job(1, cores=1), job(2, cores=2), job(9, cores=4, state=JobState.RUNNING)]
    return cfg, view(cfg, nodes, instances, jobs)


@pytest.fixture(scope="module")
def carbon(tmp_path_factory, request):
    cc = CarbonCache(str(tmp_path_factory.mktemp("carbon")))
    request.addfinalizer(cc.stop)  # registered before start: runs even if start fails half-way
    cc.start()
    return cc


def test_engine_and_worker_metrics_reach_carbon_and_survive_a_restart(carbon):
    t0 = time.time()
    base = int(t0) - int(t0) % 10 - 600  # 10 s slots well inside the 1-day retention
    client = CarbonClient("127.0.0.1", carbon.line_port, timeout=5, backoff_initial=0.2, backoff_max=1)
    try:
        # engine metrics from a reconciled view
        _, v = synthetic_view()
        engine = engine_metrics(v, None, {"launches": {"r1": 3}}, "it.dc", timestamp=base)
        assert client.send(engine) is True
        m = {p: val for p, val, _ in engine}
        for path in (
            "it.dc.nodes.total",
            "it.dc.nodes.idle",
            "it.dc.cores.total",
            "it.dc.resource.r1.nodes",
            "it.dc.jobs.queued",
            "it.dc.launches.r1",
        ):
            assert carbon.wait_value(path, base, base - 60) == m[path], path

        # a worker's beacon payload
        beacon = {
            "id": "w1.example.org",
            "time": base + 10,
            "cpu": {"percent": 42.5, "count": 2},
            "memory": {"used": 123456789},
            "disk": {"/": {"percent": 22.8}},
            "network": {"bytes_in": 1500.25},
        }
        assert client.send(stats_to_metrics("w1.example.org", beacon, "it.dc")) is True
        w = "it.dc.workers.w1_example_org"
        assert carbon.wait_value(f"{w}.cpu.percent", base + 10, base - 60) == 42.5
        assert carbon.wait_value(f"{w}.memory.used", base + 10, base - 60) == 123456789
        assert carbon.wait_value(f"{w}.disk.root.percent", base + 10, base - 60) == 22.8
        assert carbon.wait_value(f"{w}.network.bytes_in", base + 10, base - 60) == 1500.25

        # restart carbon: the client's socket is stale; the next send must reconnect and deliver
        connects = client.connects
        carbon.restart()
        assert client.send([("it.dc.restart.marker", 7, base + 20)]) is True
        assert client.connects == connects + 1
        assert carbon.wait_value("it.dc.restart.marker", base + 20, base - 60) == 7

        # carbon down: sends fail without raising and are queued; after it is back they arrive
        carbon.stop()
        assert client.send([("it.dc.queued.while_down", 11, base + 30)]) is False
        assert client.pending == 1
        carbon.start()
        deadline = time.monotonic() + 10
        while not client.send([("it.dc.queued.after", 12, base + 40)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.pending == 0, client.last_error
        assert carbon.wait_value("it.dc.queued.while_down", base + 30, base - 60) == 11
        assert carbon.wait_value("it.dc.queued.after", base + 40, base - 60) == 12
        # the first 10 s slot written before the restarts is still there
        assert carbon.wait_value("it.dc.nodes.total", base, base - 60) == m["it.dc.nodes.total"]
    finally:
        client.close()


def test_the_reporter_and_the_engines_stats_port_write_to_carbon(carbon):
    t0 = time.time()
    now = int(t0) - int(t0) % 10 - 300
    _, v = synthetic_view()
    rep = GraphiteReporter(GraphiteSettings("127.0.0.1", carbon.line_port, "rep.dc", 60))
    try:
        assert rep.maybe_send(v, None, {}, now=now) is True
        assert rep.maybe_send(v, None, {}, now=now + 10) is None  # not due
        assert carbon.wait_value("rep.dc.nodes.total", now, now - 60) == len(v.workers)
    finally:
        rep.close()

    # a worker's sample, through the engine's port: the paths and values the beacon's stats always had
    port = GraphitePort()
    try:
        plugin = {"hostname": "127.0.0.1", "port": carbon.line_port, "prefix": "fw.dc"}
        cfg = config(
            plugins={"graphite": {"class_name": "dynamiccluster.graphite.GraphiteReporter", "arguments": plugin}}
        )
        assert port.worker(cfg, "w2", {"id": "w2", "time": now, "load": {"1m": 0.75}}) is True
        assert carbon.wait_value("fw.dc.workers.w2.load.1m", now, now - 60) == 0.75
    finally:
        port.close()


def test_a_flood_of_stats_events_reaches_carbon_as_the_rate_limit_allows(carbon, tmp_path, real_event):  # noqa: F811
    """The engine's own loop takes 2 x N events of worker A, each with its own ``time`` (so each would
    be a point of its own in whisper), and as many forged under worker B's tag: carbon holds A's two
    samples of the burst and one per ``stats_interval`` after, and nothing of B."""
    t0 = time.time()
    n = 100
    base = int(t0) - int(t0) % 10 - 20 * n - 600  # every slot in the past, inside the 1-day retention
    plugin = {"hostname": "127.0.0.1", "port": carbon.line_port, "prefix": "flood.dc"}
    c, (a, b), events = started_engine(
        tmp_path, plugins={"graphite": {"class_name": "dynamiccluster.graphite.GraphiteReporter", "arguments": plugin}}
    )
    port = GraphitePort()
    c.ports.worker_metrics = port.worker
    clock = Clock()
    c.worker_stats = WorkerStats(min_interval=30, burst=2, monotonic=clock)
    fired: list = []
    loop = EngineLoop(c, None, lambda tag_, data: fired.append(tag_))
    try:
        for i in range(2 * n):
            if i == n:
                clock.t += 30  # one stats_interval later
            loop.handle({"tag": tag(a), "data": event(real_event, mid=a, time=base + 10 * i)})
            loop.handle({"tag": tag(b), "data": event(real_event, mid=a, time=base + 10 * i)})
        path = f"flood.dc.workers.{a}.load.1m"
        for slot in (base, base + 10, base + 10 * n):
            assert carbon.wait_value(path, slot, base - 60) == real_event["load"]["1m"]
        time.sleep(2)  # carbon has written what it took; more points would be there by now
        assert [t for t, _ in carbon.fetch(path, base - 60)] == [base, base + 10, base + 10 * n]
        assert not os.path.exists(os.path.dirname(carbon.wsp(f"flood.dc.workers.{b}.x")))
        assert c.worker_stats.counts()["accepted"] == 3 and fired == []
    finally:
        port.close()
        c.shutdown()
