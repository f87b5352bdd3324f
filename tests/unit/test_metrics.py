"""Engine and worker metrics, the carbon client's buffering and reconnects, the reporter and the engine's port.

The socket tests run against a real TCP receiver on 127.0.0.1
(tests.support.carbon.LineServer) that is closed and reopened to force errors;
the client's clock is injected so backoff needs no sleeping.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from builders import NOW, config, inst, job, node, view, wid

from dcluster.metrics import (
    CarbonClient,
    GraphiteSettings,
    component,
    engine_metrics,
    format_line,
    graphite_settings,
    stats_to_metrics,
)
from dcluster.metrics.reporter import GraphitePort, GraphiteReporter
from dcluster.model import InstanceState, JobState, NodeState, Worker, WorkerState
from dcluster.planner import plan
from dcluster.reconcile import BackoffState, View
from tests.support import wait_for
from tests.support.carbon import LineServer, free_port

PATH_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
PREFIX = "headnode.dynamiccluster"


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def server():
    s = LineServer().start()
    yield s
    s.stop()


def as_dict(metrics):
    return {p: v for p, v, _ in metrics}


def synthetic_view():
    cfg = config({"r1": {"cores": 4}, "r2": {"cores": 8}}, max_launch_time=1200)
    idle, busy, start, drain, down, dele = (
        wid("r1", 1),
        wid("r1", 2),
        wid("r1", 3),
        wid("r1", 4),
        wid("r2", 5),
        wid("r2", 6),
    )
    nodes = [
        node(idle, NodeState.IDLE, cores=4),
        node(busy, NodeState.BUSY, cores=4, used=4, jobs=("11",)),
        node(drain, NodeState.HELD, cores=4, reason="dcluster: idle 700 s"),
        node(down, NodeState.DOWN, cores=8),
        node(dele, NodeState.IDLE, cores=8),
        node("cn001", NodeState.BUSY, cores=16, used=16, jobs=("12",)),  # physical
    ]
    instances = {
        "r1": [inst(idle), inst(busy), inst(start, age=60), inst(drain)],
        "r2": [inst(down, "r2", cores=8), inst(dele, "r2", state=InstanceState.DELETING, cores=8)],
    }
    jobs = [
        job(1, cores=2),
        job(2, chunks=2, cores=2),
        job(11, state=JobState.RUNNING, cores=4),
        job(12, state=JobState.RUNNING, cores=16),
        job(13, state=JobState.HELD, cores=3),
    ]
    v = None
    for at in (NOW - 10, NOW):  # two polls: the down node is in error only once the second agrees
        v = view(
            cfg,
            nodes,
            instances,
            jobs,
            now=at,
            previous=v,
            in_flight={"r1": 2},
            backoff={"r2": BackoffState(failures=2, until=NOW + 300, kind="quota")},
        )
    return cfg, v


def test_engine_metrics_from_a_reconciled_view():
    cfg, v = synthetic_view()
    states = {w.state for w in v.workers}
    assert states == {
        WorkerState.IDLE,
        WorkerState.BUSY,
        WorkerState.STARTING,
        WorkerState.DRAINING,
        WorkerState.ERROR,
        WorkerState.DELETING,
        WorkerState.PHYSICAL,
    }
    summary = plan(v, cfg).to_dict()
    metrics = engine_metrics(
        v, summary, {"launches": {"r1": 3, "r2": 1}, "launch_failures": {"r2": 2}, "cycles": 7}, PREFIX
    )
    m = as_dict(metrics)
    assert all(ts == int(NOW) for _, _, ts in metrics)
    assert all(p.startswith(PREFIX + ".") and PATH_RE.match(p) for p in m)
    assert len(m) == len(metrics), "a path appears twice"
    # every worker state, nodes and cores
    for s in WorkerState:
        assert f"{PREFIX}.nodes.{s.value}" in m and f"{PREFIX}.cores.{s.value}" in m
    p = PREFIX
    assert (m[f"{p}.nodes.idle"], m[f"{p}.nodes.busy"], m[f"{p}.nodes.starting"]) == (1, 1, 1)
    assert (m[f"{p}.nodes.draining"], m[f"{p}.nodes.error"], m[f"{p}.nodes.deleting"]) == (1, 1, 1)
    assert m[f"{p}.nodes.physical"] == 1 and m[f"{p}.nodes.orphan"] == 0 and m[f"{p}.nodes.held"] == 0
    assert m[f"{p}.nodes.total"] == 7
    assert (
        m[f"{p}.cores.busy"] == 4
        and m[f"{p}.cores.physical"] == 16
        and m[f"{p}.cores.error"] == 8
        and m[f"{p}.cores.starting"] == 4
    )
    assert m[f"{p}.cores.total"] == 4 * 4 + 8 * 2 + 16
    # by resource (all its workers, as Dynamic Cluster counted) and by state
    assert (m[f"{p}.resource.r1.nodes"], m[f"{p}.resource.r1.cores"]) == (4, 16)
    assert (m[f"{p}.resource.r2.nodes"], m[f"{p}.resource.r2.cores"]) == (2, 16)
    assert (m[f"{p}.resource._physical.nodes"], m[f"{p}.resource._physical.cores"]) == (1, 16)
    assert m[f"{p}.resource.r1.state.draining.nodes"] == 1 and m[f"{p}.resource.r2.state.deleting.cores"] == 8
    assert m[f"{p}.resource.r1.in_flight"] == 2 and m[f"{p}.resource.r1.current"] == v.current("r1") == 6
    assert m[f"{p}.resource.r2.backoff"] == 1 and m[f"{p}.resource.r1.backoff"] == 0
    assert m[f"{p}.resource.r1.cloud_ok"] == 1
    # jobs
    assert (m[f"{p}.jobs.pending"], m[f"{p}.jobs.pending_cores"], m[f"{p}.jobs.queued"]) == (2, 6, 2)
    assert (m[f"{p}.jobs.running"], m[f"{p}.jobs.running_cores"]) == (2, 20)
    assert (m[f"{p}.jobs.held"], m[f"{p}.jobs.held_cores"]) == (1, 3)
    assert m[f"{p}.scheduler_ok"] == 1
    # counters
    assert (m[f"{p}.launches.r1"], m[f"{p}.launches.r2"], m[f"{p}.launches.total"]) == (3, 1, 4)
    assert m[f"{p}.launch_failures.total"] == 2 and m[f"{p}.cycles"] == 7
    # plan summary: counts match the plan
    launch_actions = [a for a in summary["actions"] if a["kind"] == "launch"]
    assert m[f"{p}.plan.actions.launch"] == len(launch_actions)
    for res, n in plan(v, cfg).launches().items():
        assert m[f"{p}.plan.launch.{res}"] == n
    assert m[f"{p}.plan.waiting"] == len(summary["waiting"])
    assert m[f"{p}.plan.actions.destroy"] == len([a for a in summary["actions"] if a["kind"] == "destroy"])


def test_original_names_are_present():
    _, v = synthetic_view()
    m = as_dict(engine_metrics(v, None, {}, "pfx"))
    for group in ("nodes", "cores"):
        for name in ("total", "starting", "deleting", "busy", "idle", "error"):
            assert f"pfx.{group}.{name}" in m
    assert "pfx.jobs.queued" in m and "pfx.resource.r1.nodes" in m and "pfx.resource.r1.cores" in m
    assert not any(k.startswith("pfx.plan.") for k in m)  # no plan yet: no plan metrics


def test_empty_view_reports_zeros_not_nothing():
    cfg = config({"r1": {}})
    m = as_dict(engine_metrics(view(cfg), None, None, "p"))
    assert m["p.nodes.total"] == 0 and m["p.jobs.pending"] == 0 and m["p.resource.r1.nodes"] == 0


def test_names_are_sanitised():
    bad = "evil.res name\nx 1 1"
    w = Worker(name="n1", state=WorkerState.IDLE, resource=bad)
    v = View(now=NOW, workers=(w,), jobs=(), in_flight={bad: 1})
    metrics = engine_metrics(v, None, {"la.unch es\n": {"r.1": 2}}, "head node..dyn\ncluster")
    for path, _, _ in metrics:
        assert PATH_RE.match(path), path
        assert path.startswith("head_node.dyn_cluster.")
    m = as_dict(metrics)
    assert m["head_node.dyn_cluster.resource.evil_res_name_x_1_1.nodes"] == 1
    assert m["head_node.dyn_cluster.resource.evil_res_name_x_1_1.in_flight"] == 1
    assert m["head_node.dyn_cluster.la_unch_es_.r_1"] == 2

    s = stats_to_metrics(
        "web01.example.com\nfake.metric 1",
        {"cpu": {"per cent": 5}, "disk": {"/": {"used": 1}, "/var/lib docker": {"used": 2}}},
        "p",
        timestamp=123,
    )
    assert as_dict(s) == {
        "p.workers.web01_example_com_fake_metric_1.cpu.per_cent": 5,
        "p.workers.web01_example_com_fake_metric_1.disk.root.used": 1,
        "p.workers.web01_example_com_fake_metric_1.disk.var_lib_docker.used": 2,
    }
    assert component("") == "_" and component("a.b") == "a_b"
    line = format_line("a b\nc", 1.5, 10)
    assert line == "a_b_c 1.5 10\n" and line.count("\n") == 1
    assert format_line("x", 3.0, 10.9) == "x 3 10\n"


def test_stats_to_metrics_shape_and_timestamp():
    data = {
        "id": "w1",
        "_stamp": "2026-01-01T00:00:00",
        "time": 1_700_000_005.7,
        "cpu": {"percent": 12.5, "count": 4},
        "load": {"1m": 0.5},
        "memory": {"used": 100, "percent": 10.0},
        "network": {"bytes_in": 10.0},
        "disk": {"/": {"percent": 22.8}, "/scratch": {"free": 7}},
        "diskio": {"read_ops": 3.0},
        "note": "text is skipped",
        "flag": True,
    }
    m = stats_to_metrics("w1", data, "hpc.dc")
    assert {ts for _, _, ts in m} == {1_700_000_005}
    assert as_dict(m) == {
        "hpc.dc.workers.w1.cpu.percent": 12.5,
        "hpc.dc.workers.w1.cpu.count": 4,
        "hpc.dc.workers.w1.load.1m": 0.5,
        "hpc.dc.workers.w1.memory.used": 100,
        "hpc.dc.workers.w1.memory.percent": 10.0,
        "hpc.dc.workers.w1.network.bytes_in": 10.0,
        "hpc.dc.workers.w1.disk.root.percent": 22.8,
        "hpc.dc.workers.w1.disk.scratch.free": 7,
        "hpc.dc.workers.w1.diskio.read_ops": 3.0,
        "hpc.dc.workers.w1.flag": 1.0,
    }
    with pytest.raises(TypeError, match="mapping"):
        stats_to_metrics("w1", ["not", "a", "dict"], "p")


def test_graphite_settings_from_config():
    cfg = config(
        plugins={
            "graphite": {
                "class_name": "dynamiccluster.graphite.GraphiteReporter",
                "arguments": {"hostname": "127.0.0.1", "port": 12003, "prefix": "a.b", "interval": 30},
            }
        }
    )
    assert graphite_settings(cfg) == GraphiteSettings("127.0.0.1", 12003, "a.b", 30)
    assert graphite_settings(config()) is None


# ------------------------------------------------------------------ client against a real TCP receiver


def test_client_sends_lines(server):
    c = CarbonClient("127.0.0.1", server.port, timeout=2)
    assert c.pending == 0 and not c.connected  # lazy: nothing until the first send
    assert c.send([("a.b", 1, 100), ("a.c", 2.5, 100)]) is True
    assert server.wait_lines(2) == ["a.b 1 100", "a.c 2.5 100"]
    assert c.send([("a.d", 3, 101)]) is True
    assert server.wait_lines(3)[-1] == "a.d 3 101"
    assert c.connects == 1 and c.sent == 3 and c.pending == 0
    c.close()


def test_client_reconnects_after_server_restart_with_backoff(server):
    clock = Clock()
    c = CarbonClient("127.0.0.1", server.port, timeout=2, backoff_initial=1, backoff_max=5, clock=clock)
    assert c.send([("m", 1, 1)])
    server.wait_lines(1)

    server.stop()  # carbon goes away: the client sees EOF, reconnect is refused
    assert c.send([("m", 2, 2)]) is False
    assert (c.failures, c.pending, c.connected) == (1, 1, False)
    assert "ConnectionRefused" in c.last_error

    # backoff: no attempt before the delay, attempts after it; delay doubles up to the cap
    expected_delays = [1, 2, 4, 5, 5]
    for i, delay in enumerate(expected_delays):
        clock.t += delay - 0.25
        assert c.send([("m", 10 + i, 10 + i)]) is False
        assert c.failures == i + 1, "attempted before the backoff delay"
        clock.t += 0.25
        assert c.send([]) is False
        assert c.failures == i + 2, "no attempt after the backoff delay"
    assert c.pending == 1 + len(expected_delays)

    server.start()  # same port
    clock.t += 5
    assert c.send([("m", 99, 99)]) is True
    got = server.wait_lines(1 + 1 + len(expected_delays) + 1)
    assert got == ["m 1 1", "m 2 2", *[f"m {10 + i} {10 + i}" for i in range(len(expected_delays))], "m 99 99"]
    assert (c.failures, c.pending, c.connects) == (0, 0, 2)
    c.close()


def test_client_notices_a_restart_between_sends(server):
    """Carbon restarted while we were idle: the stale socket is replaced, nothing is lost."""
    c = CarbonClient("127.0.0.1", server.port, timeout=2)
    assert c.send([("x", 1, 1)])
    server.wait_lines(1)
    server.stop()
    server.start()
    assert c.send([("x", 2, 2)]) is True
    assert server.wait_lines(2) == ["x 1 1", "x 2 2"]
    assert c.connects == 2 and c.failures == 0
    c.close()


def test_buffer_is_bounded_and_drops_oldest():
    port = free_port()  # nobody listens
    clock = Clock()
    c = CarbonClient("127.0.0.1", port, timeout=1, max_buffer=5, clock=clock)
    assert c.send([("old", i, i) for i in range(3)]) is False
    assert c.send([("new", i, i) for i in range(4)]) is False
    assert (c.pending, c.dropped) == (5, 2)
    for _ in range(50):
        c.send([("more", 1, 1)])
    assert c.pending == 5 and c.dropped == 52
    s = LineServer(port).start()
    try:
        clock.t += 3600
        assert c.send([("last", 7, 7)]) is True
        lines = s.wait_lines(5)
        assert lines == ["more 1 1"] * 4 + ["last 7 7"]
    finally:
        s.stop()
        c.close()


def test_client_never_raises():
    c = CarbonClient("127.0.0.1", free_port(), timeout=0.5)
    assert c.send([("bad", "not a number", 1)]) is False and c.pending == 0
    assert c.send([("ok", 1, 1)]) is False  # refused: logged, kept, no exception
    assert c.pending == 1
    with pytest.raises(ValueError):
        CarbonClient("127.0.0.1", 1, max_buffer=0)


def test_client_is_thread_safe(server):
    c = CarbonClient("127.0.0.1", server.port, timeout=2)

    def worker(n):
        for i in range(50):
            c.send([(f"t{n}", i, i)])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = server.wait_lines(200)
    assert len(lines) == 200
    for n in range(4):  # per sender, in order, none lost or doubled
        assert [ln for ln in lines if ln.startswith(f"t{n} ")] == [f"t{n} {i} {i}" for i in range(50)]
    c.close()


# ------------------------------------------------------------------ reporter


def test_reporter_sends_every_interval_and_survives_carbon_down(server):
    _, v = synthetic_view()
    clock = Clock()
    settings = GraphiteSettings("127.0.0.1", server.port, "hpc", 60)
    rep = GraphiteReporter(settings, client=CarbonClient("127.0.0.1", server.port, timeout=2, clock=clock))
    n = len(engine_metrics(v, None, {}, "hpc"))
    assert rep.maybe_send(v, None, {}, now=1000.0) is True
    first = server.wait_lines(n)
    assert "hpc.nodes.total 7 1000" in first
    assert rep.maybe_send(v, None, {}, now=1030.0) is None  # not due
    assert rep.maybe_send(v, None, {}, now=1060.0) is True
    assert "hpc.nodes.total 7 1060" in server.wait_lines(2 * n)

    server.stop()
    assert rep.maybe_send(v, None, {}, now=1120.0) is False  # no exception, lines kept
    assert rep.client.pending == n
    server.start()
    clock.t += 10
    assert rep.maybe_send(v, None, {}, now=1180.0) is True
    lines = server.wait_lines(4 * n)
    assert "hpc.nodes.total 7 1120" in lines and "hpc.nodes.total 7 1180" in lines
    assert rep.reports == 4
    rep.close()


def test_reporter_from_config_and_bad_view():
    cfg = config(
        plugins={
            "g": {
                "class_name": "dcluster.metrics.reporter.GraphiteReporter",
                "arguments": {"hostname": "127.0.0.1", "port": free_port(), "interval": 5},
            }
        }
    )
    rep = GraphiteReporter.from_config(cfg)
    assert rep is not None and rep.settings.interval == 5
    assert GraphiteReporter.from_config(config()) is None
    assert rep.maybe_send(object(), None, {}, now=1.0) is False  # a broken view is logged, not raised


# ------------------------------------------------------------------ the engine's port: engine metrics and worker samples


def graphite_config(port, **args):
    return config(
        plugins={
            "graphite": {
                "class_name": "dynamiccluster.graphite.GraphiteReporter",
                "arguments": {"hostname": "127.0.0.1", "port": port, "prefix": "hpc.dc", **args},
            }
        }
    )


BEACON = {
    "id": "w1.example",
    "_stamp": "x",
    "time": 1_700_000_000,
    "cpu": {"percent": 50.0},
    "disk": {"/": {"percent": 20.0}},
}


def test_a_worker_sample_goes_out_under_the_paths_stats_to_metrics_names_at_the_engines_time(server):
    port = GraphitePort()
    cfg = graphite_config(server.port)
    before = int(time.time())
    assert port.worker(cfg, "w1.example", BEACON) is True
    lines = sorted(server.wait_lines(2))
    after = int(time.time())
    # the event's "time" (1,700,000,000, years ago) is the worker's word: the points carry the engine's clock
    # (red team: a worker could rewrite another worker's series as far back as carbon keeps it)
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        "hpc.dc.workers.w1_example.cpu.percent 50",
        "hpc.dc.workers.w1_example.disk.root.percent 20",
    ]
    assert all(before <= int(line.rsplit(" ", 1)[1]) <= after for line in lines)
    ts = int(lines[0].rsplit(" ", 1)[1])
    expected = sorted(format_line(*m).strip() for m in stats_to_metrics("w1.example", BEACON, "hpc.dc", ts))
    assert [line.rsplit(" ", 1)[0] for line in expected] == [line.rsplit(" ", 1)[0] for line in lines]
    rep = port.reporter(cfg)
    assert rep is not None and rep.samples == 1
    port.close()


def test_a_sample_dated_within_the_window_keeps_its_own_time(server):
    port = GraphitePort()
    recent = int(time.time()) - 600
    assert port.worker(graphite_config(server.port), "w1.example", {**BEACON, "time": recent}) is True
    assert sorted(server.wait_lines(2)) == [
        f"hpc.dc.workers.w1_example.cpu.percent 50 {recent}",
        f"hpc.dc.workers.w1_example.disk.root.percent 20 {recent}",
    ]
    port.close()


def test_the_port_shares_one_reporter_and_follows_the_plugin(server):
    _, v = synthetic_view()
    port = GraphitePort()
    cfg = graphite_config(server.port, interval=60)
    rep = port.reporter(cfg)
    assert port.reporter(graphite_config(server.port, interval=60)) is rep  # equal settings: the same client
    assert port.engine(cfg, v, plan(v, cfg), {}, 1000.0) is True
    assert port.worker(cfg, "w1.example", BEACON) is True
    assert rep.reports == 1 and rep.samples == 1
    wait_for(lambda: rep.client.sent and not rep.client.pending, 5, what="the port's sender thread")
    assert rep.client.connects == 1
    assert port.engine(cfg, v, plan(v, cfg), {}, 1010.0) is None  # not due
    # the plugin moved: a new reporter to the new address, the old one closed
    moved = graphite_config(server.port, prefix="other")
    assert port.reporter(moved) is not rep and not rep.client.connected
    assert port.worker(moved, "w1.example", BEACON) is True
    wait_for(
        lambda: any(line.startswith("other.workers.w1_example.cpu.percent 50 ") for line in server.received()),
        5,
        what="the move",
    )
    # no plugin: nothing is sent, nothing raises
    assert port.worker(config(), "w1.example", BEACON) is None
    assert port.engine(config(), v, plan(v, cfg), {}, 2000.0) is None
    assert port.reporter(config()) is None
    port.close()


def test_a_carbon_that_does_not_answer_holds_up_no_caller(server):
    """The engine's port queues and returns: a connect that hangs (a carbon behind a firewall that drops
    packets waits out the whole timeout) is the sender thread's, not the event thread's or the cycle's."""
    release = threading.Event()
    entered = threading.Event()

    def hanging_connect(address, timeout):
        entered.set()
        release.wait(10)
        return socket.create_connection(address, timeout=timeout)

    port = GraphitePort()
    cfg = graphite_config(server.port)
    rep = port.reporter(cfg)
    assert rep is not None
    client = rep.client
    client._connect = hanging_connect  # the port's own client: it connects on the first send
    try:
        done = threading.Event()
        t = threading.Thread(target=lambda: (port.worker(cfg, "w1.example", BEACON), done.set()), daemon=True)
        t.start()
        assert entered.wait(5), "the sender never tried to connect"
        assert done.wait(2), "a caller waited on carbon's connect"
        assert port.worker(cfg, "w1.example", BEACON) is True  # and again, while the connect still hangs
        assert client.pending > 0 and client.sent == 0
        release.set()
        wait_for(lambda: not client.pending, 5, what="the lines after the connect")
        assert any(line.startswith("hpc.dc.workers.w1_example.cpu.percent 50 ") for line in server.received())
    finally:
        release.set()
        port.close()


def test_a_worker_sample_while_carbon_is_down_is_queued_not_raised():
    port = GraphitePort()
    cfg = graphite_config(free_port())
    assert port.worker(cfg, "w1", {"id": "w1", "cpu": {"percent": 1}}) is True  # queued: the thread sends
    rep = port.reporter(cfg)
    assert rep is not None
    wait_for(lambda: rep.client.failures, 5, what="the refused connect")
    assert rep.client.pending == 1 and rep.client.last_error
    assert port.worker(cfg, "w1", {"id": "w1", "cpu": {"percent": 2}}) is False  # the last attempt failed
    assert rep.send_stats("w1", "garbage") is False  # type: ignore[arg-type]  # logged, not raised
    port.close()
