"""End to end on a head built by the head formula: a queued job makes the engine launch a worker.

Once for Slurm, once for Grid Engine.  A fresh head host (tests/support/head_root.py: private PID,
mount, UTS and network namespaces, overlays over /etc /var /srv /opt /usr/local) becomes a head
by ``salt-call --local state.apply dcluster.head``: the library from a wheel into a fresh venv,
the scheduler's server (slurmctld and munged with the key kept root-only in /etc/salt/dcluster,
or sge_qmaster), the master.d drop-ins (engine, reactor, file_roots) and the reactor files.
For Grid Engine the formula also makes the head a submit host and creates ``@allhosts`` and ``all.q``
(deleted first and made again: :func:`sge_cell_from_scratch`).
Then, as an admin would, the test writes /etc/salt/master (id, interface, pillar_roots), the
engine's pillar (its secret read from a root-only file, as docs/deploy/README.md says), the
workers' pillar and the munge-key pillar (salt/pillar-examples/dcluster_munge_key.sls with
CLUSTER_NAME set), and starts the salt-master with the formula-installed library.  No
salt-master service exists here, so the test starts it.

Nothing else is done by hand: a job submitted to the formula's scheduler server makes the engine
launch a ``local`` worker (a network namespace on a bridge inside the head's own network
namespace, so no address meets another test's); its minion is accepted through the engine's
pre-accepted key; the engine highstates it with the worker formula (Slurm: the munge key from
the restricted pillar and slurmd configless from the head; Grid Engine: sge_execd; both: the
stats beacon, and ``dcluster_worker:share`` without ``server``: the kernel here has no NFS
client, so nothing is mounted); the job runs on it; after ``max_idle_time`` the engine removes
the node and destroys the instance.

The worker shares the head's file system (the local cloud's instances are network and UTS
namespaces), so /srv/shared is the same directory on both without a mount, and the worker's
munged is the head's.  Killing the head's PID 1 (by PID) ends every process in it; the
bridge, the worker's namespace and the overlays go with the head's namespaces.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from dcluster import identity, model
from tests.support.formula_host import REPO, apply, build_library, failed, formula_host, write_config
from tests.support.head_root import HeadRoot, available

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

_why = available()
if _why:
    pytest.skip(_why, allow_module_level=True)

SALT_SITE = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
HOST, ADDRESS = "dce2e", "127.200.0.89"  # the head's own address, on a veth pair kept inside it
BRIDGE, NETWORK, GATEWAY = "dce2e0", "127.200.0.80/29", "127.200.0.81"  # workers .82-.86, inside the head
CLUSTER, RESOURCE = "dce", "e2e"
SHARE = "/srv/shared"
SECRET_FILE = "/etc/salt/dcluster/secret"
# the engine's secret, rendered from the file the munge-key pillar reads (docs/deploy/README.md)
SECRET_LINE = "  secret: {{ salt['file.read']('" + SECRET_FILE + "') | trim | json }}\n"
STATE_DIR = "/var/lib/dcluster/local"
SALT_SCRIPTS = ("salt", "salt-master", "salt-minion", "salt-call", "salt-run", "salt-key")
SGE_ENV = {
    "SGE_ROOT": "/var/lib/gridengine",
    "SGE_CELL": "default",
    "SGE_QMASTER_PORT": "6444",
    "SGE_EXECD_PORT": "6445",
}
JOB = os.path.join(SHARE, "job.py")
# The job: records where it ran in the directory it is given (the worker sees the head's /srv/shared: it
# shares its file system).
JOB_SCRIPT = """#!/usr/bin/python3
import os, socket, sys, time
time.sleep(6)
job = os.environ.get("SLURM_JOB_ID") or os.environ["JOB_ID"]
with open(os.path.join(sys.argv[1], "job-" + job + ".out"), "w") as fh:
    fh.write("ran-on-" + socket.gethostname() + "\\n")
"""


def head_pillar(scheduler: str, wheel: str, venv: str) -> dict:
    return {
        "dcluster_head": {
            "scheduler": scheduler,
            "library": {"source": wheel, "pip": os.path.join(venv, "bin", "pip"), "no_deps": True},
            # no salt-master service here: the drop-ins are written, the test starts the master
            "master": {"service": "", "master_address": GATEWAY, "file_roots": [os.path.join(REPO, "salt")]},
            "share": {"path": SHARE, "clients": [NETWORK], "nfs_server": False},
            "slurm": {"cluster_name": "dce2e", "control_addr": GATEWAY},
            # the worker is a namespace on this shared machine: its load is the machine's, and the
            # default np_load_avg=1.75 would put all.q in alarm (no dispatch) whenever it is busy
            "sge": {"queue_settings": {"load_thresholds": "NONE"}},
        }
    }


def engine_pillar(scheduler: str) -> dict:
    cluster = {
        # the head formula's slurm.conf is /etc/slurm/slurm.conf, the commands' default
        "slurm": {"type": "slurm", "head_minion": "", "config": {"partition": "dcluster", "command_timeout": 30}},
        "sge": {"type": "sge", "head_minion": "", "config": {"command_env": SGE_ENV, "command_timeout": 30}},
    }[scheduler]
    return {
        "cluster_name": CLUSTER,
        "max_idle_time": 15,
        "max_launch_time": 150,
        "cluster_poller_interval": 1,
        "cloud_poller_interval": 2,
        "auto_provision_interval": 1,
        "auto_mode": True,
        "config-checker": {"salt": {"timeout": 120}},
        "backoff": {"initial": 5, "factor": 2.0, "max": 30, "capacity_pause": 30},
        "cluster": cluster,
        "cloud": {
            RESOURCE: {
                "type": "local",
                "quantity": {"min": 0, "max": 1},
                "cores": 1,
                "mem_mb": 500,
                "config": {
                    "bridge": BRIDGE,
                    "network": NETWORK,
                    "gateway": GATEWAY,
                    "state_dir": STATE_DIR,
                    # the local cloud's own DNS: the head's private /etc/hosts (the engine's hosts sync
                    # leaves local resources to it); Grid Engine's qmaster must resolve its exec hosts
                    "hosts_file": "/etc/hosts",
                    "userdata_vars": {"acceptance_wait_time": 1},
                },
            }
        },
    }


def worker_pillar(scheduler: str) -> dict:
    client = {
        "slurm": {
            "install": False,
            "conf_server": f"{GATEWAY}:6817",
            "cores": 1,
            "mem_mb": 500,
            "features": ["dcluster"],
            "boottime_zero": True,
        },
        "sge": {
            "install": False,
            "qmaster_host": HOST,
            "sge_root": SGE_ENV["SGE_ROOT"],
            "cell": SGE_ENV["SGE_CELL"],
            "qmaster_port": int(SGE_ENV["SGE_QMASTER_PORT"]),
            "execd_port": int(SGE_ENV["SGE_EXECD_PORT"]),
        },
    }[scheduler]
    return {
        "dcluster_worker": {
            scheduler: client,
            "share": {"path": SHARE},  # no server: nothing to mount (no NFS in this kernel)
            "stats": {"interval": 5},
        }
    }


def put(root: HeadRoot, path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a file inside the head host (through its overlays, as a process there would)."""
    code = (
        "import os, sys; p, m = sys.argv[1], int(sys.argv[2], 8); os.makedirs(os.path.dirname(p), exist_ok=True); "
        "fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, m); os.write(fd, sys.stdin.buffer.read()); "
        "os.close(fd); os.chmod(p, m)"
    )
    p = root.run(["/usr/bin/python3", "-c", code, path, oct(mode)[2:]], input=data)
    assert p.returncode == 0, p.stderr.decode()


def salt_from_suite(venv: str) -> None:
    """Make ``venv`` the head's salt-master Python: Salt comes from the suite's venv, after the library.

    A real head has one Python (onedir Salt) into which the formula pip-installs the library; here
    the formula installed it into ``venv`` and Salt is reached by a path line after it, so the master
    and its workers' minions import the formula's copy of dcluster.  The salt-* scripts point at this
    venv's python: the local cloud starts the workers' salt-minion from the master's own bin folder.
    """
    py = os.path.join(venv, "bin", "python")
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    )
    with open(os.path.join(site.stdout.strip(), "zz-dcluster-suite-salt.pth"), "w") as fh:
        fh.write(SALT_SITE + "\n")
    for name in SALT_SCRIPTS:
        with open(os.path.join(os.path.dirname(sys.executable), name)) as fh:
            body = fh.read().split("\n", 1)[1]
        path = os.path.join(venv, "bin", name)
        with open(path, "w") as fh:
            fh.write(f"#!{py}\n{body}")
        os.chmod(path, 0o755)


@pytest.fixture(params=["slurm", "sge"])
def head(request, tmp_path):
    scheduler, d = request.param, tmp_path
    # this interpreter's base: the venv can then use Salt's compiled dependencies from the suite's venv
    wheel, venv = build_library(d, sys.executable)
    write_config(d, HOST, "head", head_pillar(scheduler, wheel, venv))
    with formula_host(d, HOST, ADDRESS) as root:
        try:
            yield root, d, venv, scheduler
        finally:
            for log in (
                "/var/log/salt/master",
                "/var/log/slurm/slurmctld.log",
                "/var/spool/gridengine/qmaster/messages",
            ):
                if os.path.exists(root.upper(log)):
                    shutil.copy(root.upper(log), d / os.path.basename(log))  # for a post-mortem


def sge_cell_from_scratch(root: HeadRoot, d) -> None:
    """The formula's Grid Engine cell made on a spool without it.

    The head's spool is this machine's, seen through an overlay, so a queue and host group left by
    an earlier run may be there already: the test deletes them and applies ``dcluster.head.sge``
    again, so the worker runs its job in the queue and host group the formula made.
    """

    def qconf(*args: str) -> subprocess.CompletedProcess:
        return sched(root, "sge", ["qconf", *args])

    for args in (["-dq", "all.q"], ["-dhgrp", "@allhosts"], ["-ds", HOST]):
        qconf(*args)  # absent already is fine
    assert qconf("-sq", "all.q").returncode != 0 and qconf("-shgrp", "@allhosts").returncode != 0
    made = apply(root, d, "dcluster.head.sge")
    assert failed(made) == {}
    assert made[f"dcluster-sge-submit-hosts:{HOST}"]["changes"] == {"added": HOST}
    assert made["dcluster-sge-hostgroup:@allhosts"]["changes"] == {"created": "@allhosts"}
    assert made["dcluster-sge-queue:all.q"]["changes"] == {"created": "all.q"}


def sched(root: HeadRoot, scheduler: str, argv: list[str]) -> subprocess.CompletedProcess:
    """A scheduler command on the head (Grid Engine's need the cell's environment)."""
    env = [f"{k}={v}" for k, v in SGE_ENV.items()] if scheduler == "sge" else []
    return root.run(["env", *env, *argv])


def submit(root: HeadRoot, scheduler: str) -> str:
    if scheduler == "slurm":
        p = sched(root, scheduler, ["sbatch", "--parsable", "-p", "dcluster", "-o", "/dev/null", JOB, SHARE])
        assert p.returncode == 0, p
        return p.stdout.decode().strip()
    # -w n: with no exec host yet, qsub's default check would refuse the job that should make one
    argv = ["qsub", "-w", "n", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", "/usr/bin/python3", JOB, SHARE]
    p = sched(root, scheduler, argv)
    # Son of Grid Engine 8.1.9 with no exec host at all queues the job but may exit 1
    queued = re.search(rb"Your job (\d+) .*has been submitted", p.stdout + p.stderr)
    assert queued, p
    return queued.group(1).decode()


def nodes(root: HeadRoot, scheduler: str) -> set[str]:
    """The scheduler's nodes (Slurm) or exec hosts (Grid Engine)."""
    argv = ["sinfo", "-h", "-N", "-o", "%N"] if scheduler == "slurm" else ["qconf", "-sel"]
    p = sched(root, scheduler, argv)
    assert p.returncode == 0 or scheduler == "sge", p  # qconf -sel exits 1 when there is none
    return set(p.stdout.decode().split())


def engine_state(root: HeadRoot) -> dict:
    """The engine's saved state (written whole, by rename)."""
    with open(root.upper("/var/cache/salt/master/dcluster/state.json")) as fh:
        return json.load(fh)


def resolves(root: HeadRoot, name: str) -> str | None:
    """The address ``name`` resolves to on the head, or None."""
    p = root.run(["getent", "hosts", name])
    return p.stdout.decode().split()[0] if p.returncode == 0 else None


def wait(what: str, predicate, timeout: float, interval: float = 1.0):
    start = time.monotonic()
    while True:
        value = predicate()
        if value or time.monotonic() > start + timeout:
            assert value, f"timed out after {timeout:g} s waiting for {what}"
            print(f"{time.strftime('%H:%M:%S')} {what}: {time.monotonic() - start:.1f} s")
            return value
        time.sleep(interval)


def test_a_queued_job_makes_the_engine_launch_a_worker_that_runs_it_then_goes(head):
    root, d, venv, scheduler = head
    # The head's name resolves to its address on the workers' network: the workers find it by name
    # (Grid Engine's act_qmaster) and share its /etc/hosts.
    put(root, "/etc/hosts", f"{GATEWAY} {HOST}\n127.0.0.1 localhost\n".encode())
    # The workers' bridge, inside the head's network namespace (the master listens on its address).
    bridge = root.run(
        [sys.executable, "-c", f"from dcluster import netns; netns.ensure_bridge({BRIDGE!r}, {GATEWAY!r}, 29)"],
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert bridge.returncode == 0, bridge.stderr.decode()

    res = apply(root, d)
    assert failed(res) == {}
    salt_from_suite(venv)
    if scheduler == "sge":
        sge_cell_from_scratch(root, d)

    # What an admin writes on the new head (docs/deploy/README.md): the secret in a root-only file,
    # the pillar, and the master's own settings beside the formula's master.d drop-ins.
    secret = base64.b32encode(os.urandom(20)).decode()
    put(root, SECRET_FILE, secret.encode() + b"\n", 0o600)
    master_id = f"{HOST}_master"
    top = {"base": {master_id: ["dcluster"], f"{CLUSTER}-*": ["worker"], "*": ["dcluster_munge_key"]}}
    put(root, "/srv/pillar/top.sls", yaml.safe_dump(top).encode())
    engine = yaml.safe_dump({"dcluster": engine_pillar(scheduler)}).replace(
        "dcluster:\n", "dcluster:\n" + SECRET_LINE, 1
    )
    put(root, "/srv/pillar/dcluster.sls", engine.encode(), 0o600)
    put(root, "/srv/pillar/worker.sls", yaml.safe_dump(worker_pillar(scheduler)).encode())
    with open(os.path.join(REPO, "salt", "pillar-examples", "dcluster_munge_key.sls")) as fh:
        example = fh.read()
    assert 'CLUSTER_NAME = "mycluster"\n' in example
    put(root, "/srv/pillar/dcluster_munge_key.sls", example.replace('"mycluster"', f'"{CLUSTER}"').encode(), 0o600)
    master = {
        "id": master_id,
        "interface": GATEWAY,
        "pillar_roots": {"base": ["/srv/pillar"]},
        "open_mode": False,
        "auto_accept": False,
        "log_level_logfile": "info",
    }
    put(root, "/etc/salt/master", yaml.safe_dump(master).encode())
    bin_ = os.path.join(venv, "bin")
    started = root.run([os.path.join(bin_, "salt-master"), "-c", "/etc/salt", "-d"])
    assert started.returncode == 0, started.stderr.decode()
    cache = root.upper("/var/cache/salt/master/dcluster/state.json")
    wait("the engine's first cycle", lambda: os.path.exists(cache), 90)

    # A job on the formula's scheduler server, with no node yet: the engine launches one for it.
    put(root, JOB, JOB_SCRIPT.encode(), 0o755)
    job = submit(root, scheduler)

    def records():
        return [json.load(open(p)) for p in glob.glob(os.path.join(root.upper(STATE_DIR), "*.json"))]

    rec = wait("the engine to launch a local worker", records, 90)[0]
    minion = rec["tags"][model.TAG_MINION]
    assert identity.parse(minion, secret, CLUSTER) is not None, minion
    # its key was accepted before its launch, by the engine (nothing was pending)
    assert os.path.exists(root.upper(f"/etc/salt/pki/master/minions/{minion}"))
    assert not os.path.exists(root.upper(f"/etc/salt/pki/master/minions_pre/{minion}"))

    wait("the worker to join the scheduler", lambda: minion in nodes(root, scheduler), 150)
    # the engine took the worker formula's highstate as this worker's: its return carried the minion's
    # signature over the jid (dcluster-highstate-proof), checked against the key the engine accepted
    wait("the engine to count the worker configured", lambda: minion in engine_state(root)["configured"], 60)
    # the worker formula's results, asked of the worker's minion through the head's master
    salt = [os.path.join(bin_, "salt"), "-c", "/etc/salt", "--out=json", "-t", "30", minion]
    # unmask: Salt 3008 prints pillar values as ********** unless asked
    items = root.run([*salt, "pillar.item", "dcluster_worker", "unmask=True"])
    worker = json.loads(items.stdout)[minion]["dcluster_worker"]
    if scheduler == "slurm":  # the Grid Engine head keeps no munge key: its workers get none
        assert "munge_key" in worker, sorted(worker)
        with open(root.upper("/etc/salt/dcluster/munge.key"), "rb") as fh:
            assert base64.b64decode(worker["munge_key"]) == fh.read()
    else:
        assert "munge_key" not in worker, sorted(worker)
    beacons = root.run([*salt, "beacons.list", "return_yaml=False"])
    assert "dcluster_stats" in json.loads(beacons.stdout)[minion], beacons
    # the head resolves the worker's name; Slurm reaches the node at its instance's address
    assert resolves(root, minion) == rec["address"]
    if scheduler == "slurm":
        node = root.run(["scontrol", "show", "node", minion]).stdout.decode()
        assert f"NodeAddr={rec['address']} " in node, node

    result = root.upper(os.path.join(SHARE, f"job-{job}.out"))
    wait(f"job {job} to finish", lambda: os.path.exists(result) and open(result).read().strip(), 120)
    with open(result) as fh:
        assert fh.read().strip() == f"ran-on-{minion}"

    # Idle for max_idle_time: the node leaves the scheduler, the instance and its key go.
    wait("the engine to destroy the idle worker", lambda: not records(), 150)
    wait("the node to leave the scheduler", lambda: minion not in nodes(root, scheduler), 60)
    assert not os.path.exists(root.upper(f"/etc/salt/pki/master/minions/{minion}"))
    assert resolves(root, minion) is None
    netns = root.run(["ip", "netns", "list"]).stdout.decode()
    assert rec["namespace"] not in netns
