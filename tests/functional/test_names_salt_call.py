"""Worker names through Salt's own command line: ``salt-call --local`` runs this worktree's module.

A real salt-call process (Salt's CLI argument parsing, its loader, its ``hosts`` and ``file``
modules) on temporary files: the head node's ``dcluster_sge.sync_hosts`` as an admin calls it.  A
salt-minion daemon would load the installed copy of the modules (/work/main), not this one.
The ``file.blockreplace`` job the engine sends Grid Engine and Torque workers is run by Salt's
own file module, loaded in-process (its multi-line content cannot pass Salt's command line).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import salt.config
import salt.loader

from dcluster import identity, names
from dcluster.config import load
from dcluster.glue.engine_ports import WORKERS_BLOCK, RemoteScheduler, names_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SALT_CALL = os.path.join(os.path.dirname(sys.executable), "salt-call")
SECRET = "zq6-salt-call-names-secret"
A, B = (identity.make("dc", "r1", SECRET, nonce=f"{n:06x}") for n in (1, 2))
ADMIN = "127.0.0.1 localhost\n10.0.0.9 nfs-server # storage\n"


@pytest.fixture(scope="module")
def conf(tmp_path_factory):
    if not os.path.exists(SALT_CALL):
        pytest.skip(f"no salt-call next to {sys.executable}")
    root = tmp_path_factory.mktemp("saltcall")
    (root / "minion").write_text(
        json.dumps(
            {
                "id": "head",
                "file_client": "local",
                "root_dir": str(root),
                "pki_dir": str(root / "pki"),
                "cachedir": str(root / "cache"),
                "log_file": str(root / "minion.log"),
                "sock_dir": str(root / "sock"),
                "module_dirs": [os.path.join(REPO, "_modules")],
            }
        )
    )
    return root


def salt_call(conf, *args):
    env = dict(os.environ, PYTHONPATH=REPO)  # this worktree's dcluster package, as the module imports it
    proc = subprocess.run(
        [SALT_CALL, "--local", "-c", str(conf), "--out=json", "--retcode-passthrough", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    data = json.loads(proc.stdout)["local"] if proc.stdout.strip().startswith("{") else None
    return proc.returncode, data, proc.stderr


def test_sync_hosts_from_the_command_line_adds_withdraws_and_refuses(conf, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(ADMIN)
    rc, out, err = salt_call(
        conf, "dcluster_sge.sync_hosts", json.dumps({A: "10.0.0.5", B: "fd00::6"}), f"hosts_file={hosts}"
    )
    assert rc == 0, err
    assert out["set"] == [["10.0.0.5", A], ["fd00::6", B]]
    assert names.HostsFile.parse(hosts.read_text()).ours == {"10.0.0.5": [A], "fd00::6": [B]}
    rc, out, err = salt_call(conf, "dcluster_sge.sync_hosts", json.dumps({B: "fd00::6"}), f"hosts_file={hosts}")
    assert rc == 0 and out["remove"] == [["10.0.0.5", A]], err
    before = hosts.read_text()
    rc, out, err = salt_call(
        conf, "dcluster_sge.sync_hosts", json.dumps({A: "10.0.0.5\n10.6.6.6 login"}), f"hosts_file={hosts}"
    )
    assert rc != 0 and "not an IP address" in json.dumps(out) + err
    assert hosts.read_text() == before
    assert hosts.read_text().startswith(ADMIN)


class Recorder:
    """Stands in for LocalClient: keeps the job the engine sends the workers."""

    def __init__(self):
        self.jobs = []

    def cmd(self, tgt, fun, arg=(), kwarg=None, timeout=None, full_return=False):  # the head's sync_hosts
        return {tgt: {"ret": {"set": [], "remove": [], "conflicts": []}, "retcode": 0}}

    def cmd_async(self, tgt, fun, arg=(), tgt_type="glob", kwarg=None):
        self.jobs.append((tgt, fun, list(arg), tgt_type, dict(kwarg or {})))
        return "1"


def test_the_workers_block_job_the_engine_sends_runs_in_salts_file_module(tmp_path):
    """The job's function, arguments and keyword arguments as names_port builds them, run by Salt's own
    file.blockreplace (loaded as a worker minion loads it), on a copy of a worker's hosts file."""
    opts = salt.config.minion_config(None)
    opts.update(file_client="local", cachedir=str(tmp_path / "cache"))
    mods = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))  # lazy: loaded on first use
    hosts = tmp_path / "worker-hosts"
    hosts.write_text(ADMIN)
    client = Recorder()
    cfg = load({"secret": SECRET, "cluster": {"type": "sge", "head_minion": "head"}})
    head = RemoteScheduler(client, "head", "sge", 30)
    publish = names_port({}, client, lambda c: head)

    def run_last_job():
        tgt, fun, arg, tgt_type, kwarg = client.jobs[-1]
        assert arg == ["/etc/hosts"] and tgt_type == "list"
        mods[fun](str(hosts), *arg[1:], **kwarg)  # the worker's own /etc/hosts there, a copy here
        return tgt

    publish(cfg, {A: "10.0.0.5", B: "10.0.0.6"}, True)
    assert run_last_job() == sorted([A, B])
    assert hosts.read_text() == f"{ADMIN}{WORKERS_BLOCK[0]}\n10.0.0.5 {A}\n10.0.0.6 {B}\n{WORKERS_BLOCK[1]}\n"
    publish(cfg, {B: "10.0.0.6"}, True)
    assert run_last_job() == [B]
    assert hosts.read_text() == f"{ADMIN}{WORKERS_BLOCK[0]}\n10.0.0.6 {B}\n{WORKERS_BLOCK[1]}\n"
    assert not list(tmp_path.glob("worker-hosts*.bak"))
