"""No credential leaves: cloud errors echoing every credential form, through both real drivers and the controller.

A FAKE endpoint (tests/support/echo_server.py) answers every request with an
error echoing its Authorization/Proxy-Authorization headers, URL, query and
body, in one encoding per round (plain, base64 and urlsafe base64 at three
alignments, quote, quote(safe=''), quote_plus, JSON with and without
ensure_ascii, XML-escaped).  The real AwsDriver (boto3: the echo server is
its endpoint_url *and* its proxy, whose URL carries a password, so botocore
sends ``Proxy-Authorization: Basic ...``) and the real OpenStackDriver
(keystoneauth1 + novaclient: password and application-credential auth, the
echo server is the auth_url, and the password resource's proxy) run inside a real Controller cycle; the
scheduler port fails every other cycle with a message showing a
``command_env`` secret.  Launch and listing errors flow into logs, events,
state.json, an operator command's result and the runner functions
``status``, ``config`` and ``server_status``.

Then every log record (all loggers, DEBUG, through the engine's filter),
every fired event, the state file, the published files, the command result and each runner result
is scanned for each of 8 credentials (plain, multi-word, URL-special
``+/=&%@:``, unicode, base64-looking, JSON-special ``"\\``) in each of up to
15 forms (plain, its first and last two thirds, base64 and urlsafe base64
cores at 3 alignments, quote, quote(safe=''), quote_plus, JSON with and
without ensure_ascii, XML-escaped; 68 distinct forms over the 8) in each of
8 places (the files the engine publishes for the runners since issue 15):
544 checks, against the red-team finding's 53 cases (asserted: at least 53 x 7).  The scrubber of 929499a (no registry, no event or runner
scrubbing, the old ``redacted()``, no log filter) fails 82 of them.  A positive
control asserts each credential that an SDK puts on the wire did reach the
echo server, so its absence from the outputs is the scrubber's doing
(SigV4 never sends the AWS secret key, and the HMAC secret is never sent:
those two are scanned for, not sent).
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import logging
import urllib.parse

import pytest

from dcluster.clouds import registry
from dcluster.controller import Controller, Ports
from dcluster.controller import commands as cmds
from dcluster.glue import log_filter
from dcluster.model import Job, JobState
from tests.conftest import ROOT
from tests.support.echo_server import MODES, EchoServer, encode

SECRETS = {
    "os_password": "correct horse battery staple 7",  # a multi-word passphrase
    "appcred_secret": 'app"cred\\sec"ret-9Qx',  # JSON-special
    "aws_key_id": "QUtJQTEyMzQ1Njc4OTAxMg==",  # base64-looking
    "aws_secret": "wJal+rXU/tn=FEMI&K7M%DENG@bPx:RfiCY",  # URL-special
    "proxy_password": "pr0xy+/=&%@:pass word",  # URL-special, with a space
    "join_token": "tökén-ünïcode-ß-漢字-42",  # unicode
    "env_secret": "lic 7f3a+/= Züri &%",  # a command_env value
    "hmac_secret": "dcluster-hmac-secret-0123456789",
}
PLACES = (
    "log",
    "event",
    "state.json",
    "published",
    "command",
    "runner.status",
    "runner.config",
    "runner.server_status",
)


def b64_cores(s: str) -> dict[str, str]:
    """The base64 characters of ``s`` alone, wherever it starts in a 3-byte group."""
    out = {}
    data = s.encode("utf-8")
    for shift in range(3):
        for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            full = enc(b"\0" * shift + data + b"\0\0").decode()
            out[f"{name}@{shift}"] = full[-(-8 * shift // 6) : (8 * (shift + len(data))) // 6]
    return out


def needles(s: str) -> dict[str, str]:
    third = len(s) // 3
    forms = {
        "plain": s,
        "head": s[: len(s) - third],
        "tail": s[third:],
        **b64_cores(s),
        "quote": urllib.parse.quote(s),
        "quote_safe": urllib.parse.quote(s, safe=""),
        "quote_plus": urllib.parse.quote_plus(s),
        "json": json.dumps(s, ensure_ascii=False)[1:-1],
        "json_ascii": json.dumps(s)[1:-1],
        "xml": html.escape(s),
    }
    out, seen = {}, set()
    for name, form in forms.items():
        if len(form) >= 6 and form not in seen:
            seen.add(form)
            out[name] = form
    return out


def strings(obj):
    """Every string in plain data, keys included."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from strings(v)


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        self.lines.append(self.format(record))


class EchoingScheduler:
    """The scheduler port: one pending job per resource; every other poll fails showing its environment."""

    def __init__(self, echo):
        self.echo = echo
        self.fail = False

    def jobs(self):
        if self.fail:
            raise RuntimeError(
                "squeue: error: license check failed, environment "
                + encode(f"SITE_LICENSE={SECRETS['env_secret']}", self.echo.mode)
            )
        return [Job(str(i), JobState.PENDING, chunk_cores=1) for i in range(3)]

    def nodes(self):
        return []

    def check(self):
        return {"ok": True}


def load_runner(cachedir):
    spec = importlib.util.spec_from_file_location("dcluster_runner_secrets", ROOT / "_runners" / "dcluster_mod.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.__opts__ = {"cachedir": str(cachedir), "sock_dir": str(cachedir)}
    return mod


@pytest.fixture
def echo(monkeypatch):
    for var in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    server = EchoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def capture():
    root = logging.getLogger()
    cap = Capture()
    old = root.level
    root.addHandler(cap)
    root.setLevel(logging.DEBUG)
    log_filter.install([cap])  # what the engine does to the master's root handlers
    try:
        yield cap
    finally:
        root.removeHandler(cap)
        root.setLevel(old)


def pillar(echo, tmp_path):
    tpl = tmp_path / "userdata.j2"
    tpl.write_text(
        "#!/bin/sh\ncat > /etc/salt/pki/minion/minion.pem <<'EOF'\n{{ minion_pem }}\nEOF\n"
        "echo '{{ join_token }}' > /etc/join-token\n",
        encoding="utf-8",
    )
    host = urllib.parse.urlsplit(echo.url).netloc
    proxy = f"http://dcuser:{urllib.parse.quote(SECRETS['proxy_password'], safe='')}@{host}"
    common = {"quantity": {"min": 1, "max": 2}, "cores": 2, "mem_mb": 1024}
    os_conf = {
        "auth_url": f"{echo.url}/identity/v3",
        "image_uuid": "11111111-2222-3333-4444-555555555555",
        "flavor": "m1.small",
        "timeout": 5,
        "region_name": "RegionOne",
    }
    return {
        "secret": SECRETS["hmac_secret"],
        "cluster_name": "hpc",
        "backoff": {"initial": 1, "max": 1, "capacity_pause": 1},
        "cluster": {
            "type": "slurm",
            "config": {"command_env": {"SITE_LICENSE": SECRETS["env_secret"], "SLURM_CONF": "/etc/slurm/slurm.conf"}},
        },
        "cloud": {
            "ec2": {
                "type": "aws",
                **common,
                "config": {
                    "image_id": "ami-12c6146b",
                    "instance_type": "t3.micro",
                    "endpoint_url": echo.url,
                    "proxy": proxy,
                    "access_key_id": SECRETS["aws_key_id"],
                    "secret_access_key": SECRETS["aws_secret"],
                    "userdata_file": str(tpl),
                    "userdata_vars": {"join_token": SECRETS["join_token"]},
                },
            },
            "nova": {
                "type": "openstack",
                **common,
                "config": {
                    **os_conf,
                    "username": "demo",
                    "password": SECRETS["os_password"],
                    "project": "demo",
                    "proxy": proxy,
                },
            },
            "novaapp": {
                "type": "openstack",
                **common,
                "config": {
                    **os_conf,
                    "application_credential_id": "appcred-id-0001",
                    "application_credential_secret": SECRETS["appcred_secret"],
                },
            },
        },
    }


def test_no_credential_in_any_form_leaves_through_logs_events_state_or_runners(echo, capture, tmp_path):
    events = []
    sched = EchoingScheduler(echo)
    data = pillar(echo, tmp_path)
    ports = Ports(
        pillar=lambda: data,
        scheduler=lambda cfg: sched,
        driver=lambda cfg, res: registry.driver_for(res, cfg),
        fire=lambda tag, d: events.append((tag, d)),
        master_address="127.200.0.1",
    )
    clock = [1_000_000.0]
    state_path = tmp_path / "dcluster" / "state.json"
    c = Controller(ports, state_path=str(state_path), clock=lambda: clock[0])
    try:
        for mode in MODES:
            echo.mode = mode
            for fail in (False, True):
                sched.fail = fail
                echo.list_ok = not fail  # a good view launches (its errors echo the user-data); a bad one lists
                clock[0] += 30  # past every backoff and the cloud poll interval
                c.cycle()
                assert c.wait_idle(60)
        sched.fail, echo.list_ok = False, True  # an operator launches on a good view only
        clock[0] += 30
        c.cycle()
        assert c.wait_idle(60)
        command = cmds.run(c, "launch", resource="ec2", count=1)
        clock[0] += 30
        c.cycle()
        assert c.wait_idle(60)
    finally:
        c.shutdown()

    # ---- positive control: the SDKs did send the credentials the echo server reflected
    reqs = echo.requests
    assert any(SECRETS["os_password"] in r["body"] for r in reqs), "keystone password auth never reached the echo"
    assert any(json.dumps(SECRETS["appcred_secret"])[1:-1] in r["body"] for r in reqs)
    assert any(SECRETS["aws_key_id"] in r["authorization"] for r in reqs), "no SigV4 request reached the echo"
    basic = base64.b64encode(f"dcuser:{SECRETS['proxy_password']}".encode()).decode()
    assert any(r["proxy_authorization"] == f"Basic {basic}" for r in reqs), "botocore did not go through the proxy"
    assert any(r["proxy_authorization"] == f"Basic {basic}" and SECRETS["os_password"] in r["body"] for r in reqs), (
        "keystoneauth did not go through the proxy"
    )
    userdata = [
        base64.b64decode(urllib.parse.parse_qs(r["body"]).get("UserData", [""])[0]).decode("utf-8", "replace")
        for r in reqs
        if "Action=RunInstances" in r["body"]
    ]
    assert any(SECRETS["join_token"] in u for u in userdata), "no RunInstances carried the user-data"
    errors = json.loads(state_path.read_text())["errors"]
    assert {e["where"] for e in errors} >= {"cloud:ec2", "cloud:nova", "cloud:novaapp", "scheduler"}
    assert any(t == "dcluster/poll/failed" for t, _ in events), sorted({t for t, _ in events})
    # the records, not the last published summary: the operator's launch may fail after the last cycle published
    assert any(b.kind == "auth" for b in c.state.backoff.values()), c.state.backoff

    # ---- scan everything that left
    runner = load_runner(tmp_path)
    places = {
        "log": capture.lines,
        "event": [s for _, d in events for s in strings(d)] + [t for t, _ in events],
        "state.json": [state_path.read_text(encoding="utf-8")] + list(strings(json.loads(state_path.read_text()))),
        # what the runners read (controller/publish.py): summary, workers, first page of jobs
        "published": [
            t
            for name in ("published.json", "workers.json", "jobs.json")
            for text in [(state_path.parent / name).read_text(encoding="utf-8")]
            for t in [text, *strings(json.loads(text))]
        ],
        "command": list(strings(command)),
        "runner.status": list(strings(runner.status())),
        "runner.config": list(strings(runner.config())),
        "runner.server_status": list(strings(runner.server_status())),
    }
    assert set(places) == set(PLACES)
    assert capture.lines and places["event"] and places["runner.config"]
    checks, leaks = 0, []
    for name, secret in SECRETS.items():
        for form_name, form in needles(secret).items():
            for place, texts in places.items():
                checks += 1
                for t in texts:
                    if form in t:
                        i = t.index(form)
                        leaks.append(f"{name} as {form_name} in {place}: ...{t[max(0, i - 60) : i + len(form) + 20]!r}")
                        break
    assert checks == 544, checks  # 68 forms x 8 places (see the docstring)
    assert not leaks, f"{len(leaks)} of {checks} checks leaked:\n" + "\n".join(leaks[:60])
