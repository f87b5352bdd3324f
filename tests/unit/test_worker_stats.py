"""The engine's per-worker statistics: what a worker's beacon may put into the engine, and how much.

The events are the real beacon's (``_beacons/dcluster_stats.py`` loaded by
Salt's own beacon loader, reading psutil on this machine), then made hostile
the ways a worker's root can: another worker's id in the tag or the data, an id
of the wrong shape, NaN, infinities and huge numbers, keys the beacon never
sends, and floods.  The controller is the real one on in-memory ports
(tests/unit/controller/memory_ports.py); the forged events go through Salt's
own ``RemoteFuncs._minion_event``, what the master runs for a worker's load.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import pytest

salt_config = pytest.importorskip("salt.config")
salt_loader = pytest.importorskip("salt.loader")
pytest.importorskip("psutil")

sys.path.insert(0, str(Path(__file__).parent / "controller"))
from memory_ports import MemCloud, MemScheduler, ports

from dcluster import identity
from dcluster.controller import Controller, stats_intake
from dcluster.controller import commands as cmds
from dcluster.glue import worker_graphs as wg
from dcluster.metrics import format_line, stats_to_metrics
from dcluster.metrics.reporter import GraphitePort
from dcluster.worker_stats import FIELDS, GROUPS, WorkerStats, parse
from tests.conftest import ROOT
from tests.support.carbon import LineServer
from tests.unit.test_redteam_12 import forged_by

SECRET = "worker-stats-test-secret-0123"
A = identity.make("dc", "r1", SECRET, nonce="aaaaaa")
B = identity.make("dc", "r1", SECRET, nonce="bbbbbb")
PHYSICAL = "hpcn1"


def tag(mid):
    return f"salt/beacon/{mid}/dcluster_stats/"


@pytest.fixture(scope="module")
def real_event():
    """The data of a real beacon event of this machine (the second one: it has the rates), as Salt sends it."""
    opts = salt_config.minion_config(None)
    opts["beacons_dirs"] = [str(ROOT / "_beacons")]
    opts["file_client"] = "local"
    context: dict = {}
    funcs = salt_loader.beacons(opts, {}, context=context)
    beacon = funcs["dcluster_stats.beacon"]
    beacon([{"disks": ["/"]}])
    time.sleep(0.2)
    (data,) = beacon([{"disks": ["/"]}])
    assert {"cpu", "load", "memory", "swap", "disk"} <= set(data)
    return json.loads(json.dumps(data))  # what msgpack carries: plain dicts, lists, numbers, strings


def event(real_event, mid=A, **changes):
    data = copy.deepcopy(real_event)
    data.update(id=mid, _stamp="2026-12-05T04:30:00.000000")
    data.update(changes)
    return data


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def store():
    clock = Clock()
    s = WorkerStats(samples=5, max_workers=3, min_interval=30, burst=2, monotonic=clock, wall=lambda: 1.7e9 + clock.t)
    s.known([A, B])
    s.clock = clock
    return s


# ------------------------------------------------------------------ what is kept
def test_a_real_beacon_event_is_kept_as_the_five_graphs(store, real_event):
    data = event(real_event)
    assert store.offer(tag(A), data) is None
    series = store.series(A, 60, now=1.7e9 + 100)
    t = 1.7e9 + 100  # the engine's time of arrival, not the event's own
    assert series["load"]["1m"] == [[t, data["load"]["1m"]]]
    assert series["load"]["15m"] == [[t, data["load"]["15m"]]]
    assert series["memory"]["memory %"] == [[t, data["memory"]["percent"]]]
    assert series["memory"]["swap %"] == [[t, data["swap"]["percent"]]]
    assert series["disk_used"]["fullest mount %"] == [[t, data["disk"]["/"]["percent"]]]
    if "percent" in data["cpu"]:
        assert series["cpu"]["busy %"] == [[t, data["cpu"]["percent"]]]
    if "network" in data:
        assert series["network"]["in"] == [[t, data["network"]["bytes_in"]]]
    if "diskio" in data:
        assert series["disk_io"]["write"] == [[t, data["diskio"]["write_bytes"]]]
    assert store.series(B, 60, now=t) == {g: {} for g in GROUPS}
    assert store.counts()["accepted"] == 1


def test_the_fullest_mount_is_the_disk_graph(real_event):
    data = event(real_event, disk={"/": {"percent": 20.0}, "/scratch": {"percent": 91.5, "used": 10}})
    assert parse(A, data)["disk_used"] == 91.5


def test_the_worker_graphs_of_graphite_have_the_engines_groups_and_labels():
    assert {g: [label for label, _ in m] for g, m in wg.PATHS.items()} == {
        g: [label for label, _ in m] for g, m in GROUPS.items()
    }
    assert sorted(f for m in GROUPS.values() for _, f in m) == sorted(FIELDS)


# ------------------------------------------------------------------ hostile events
WRONG_TAGS = {
    "not a dcluster id": tag("evil"),
    "id plus a newline": tag(A + "\n"),
    "id with a path": tag(f"{A}/x"),
    "one megabyte": tag("d" * 1_000_000),
    "another beacon": f"salt/beacon/{A}/diskusage/",
    "not a str": ("salt/beacon/", A),
}


@pytest.mark.parametrize("bad_tag", WRONG_TAGS.values(), ids=WRONG_TAGS.keys())
def test_a_tag_without_a_dcluster_id_is_dropped(store, real_event, bad_tag):
    assert store.offer(bad_tag, event(real_event)).startswith("tag:")
    assert store.counts()["dropped"]["tag"] == 1 and store.counts()["accepted"] == 0


def test_the_id_comes_from_the_tag_and_the_data_must_agree(store, real_event):
    """A worker A sends stats under B's tag with its own id in the data, or B's with A's tag: both dropped."""
    assert store.offer(tag(B), event(real_event, mid=A)).startswith("id:")
    assert store.offer(tag(A), event(real_event, mid=B)).startswith("id:")
    data = event(real_event)
    del data["id"]
    assert store.offer(tag(A), data).startswith("id:")
    assert store.offer(tag(A), event(real_event, mid=[A])).startswith("id:")
    assert store.counts()["dropped"]["id"] == 4
    assert store.series(A, 60) == store.series(B, 60) == {g: {} for g in GROUPS}


def test_stats_of_a_minion_the_engine_does_not_know_are_dropped(store, real_event):
    other = identity.make("dc", "r1", SECRET, nonce="cccccc")  # well formed, ours even, but not in the view
    assert store.offer(tag(other), event(real_event, mid=other)).startswith("unknown:")
    store.known([A])  # B left the view: its history goes, its stats are no longer kept
    assert store.offer(tag(B), event(real_event, mid=B)).startswith("unknown:")
    assert store.counts()["dropped"]["unknown"] == 2 and store.counts()["workers"] == 0


BAD_NUMBERS = {
    "NaN": ("load", {"1m": math.nan}),
    "infinity": ("cpu", {"percent": math.inf}),
    "minus infinity": ("network", {"bytes_in": -math.inf}),
    "negative": ("memory", {"percent": -1}),
    "above 100 %": ("memory", {"percent": 100.5}),
    "huge int": ("diskio", {"read_bytes": 10**400}),
    "huge float": ("network", {"bytes_out": 1e300}),
    "bool": ("load", {"5m": True}),
    "string": ("load", {"15m": "0.5"}),
    "null": ("cpu", {"percent": None}),
    "time in the far future": ("time", 1e12),
    "time NaN": ("time", math.nan),
}


@pytest.mark.parametrize("key, value", BAD_NUMBERS.values(), ids=BAD_NUMBERS.keys())
def test_a_value_that_is_not_a_finite_number_in_bounds_drops_the_event(store, real_event, key, value):
    data = event(real_event)
    if isinstance(value, dict):
        data[key] = {**data.get(key, {}), **value}
    else:
        data[key] = value
    why = store.offer(tag(A), data)
    assert why is not None and why.startswith("number:") and key in why, why
    assert store.series(A, 60) == {g: {} for g in GROUPS}


BAD_KEYS = {
    "a top-level key": {"gpu": {"percent": 5}},
    "a nested key": {"cpu": {"percent": 5, "steal": 1}},
    "a dict that is a list": {"load": [1, 2, 3]},
    "data that is a list": None,
    "a relative mount": {"disk": {"scratch": {"percent": 5}}},
    "a mount with a newline": {"disk": {"/x\nmetric 1": {"percent": 5}}},
    "a mount's key": {"disk": {"/": {"percent": 5, "inodes": 1}}},
    "too many mounts": {"disk": {f"/m{i}": {"percent": 1} for i in range(33)}},
    "a stamp that is not a string": {"_stamp": {"x": 1}},
    "a long stamp": {"_stamp": "x" * 100},
}


@pytest.mark.parametrize("change", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_keys_the_beacon_never_sends_drop_the_event(store, real_event, change):
    data = [1, 2] if change is None else event(real_event, **change)
    why = store.offer(tag(A), data)
    assert why is not None and why.startswith("keys:"), why
    assert store.counts()["dropped"]["keys"] == 1


def test_a_flood_keeps_the_burst_then_one_sample_per_interval(store, real_event):
    data = event(real_event)
    kept = [store.offer(tag(A), data) is None for _ in range(1000)]
    assert kept.count(True) == 2 and kept[:2] == [True, True]
    assert store.counts()["dropped"]["rate"] == 998
    store.clock.t += 29
    assert store.offer(tag(A), data).startswith("rate:")
    store.clock.t += 1
    assert store.offer(tag(A), data) is None
    # another worker's budget is its own
    assert store.offer(tag(B), event(real_event, mid=B)) is None


def test_the_history_is_bounded_per_worker_and_in_workers(real_event):
    clock = Clock()
    s = WorkerStats(samples=4, max_workers=2, min_interval=1, burst=1, monotonic=clock, wall=clock)
    third = identity.make("dc", "r1", SECRET, nonce="cccccc")
    s.known([A, B, third])
    for i in range(10):
        clock.t += 1
        assert s.offer(tag(A), event(real_event, load={"1m": float(i), "5m": 0.0, "15m": 0.0})) is None
    points = s.series(A, 60, now=clock.t)["load"]["1m"]
    assert [v for _, v in points] == [6.0, 7.0, 8.0, 9.0]  # the newest four, in order
    assert [t for t, _ in points] == [107.0, 108.0, 109.0, 110.0]
    assert len(s._rings[A].values) == 4 * (1 + len(FIELDS))  # allocated once, never grown
    assert s.offer(tag(B), event(real_event, mid=B)) is None
    assert s.offer(tag(third), event(real_event, mid=third)).startswith("full:")
    assert s.capacity_bytes == 2 * 4 * (1 + len(FIELDS)) * 8
    # the range asked for is honoured
    assert [v for _, v in s.series(A, 1.5 / 60, now=clock.t)["load"]["1m"]] == [8.0, 9.0]


def test_an_absent_field_is_left_out_not_zero(store, real_event):
    data = event(real_event)
    data.pop("network", None)
    data["cpu"] = {"count": 2}  # the first event after a minion start has no rates
    assert store.offer(tag(A), data) is None
    series = store.series(A, 60)
    assert series["network"] == {} and series["cpu"] == {}
    assert series["load"]["1m"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"samples": 0},
        {"max_workers": 0},
        {"burst": 0},
        {"min_interval": 0},
        {"min_interval": math.nan},
        {"min_interval": math.inf},
    ],
)
def test_the_bounds_themselves_are_checked(kwargs):
    with pytest.raises(ValueError):
        WorkerStats(**kwargs)


# ------------------------------------------------------------------ in the engine
def started_engine(tmp_path, **settings):
    """(controller, its two launched workers' ids, the events it fired); ``settings`` go into the pillar."""
    events, keys = [], set()
    pillar = {
        "secret": SECRET,
        "cluster_name": "dc",
        "cluster": {"type": "slurm"},
        "cloud": {"r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}}},
        **settings,
    }
    cloud = MemCloud()
    cloud.clock = time.time
    sched = MemScheduler()
    c = Controller(ports(pillar, sched, cloud, events, keys), state_path=str(tmp_path / "state.json"))
    c.cycle()
    assert c.wait_idle(10)
    out = cmds.run(c, "launch", resource="r1", count=2)
    assert out["ok"], out
    assert c.wait_idle(10)
    c.cycle()
    return c, out["minion_ids"], events


@pytest.fixture
def engine(tmp_path):
    c, ids, events = started_engine(tmp_path)
    yield c, ids, events
    c.shutdown()


def test_the_engine_keeps_the_stats_of_its_workers_and_answers_the_runner(engine, real_event):
    c, (a, b), _ = engine
    assert stats_intake.intake(c, tag(a), event(real_event, mid=a)) is None
    out = cmds.run(c, "worker_stats", name=a, minutes=30)
    assert out["ok"] is True and out["source"] == "engine"
    assert out["series"]["load"]["1m"][0][1] == real_event["load"]["1m"]
    assert out["intake"]["accepted"] == 1
    for bad in (
        {"name": "evil"},
        {"name": a, "minutes": "x"},
        {"name": a, "minutes": 0},
        {"name": a, "minutes": 10**9},
        {"name": [a]},
    ):
        out = cmds.run(c, "worker_stats", **bad)
        assert out["ok"] is False and "worker_graphs:" in out["message"], (bad, out)


def test_forged_stats_reach_the_engine_only_as_counted_drops(engine, real_event):
    """Root on worker A sends, through Salt's own minion-event path, stats for B and for physical nodes."""
    c, (a, b), _ = engine
    forged = [
        *forged_by(a, tag(b), event(real_event, mid=a)),  # B's tag, A's id in the data
        *forged_by(a, tag(PHYSICAL), event(real_event, mid=PHYSICAL)),
        *forged_by(a, tag(a), event(real_event, mid=a, gpu={"percent": 1})),
        *forged_by(a, tag(a), event(real_event, mid=a, load={"1m": math.inf})),
    ]
    assert len(forged) == 4
    whys = [stats_intake.intake(c, t, d) for t, d in forged]
    assert [w.split(":")[0] for w in whys] == ["id", "tag", "keys", "number"]
    assert c.worker_stats.counts()["accepted"] == 0


def test_stats_change_no_decision_and_write_no_state(engine, real_event):
    """A flood of stats, good and hostile, between two cycles: the same plan, no state file write, no event."""
    c, (a, b), events = engine
    c.cycle()
    before_plan = c.plan.to_dict()
    path = Path(c.state_path)
    stamp = path.stat().st_mtime_ns
    fired = len(events)
    time.sleep(0.01)
    huge = event(
        real_event,
        mid=b,
        memory={"percent": 100.0, "used": 2**59, "total": 2**60, "available": 0},
        load={"1m": 9999.0, "5m": 9999.0, "15m": 9999.0},
        cpu={"percent": 100.0, "count": 1},
    )
    for _ in range(500):
        stats_intake.intake(c, tag(a), event(real_event, mid=a))
        stats_intake.intake(c, tag(b), huge)
        stats_intake.intake(c, tag(b), event(real_event, mid=a))
    assert path.stat().st_mtime_ns == stamp
    assert len(events) == fired
    c.cycle()
    assert c.plan.to_dict() == before_plan
    counts = c.worker_stats.counts()
    assert counts["accepted"] == 4 and counts["dropped"]["rate"] == 996 and counts["dropped"]["id"] == 500


def test_the_engine_loop_hands_stats_events_to_the_store_and_nothing_else(engine, real_event):
    """The engine's own event loop (glue/engine_loop.py), as the master's bus feeds it."""
    from dcluster.glue.engine_loop import EngineLoop

    c, (a, b), events = engine
    fired = []
    loop = EngineLoop(c, None, lambda tag, data: fired.append(tag))
    loop.handle({"tag": tag(a), "data": event(real_event, mid=a)})
    loop.handle({"tag": tag(b), "data": event(real_event, mid=a)})  # forged: B's tag, A's id
    loop.handle({"tag": tag(a), "data": "not a dict"})
    loop.handle({"tag": f"salt/beacon/{a}/diskusage/", "data": event(real_event, mid=a)})  # not ours: ignored
    counts = c.worker_stats.counts()
    assert counts["accepted"] == 1 and counts["dropped"]["id"] == 1 and counts["dropped"]["keys"] == 1
    assert sum(counts["dropped"].values()) == 2
    assert fired == [] and "stats_dropped" not in c.state.counters


# ------------------------------------------------------------------ to Graphite, from the engine only
@pytest.fixture
def carbon():
    server = LineServer().start()
    yield server
    server.stop()


def test_a_flood_reaches_carbon_as_the_rate_limit_allows_and_fires_nothing(tmp_path, carbon, real_event):
    """N forged and duplicate beacon events through the engine's own loop: only the samples the intake
    keeps (a burst of 2, then one per stats_interval) are written to carbon, under the paths
    ``stats_to_metrics`` names; the forged ones, of B, of a physical node, of a stranger, none at all.
    The engine fires no event for any of them, so nothing on the master reacts to them."""
    from dcluster.glue.engine_loop import EngineLoop

    plugin = {"class_name": "dynamiccluster.graphite.GraphiteReporter"}
    plugin["arguments"] = {"hostname": "127.0.0.1", "port": carbon.port, "prefix": "hpc.dc"}
    c, (a, b), events = started_engine(tmp_path, plugins={"graphite": plugin})
    graphite = GraphitePort()
    c.ports.worker_metrics = graphite.worker
    clock = Clock()
    c.worker_stats = WorkerStats(min_interval=30, burst=2, monotonic=clock)
    fired: list = []
    loop = EngineLoop(c, None, lambda tag, data: fired.append(tag))
    stranger = identity.make("dc", "r1", SECRET, nonce="cccccc")  # ours in form, never launched
    good = event(real_event, mid=a)
    flood = [
        *([{"tag": tag(a), "data": good}] * 250),  # duplicates of A's own sample
        *({"tag": tag(b), "data": event(real_event, mid=a)} for _ in range(100)),  # A's id under B's tag
        *({"tag": tag(PHYSICAL), "data": event(real_event, mid=PHYSICAL)} for _ in range(50)),
        *({"tag": tag(stranger), "data": event(real_event, mid=stranger)} for _ in range(50)),
        *({"tag": tag(a), "data": event(real_event, mid=a, load={"1m": math.nan})} for _ in range(50)),
    ]
    try:
        for e in flood:
            loop.handle(e)
        per_sample = stats_to_metrics(a, good, "hpc.dc")
        carbon.wait_lines(2 * len(per_sample))
        time.sleep(0.3)  # anything beyond the two samples would have arrived by now
        # paths and values as stats_to_metrics names them; the time is the event's only when recent (test_metrics.py)
        assert sorted(line.rsplit(" ", 1)[0] for line in carbon.received()) == sorted(
            format_line(*m).strip().rsplit(" ", 1)[0] for m in per_sample * 2
        )
        counts = c.worker_stats.counts()
        assert counts["accepted"] == 2 and sum(counts["dropped"].values()) == len(flood) - 2

        clock.t += 30  # one stats_interval later: one more sample, whatever the flood
        for e in flood:
            loop.handle(e)
        carbon.wait_lines(3 * len(per_sample))
        time.sleep(0.3)
        lines = carbon.received()
        assert len(lines) == 3 * len(per_sample)
        assert all(line.startswith(f"hpc.dc.workers.{a}.") for line in lines)
        assert c.worker_stats.counts()["accepted"] == 3
        assert fired == [] and not [t for t, _ in events if "stats" in t]
    finally:
        graphite.close()
        c.shutdown()


def test_without_a_graphite_plugin_the_samples_stay_in_the_engine(engine, real_event):
    c, (a, _), _ = engine
    sent: list = []
    c.ports.worker_metrics = GraphitePort().worker  # no plugin in this pillar: nothing to send to
    assert stats_intake.intake(c, tag(a), event(real_event, mid=a)) is None
    c.ports.worker_metrics = lambda cfg, mid, data: sent.append(mid) or 1 / 0  # a failing port
    assert stats_intake.intake(c, tag(a), event(real_event, mid=a)) is None  # kept all the same, not raised
    assert sent == [a] and c.worker_stats.counts()["accepted"] == 2


# ------------------------------------------------------------------ the runner's choice of source
def published(render_url=None):
    args = {"prefix": "hpc.dc"}
    if render_url:
        args["render_url"] = render_url
    return {
        "last": {
            "config": {
                "plugins": {"graphite": {"class_name": "dynamiccluster.graphite.GraphiteReporter", "arguments": args}}
            }
        }
    }


def test_the_runner_refuses_a_bad_name_before_any_request():
    calls = []
    for bad in ("evil", "http://x/", A + "&target=*", None, 7):
        out = wg.worker_graphs(
            published("http://127.0.0.1:1"),
            bad,
            60,
            engine=lambda *a: calls.append(a),
            fetch=lambda *a: calls.append(a),
        )
        assert out["ok"] is False and "dcluster minion id" in out["message"]
    assert calls == []


def test_the_runner_falls_back_to_the_engine_when_graphite_fails():
    def fetch(url, timeout):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    out = wg.worker_graphs(
        published("http://127.0.0.1:1"),
        A,
        60,
        engine=lambda n, m: {"ok": True, "source": "engine", "series": {}},
        fetch=fetch,
    )
    assert out["source"] == "engine" and "Connection refused" in out["graphite_error"]
    out = wg.worker_graphs(
        published(), A, 60, engine=lambda n, m: {"ok": True, "source": "engine", "n": n, "m": m}, fetch=fetch
    )
    assert out == {"ok": True, "source": "engine", "n": A, "m": 60.0}


def test_the_render_url_asks_only_for_that_workers_paths():
    url = wg.render_url("http://graphite:8080/", "hpc.dc", A, 120)
    assert url.startswith("http://graphite:8080/render?target=hpc.dc.workers." + A + ".load.1m&")
    assert "from=-120min" in url and "format=json" in url
    assert set(wg.targets("hpc.dc", A)) == {
        *(
            f"hpc.dc.workers.{A}.{p}"
            for p in (
                "load.1m",
                "load.5m",
                "load.15m",
                "cpu.percent",
                "memory.percent",
                "swap.percent",
                "network.bytes_in",
                "network.bytes_out",
                "diskio.read_bytes",
                "diskio.write_bytes",
            )
        ),
        f"maxSeries(hpc.dc.workers.{A}.disk.*.percent)",
    }
