"""The dashboard's server side (graph series, Graphite render API), its assets and the shipped salt-api config.

Graphite's render API is an HTTP fake on 127.0.0.1 here (graphite-web is a
Django site this suite does not install); it answers in graphite-web's
documented ``format=json`` shape, ``[{"target": ..., "datapoints": [[value,
timestamp], ...]}]``.  The daemon test (tests/integration/test_dashboard.py)
covers the engine-history path end to end.
"""

from __future__ import annotations

import ast
import http.server
import json
import re
import threading
import urllib.parse

import pytest
import yaml

from dcluster import config as dconfig
from dcluster.glue import dashboard
from tests.conftest import ROOT

ASSETS = ROOT / "dcluster" / "data" / "dashboard"
API_CONF = ROOT / "conf" / "master.d" / "dcluster-api.conf.example"
READ = {
    "status",
    "workers",
    "jobs",
    "plan",
    "resources",
    "history",
    "graphs",
    "worker_graphs",
    "config",
    "server_status",
}
ACT = {"launch", "hold", "release", "vacate", "remove", "freeze", "drain", "restore", "auto"}


def sample(t, idle=0, busy=0, physical=1, pending=0, loc=0):
    return {
        "time": t,
        "nodes": {"idle": idle, "busy": busy, "physical": physical, "error": 0},
        "cores": {"idle": 2 * idle, "busy": 2 * busy, "physical": 4 * physical, "error": 0},
        "pending_jobs": pending,
        "pending_cores": 3 * pending,
        "by_resource": {"loc": loc},
        "cores_by_resource": {"loc": 2 * loc},
    }


def test_history_series_window_and_groups():
    now = 10_000.0
    out = dashboard.from_history(
        [sample(now - 3600, idle=5), sample(now - 60, idle=1, loc=1), sample(now - 30, busy=1, pending=2, loc=1)],
        minutes=5,
        now=now,
    )
    s = out["series"]
    assert out["source"] == "engine"
    assert s["nodes_by_state"] == {
        "idle": [[now - 60, 1], [now - 30, 0]],
        "busy": [[now - 60, 0], [now - 30, 1]],
        "physical": [[now - 60, 1], [now - 30, 1]],
    }  # error: always 0, left out
    assert s["cores_by_resource"] == {"loc": [[now - 60, 2], [now - 30, 2]]}
    assert s["pending"]["jobs"] == [[now - 60, 0], [now - 30, 2]]
    assert s["pending"]["cores"][-1] == [now - 30, 6]


class FakeGraphite(http.server.BaseHTTPRequestHandler):
    answer: object = None
    status = 200
    seen: list = []

    def do_GET(self):  # http.server's name
        FakeGraphite.seen.append(self.path)
        body = json.dumps(FakeGraphite.answer).encode()
        self.send_response(FakeGraphite.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def graphite():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGraphite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeGraphite.seen, FakeGraphite.status = [], 200
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def published(render_url, prefix="site.dc"):
    plugin = {
        "class_name": "dynamiccluster.graphite.GraphiteReporter",
        "arguments": {
            "hostname": "127.0.0.1",
            "port": 2003,
            "prefix": prefix,
            "interval": 60,
            "render_url": render_url,
        },
    }
    return {"last": {"config": {"plugins": {"graphite": plugin}}}, "history": [sample(1.0e12, idle=1)]}


def test_graphite_render_api_is_asked_for_our_targets_and_parsed(graphite):
    FakeGraphite.answer = [
        {"target": "site.dc.nodes.idle", "datapoints": [[1, 100], [None, 110], [2, 120]]},
        {"target": "site.dc.nodes.error", "datapoints": [[0, 100], [0, 120]]},
        {"target": "site.dc.nodes.total", "datapoints": [[3, 120]]},
        {"target": "site.dc.resource.loc.nodes", "datapoints": [[2, 120]]},
        {"target": "site.dc.resource._physical.cores", "datapoints": [[8, 120]]},
        {"target": "site.dc.jobs.pending", "datapoints": [[4, 120]]},
        {"target": "site.dc.jobs.pending_cores", "datapoints": [[12, 120]]},
    ]
    out = dashboard.graphs(published(graphite + "/"), minutes=30)
    assert out["source"] == "graphite" and "graphite_error" not in out
    s = out["series"]
    assert s["nodes_by_state"] == {"idle": [[100.0, 1], [120.0, 2]]}  # nulls dropped, all-zero and total left out
    assert s["nodes_by_resource"] == {"loc": [[120.0, 2]]}
    assert s["cores_by_resource"] == {"_physical": [[120.0, 8]]}
    assert s["pending"] == {"jobs": [[120.0, 4]], "cores": [[120.0, 12]]}
    (path,) = FakeGraphite.seen
    url = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qs(url.query)
    assert url.path == "/render" and q["format"] == ["json"] and q["from"] == ["-30min"]
    assert set(q["target"]) == {
        "site.dc.nodes.*",
        "site.dc.cores.*",
        "site.dc.resource.*.nodes",
        "site.dc.resource.*.cores",
        "site.dc.jobs.pending",
        "site.dc.jobs.pending_cores",
    }


def test_graphite_failure_falls_back_to_history_and_says_why(graphite):
    FakeGraphite.status, FakeGraphite.answer = 500, {"error": "boom"}
    out = dashboard.graphs(published(graphite), minutes=30)
    assert out["source"] == "engine" and "HTTP Error 500" in out["graphite_error"]
    FakeGraphite.status, FakeGraphite.answer = 200, {"not": "a list"}
    out = dashboard.graphs(published(graphite), minutes=30)
    assert out["source"] == "engine" and "not a list" in out["graphite_error"]
    # no render_url: the engine's history, Graphite not asked
    FakeGraphite.seen = []
    assert dashboard.graphs(published(""), minutes=30)["source"] == "engine" and FakeGraphite.seen == []


@pytest.mark.parametrize(
    "url, problem",
    [
        ("ftp://graphite.example/", "http:// or https://"),
        ("http://admin:pw@graphite.example/", "must not carry credentials"),
        ("graphite.example", "http:// or https://"),
    ],
)
def test_render_url_is_checked(url, problem):
    data = {
        "secret": "0123456789abcdef",
        "cluster": {"type": "slurm"},
        "plugins": {
            "graphite": {"class_name": "dynamiccluster.graphite.GraphiteReporter", "arguments": {"render_url": url}}
        },
    }
    errs = dconfig.errors(data)
    assert any("plugins:graphite:arguments:render_url" in e and problem in e for e in errs), errs
    ok = dict(data, plugins={"graphite": {"class_name": "x.graphite", "arguments": {"render_url": "https://g:8080"}}})
    assert dconfig.errors(ok) == []


def test_assets_ship_with_the_package_and_load_nothing_from_elsewhere():
    paths = dashboard.paths()
    assert paths["app"] == str(ASSETS / "index.html") and paths["static"] == str(ASSETS)
    for name in ("index.html", "app.js", "app.css"):
        text = (ASSETS / name).read_text()
        assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?(https?:)?//", text), name
        assert "url(http" not in text and "@import" not in text, name
    html = (ASSETS / "index.html").read_text()
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP forbids it
    assert "script-src 'self'" in html and "connect-src 'self'" in html


def test_app_puts_data_in_as_text_only():
    js = (ASSETS / "app.js").read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setTimeout("',
        'setInterval("',
    ):
        assert sink not in js, sink
    assert 'credentials: "omit"' in js  # never keeps salt-api's session cookie


def runner_functions():
    tree = ast.parse((ROOT / "_runners" / "dcluster_mod.py").read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}


def test_every_runner_the_app_calls_exists_and_is_in_an_acl():
    js = (ASSETS / "app.js").read_text()
    called = set(re.findall(r'runner\("(\w+)"', js)) | set(re.findall(r'act\("(\w+)"', js))
    assert called >= {"workers", "jobs", "resources", "graphs", "config", "server_status", "status", "hold"}
    assert called <= runner_functions()
    assert called <= READ | ACT


def test_shipped_api_config_binds_loopback_has_roles_and_no_password():
    text = API_CONF.read_text()
    conf = yaml.safe_load(text)
    assert conf["netapi_enable_clients"] == ["runner"]
    api = conf["rest_cherrypy"]
    assert api["host"] == "127.0.0.1" and "disable_ssl" not in api and api["ssl_crt"] and api["ssl_key"]
    assert (api["app_path"], api["static_path"]) == ("/dashboard", "/static")
    assert api["app"].endswith("dcluster/data/dashboard/index.html")
    assert not re.search(r"(?im)^\s*[^#\n]*password\s*:", text), "no password in the shipped config"
    assert "dcadmin" not in text.split("# file:")[0]  # no default user outside the commented file example
    pam = conf["external_auth"]["pam"]
    ro = granted(pam["dcluster-ro%"][0]["@runner"])
    admin = granted(pam["dcluster-admin%"][0]["@runner"])
    assert ro == READ and admin == READ | ACT
    assert admin <= runner_functions()
    # the commented file-eauth variant grants the same
    block = text.split("  # file:\n", 1)[1].split("\n\n", 1)[0]
    commented = yaml.safe_load("\n".join(line.replace("  #", "", 1) for line in block.splitlines()))
    assert granted(commented["dcadmin"][0]["@runner"]) == READ | ACT
    assert granted(commented["dcviewer"][0]["@runner"]) == READ


def granted(entries):
    """The runners an ACL list allows, matched as Salt matches them (re.match: from the start only);
    each entry must allow exactly its own runner, not one whose name merely starts the same."""
    import salt.utils.minions

    match = salt.utils.minions.CkMinions.match_check
    out = set()
    for entry in entries:
        names = {f for f in runner_functions() | READ | ACT if match(None, entry, f"dcluster.{f}")}
        assert len(names) == 1, f"{entry!r} allows {names}"
        (name,) = names
        for lookalike in (f"dcluster.{name}_x", f"dclusterx{name}", f"dcluster.{name}.x"):
            assert not match(None, entry, lookalike), f"{entry!r} also allows {lookalike}"
        out.add(name)
    return out
