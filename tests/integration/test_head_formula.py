"""The head formula applied for real: a fresh head host becomes a Slurm head by state.apply.

Once for Slurm (slurmctld, munged) and once for Grid Engine (sge_qmaster).  The host is a throw-away set of namespaces on this machine (tests/support/head_root.py:
private PID, mount, UTS and network namespaces, copy-on-write overlays over /etc /var
/srv /opt /usr/local, its own loopback and 127.200.0.233 on a veth pair kept inside),
so the formula runs with its production defaults (/etc/slurm, /etc/munge, Debian's init
scripts) without touching this machine's own files or daemons.  ``salt-call --local``
applies ``dcluster.head`` with the Debian packages already installed here (slurmctld,
munge, gridengine-master, debconf-utils, graphite-carbon): the library goes from a wheel into a fresh venv, the master.d
drop-ins and reactors are written, munged and slurmctld (or sge_qmaster) and carbon-cache are started
through their init scripts and answer; a second apply changes nothing.

The kernel here has no NFS server (no nfsd in /proc/filesystems, no modules): the real
apply writes the export file only (share:nfs_server False); the NFS server states are
checked with test=True.  Killing the host's PID 1 (by PID) ends every daemon in it.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import time

import pytest
import yaml

from dcluster.schedulers.sge import EXECHOST_TEMPLATE
from tests.support.formula_host import REPO, apply, build_library, failed, formula_host, write_config
from tests.support.head_root import HeadRoot, available

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

_why = available()
if _why:
    pytest.skip(_why, allow_module_level=True)

HOST, ADDRESS = "dchead", "127.200.0.233"  # private to the head's network namespace
SHARE = "/srv/shared"
CLIENTS = "127.200.0.232/29"


def pillar(scheduler: str, wheel: str, venv: str) -> dict:
    return {
        "dcluster_head": {
            "scheduler": scheduler,
            "library": {"source": wheel, "pip": os.path.join(venv, "bin", "pip"), "no_deps": True},
            # no salt-master service on this machine: the drop-ins are written, nothing restarted
            "master": {"service": "", "master_address": ADDRESS, "file_roots": [os.path.join(REPO, "salt")]},
            "share": {"path": SHARE, "clients": [CLIENTS], "nfs_server": False},
            "slurm": {"cluster_name": "dchead", "control_addr": ADDRESS},
        }
    }


# One head host per scheduler, its tests in file order, stopped before the next one starts.
@pytest.fixture(scope="module", params=["slurm", "sge"])
def head(request, tmp_path_factory):
    scheduler = request.param
    d = tmp_path_factory.mktemp(f"head-{scheduler}")
    wheel, venv = build_library(d, "/usr/bin/python3")
    write_config(d, HOST, "head", pillar(scheduler, wheel, venv))
    with formula_host(d, HOST, ADDRESS) as root:
        yield root, d, venv, scheduler


@pytest.fixture(scope="module")
def first(head):
    root, d, _, scheduler = head
    return apply(root, d)


SCHEDULER_STATES = {
    "slurm": ("dcluster-munge-key", "dcluster-munged", "dcluster-slurm-conf", "dcluster-slurmctld"),
    "sge": ("dcluster-sge-act-qmaster", "dcluster-sge-environment", "dcluster-sge-qmaster"),
}


def test_first_apply_succeeds_and_changes_the_host(head, first):
    scheduler = head[3]
    assert failed(first) == {}
    changed = {k for k, v in first.items() if v["changes"]}
    for sid in (
        "dcluster-library",
        "dcluster-master-engine",
        "dcluster-master-reactor",
        "dcluster-share-export",
        "dcluster-carbon-cache",
        *SCHEDULER_STATES[scheduler],
    ):
        assert any(k.startswith(sid + ":") for k in changed), (sid, sorted(changed))


def test_the_scheduler_server_and_carbon_run_and_answer(head, first):
    root, _, _, scheduler = head
    if scheduler == "slurm":
        ping = root.run(["scontrol", "ping"])
        assert b"is UP" in ping.stdout, ping
        parts = root.run(["sinfo", "-h", "-o", "%P %a"])
        assert parts.stdout.split() == [b"dcluster*", b"up"], parts
        cred = root.run(["munge", "-n"])
        assert cred.returncode == 0, cred
        check = root.run(["unmunge"], input=cred.stdout)
        assert check.returncode == 0 and b"STATUS:          Success" in check.stdout, check
    else:
        # the qmaster answers on the cell's port, as the head it was told it is
        env = ["env", "SGE_ROOT=/var/lib/gridengine", "SGE_CELL=default", "SGE_QMASTER_PORT=6444"]
        hosts = root.run([*env, "qconf", "-sh"])
        assert hosts.returncode == 0 and HOST.encode() in hosts.stdout.split(), hosts
        with open(root.upper("/var/lib/gridengine/default/common/act_qmaster")) as fh:
            assert fh.read().strip() == HOST
    # carbon-cache on the head's own loopback writes what it receives
    send = (
        "import socket, time; s = socket.create_connection(('127.0.0.1', 2003), 5); "
        "s.sendall(b'dcluster.headtest.value 7 %d\\n' % time.time()); s.close()"
    )
    assert root.run(["/usr/bin/python3", "-c", send]).returncode == 0
    wsp = root.upper("/var/lib/graphite/whisper/dcluster/headtest/value.wsp")
    deadline = time.monotonic() + 30
    while not os.path.exists(wsp) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert os.path.exists(wsp)


def test_library_drop_ins_reactors_export_and_key(head, first):
    root, d, venv, scheduler = head
    where = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-I", "-c", "import dcluster; print(dcluster.__file__)"],
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(venv), where
    conf = root.upper("/etc/salt/master.d")
    with open(os.path.join(conf, "dcluster-engine.conf")) as fh:
        assert yaml.safe_load(fh) == {"engines": [{"dcluster": {"master_address": ADDRESS}}]}
    with open(os.path.join(conf, "dcluster-reactor.conf")) as fh:
        reactor = yaml.safe_load(fh)["reactor"]
    targets = [path for mapping in reactor for paths in mapping.values() for path in paths]
    # the key reactor only: the retired stats and start reactors are no longer mapped (the engine reads
    # those events off the bus itself)
    assert sorted(os.path.basename(p) for p in targets) == ["auth.sls"]
    for path in targets:
        with open(root.upper(path)) as ours, open(os.path.join(REPO, "reactor", os.path.basename(path))) as shipped:
            assert ours.read() == shipped.read()
    with open(os.path.join(conf, "dcluster-file-roots.conf")) as fh:
        assert yaml.safe_load(fh) == {"file_roots": {"base": [os.path.join(REPO, "salt")]}}
    with open(root.upper("/etc/exports.d/dcluster.exports")) as fh:
        assert fh.read().splitlines()[-1] == f"{SHARE} {CLIENTS}(rw,sync,no_subtree_check,root_squash)"
    assert stat.S_IMODE(os.stat(root.upper(SHARE)).st_mode) == 0o1777
    if scheduler == "slurm":
        check_munge_key(root)


def check_munge_key(root: HeadRoot) -> None:
    store, key = root.upper("/etc/salt/dcluster/munge.key"), root.upper("/etc/munge/munge.key")
    with open(store, "rb") as a, open(key, "rb") as b:
        assert a.read() == b.read()
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o400 and os.stat(store).st_uid == 0
    assert stat.S_IMODE(os.stat(os.path.dirname(store)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o400
    assert pwd.getpwuid(os.stat(key).st_uid).pw_name == "munge"


def test_second_apply_changes_nothing(head, first):
    root, d, _, scheduler = head
    again = apply(root, d)
    assert failed(again) == {}
    assert {k: v["changes"] for k, v in again.items() if v["changes"]} == {}
    # the services were checked, not skipped
    server = {"slurm": "dcluster-slurmctld:slurmctld", "sge": "dcluster-sge-qmaster:gridengine-master"}[scheduler]
    assert "already running" in again[server]["comment"]


SGE_ENV = ["env", "SGE_ROOT=/var/lib/gridengine", "SGE_CELL=default", "SGE_QMASTER_PORT=6444"]


def qconf(root: HeadRoot, *args: str, ok: bool = True) -> str:
    p = root.run([*SGE_ENV, "qconf", *args])
    assert p.returncode == 0 or not ok, p
    return p.stdout.decode()


def test_the_sge_cell_gets_its_submit_host_hostgroup_and_queue(head, first):
    """Made when absent (deleted first: the head's spool is this machine's, seen through an overlay,
    so they may exist already), checked with test=True, changed keeping the engine's per-host slots."""
    root, d, _, scheduler = head
    if scheduler != "sge":
        pytest.skip("the Grid Engine cell")
    qconf(root, "-dq", "all.q", ok=False)
    qconf(root, "-dhgrp", "@allhosts", ok=False)
    qconf(root, "-ds", HOST, ok=False)
    assert root.run([*SGE_ENV, "qconf", "-sq", "all.q"]).returncode != 0
    denied = root.run([*SGE_ENV, "qsub", "-w", "n", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", "/bin/true"])
    assert b"is not a submit host" in denied.stdout + denied.stderr, denied
    states = ("dcluster-sge-submit-hosts:" + HOST, "dcluster-sge-hostgroup:@allhosts", "dcluster-sge-queue:all.q")
    dry = apply(root, d, "dcluster.head.sge", "test=True")
    assert [(dry[s]["result"], dry[s]["changes"]) for s in states] == [
        (None, {"added": HOST}),
        (None, {"created": "@allhosts"}),
        (None, {"created": "all.q"}),
    ]
    assert root.run([*SGE_ENV, "qconf", "-sq", "all.q"]).returncode != 0  # test=True changed nothing
    made = apply(root, d, "dcluster.head.sge")
    assert failed(made) == {}
    assert [made[s]["changes"] for s in states] == [{"added": HOST}, {"created": "@allhosts"}, {"created": "all.q"}]
    assert HOST in qconf(root, "-ss").split()
    assert qconf(root, "-shgrp", "@allhosts").split() == ["group_name", "@allhosts", "hostlist", "NONE"]
    queue = dict(line.split(None, 1) for line in qconf(root, "-sq", "all.q").splitlines())
    assert (queue["hostlist"], queue["slots"], queue["shell"]) == ("@allhosts", "1", "/bin/sh")
    sub = root.run([*SGE_ENV, "qsub", "-w", "n", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", "/bin/true"])
    assert b"has been submitted" in sub.stdout + sub.stderr, sub
    root.run([*SGE_ENV, "qdel", "-f", "-u", "*"])

    # What the engine's add_node does: exec hosts in @allhosts, each with its own slots in all.q (so
    # many that qconf wraps the slots line: the states keep every override through the wrapping).
    extra = [f"dcx{i}" for i in range(1, 7)]
    hosts = root.run(["cat", "/etc/hosts"]).stdout.decode()
    lines = "".join(f"127.200.0.{233 + i} {name}\n" for i, name in enumerate(extra, 1))
    p = root.run(
        ["/usr/bin/python3", "-c", "import sys; open('/etc/hosts', 'a').write(sys.stdin.read())"], input=lines.encode()
    )
    assert p.returncode == 0, p
    for name in (HOST, *extra):
        path = os.path.join("/var/tmp", name)
        text = EXECHOST_TEMPLATE.format(name=name, complex_values="NONE")
        p = root.run(
            ["/usr/bin/python3", "-c", f"import sys; open({path!r}, 'w').write(sys.stdin.read())"], input=text.encode()
        )
        assert p.returncode == 0, p
        qconf(root, "-Ae", path)
        qconf(root, "-aattr", "hostgroup", "hostlist", name, "@allhosts")
        qconf(root, "-rattr", "queue", "slots", "4", f"all.q@{name}")
    listing = qconf(root, "-sq", "all.q")
    assert "\\\n" in listing, listing  # wrapped
    if os.environ.get("RECORD_TO"):  # the real listings tests/unit/states/test_dcluster_sge_cell.py reads
        for name, args in (("qconf-sq-template.txt", ["-sq"]), ("qconf-sq-all.q-wrapped.txt", ["-sq", "all.q"])):
            with open(os.path.join(os.environ["RECORD_TO"], name), "w") as fh:
                fh.write(qconf(root, *args))
    again = apply(root, d, "dcluster.head.sge")
    assert {k: v["changes"] for k, v in again.items() if v["changes"]} == {}
    override = json.dumps({"dcluster_head": {"sge": {"queue_settings": {"slots": 2, "load_thresholds": "NONE"}}}})
    changed = apply(root, d, "dcluster.head.sge", f"pillar={override}")
    assert failed(changed) == {}
    diff = changed["dcluster-sge-queue:all.q"]["changes"]
    assert diff["load_thresholds"] == {"old": "np_load_avg=1.75", "new": "NONE"}
    assert diff["slots"]["old"] == "1" and diff["slots"]["new"].startswith("2,["), diff
    after = qconf(root, "-sq", "all.q").replace("\\\n", "").split("\n")
    queue = {line.split(None, 1)[0]: " ".join(line.split()[1:]) for line in after if line.strip()}
    assert (queue["load_thresholds"], queue["hostlist"]) == ("NONE", "@allhosts")
    slots = queue["slots"].replace(" ", "").split(",")
    assert slots[0] == "2" and sorted(slots[1:]) == sorted(f"[{name}=4]" for name in (HOST, *extra)), queue["slots"]
    assert apply(root, d, "dcluster.head.sge", f"pillar={override}")["dcluster-sge-queue:all.q"]["changes"] == {}
    for name in (HOST, *extra):
        qconf(root, "-purge", "queue", "slots", f"all.q@{name}")
        qconf(root, "-dattr", "hostgroup", "hostlist", name, "@allhosts")
        qconf(root, "-de", name)
    p = root.run(
        ["/usr/bin/python3", "-c", "import sys; open('/etc/hosts', 'w').write(sys.stdin.read())"], input=hosts.encode()
    )
    assert p.returncode == 0, p


def test_a_slurm_worker_from_the_worker_formula_joins_and_runs_a_job(head, first):
    """The worker formula (configless: slurm.conf from this head's slurmctld) on the head host itself."""
    root, d, _, scheduler = head
    if scheduler != "slurm":
        pytest.skip("the Slurm worker")
    worker = {
        "dcluster_worker": {
            "slurm": {
                "install": False,
                "conf_server": f"{ADDRESS}:6817",
                "cores": 1,
                "mem_mb": 200,
                "features": ["dcluster"],
            }
        }
    }
    res = apply(root, d, "dcluster.worker.slurm", f"pillar={json.dumps(worker)}")
    assert failed(res) == {}
    assert res[f"dcluster-slurmd:{HOST}"]["changes"]["started"]["argv"][-2:] == ["--conf-server", f"{ADDRESS}:6817"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nodes = root.run(["sinfo", "-h", "-N", "-o", "%N %t %f"]).stdout.decode().split()
        if nodes[:2] == [HOST, "idle"]:
            break
        time.sleep(1)
    assert nodes[:3] == [HOST, "idle", "dcluster"], nodes
    out = os.path.join(SHARE, "job-%j.out")
    sub = root.run(["sbatch", "--parsable", "-p", "dcluster", "-o", out, "--wrap", "echo ran-on-$(hostname)"])
    assert sub.returncode == 0, sub
    job = sub.stdout.decode().strip()
    result = root.upper(os.path.join(SHARE, f"job-{job}.out"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (os.path.exists(result) and open(result).read()):
        time.sleep(1)
    with open(result) as fh:
        assert fh.read().strip() == f"ran-on-{HOST}"


def test_nfs_server_states_with_test_true(head, first):
    """No kernel NFS server here: the export with nfs_server on is checked with test=True."""
    root, d, _, scheduler = head
    override = json.dumps({"dcluster_head": {"share": {"nfs_server": True}}})
    res = apply(root, d, "dcluster.head.share", "test=True", f"pillar={override}")
    assert failed({k: v for k, v in res.items() if v["result"] is not None}) == {}
    assert res["dcluster-nfs-server-packages:dcluster-nfs-server-packages"]["result"] is None
    assert "nfs-kernel-server" in json.dumps(res["dcluster-nfs-server-packages:dcluster-nfs-server-packages"])
    assert res["dcluster-nfs-server:nfs-kernel-server"]["result"] is None
    assert res["dcluster-share-export:/etc/exports.d/dcluster.exports"]["result"] is True


def test_worker_munge_key_from_pillar_applied_for_real(tmp_path):
    """dcluster.worker.munge on a fresh host: the pillar's key (base64) becomes munged's key, idempotently."""
    import base64

    key = os.urandom(1024)
    write_config(tmp_path, "dcworker", "worker", {"dcluster_worker": {"munge_key": base64.b64encode(key).decode()}})
    with formula_host(tmp_path, "dcworker", ADDRESS) as root:
        first = apply(root, tmp_path, "dcluster.worker.munge")
        assert failed(first) == {}
        assert first["dcluster-munged:munge"]["changes"], first["dcluster-munged:munge"]
        path = root.upper("/etc/munge/munge.key")
        with open(path, "rb") as fh:
            assert fh.read() == key
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o400 and pwd.getpwuid(os.stat(path).st_uid).pw_name == "munge"
        cred = root.run(["munge", "-n"])
        assert root.run(["unmunge"], input=cred.stdout).returncode == 0
        # the key never appears in the state output
        assert base64.b64encode(key).decode()[:40] not in json.dumps(first)
        again = apply(root, tmp_path, "dcluster.worker.munge")
        assert failed(again) == {}
        assert {k: v["changes"] for k, v in again.items() if v["changes"]} == {}
