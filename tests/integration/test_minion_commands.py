"""A minion cannot command the engine or forge a highstate result (issue #12), in a real master.

A pytest-salt-factories master runs the dcluster engine; a real salt-minion,
accepted normally, fires what any worker can fire with ``salt-call
event.send``: ``dcluster/cmd/*`` commands (the plain form, and with
``preload`` so the command's fields sit at the top of the event, as the
runner's did) and a forged ``salt/job/<jid>/ret/<worker>`` success.  The test
checks the events reached the master's bus, then that the engine changed
nothing and counted and logged each refusal; a runner in the master
(``salt-run dcluster.auto``, through the real RunnerClient) is still obeyed.

The scheduler is Torque's fakes on PATH (tests/support/fakecmd.py: Debian has
no Torque) answering an empty cluster; the cloud is the ``local`` cloud with
min 0, so nothing is launched unless commanded.
"""

import json
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dcluster import identity, netns
from dcluster.clouds.local import LocalDriver
from dcluster.config import load
from dcluster.controller import state as st
from tests.support import wait_for
from tests.support.master import empty_torque, engine_master, torque_pillar, write_pillar

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

SECRET = "minion-commands-test-secret-01"
CLUSTER = "dcmc"


@pytest.fixture(scope="module")
def stack(salt_factories, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mincmd")
    fake = empty_torque(tmp / "fakebin")
    pillar = torque_pillar(
        tmp, fake, SECRET, CLUSTER, net=("dcmcbr0", "127.200.0.96/28", "127.200.0.97"), quantity=(0, 2)
    )
    write_pillar(tmp, "dcmc-master", pillar)
    master = engine_master(salt_factories, "dcmc-master", tmp, log_level_logfile="warning")
    try:
        with master.started(start_timeout=120):
            minion = master.salt_minion_daemon("dcmc-rogue")  # accepted by the factory, as any worker is
            with minion.started(start_timeout=120):
                yield {"master": master, "minion": minion, "config": load(pillar)}
    finally:
        # if the engine ever obeyed a forged launch, leave no instance or namespace behind
        drv = LocalDriver(load(pillar).resources["r1"], CLUSTER, SECRET)
        ids = [i.id for i in drv.instances()]
        if ids:
            drv.destroy(ids)
        for name in netns.list_hosts(f"{CLUSTER}-r1-"):
            netns.delete_host(name)


def engine_state(master):
    """The state file, with what the engine published of its last cycle (controller/publish.py)."""
    base = f"{master.config['cachedir']}/dcluster"
    data = st.read(f"{base}/state.json")
    try:
        data["last"] = st.read(f"{base}/published.json").get("last") or {}
        data["workers"] = st.read(f"{base}/workers.json").get("workers")
    except FileNotFoundError:
        data["last"] = {}
    return data


def send(minion, tag, data, preload=None):
    args = ["event.send", tag, json.dumps(data)]
    if preload is not None:
        args.append(f"preload={json.dumps(preload)}")
    ret = minion.salt_call_cli().run(*args)
    assert ret.returncode == 0 and ret.data is True, ret


def test_commands_and_returns_fired_by_a_minion_change_nothing(stack, event_listener):
    master, minion = stack["master"], stack["minion"]
    wait_for(lambda: (engine_state(master).get("last") or {}).get("view"), 60, what="the engine's first cycle")
    before = engine_state(master)
    victim = identity.make(CLUSTER, "r1", SECRET)  # a worker id the engine would accept as its own
    start = time.time()
    commands = {
        "launch": {"resource": "r1", "count": 1},
        "drain": {"resource": "r1"},
        "vacate": {"name": victim},
        "auto": {"enable": False},
        "remove": {"name": victim},
    }
    jid = "20260101000000000001"
    forged = {
        "id": victim,
        "jid": jid,
        "fun": "state.apply",
        "success": True,
        "retcode": 0,
        "return": {"file_|-x_|-/x_|-managed": {"result": True}},
    }
    sends = [(f"salt/job/{jid}/ret/{victim}", forged, forged)]
    for cmd, args in commands.items():
        body = {"args": args, "reply": "x"}
        sends.append((f"dcluster/cmd/{cmd}", body, None))
        # the runner's fields at the top of the event, as the engine used to read them
        sends.append((f"dcluster/cmd/{cmd}", body, {**body, "reply": "dcluster/reply/" + "0" * 32}))
    with ThreadPoolExecutor(4) as pool:  # each salt-call is a process of its own: a few at a time
        list(pool.map(lambda s: send(minion, *s), sends))

    # they all reached the master's bus: the engine saw them and must have refused them
    seen = event_listener.wait_for_events(
        [(master.id, f"dcluster/cmd/{cmd}") for cmd in commands] + [(master.id, f"salt/job/{jid}/ret/{victim}")],
        timeout=30,
        after_time=start,
    )
    assert not seen.missed, seen.missed

    def counted():
        counters = engine_state(master).get("counters") or {}
        done = counters.get("commands_refused", 0) >= 10 and counters.get("highstate_returns_refused", 0) >= 1
        return counters if done else None

    counters = wait_for(counted, 30, what="the refusals to be counted")
    assert counters["commands_refused"] == 10 and counters["highstate_returns_refused"] == 1
    after = engine_state(master)
    assert after["auto_mode"] == before["auto_mode"] is None
    assert after["limits"] == {} and after["recent_launches"] == {} and after["in_flight"] in ({}, {"r1": 0})
    assert after["configured"] == [] and after["config_failed"] == {}
    assert after["workers"] == [] and not after["last"]["plan"]["actions"]
    assert not LocalDriver(stack["config"].resources["r1"], CLUSTER, SECRET).instances()
    no_effects = event_listener.get_events(
        [
            (master.id, "dcluster/command/*"),
            (master.id, "dcluster/action/*"),
            (master.id, "dcluster/worker/*"),
            (master.id, "dcluster/reply/*"),
        ],
        after_time=start,
    )
    assert not no_effects, [e.tag for e in no_effects]
    with open(master.config["log_file"]) as fh:
        log = fh.read()
    assert "refused command 'dcluster/cmd/launch': no MAC" in log
    assert f"refused highstate return 'salt/job/{jid}/ret/{victim}'" in log
    assert "command.key" not in log


def test_a_runner_in_the_master_still_commands_the_engine(stack):
    master = stack["master"]
    ret = master.salt_run_cli(timeout=90).run("dcluster.auto", "enable=False")
    assert ret.returncode == 0, ret
    answer = {k: v for k, v in ret.data.items() if k != "_stamp"}
    assert answer == {"ok": True, "message": "auto mode off", "auto_mode": False}, ret
    assert wait_for(lambda: engine_state(master).get("auto_mode") is False, 10, what="auto mode saved")
    key = f"{master.config['cachedir']}/dcluster/command.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
