"""A worker's graphs from a real Graphite: carbon-cache stores the beacon's stats, graphite-web renders them.

The beacon runs for real (``_beacons/dcluster_stats.py`` through Salt's beacon
loader, psutil on this machine); its events go the way the engine takes them off
the master's bus (``controller/stats_intake.py``: checked, rate-limited, then
through the engine's Graphite port) to a real
carbon-cache (Debian graphite-carbon); ``salt-run dcluster.worker_graphs``'s
code then reads them back through a real graphite-web's render API (Debian
graphite-web, tests/support/graphite_web.py).  Only the events' ``time`` is
moved, onto three consecutive 10 s slots, so three samples taken a second apart
make three points.
"""

from __future__ import annotations

import time

import pytest

from dcluster import identity
from dcluster.controller import stats_intake
from dcluster.glue import worker_graphs as wg
from dcluster.metrics.reporter import GraphitePort
from dcluster.worker_stats import WorkerStats
from tests.conftest import ROOT
from tests.support import wait_for
from tests.support.carbon import CarbonCache, free_port
from tests.support.carbon import skip_reason as carbon_skip
from tests.support.graphite_web import GraphiteWeb
from tests.support.graphite_web import skip_reason as web_skip
from tests.unit.test_worker_stats import Clock, started_engine, tag

salt_config = pytest.importorskip("salt.config")
salt_loader = pytest.importorskip("salt.loader")
pytest.importorskip("psutil")

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

_why = carbon_skip() or web_skip()
if _why:
    pytest.skip(_why, allow_module_level=True)

PREFIX = "gwtest.dc"
OTHER = identity.make("gw", "r1", "graphite-web-test-secret-0123", nonce="abcdef")


@pytest.fixture(scope="module")
def graphite(tmp_path_factory, request):
    carbon = CarbonCache(str(tmp_path_factory.mktemp("carbon")))
    request.addfinalizer(carbon.stop)  # registered first: each runs even when a start fails half-way
    carbon.start()
    web = GraphiteWeb(str(tmp_path_factory.mktemp("graphite-web")), carbon)
    request.addfinalizer(web.stop)
    web.start()
    return carbon, web


def beacon_events(n: int, worker: str) -> list[dict]:
    opts = salt_config.minion_config(None)
    opts["beacons_dirs"] = [str(ROOT / "_beacons")]
    opts["file_client"] = "local"
    beacon = salt_loader.beacons(opts, {}, context={})["dcluster_stats.beacon"]
    beacon([{"disks": ["/"]}])
    out = []
    for _ in range(n):
        time.sleep(1)
        (data,) = beacon([{"disks": ["/"]}])
        data["id"] = worker  # what Salt adds
        out.append(data)
    return out


def plugins(carbon, render_url):
    return {
        "graphite": {
            "class_name": "dynamiccluster.graphite.GraphiteReporter",
            "arguments": {
                "hostname": "127.0.0.1",
                "port": carbon.line_port,
                "prefix": PREFIX,
                "render_url": render_url,
            },
        }
    }


def published(render_url):
    """What the runner reads of the engine's summary: the (redacted) config's graphite plugin."""
    return {
        "last": {
            "config": {
                "plugins": {
                    "graphite": {
                        "class_name": "dynamiccluster.graphite.GraphiteReporter",
                        "arguments": {"prefix": PREFIX, "render_url": render_url},
                    }
                }
            }
        }
    }


def no_engine(name, minutes):
    raise AssertionError("the engine was asked although Graphite answered")


def test_a_workers_beacon_stats_come_back_through_graphite_webs_render_api(graphite, tmp_path):
    carbon, web = graphite
    now = int(time.time())
    slot = now - now % 10 - 60
    c, (worker, _), _ = started_engine(tmp_path, plugins=plugins(carbon, web.url))
    port = GraphitePort()
    c.ports.worker_metrics = port.worker
    clock = Clock()
    c.worker_stats = WorkerStats(monotonic=clock)
    events = beacon_events(3, worker)
    try:
        for i, data in enumerate(events):
            data["time"] = slot + 10 * i
            clock.t += 30  # the beacon's default interval: each sample within the engine's rate
            assert stats_intake.intake(c, tag(worker), data) is None
    finally:
        port.close()
        c.shutdown()
    base = f"{PREFIX}.workers.{worker}"
    carbon.wait_value(f"{base}.load.1m", slot + 20, slot - 60)  # on disk: graphite-web finds the series

    def rendered():
        out = wg.worker_graphs(published(web.url), worker, 10, engine=no_engine)
        return out if len(out["series"]["load"].get("1m", ())) == 3 else None

    out = wait_for(rendered, 30, 0.5, what="three points of load.1m from graphite-web")
    assert out["ok"] is True and out["source"] == "graphite" and "graphite_error" not in out
    s = out["series"]
    assert s["load"]["1m"] == [[float(slot + 10 * i), e["load"]["1m"]] for i, e in enumerate(events)]
    assert s["load"]["15m"][-1] == [float(slot + 20), events[-1]["load"]["15m"]]
    assert s["memory"]["memory %"][-1][1] == events[-1]["memory"]["percent"]
    assert s["memory"]["swap %"][-1][1] == events[-1]["swap"]["percent"]
    assert s["cpu"]["busy %"][-1][1] == events[-1]["cpu"]["percent"]
    assert s["network"]["in"][-1][1] == events[-1]["network"]["bytes_in"]
    assert s["disk_io"]["read"][-1][1] == events[-1]["diskio"]["read_bytes"]
    # graphite-web computed maxSeries over the mounts' percent: with one mount, that mount's value
    assert s["disk_used"]["fullest mount %"][-1][1] == events[-1]["disk"]["/"]["percent"]


def test_a_graphite_that_does_not_answer_falls_back_to_the_engine(graphite):
    carbon, web = graphite
    closed = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there

    def engine(name, minutes):
        return {"ok": True, "source": "engine", "name": name, "series": {}}

    out = wg.worker_graphs(published(closed), OTHER, 10, engine=engine)
    assert out["source"] == "engine" and out["graphite_error"]
    # a name that is not one of our ids never reaches graphite-web
    out = wg.worker_graphs(published(web.url), "*", 10, engine=no_engine)
    assert out["ok"] is False and "dcluster minion id" in out["message"]
