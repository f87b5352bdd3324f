"""A worker's graphs in the dashboard, in headless Chromium, from its real stats beacon: Graphite, then the engine.

A pytest-salt-factories master runs the dcluster engine (``stats_interval`` 1 s)
and salt-api (``rest_cherrypy`` on a free 127.0.0.1 port, file eauth, a random
password).  The cloud is the real ``local`` cloud (bridge ``dcwgbr0``,
127.200.0.224/28): the engine launches its min of one worker, a network
namespace whose user-data starts a real salt-minion with the key the engine
made and accepted for it, and with the ``dcluster_stats`` beacon every 2 s.
The scheduler is Torque's fakes answering an empty cluster (Torque is not
packaged here), so the worker stays ``starting``: a worker the engine knows.
The beacon's events reach the engine over the master's event bus, and the engine
writes each sample it accepts to a real carbon-cache, read by a real graphite-web
(the graphite plugin's ``render_url``).  The master still maps those events to the
retired ``reactor/stats.sls``, as a master upgraded in place may: it starts nothing.
The page asks ``dcluster.worker_graphs`` and draws the worker's five graphs from
Graphite's render API; once graphite-web is stopped, from the engine's own
history, saying why.  A forged event put on the bus is dropped and counted, and a
flood of forged and duplicate events starts no runner job and reaches carbon as at
most the engine's rate limit lets through.
Screenshots: docs/screenshots/dashboard-worker-graphs.png (Graphite) and
dashboard-worker-graphs-engine.png (the engine's history).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import time

import pytest
import salt.utils.event

from dcluster import identity, netns
from dcluster.clouds.local import LocalDriver
from dcluster.config import load
from dcluster.glue import dashboard
from tests.conftest import ROOT
from tests.integration.test_dashboard import CHROMIUM, browser, free_port  # noqa: F401 - browser: a fixture
from tests.support import wait_for
from tests.support.carbon import CarbonCache
from tests.support.carbon import skip_reason as carbon_skip
from tests.support.graphite_web import GraphiteWeb
from tests.support.graphite_web import skip_reason as web_skip
from tests.support.master import empty_torque, engine_master, torque_pillar, write_pillar

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

BRIDGE, GATEWAY, NETWORK = "dcwgbr0", "127.200.0.225", "127.200.0.224/28"
SECRET = "wg-stats-secret-5f3a9c0d"
CLUSTER = "wg"
SHOT = ROOT / "docs" / "screenshots" / "dashboard-worker-graphs.png"
SHOT_ENGINE = ROOT / "docs" / "screenshots" / "dashboard-worker-graphs-engine.png"
PREFIX = "wgtest.dc"
SALT_MINION = os.path.join(os.path.dirname(sys.executable), "salt-minion")
READ = [
    "dcluster.status",
    "dcluster.workers",
    "dcluster.jobs",
    "dcluster.resources",
    "dcluster.history",
    "dcluster.graphs",
    "dcluster.worker_graphs",
    "dcluster.config",
    "dcluster.server_status",
]

USERDATA = """#!/bin/sh
# test user-data: a salt-minion for the test master on its random ports, running the stats beacon
set -eu
ROOT={{ instance_dir }}
mkdir -p "$ROOT/etc/salt"
cat > "$ROOT/etc/salt/minion" <<CONF
id: {{ minion_id }}
master: {{ master }}
master_port: %(ret_port)s
publish_port: %(publish_port)s
pki_dir: $ROOT/etc/salt/pki/minion
cachedir: $ROOT/var/cache/salt/minion
pidfile: $ROOT/var/run/salt-minion.pid
log_file: $ROOT/var/log/salt/minion
sock_dir: /run/dcluster/{{ minion_id[-12:] }}
acceptance_wait_time: 1
random_reauth_delay: 0
auth_tries: 60
user: root
beacons_dirs:
  - %(beacons)s
beacons:
  dcluster_stats:
    - interval: 2
    - disks:
      - /
CONF
mkdir -p "$ROOT/etc/salt/pki/minion"
umask 077
cat > "$ROOT/etc/salt/pki/minion/minion.pem" <<'KEY_EOF'
{{ minion_pem }}KEY_EOF
cat > "$ROOT/etc/salt/pki/minion/minion.pub" <<'KEY_EOF'
{{ minion_pub }}KEY_EOF
exec %(salt_minion)s -c "$ROOT/etc/salt" -l warning
"""


@pytest.fixture(scope="module")
def stack(salt_factories, tmp_path_factory):
    if netns.available():
        pytest.skip(f"namespace hosts unavailable: {netns.available()}")
    if carbon_skip() or web_skip():
        pytest.skip(carbon_skip() or web_skip())
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; see scripts/install-system-deps.sh)")
    tmp = tmp_path_factory.mktemp("worker-graphs")
    users = {"dcro": secrets.token_urlsafe(18)}
    (tmp / "users").write_text("".join(f"{u}:{hashlib.sha256(p.encode()).hexdigest()}\n" for u, p in users.items()))
    os.chmod(tmp / "users", 0o600)
    fake = empty_torque(tmp / "fakebin")
    pillar = None
    carbon = CarbonCache(str(tmp / "carbon"))
    web = GraphiteWeb(str(tmp / "graphite-web"), carbon)
    try:
        carbon.start()
        web.start()
        netns.ensure_bridge(BRIDGE, GATEWAY, 28)
        port = free_port()
        paths = dashboard.paths()
        master = engine_master(
            salt_factories,
            "dcwg-master",
            tmp,
            address=GATEWAY,
            engines=[{"dcluster": {"master_address": GATEWAY, "interval": 1, "stats_interval": 1}}],
            netapi_enable_clients=["runner"],
            reactor=[{"salt/beacon/*/dcluster_stats/": [str(ROOT / "reactor" / "stats.sls")]}],
            external_auth={
                "file": {
                    "^filename": str(tmp / "users"),
                    "^filetype": "text",
                    "^hashtype": "sha256",
                    "dcro": [{"@runner": READ}],
                }
            },
            rest_cherrypy={
                "host": "127.0.0.1",
                "port": port,
                "disable_ssl": True,
                "app": paths["app"],
                "app_path": paths["app_path"],
                "static": paths["static"],
                "static_path": paths["static_path"],
            },
        )
        ports = {
            "ret_port": master.config["ret_port"],
            "publish_port": master.config["publish_port"],
            "salt_minion": SALT_MINION,
            "beacons": str(ROOT / "_beacons"),
        }
        (tmp / "userdata.sh.j2").write_text(USERDATA % ports)
        pillar = torque_pillar(
            tmp,
            fake,
            SECRET,
            CLUSTER,
            net=(BRIDGE, NETWORK, GATEWAY),
            quantity=(1, 1),
            r1_config={"userdata_file": str(tmp / "userdata.sh.j2")},
            max_launch_time=3600,
            max_idle_time=3600,
        )
        pillar["plugins"] = {
            "graphite": {
                "class_name": "dynamiccluster.graphite.GraphiteReporter",
                "arguments": {
                    "hostname": "127.0.0.1",
                    "port": carbon.line_port,
                    "prefix": PREFIX,
                    "render_url": web.url,
                },
            }
        }
        write_pillar(tmp, "dcwg-master", pillar)
        with master.started(start_timeout=120), master.salt_api_daemon().started(start_timeout=120):
            yield {
                "master": master,
                "url": f"http://127.0.0.1:{port}",
                "users": users,
                "config": load(pillar),
                "web": web,
                "carbon": carbon,
            }
    finally:
        web.stop()
        carbon.stop()
        if pillar is not None:
            drv = LocalDriver(load(pillar).resources["r1"], CLUSTER, SECRET)
            ids = [i.id for i in drv.instances()]
            if ids:
                drv.destroy(ids)
        for name in netns.list_hosts(f"{CLUSTER}-r1-"):
            netns.delete_host(name)
        netns.delete_bridge(BRIDGE)


def worker_graphs(stack, mid, minutes=5):
    ret = stack["master"].salt_run_cli(timeout=90).run("dcluster.worker_graphs", f"name={mid}", f"minutes={minutes}")
    assert ret.returncode == 0, ret
    return ret.data


def test_a_workers_beacon_graphs_in_the_dashboard(stack, browser):  # noqa: F811 - the imported fixture
    from playwright.sync_api import expect

    drv = LocalDriver(stack["config"].resources["r1"], CLUSTER, SECRET)
    insts = wait_for(
        lambda: [i for i in drv.instances() if i.state.value != "gone"], 60, what="the engine to launch its min worker"
    )
    mid = insts[0].minion_id
    assert identity.parse(mid, SECRET, CLUSTER) is not None
    # this master still maps the retired stats reactor, as an upgraded one may: the engine said so at its start
    with open(stack["master"].config["log_file"]) as fh:
        assert "still maps salt/beacon/*/dcluster_stats/ -> " in fh.read()

    def enough():
        out = worker_graphs(stack, mid)
        return out if out.get("ok") and len(out["series"]["network"].get("in", ())) >= 3 else None

    try:
        out = wait_for(enough, 180, 1.0, what="three 10 s points with rates of the worker's beacon in Graphite")
    except TimeoutError:
        log = drv.instance_root(mid) + "/var/log/salt/minion"
        if os.path.exists(log):
            with open(log) as fh:
                print("".join(fh.readlines()[-40:]))
        raise
    assert out["source"] == "graphite" and "graphite_error" not in out
    assert {g for g, s in out["series"].items() if s} == {"load", "cpu", "memory", "network", "disk_io", "disk_used"}
    assert 0 <= out["series"]["memory"]["memory %"][-1][1] <= 100

    page = browser.new_page()
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(stack["url"] + "/dashboard")
    page.fill("#username", "dcro")
    page.fill("#password", stack["users"]["dcro"])
    page.select_option("#eauth", "file")
    page.click("#login button[type=submit]")
    row = page.locator(f"#workers tbody tr[data-name='{mid}']")
    row.wait_for(timeout=20000)
    # launched during this test: its age is minutes (the row once compared the engine's monotonic clock with
    # the browser's wall clock and showed decades)
    assert re.fullmatch(r"[0-9]+m[0-5][0-9]s", row.locator("td:nth-child(5)").inner_text()), row.inner_text()
    row.locator("td.name").click()
    panel = page.locator("#worker-graphs")
    expect(panel).to_be_visible(timeout=20000)
    expect(page.locator("#worker-graphs-name")).to_have_text(mid)
    for key in ("load", "cpu", "memory", "network", "disk_io"):
        graph = panel.locator(f".graph[data-graph={key}]")
        expect(graph.locator(".legend")).not_to_contain_text("no data yet", timeout=20000)
    expect(panel.locator(".graph[data-graph=load] .legend")).to_contain_text("15m")
    expect(panel.locator(".graph[data-graph=disk_io] .legend")).to_contain_text("fullest mount")
    assert "Graphite render API" in page.locator("#worker-graphs-source").inner_text()
    assert "selected" in (row.get_attribute("class") or "")
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT), full_page=True)

    # graphite-web goes away: the next refresh draws the engine's own history and says why
    stack["web"].stop()
    expect(page.locator("#worker-graphs-source")).to_contain_text("Graphite failed", timeout=30000)
    assert "engine's recent history" in page.locator("#worker-graphs-source").inner_text()
    for key in ("load", "cpu", "memory", "network", "disk_io"):
        expect(panel.locator(f".graph[data-graph={key}] .legend")).not_to_contain_text("no data yet")
    page.screenshot(path=str(SHOT_ENGINE), full_page=True)
    page.locator("#worker-graphs-close").click()
    expect(panel).to_be_hidden()
    assert console_errors == [], console_errors
    page.close()

    out = worker_graphs(stack, mid)
    assert out["source"] == "engine" and out["graphite_error"]
    assert len(out["series"]["network"]["in"]) >= 3
    # the beacon is configured at 2 s and the engine allows 1 s: nothing of the worker's own was dropped
    assert out["intake"]["dropped"]["id"] == out["intake"]["dropped"]["keys"] == 0

    # another minion's event claiming to be this worker, on the same bus: dropped and counted, not drawn
    before = out["intake"]["dropped"]["id"]
    with salt.utils.event.get_master_event(
        stack["master"].config, stack["master"].config["sock_dir"], listen=False
    ) as bus:
        bus.fire_event(
            {"id": "dc-other-000000-000000000000", "load": {"1m": 1e6, "5m": 0, "15m": 0}},
            f"salt/beacon/{mid}/dcluster_stats/",
        )
    after = wait_for(
        lambda: (o := worker_graphs(stack, mid))["intake"]["dropped"]["id"] > before and o,
        30,
        1.0,
        what="the forged event to be counted",
    )
    assert max(v for _, v in after["series"]["load"]["1m"]) < 1e6

    # a flood on the bus: the worker's own sample over and over, each with a time of its own (a point of
    # its own in whisper, in slots the real beacon never uses), and forged ones under its tag
    flood, t0 = 300, int(time.time())
    base = t0 - t0 % 10 - 10 * flood - 600
    path = f"{PREFIX}.workers.{mid}.load.1m"
    before = after["intake"]
    opts = stack["master"].config
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as watch:
        started = time.monotonic()
        with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False) as bus:
            for i in range(flood):
                own = {"id": mid, "time": base + 10 * i, "load": {"1m": 0.5, "5m": 0.5, "15m": 0.5}}
                bus.fire_event(own, f"salt/beacon/{mid}/dcluster_stats/")
                bus.fire_event({**own, "id": "dc-other-000000-000000000000"}, f"salt/beacon/{mid}/dcluster_stats/")
        seen, quiet_until = [], time.monotonic() + 5
        while time.monotonic() < quiet_until:
            ev = watch.get_event(wait=0.5, full=True)
            if ev:
                seen.append(ev["tag"])
    assert [t for t in seen if t.startswith("salt/run/")] == [], "a stats event started a runner job"
    assert sum(t.endswith("/dcluster_stats/") for t in seen) >= 2 * flood * 0.9  # the flood was on the bus
    counts = wait_for(
        lambda: (o := worker_graphs(stack, mid))["intake"]["dropped"]["id"] >= before["dropped"]["id"] + flood and o,
        60,
        1.0,
        what="the engine to have taken the flood",
    )["intake"]
    elapsed = time.monotonic() - started  # the engine took the flood within this time
    time.sleep(3)  # carbon writes what it took
    points = [t for t, _ in stack["carbon"].fetch(path, base - 60, base + 10 * flood)]
    # stats_interval is 1 s: a burst of 2, then one a second (the real beacon spends some of it too)
    assert 1 <= len(points) <= min(2 + elapsed, counts["accepted"] - before["accepted"]), (len(points), elapsed)
    assert len(points) < flood // 4, "most of the flood reached carbon"
