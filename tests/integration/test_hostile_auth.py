"""Hostile minion ids sent to a live master's ret port: nothing but a refusal happens (issue #12).

A pytest-salt-factories master runs the repo's reactors and the dcluster engine
(the scheduler is Torque's fakes on PATH, tests/support/fakecmd.py, answering an
empty cluster; the cloud is the ``local`` cloud with min 0: nothing is launched).
A subprocess signs in with Salt's own minion auth (``salt.crypt.SAuth``), one fresh
key pair per id, exactly what a client of port 4506 can send.  Then: no key is
accepted, no runner but ``dcluster_reactor.*`` ran, no local or wheel job ran except the
engine's own ``key.reject`` of the one id it signed, the payload's marker file does
not exist, and the key under our (HMAC-signed) id was rejected and reported.

The last test fires the payload at the reactor this replaced (through a test-only
tag) and sees the marker appear: the checks above would see an attack.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import salt.utils.event

from dcluster import identity
from tests.support import wait_for
from tests.support.hostile_ids import OLD_AUTH_SLS, payload
from tests.support.master import empty_torque, engine_master, master_keys, torque_pillar, write_pillar

pytestmark = [pytest.mark.daemons]

SECRET = "hostile-auth-test-secret-01"
CLUSTER = "dcha"
OLD_TAG = "dcluster-test/old-auth"  # only this test's master routes it to the pre-#12 reactor

SIGN_IN = r"""
import json, os, sys
import salt.config, salt.crypt
spec = json.load(sys.stdin)
out = []
for i, mid in enumerate(spec["ids"]):
    opts = salt.config.minion_config(None)
    root = os.path.join(spec["root"], str(i))
    for sub in ("pki", "cache", "sock"):
        os.makedirs(os.path.join(root, sub), mode=0o700)
    opts.update({"id": mid, "pki_dir": os.path.join(root, "pki"), "cachedir": os.path.join(root, "cache"),
                 "sock_dir": os.path.join(root, "sock"), "master": "127.0.0.1", "master_ip": "127.0.0.1",
                 "master_port": spec["port"], "master_uri": "tcp://127.0.0.1:%d" % spec["port"],
                 "auth_tries": 1, "auth_timeout": 10, "acceptance_wait_time": 1})
    out.append(str(salt.crypt.SAuth(opts).sign_in(tries=1, timeout=10)))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def master(salt_factories, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    fake = empty_torque(tmp / "fakebin")
    pillar = torque_pillar(
        tmp, fake, SECRET, CLUSTER, net=("dchabr0", "127.200.0.112/28", "127.200.0.113"), quantity=(0, 1)
    )
    write_pillar(tmp, "dcha-master", pillar)
    (tmp / "old_auth.sls").write_text(OLD_AUTH_SLS)
    m = engine_master(salt_factories, "dcha-master", tmp, reactors=[{OLD_TAG: [str(tmp / "old_auth.sls")]}])
    with m.started(start_timeout=120):
        wait_for(
            lambda: os.path.exists(f"{m.config['cachedir']}/dcluster/state.json"), 60, what="the engine's first cycle"
        )
        yield m


def sign_in(master, ids, root):
    spec = json.dumps({"ids": ids, "root": str(root), "port": master.config["ret_port"]})
    out = subprocess.run([sys.executable, "-c", SIGN_IN], input=spec, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def marker_path(name):
    return os.path.join(os.path.expanduser("~"), name)  # cmd.run's default cwd: the master user's home


def test_hostile_ids_get_nothing_but_a_refusal(master, event_listener, tmp_path):
    marker = f"dcpwn-{uuid.uuid4().hex[:12]}"
    ours = identity.make(CLUSTER, "r1", SECRET)  # signed: a claim to be one of our workers
    forged = identity.make(CLUSTER, "r1", "not-the-secret-0123456")  # well formed, wrong HMAC
    hostile = [
        payload(marker),
        "x\nevil:\n  runner.salt.cmd:\n    - args:\n      - fun: cmd.run",
        "{a: b}",
        "*alias",
        "{{ 7 * 7 }}",
        "nœud-\u202eünï",
    ]
    start = time.time()
    try:
        sign_in(master, hostile + [forged, ours], tmp_path)
        mid = master.id
        # every id reached the reactor, whose only reaction is dcluster's runner, which answered
        seen = event_listener.wait_for_events([(mid, "salt/auth")], timeout=30, after_time=start)
        assert seen.found_all_events
        wait_for(
            lambda: (
                len(
                    [
                        e
                        for e in event_listener.get_events([(mid, "salt/run/*/ret")], after_time=start)
                        if e.data.get("fun") == "runner.dcluster_reactor.pending_key"
                    ]
                )
                >= 8
            ),
            60,
            what="the runner's answer for each id",
        )
        refused = event_listener.wait_for_events([(mid, "dcluster/key/refused")], timeout=30, after_time=start)
        assert refused.found_all_events
        assert [e.data["name"] for e in refused.matches] == [ours]
        time.sleep(2)  # anything a reaction started has had time to show on the bus

        auths = {e.data["id"]: e.data["act"] for e in event_listener.get_events([(mid, "salt/auth")], start)}
        assert set(auths) == set(hostile + [forged, ours]) and set(auths.values()) == {"pend"}
        runs = [e.data.get("fun") for e in event_listener.get_events([(mid, "salt/run/*/new")], start)]
        assert runs and all(f.startswith("runner.dcluster_reactor.") for f in runs), runs
        assert event_listener.get_events([(mid, "salt/job/*/new")], start) == set()
        wheels = [
            (e.data.get("fun"), e.data.get("fun_args") or e.data.get("match"))
            for e in event_listener.get_events([(mid, "salt/wheel/*/new")], start)
        ]
        # the engine's own wheel calls only: listing keys each cycle, and rejecting the key under our id
        assert {f for f, _ in wheels} <= {"wheel.key.list", "wheel.key.reject"}, wheels
        assert [a for f, a in wheels if f == "wheel.key.reject"] == [
            [ours, {"include_accepted": False, "include_denied": False}]
        ], wheels
        rets = [
            e.data.get("return")
            for e in event_listener.get_events([(mid, "salt/run/*/ret")], start)
            if e.data.get("fun") == "runner.dcluster_reactor.pending_key"
        ]
        assert all(r.get("ok") is False for r in rets), rets

        k = master_keys(master)
        assert k.get("minions", []) == []
        assert k.get("minions_rejected", []) == [ours]
        assert set(k.get("minions_pre", [])) == set(hostile + [forged])
        assert not os.path.exists(marker_path(marker))
    finally:
        if os.path.exists(marker_path(marker)):
            os.unlink(marker_path(marker))


def test_the_old_reactor_would_have_run_the_payload(master, event_listener):
    """Control: the same payload through the pre-#12 auth reactor runs salt.cmd on the master."""
    marker = f"dcpwn-{uuid.uuid4().hex[:12]}"
    start = time.time()
    try:
        with salt.utils.event.get_master_event(master.config, master.config["sock_dir"], listen=False) as bus:
            assert bus.fire_event({"id": payload(marker), "act": "pend"}, OLD_TAG)
        wait_for(lambda: os.path.exists(marker_path(marker)), 60, what="the payload's marker")

        def ran():
            evs = event_listener.get_events([(master.id, "salt/run/*/new"), (master.id, "salt/wheel/*/new")], start)
            funs = {e.data.get("fun") for e in evs}
            return funs if {"runner.salt.cmd", "wheel.key.accept"} <= funs else None

        wait_for(ran, 30, what="the payload's runner and wheel jobs on the bus")
    finally:
        if os.path.exists(marker_path(marker)):
            os.unlink(marker_path(marker))
