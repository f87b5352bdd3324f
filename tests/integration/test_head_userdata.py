"""The all-in-one templates' user-data (templates/head-userdata.sh) run for real on a fresh head host.

The host is the same throw-away set of namespaces as the head-formula test
(tests/support/head_root.py: private PID, mount, UTS and network namespaces, overlays over
/etc /var /srv /opt /usr/local).  The script runs as cloud-init would run it, as root with the
DCLUSTER_* variables the templates set, except for the steps that need the network, which it
lets a caller point at what is here: DCLUSTER_SKIP_PACKAGES=1 (the Debian packages and Salt are
installed on this machine: Salt is this virtualenv's), DCLUSTER_SOURCE=<this checkout> (a local
directory instead of a git URL), DCLUSTER_PIP=<a fresh venv's pip> (the library goes there, not
into the shared virtualenv), DCLUSTER_NFS_SERVER=0 (the kernel here has no NFS server), DCLUSTER_HEAD_ADDRESS (the
workers' network here is in 127/8, routed through lo).  No
systemd runs in the host, so the script manages no salt-master (DCLUSTER_SERVICES defaults to 0).

It must end with the head formula applied: the scheduler's server answers, the master.d
drop-ins name the head's address, and the pillar it wrote is valid for dcluster and keeps the
application credential root-only and out of the output.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
import yaml

from dcluster import config as dconfig
from tests.support.head_root import HeadRoot, available

pytestmark = [pytest.mark.daemons, pytest.mark.slow]

_why = available()
if _why:
    pytest.skip(_why, allow_module_level=True)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "templates", "head-userdata.sh")
SALT_VENV = os.path.dirname(os.path.dirname(sys.executable))
HOST, ADDRESS = "dchead", "127.200.0.233"  # private to the head's network namespace
WORKERS = "127.200.0.232/29"
APP_SECRET = "Zq3-userdata-test-secret_0123456789abcdef"


def parameters(scheduler: str, venv: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        # what the OpenStack template passes
        "DCLUSTER_CLOUD": "openstack",
        "DCLUSTER_SCHEDULER": scheduler,
        "DCLUSTER_SOURCE": REPO,
        "DCLUSTER_CLUSTER_NAME": "dc",
        "DCLUSTER_WORKER_CIDR": WORKERS,
        "DCLUSTER_MAX_WORKERS": "3",
        "DCLUSTER_WORKER_IMAGE": "1e6a2b3c-0000-4000-8000-000000000001",
        "DCLUSTER_WORKER_FLAVOR": "m3.medium",
        "DCLUSTER_WORKER_CORES": "2",
        "DCLUSTER_WORKER_MEM_MB": "3500",
        "DCLUSTER_KEY_NAME": "admin-key",
        "DCLUSTER_WORKER_NETWORK": "cluster-net",
        "DCLUSTER_WORKER_SECURITY_GROUP": "dc-workers",
        "DCLUSTER_OS_AUTH_URL": "https://keystone.example.org:5000/v3",
        "DCLUSTER_OS_REGION": "RegionOne",
        "DCLUSTER_OS_APP_CRED_ID": "0123456789abcdef0123456789abcdef",
        "DCLUSTER_OS_APP_CRED_SECRET": APP_SECRET,
        # what this machine stands in for
        "DCLUSTER_SKIP_PACKAGES": "1",
        "DCLUSTER_SALT_VENV": SALT_VENV,
        "DCLUSTER_PIP": os.path.join(venv, "bin", "pip"),
        "DCLUSTER_NO_DEPS": "1",
        "DCLUSTER_NFS_SERVER": "0",
        # The workers' network is in 127/8 here, which routes through lo (source 127.0.0.1): the
        # address the script would detect on a cloud VM is given instead.
        "DCLUSTER_HEAD_ADDRESS": ADDRESS,
    }


@pytest.fixture(scope="module", params=["slurm", "sge"])
def run(request, tmp_path_factory):
    scheduler = request.param
    d = tmp_path_factory.mktemp(f"userdata-{scheduler}")
    venv = str(d / "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
    root = HeadRoot(str(d / "root"), HOST, ADDRESS)
    root.start()
    try:
        proc = root.run(["bash", SCRIPT], env=parameters(scheduler, venv), timeout=900)
        yield root, proc, venv, scheduler
    finally:
        root.stop()


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def test_the_script_ends_with_the_head_formula_applied(run):
    root, proc, venv, scheduler = run
    assert proc.returncode == 0, output(proc)[-4000:]
    assert "dcluster-head: done: dcluster.head applied" in output(proc)
    assert "changed=" in output(proc)  # salt's summary of a first apply
    assert os.path.exists(root.upper("/var/lib/dcluster/head-applied"))
    where = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-I", "-c", "import dcluster; print(dcluster.__file__)"],
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(venv), where
    with open(root.upper("/etc/salt/master.d/dcluster-engine.conf")) as fh:
        assert yaml.safe_load(fh) == {"engines": [{"dcluster": {"master_address": ADDRESS}}]}
    with open(root.upper("/etc/salt/master.d/dcluster-file-roots.conf")) as fh:
        assert yaml.safe_load(fh) == {"file_roots": {"base": ["/srv/dcluster/salt"]}}
    with open(root.upper("/etc/exports.d/dcluster.exports")) as fh:
        assert fh.read().splitlines()[-1].startswith(f"/shared {WORKERS}(")
    if scheduler == "slurm":
        deadline = time.monotonic() + 30
        while b"is UP" not in (ping := root.run(["scontrol", "ping"])).stdout and time.monotonic() < deadline:
            time.sleep(1)
        assert b"is UP" in ping.stdout, ping
        cred = root.run(["munge", "-n"])
        assert root.run(["unmunge"], input=cred.stdout).returncode == 0
    else:
        env = ["env", "SGE_ROOT=/var/lib/gridengine", "SGE_CELL=default", "SGE_QMASTER_PORT=6444"]
        hosts = root.run([*env, "qconf", "-sh"])
        assert hosts.returncode == 0 and HOST.encode() in hosts.stdout.split(), hosts


def test_the_pillar_it_wrote_is_valid_and_keeps_the_credential_root_only(run):
    root, proc, _, scheduler = run
    assert proc.returncode == 0, output(proc)[-4000:]
    assert APP_SECRET not in output(proc)
    engine = root.upper("/srv/pillar/dcluster/engine.sls")
    assert stat.S_IMODE(os.stat(engine).st_mode) == 0o600 and os.stat(engine).st_uid == 0
    secret = root.upper("/etc/salt/dcluster/secret")
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o400
    # The master's view of its own pillar, rendered by Salt as the engine would read it.
    got = root.run(
        [
            os.path.join(SALT_VENV, "bin", "salt-call"),
            "--local",
            "--id",
            "dchead_master",
            "--pillar-root",
            "/srv/pillar",
            "--file-root",
            "/srv/dcluster/salt",
            "pillar.items",
            "unmask=True",
            "--out=json",
        ]
    )
    pillar = json.loads(got.stdout)["local"]
    assert set(pillar) == {"dcluster"}, sorted(pillar)
    assert dconfig.errors(pillar["dcluster"]) == [], dconfig.errors(pillar["dcluster"])
    conf = dconfig.load(pillar["dcluster"])
    assert conf.cluster_name == "dc" and len(conf.secret.reveal()) == 64
    assert list(conf.resources) == ["cloud"]
    resource = conf.resources["cloud"]
    assert resource.config.application_credential_secret.reveal() == APP_SECRET
    assert (resource.max, resource.cores, resource.mem_mb) == (3, 2, 3500)
    # the head minion gets the head formula's pillar, and neither the engine's nor the workers'
    head = root.run(
        [
            os.path.join(SALT_VENV, "bin", "salt-call"),
            "--local",
            "--id",
            "dchead",
            "--pillar-root",
            "/srv/pillar",
            "--file-root",
            "/srv/dcluster/salt",
            "pillar.items",
            "--out=json",
        ]
    )
    assert set(json.loads(head.stdout)["local"]) == {"dcluster_head"}


def salt_run(root: HeadRoot, *args: str) -> subprocess.CompletedProcess:
    return root.run([os.path.join(SALT_VENV, "bin", "salt-run"), *args, "--out=json"], timeout=120)


def test_the_master_it_configured_runs_the_engine_and_the_checks_of_docs_deploy_pass(run):
    """docs/deploy.md's checks on the head: the master (started by hand: no systemd here) runs the
    engine from the drop-ins the formula wrote; validate passes; status shows the scheduler polled
    and the cloud poll failing (there is no cloud here).  The master loads dcluster's runners
    and engine through the salt.loader entry point of this virtualenv's dcluster."""
    root, proc, _, scheduler = run
    assert proc.returncode == 0, output(proc)[-4000:]
    started = root.run([os.path.join(SALT_VENV, "bin", "salt-master"), "-d"])
    assert started.returncode == 0, started
    valid = json.loads(salt_run(root, "dcluster.validate").stdout)
    assert valid["valid"] is True and valid["minion"] == "dchead_master", valid
    deadline = time.monotonic() + 90
    status: dict = {}
    while time.monotonic() < deadline:
        got = salt_run(root, "dcluster.status")
        status = json.loads(got.stdout) if got.returncode == 0 and got.stdout.strip() else {}
        if status.get("engine", {}).get("last_cycle_age_s") is not None and status.get("recent_errors"):
            break
        time.sleep(3)
    assert status["engine"]["scheduler_ok"] is True, status
    assert status["resources"]["cloud"].startswith("0/3 (min 0)"), status
    assert any("keystone.example.org" in e for e in status["recent_errors"]), status


def test_a_second_run_keeps_everything_and_the_formula_changes_nothing(run):
    """cloud-init runs user-data once, but an admin may run it again: the checkout and secret stay."""
    root, proc, venv, scheduler = run
    assert proc.returncode == 0, output(proc)[-4000:]
    with open(root.upper("/etc/salt/dcluster/secret")) as fh:
        secret = fh.read()
    again = root.run(["bash", SCRIPT], env=parameters(scheduler, venv), timeout=900)
    text = output(again)
    assert again.returncode == 0, text[-4000:]
    assert "/srv/dcluster already holds a checkout: kept" in text
    with open(root.upper("/etc/salt/dcluster/secret")) as fh:
        assert fh.read() == secret
    # salt's summary names changes only when there are some
    assert "Succeeded:" in text and "changed=" not in text, text[-4000:]
