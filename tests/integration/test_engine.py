"""The engine, runner and reactors in a real salt-master, with real minions.

A pytest-salt-factories master runs the dcluster engine with the auth
reactor; the engine pre-accepts each worker's key before its launch and
highstates the worker on its minion's start event, read off the bus.  The cloud is the real ``local`` cloud: a launched instance
is a network namespace whose user-data starts a real salt-minion.  The
scheduler is Torque, which Debian does not package: its commands are fakes on
PATH that replay real recorded outputs (tests/data/scheduler-output/torque)
and log their argv.  Metrics go to a real carbon-cache when one is installed.
"""

import os
import subprocess
import sys
import time

import pytest
import yaml

from dcluster import identity, netns
from dcluster.clouds.local import LocalDriver
from dcluster.config import load
from tests.conftest import ROOT
from tests.support import wait_for
from tests.support.carbon import CarbonCache
from tests.support.carbon import skip_reason as carbon_skip
from tests.support.master import engine_master, master_keys, maui_quiet, torque_fakes, torque_pillar, write_pillar

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

BRIDGE, GATEWAY, NETWORK = "dceng0", "127.200.0.65", "127.200.0.64/28"
SECRET = "engine-test-secret-0123456789"
TORQUE = ROOT / "tests" / "data" / "scheduler-output" / "torque"
SALT_MINION = os.path.join(os.path.dirname(sys.executable), "salt-minion")

USERDATA = """#!/bin/sh
# test user-data: a salt-minion for the test master on its random ports
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
CONF
# the key pair the engine made and accepted for this minion before the launch
mkdir -p "$ROOT/etc/salt/pki/minion"
umask 077
cat > "$ROOT/etc/salt/pki/minion/minion.pem" <<'KEY_EOF'
{{ minion_pem }}KEY_EOF
cat > "$ROOT/etc/salt/pki/minion/minion.pub" <<'KEY_EOF'
{{ minion_pub }}KEY_EOF
exec %(salt_minion)s -c "$ROOT/etc/salt" -l warning
"""

WORKER_SLS = """
dcluster-test-highstate-marker:
  file.managed:
    - name: %(markers)s/{{ grains['id'] }}
    - contents: highstate ran
    - makedirs: True

# as the worker formula ends: the engine takes the highstate as the worker's only with this proof
dcluster-highstate-proof:
  dcluster_worker.highstate_proof:
    - order: last
"""

CHECKNODE = "checking node {0}\n\nState:   Idle  (in current state for 00:00:05)\n"


def pbsnodes_xml(names):
    nodes = "".join(f"<Node><name>{n}</name><state>free</state><np>2</np><ntype>cluster</ntype></Node>" for n in names)
    return f"<Data>{nodes}</Data>"


@pytest.fixture(scope="module")
def stack(salt_factories, tmp_path_factory):
    if netns.available():
        pytest.skip(f"namespace hosts unavailable: {netns.available()}")
    tmp = tmp_path_factory.mktemp("engine")
    markers = tmp / "markers"
    fake = torque_fakes(tmp / "fakebin")
    fake.respond("pbsnodes", file=str(TORQUE / "ctxswitch-qhost-output_05-pbsnodes-x.xml"))
    fake.respond("qstat", file=str(TORQUE / "goove-farm.particle.cz-qstat-x-single-job.xml"))
    fake.respond("checknode", CHECKNODE)
    maui_quiet(fake)  # its one job runs: no idle job
    carbon = None
    extra = []
    pillar = None
    try:
        if carbon_skip() is None:
            carbon = CarbonCache(str(tmp / "carbon"))
            carbon.start()
        netns.ensure_bridge(BRIDGE, GATEWAY, 28)
        master = engine_master(
            salt_factories,
            "dceng-master",
            tmp,
            address=GATEWAY,
            reactors=[],
            file_roots={"base": [str(tmp / "states")]},
        )
        ports = {
            "ret_port": master.config["ret_port"],
            "publish_port": master.config["publish_port"],
            "salt_minion": SALT_MINION,
        }
        (tmp / "userdata.sh.j2").write_text(USERDATA % ports)
        (tmp / "states").mkdir(exist_ok=True)
        (tmp / "states" / "top.sls").write_text("base:\n  '*':\n    - worker\n")
        (tmp / "states" / "worker.sls").write_text(WORKER_SLS % {"markers": markers})
        pillar = torque_pillar(
            tmp,
            fake,
            SECRET,
            "dc",
            net=(BRIDGE, NETWORK, GATEWAY),
            quantity=(1, 1),
            r1_config={"userdata_file": str(tmp / "userdata.sh.j2")},
            max_launch_time=300,
            max_idle_time=3600,
        )
        # dcluster's own log file at DEBUG while Salt's log stays at its level (issue 16: the section did nothing)
        pillar["logging"] = {
            "log_level": 3,
            "log_location": str(tmp / "dcluster.log"),
            "log_format": "%(levelname)s %(name)s: %(message)s",
        }
        if carbon is not None:
            pillar["plugins"] = {
                "graphite": {
                    "class_name": "dynamiccluster.graphite.GraphiteReporter",
                    "arguments": {"hostname": "127.0.0.1", "port": carbon.line_port, "prefix": "dctest", "interval": 1},
                }
            }
        write_pillar(tmp, "dceng-master", pillar)
        with master.started(start_timeout=120):
            yield {
                "master": master,
                "fake": fake,
                "carbon": carbon,
                "markers": markers,
                "tmp": tmp,
                "config": load(pillar),
                "extra": extra,
            }
    finally:
        for proc in extra:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if pillar is not None:
            drv = LocalDriver(load(pillar).resources["r1"], "dc", SECRET)
            ids = [i.id for i in drv.instances()]
            if ids:
                drv.destroy(ids)
        for name in netns.list_hosts("dc-r1-"):
            netns.delete_host(name)
        netns.delete_bridge(BRIDGE)
        if carbon is not None:
            carbon.stop()


def launched(stack):
    drv = LocalDriver(stack["config"].resources["r1"], "dc", SECRET)
    return [i for i in drv.instances() if i.state.value != "gone"]


def test_engine_launches_to_min_with_a_pre_accepted_key_its_minion_uses(stack):
    master = stack["master"]
    insts = wait_for(lambda: launched(stack), 60, what="the engine to launch the min instance")
    assert len(insts) == 1
    mid = insts[0].minion_id
    assert identity.parse(mid, SECRET, "dc") is not None
    # accepted before the minion ever asked: the master holds the public half of the key in its user-data
    assert mid in master_keys(master).get("minions", [])
    pki = LocalDriver(stack["config"].resources["r1"], "dc", SECRET).instance_root(mid) + "/etc/salt/pki/minion"
    with open(os.path.join(master.config["pki_dir"], "minions", mid)) as fh:
        accepted = fh.read()
    wait_for(lambda: os.path.exists(pki + "/minion.pub"), 60, what="the minion's key files")
    with open(pki + "/minion.pub") as fh:
        assert fh.read().strip() == accepted.strip()
    assert not master_keys(master).get("minions_pre")  # the worker never presented a key of its own
    # the engine took the minion's start event off the bus and highstated it: the worker formula ran
    wait_for(lambda: (stack["markers"] / mid).exists(), 120, what="the highstate marker")

    # the engine learnt the highstate result and registered the node in the scheduler
    def created():
        return [c for c in stack["fake"].calls() if c[:3] == ["qmgr", "-c", f"create node {mid}"]]

    try:
        wait_for(created, 60, what="qmgr create node")
    except TimeoutError:
        log = LocalDriver(stack["config"].resources["r1"], "dc", SECRET).instance_root(mid) + "/var/log/salt/minion"
        with open(log) as fh:
            print("".join(fh.readlines()[-60:]))
        raise
    stack["mid"] = mid
    # min is 1 and max is 1: exactly one instance, however many cycles ran
    assert len(launched(stack)) == 1


def test_the_pillars_logging_section_gives_dclusters_own_file(stack):
    path = stack["tmp"] / "dcluster.log"

    def scheduler_polls():
        text = path.read_text() if path.exists() else ""
        return text if "DEBUG dcluster.schedulers.adapter: torque: running" in text else None

    text = wait_for(scheduler_polls, 60, what="the engine's scheduler polls in dcluster's log file")
    records = [
        line.split(" ", 2)
        for line in text.splitlines()
        if line.startswith(("DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL "))
    ]
    assert records and all(name.startswith(("dcluster", "salt.loaded.ext.engines.dcluster")) for _, name, _ in records)
    assert SECRET not in text


def test_status_runner_shows_live_engine_state(stack):
    mid = stack["mid"]
    fake = stack["fake"]
    fake.reset()
    fake.respond("pbsnodes", pbsnodes_xml(["cn001", mid]))
    fake.respond("qstat", "")
    fake.respond("checknode", CHECKNODE)
    maui_quiet(fake)
    run = stack["master"].salt_run_cli()

    def idle():
        ret = run.run("dcluster.status")
        ok = ret.returncode == 0 and any(mid in w for w in ret.data["workers"].get("idle", []))
        return ret.data if ok else None

    data = wait_for(idle, 30, what="status to show the worker idle")
    assert data["resources"]["r1"].startswith("1/1")
    assert any("cn001" in w and "physical" in w for w in data["workers"]["physical"])
    assert data["engine"]["stale"] is False and data["engine"]["scheduler_ok"] is True
    workers = run.run("dcluster.workers", "state=idle").data
    assert [w["name"] for w in workers] == [mid]
    assert workers[0]["instance"]["ip"].startswith("127.200.0.")


def test_operator_actions_go_through_the_engine(stack):
    run = stack["master"].salt_run_cli()
    ret = run.run("dcluster.hold", "cn001")
    assert ret.data["ok"] is True, ret.data
    holds = [c for c in stack["fake"].calls() if c[0] == "pbsnodes" and "-o" in c and "cn001" in c]
    assert holds, stack["fake"].calls()

    # a refused command fails salt-run (exit code 1), with the engine's reason.  Right after the hold the
    # engine may first refuse because that action ended after its view was taken (until its next cycle)
    def refused_as_physical():
        ret = run.run("dcluster.remove", "cn001")
        assert ret.returncode == 1 and "CommandExecutionError: dcluster.remove: " in ret.stdout, ret
        return ret if "not launched by dcluster" in ret.stdout else None

    wait_for(refused_as_physical, 30, what="the remove of a physical node refused as not ours")
    ret = run.run("dcluster.launch", "r1", "count=1")
    assert ret.returncode == 1 and "exceed max 1" in ret.stdout, ret
    ret = run.run("dcluster.validate", "minion=dceng-master")
    assert ret.returncode == 0 and ret.data == {"valid": True, "minion": "dceng-master", "errors": [], "retcode": 0}


def _prime(fake, mid, diagnose=None):
    fake.reset()
    if diagnose is not None:
        fake.respond("diagnose", **diagnose)
    fake.respond("pbsnodes", pbsnodes_xml(["cn001", mid]))
    fake.respond("qstat", "")
    fake.respond("checknode", CHECKNODE)
    maui_quiet(fake)


def test_maui_down_fails_the_poll_and_the_status_says_why(stack):
    fake, mid = stack["fake"], stack["mid"]
    run = stack["master"].salt_run_cli()
    _prime(fake, mid, diagnose={"rc": 1, "stderr": "ERROR:    cannot connect to 'dceng-master' port 42559\n"})

    def failing():
        data = run.run("dcluster.status").data
        why = [e for e in data.get("recent_errors", []) if "diagnose -p" in e]
        return data if data["engine"]["scheduler_ok"] is False and why else None

    data = wait_for(failing, 30, what="status to show MAUI's failed check")
    assert any("cannot connect to 'dceng-master'" in e for e in data["recent_errors"])
    assert not [c for c in fake.calls() if c[0] == "qmgr" and "delete" in " ".join(c)]
    _prime(fake, mid)  # MAUI answers again
    wait_for(
        lambda: run.run("dcluster.status").data["engine"]["scheduler_ok"] or None, 30, what="the poll to succeed again"
    )


def _rogue_minion(stack, minion_id, name):
    root = stack["tmp"] / name
    (root / "etc" / "salt").mkdir(parents=True)
    master = stack["master"]
    (root / "etc" / "salt" / "minion").write_text(
        yaml.safe_dump(
            {
                "id": minion_id,
                "master": GATEWAY,
                "master_port": master.config["ret_port"],
                "publish_port": master.config["publish_port"],
                "root_dir": str(root),
                "acceptance_wait_time": 1,
                "random_reauth_delay": 0,
                "user": "root",
            }
        )
    )
    proc = subprocess.Popen(
        [SALT_MINION, "-c", str(root / "etc" / "salt"), "-l", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack["extra"].append(proc)
    return proc


def test_spoofed_and_replayed_ids_stay_unaccepted(stack):
    master, mid = stack["master"], stack["mid"]
    forged = mid[:-12] + ("0" * 12 if not mid.endswith("0" * 12) else "1" * 12)
    unknown = identity.make("dc", "r1", SECRET)  # signed, but no such instance
    accepted_before = master_keys(master)["minions"]
    pub = os.path.join(master.config["pki_dir"], "minions", mid)
    with open(pub) as fh:
        key_before = fh.read()
    for i, name in enumerate((forged, unknown, mid)):
        _rogue_minion(stack, name, f"rogue{i}")
    # a signed id with no key of ours is refused (rejected: Salt refuses its later tries itself); an id
    # that is not ours is left pending for the admin; the worker's own id with another key is denied
    wait_for(
        lambda: (
            forged in master_keys(master).get("minions_pre", [])
            and unknown in master_keys(master).get("minions_rejected", [])
        ),
        60,
        what="the rogue keys to be refused",
    )
    time.sleep(5)  # several auth retries, each one a reactor run
    k = master_keys(master)
    assert forged in k["minions_pre"] and unknown in k["minions_rejected"]
    assert mid in k.get("minions_denied", [])
    assert sorted(k["minions"]) == sorted(accepted_before)
    with open(pub) as fh:
        assert fh.read() == key_before  # the replayed id did not replace the worker's key


def test_engine_metrics_reach_carbon(stack):
    carbon = stack["carbon"]
    if carbon is None:
        pytest.skip(carbon_skip())
    start = time.time() - 300

    def nodes():
        path = "dctest.resource.r1.nodes"
        if not os.path.exists(carbon.wsp(path)):
            return None
        return [v for _, v in carbon.fetch(path, start) if v is not None]

    values = wait_for(nodes, 60, what="engine metrics in whisper")
    assert values[-1] == 1.0
