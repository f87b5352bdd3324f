"""The REST API and the dashboard through a real salt-api, with real Slurm and headless Chromium.

A pytest-salt-factories master runs the dcluster engine; its pillar names a
real Slurm (tests/support/slurm.py) with one node, ``hpcn1``, that dcluster
did not launch (a *physical* node an operator may still hold) and a ``local``
cloud resource with max 0, so nothing is launched.  salt-api serves
``rest_cherrypy`` on a free 127.0.0.1 port (``disable_ssl`` for this test
only) with the dashboard from the package data and file eauth for two users
with random passwords: ``dcro`` (read-only runners) and ``dcadmin`` (plus the
actions).  Chromium is Debian's, driven by playwright; screenshots of every
view go to docs/screenshots/.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import urllib.error
import urllib.request

import pytest
import yaml

from dcluster.glue import dashboard
from tests.conftest import ROOT
from tests.support import slurm as support
from tests.support import wait_for

pytestmark = [pytest.mark.daemons]

CHROMIUM = "/usr/bin/chromium"
NODE = "hpcn1"
SHOTS = ROOT / "docs" / "screenshots"
SECRET = "dashboard-test-secret-0123456789"
READ = [
    "dcluster.status",
    "dcluster.workers",
    "dcluster.jobs",
    "dcluster.plan",
    "dcluster.resources",
    "dcluster.history",
    "dcluster.graphs",
    "dcluster.config",
    "dcluster.server_status",
]
ACT = [
    "dcluster.launch",
    "dcluster.hold",
    "dcluster.release",
    "dcluster.vacate",
    "dcluster.remove",
    "dcluster.freeze",
    "dcluster.drain",
    "dcluster.restore",
    "dcluster.auto",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(request):
    why = support.skip_reason()
    if why:
        pytest.skip(f"dashboard tests need Slurm: {why}")
    c = support.SlurmCluster()
    request.addfinalizer(c.stop)  # runs even when start() or a test fails
    c.start()
    c.add_netns_host("dcdash1", 0)
    c.start_slurmd("dcdash1", NODE, dynamic_conf=f"CPUs=2 RealMemory=500 Feature={support.FEATURE}")
    wait_for(lambda: NODE in c.run(["sinfo", "-h", "-N", "-o", "%N %t"])[1], 20, 0.2, what=f"{NODE} to register")
    return c


@pytest.fixture(scope="module")
def users():
    return {"dcro": secrets.token_urlsafe(18), "dcadmin": secrets.token_urlsafe(18)}


@pytest.fixture(scope="module")
def api(salt_factories, slurm, users, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    # file eauth, text file with sha256 hashes: no password in any config file
    (tmp / "users").write_text("".join(f"{u}:{hashlib.sha256(p.encode()).hexdigest()}\n" for u, p in users.items()))
    os.chmod(tmp / "users", 0o600)
    pillar = {
        "secret": SECRET,
        "cluster_name": "dc",
        "cluster_poller_interval": 1,
        "cloud_poller_interval": 2,
        "cluster": slurm.config(),
        "cloud": {
            "loc": {
                "type": "local",
                "cores": 2,
                "mem_mb": 1024,
                "quantity": {"min": 0, "max": 0},
                "reservation": {"property": "loc"},
                "config": {
                    "state_dir": str(tmp / "local-cloud"),
                    "bridge": "dcdashbr0",
                    "network": "127.200.0.96/28",
                    "gateway": "127.200.0.97",
                },
            }
        },
    }
    (tmp / "pillar").mkdir()
    (tmp / "pillar" / "top.sls").write_text("base:\n  '*':\n    - dcluster\n")
    (tmp / "pillar" / "dcluster.sls").write_text(yaml.safe_dump({"dcluster": pillar}))
    port = free_port()
    paths = dashboard.paths()
    master = salt_factories.salt_master_daemon(
        "dcdash-master",
        overrides={
            "interface": "127.0.0.1",
            "pillar_roots": {"base": [str(tmp / "pillar")]},
            "engines": [{"dcluster": {"interval": 1}}],
            # the runner and engine of the tree under test, before the installed package's (a worktree's
            # own, when the venv's editable install points at another checkout)
            "runner_dirs": [str(ROOT / "_runners")],
            "engines_dirs": [str(ROOT / "_engines")],
            "netapi_enable_clients": ["runner"],
            "external_auth": {
                "file": {
                    "^filename": str(tmp / "users"),
                    "^filetype": "text",
                    "^hashtype": "sha256",
                    "dcro": [{"@runner": READ}],
                    "dcadmin": [{"@runner": READ + ACT}],
                }
            },
            "rest_cherrypy": {
                "host": "127.0.0.1",
                "port": port,
                "disable_ssl": True,
                "app": paths["app"],
                "app_path": paths["app_path"],
                "static": paths["static"],
                "static_path": paths["static_path"],
            },
        },
    )
    with master.started(start_timeout=120):
        published = os.path.join(master.config["cachedir"], "dcluster", "workers.json")  # controller/publish.py

        def node_seen():
            try:
                with open(published) as fh:
                    workers = json.load(fh).get("workers") or []
            except FileNotFoundError:
                return False
            return any(w["name"] == NODE for w in workers)

        wait_for(node_seen, 60, 0.5, what=f"the engine to see {NODE}")
        with master.salt_api_daemon().started(start_timeout=120):
            yield {"url": f"http://127.0.0.1:{port}", "master": master, "users": users}


def http(api, path, body=None, token=None, method=None):
    """(status, parsed JSON or text) of one request to salt-api."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        api["url"] + path,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=90) as resp:
            raw, status = resp.read().decode(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read().decode(errors="replace"), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def login(api, user):
    status, out = http(api, "/login", {"username": user, "password": api["users"][user], "eauth": "file"})
    assert status == 200, out
    return out["return"][0]


def run(api, token, fun, **kwarg):
    return http(api, "/", [{"client": "runner", "fun": fun, "kwarg": kwarg}], token=token)


def slurm_state(slurm):
    rc, out, err = slurm.run(["sinfo", "-h", "-N", "-n", NODE, "-o", "%t"])
    assert rc == 0, err
    return out.strip()


def test_login_gives_a_token_whose_perms_are_the_acl(api):
    ret = login(api, "dcadmin")
    assert len(ret["token"]) >= 32 and ret["eauth"] == "file" and ret["user"] == "dcadmin"
    assert ret["perms"] == [{"@runner": READ + ACT}]
    status, out = run(api, ret["token"], "dcluster.status")
    assert status == 200, out
    data = out["return"][0]
    assert data["engine"]["scheduler_ok"] is True and data["engine"]["stale"] is False
    assert any(line.startswith(f"{NODE} [physical]") for line in data["workers"]["physical"])
    assert data["resources"]["loc"].startswith("0/0")
    status, out = run(api, ret["token"], "dcluster.workers", name=NODE)
    assert status == 200 and out["return"][0][0]["node"]["cores"] == 2


def test_requests_without_a_valid_token_get_401(api):
    assert http(api, "/", [{"client": "runner", "fun": "dcluster.status"}])[0] == 401
    assert http(api, "/", [{"client": "runner", "fun": "dcluster.status"}], token="00" * 20)[0] == 401
    assert http(api, "/run", [{"client": "runner", "fun": "dcluster.hold", "kwarg": {"name": NODE}}])[0] == 401
    status, _ = http(api, "/login", {"username": "dcadmin", "password": "wrong", "eauth": "file"})
    assert status == 401
    # the page itself is public; it holds no data until its user logs in
    status, page = http(api, "/dashboard", method="GET")
    assert status == 200 and "dcluster" in page and NODE not in page


def test_read_only_user_reads_but_cannot_act(api, slurm):
    token = login(api, "dcro")["token"]
    status, out = run(api, token, "dcluster.resources")
    assert status == 200 and out["return"][0]["loc"]["max"] == 0
    for fun, kw in (
        ("dcluster.hold", {"name": NODE}),
        ("dcluster.launch", {"resource": "loc"}),
        ("dcluster.auto", {"enable": False}),
        ("dcluster.validate", {}),
    ):
        status, out = run(api, token, fun, **kw)
        assert status in (401, 403), (fun, status, out)
    # /run with inline credentials instead of a token: the same ACL applies
    body = [
        {
            "client": "runner",
            "fun": "dcluster.hold",
            "kwarg": {"name": NODE},
            "username": "dcro",
            "password": api["users"]["dcro"],
            "eauth": "file",
        }
    ]
    assert http(api, "/run", body)[0] in (401, 403)
    assert slurm_state(slurm) in ("idle", "mix", "alloc")


def test_admin_holds_and_releases_over_rest(api, slurm):
    token = login(api, "dcadmin")["token"]
    status, out = run(api, token, "dcluster.hold", name=NODE)
    assert status == 200 and out["return"][0]["ok"] is True, out
    wait_for(lambda: slurm_state(slurm) in ("drain", "drng"), 20, 0.2, what=f"{NODE} to be drained")
    status, out = run(api, token, "dcluster.release", name=NODE)
    assert status == 200 and out["return"][0]["ok"] is True, out
    wait_for(lambda: slurm_state(slurm) in ("idle", "mix", "alloc"), 40, 0.5, what=f"{NODE} to be released")
    # the engine sees it released before the browser test holds it again
    wait_for(
        lambda: run(api, token, "dcluster.workers", name=NODE)[1]["return"][0][0]["node"]["state"] != "held",
        30,
        0.5,
        what="the engine to see the release",
    )


def sbatch(slurm, *args):
    rc, out, err = slurm.run(["sbatch", "--parsable", "-o", "/dev/null", *args])
    assert rc == 0, err
    return out.strip().split(";")[0]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; see scripts/install-system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras")
    import tempfile

    profile = tempfile.mkdtemp(prefix="dcdash-chromium-")
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            viewport={"width": 1280, "height": 800},
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield ctx
        finally:
            ctx.close()
            import shutil

            shutil.rmtree(profile, ignore_errors=True)


def test_dashboard_login_workers_hold_and_every_view(api, slurm, browser):
    running = sbatch(slurm, "-w", NODE, "-c", "1", "--mem=100", "-J", "render-frames", "--wrap", "sleep 300")
    pending = sbatch(slurm, "-N", "3", "-n", "3", "-J", "big-mpi-run", "--wrap", "sleep 1")
    try:
        _browse(api, slurm, browser, running, pending)
    finally:
        slurm.run(["scancel", running, pending])


def _browse(api, slurm, browser, running, pending):
    # locator assertions, not wait_for_function: the page's CSP forbids eval, which the latter needs
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(api["url"]) else None)
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.accept()

    page.on("dialog", on_dialog)
    page.goto(api["url"] + "/dashboard")
    page.fill("#username", "dcadmin")
    page.fill("#password", api["users"]["dcadmin"])
    page.select_option("#eauth", "file")
    page.screenshot(path=str(SHOTS / "login.png"))
    page.click("#login button[type=submit]")

    row = page.locator(f"#workers tbody tr[data-name='{NODE}']")
    row.wait_for(timeout=15000)
    assert row.locator("td.state").inner_text() == "physical"
    assert browser.cookies() == [], "the dashboard must not keep salt-api's session cookie (XSRF)"
    # the running job reaches the engine's view
    expect(row).to_contain_text(running, timeout=20000)
    page.screenshot(path=str(SHOTS / "workers.png"))

    row.locator("button[data-act=hold]").click()
    assert dialogs and NODE in dialogs[-1]
    expect(row.locator("td.node .badge")).to_have_text("held", timeout=20000)
    assert "held by an operator" in row.locator("td.node").inner_text()
    assert slurm_state(slurm) in ("drain", "drng")
    page.screenshot(path=str(SHOTS / "workers-held.png"))

    page.click("#tabs .tab[data-view=jobs]")
    expect(page.locator("#jobs tbody")).to_contain_text(pending, timeout=15000)
    assert "big-mpi-run" in page.locator("#jobs tbody").inner_text()
    page.screenshot(path=str(SHOTS / "jobs.png"))

    page.click("#tabs .tab[data-view=resources]")
    card = page.locator("#resources .card[data-resource=loc]")
    card.wait_for(timeout=15000)
    assert card.locator("dd.limits").inner_text() == "0 / 0 / 0"
    assert "joining" in card.locator("dl.kv").inner_text()  # the bootstrap breaker's row: not protected
    page.screenshot(path=str(SHOTS / "resources.png"))

    page.click("#tabs .tab[data-view=graphs]")
    page.select_option("#graph-range", "15")
    page.locator("#graphs .graph[data-graph=nodes_by_state]").wait_for(timeout=15000)
    assert "engine" in page.locator("#graph-source").inner_text()
    assert "physical" in page.locator("#graphs .graph[data-graph=nodes_by_state] .legend").inner_text()
    page.screenshot(path=str(SHOTS / "graphs.png"))

    page.click("#tabs .tab[data-view=settings]")
    expect(page.locator("#config")).to_contain_text("cluster_name", timeout=15000)
    config_text = page.locator("#config").inner_text()
    assert SECRET not in config_text and '"secret"' in config_text
    page.screenshot(path=str(SHOTS / "settings.png"), full_page=False)

    assert external == [], f"the dashboard loaded something from elsewhere: {external}"
    assert console_errors == [], console_errors
    page.close()

    # the read-only user sees the same data; the action buttons its ACL does not allow are disabled
    ro = browser.new_page()
    ro.goto(api["url"] + "/dashboard")
    ro.fill("#username", "dcro")
    ro.fill("#password", api["users"]["dcro"])
    ro.select_option("#eauth", "file")
    ro.click("#login button[type=submit]")
    ro_row = ro.locator(f"#workers tbody tr[data-name='{NODE}']")
    expect(ro_row.locator("td.node .badge")).to_have_text("held", timeout=15000)
    expect(ro_row.locator("button[data-act=release]")).to_be_disabled()
    ro.close()


def test_plan_dry_run_over_rest_and_in_the_dashboard(api, slurm, browser):
    """The live dry-run: a 3-node job no resource may hold (loc's max is 0) and the physical node, each with
    the planner's reason, over REST for the read-only user and in the dashboard's Plan view."""
    from playwright.sync_api import expect

    pending = sbatch(slurm, "-N", "3", "-n", "3", "-J", "too-wide", "--wrap", "sleep 1")
    try:
        token = login(api, "dcro")["token"]

        def planned():
            status, out = run(api, token, "dcluster.plan", job=pending)
            assert status == 200, out
            rows = out["return"][0]["jobs"]["rows"]
            return rows[0] if rows else None

        row = wait_for(planned, 30, 0.5, what=f"the engine to plan for job {pending}")
        assert row["reason"] == "shape" and "needs 3 separate nodes" in row["why"] and "(at most 0)" in row["why"], row
        out = run(api, token, "dcluster.plan", worker=NODE)[1]["return"][0]
        assert out["ok"] is True and out["auto_mode"] is True and out["workers"]["total"] == 1
        assert out["workers"]["rows"][0]["reason"] == "physical"  # not ours, held or not: never touched
        assert out["summary"]["jobs"].get("shape", 0) >= 1
        # a refused argument raises in the runner: salt-api answers the error, not a result
        status, bad = run(api, token, "dcluster.plan", reason="nope")
        assert "reason must be one of" in json.dumps(bad), (status, bad)

        page = browser.new_page()
        console_errors = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(api["url"] + "/dashboard#plan")
        page.fill("#username", "dcro")
        page.fill("#password", api["users"]["dcro"])
        page.select_option("#eauth", "file")
        page.click("#login button[type=submit]")
        page.click("#tabs .tab[data-view=plan]")
        job_row = page.locator(f"#plan-jobs tbody tr[data-job='{pending}']")
        expect(job_row.locator("td.reason")).to_have_text("shape", timeout=20000)
        assert "needs 3 separate nodes" in job_row.inner_text()
        expect(page.locator(f"#plan-workers tbody tr[data-name='{NODE}'] td.reason")).to_have_text(
            "physical", timeout=10000
        )
        assert "auto mode on" in page.locator("#plan-info").inner_text()
        expect(page.locator("#plan-job-counts li[data-reason=shape]")).to_be_visible()
        page.screenshot(path=str(SHOTS / "dashboard-plan.png"), full_page=True)
        # a reason's count filters both tables to it
        page.click("#plan-job-counts li[data-reason=shape]")
        expect(page.locator("#plan-reason")).to_have_value("shape")
        expect(page.locator("#plan-workers tbody")).to_contain_text("no workers", timeout=10000)
        expect(job_row).to_be_visible()
        assert console_errors == [], console_errors
        page.close()
    finally:
        slurm.run(["scancel", pending])
