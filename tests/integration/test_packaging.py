"""Both ways of deploying dcluster make Salt find every module folder.

(a) pip: the ``salt.loader`` entry point (callable form) for a regular
``pip install .`` and for the editable install the suite itself runs from;
(b) file_roots: the folders copied into a master's file_roots, then
``saltutil.sync_all`` on the master and on a minion, given the library is
installed.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

FOLDERS = ("_modules", "_states", "_runners", "_engines", "_beacons")

PROBE = r"""
import json, sys
import salt.config, salt.loader
opts = salt.config.master_config(None)
opts["extension_modules"] = ""
out = {}
for kind, tag in (("runners", "runner"), ("modules", "module"), ("engines", "engines"), ("states", "states"),
                  ("beacons", "beacons")):
    out[kind] = salt.loader._module_dirs(opts, kind, tag)
runners = salt.loader.runner(opts)
out["has_validate"] = "dcluster.validate" in runners
out["has_reactor_runner"] = "dcluster_reactor.pending_key" in runners
# `engines: [{dcluster: ...}]` starts the function `dcluster.start` (salt/engines/__init__.py)
out["has_engine"] = "dcluster.start" in salt.loader.engines(opts, {}, runners, {})
print(json.dumps(out))
"""


def probe(env_path=None):
    env = dict(os.environ)
    argv = [sys.executable, "-c", PROBE]
    if env_path:
        # -S: no site processing, so the editable install's import hook (a .pth file) is not
        # loaded and dcluster_salt can only come from the regular install in env_path.
        import sysconfig

        env["PYTHONPATH"] = os.pathsep.join([env_path, sysconfig.get_paths()["purelib"]])
        argv.insert(1, "-S")
    # cwd outside the repo: with -c, the current directory is on sys.path and the source tree
    # (dcluster_salt/ without the mapped folders) would shadow the installed package.
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_editable_install_is_found_through_the_entry_point():
    # The suite's virtualenv has dcluster installed with `pip install -e .` (make test does that).
    out = probe()
    assert str(ROOT / "_runners") in out["runners"]
    assert str(ROOT / "_modules") in out["modules"]
    assert str(ROOT / "_engines") in out["engines"]
    assert out["has_validate"] and out["has_reactor_runner"] and out["has_engine"]


@pytest.mark.slow
def test_regular_install_is_found_through_the_entry_point(tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = probe(str(target))
    for kind in ("runners", "modules", "engines", "states", "beacons"):
        assert str(target / "dcluster_salt" / kind) in out[kind], (kind, out[kind])
    assert (target / "dcluster_salt" / "runners" / "dcluster_mod.py").exists()
    assert (target / "dcluster_salt" / "modules" / "dcluster_slurm.py").exists()
    assert out["has_validate"] and out["has_reactor_runner"] and out["has_engine"]


@pytest.fixture(scope="module")
def file_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("file_roots")
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, root / folder)
    return root


@pytest.fixture(scope="module")
def master(salt_factories, file_roots):
    factory = salt_factories.salt_master_daemon(
        "dcpkg-master",
        overrides={
            "interface": "127.0.0.1",
            "file_roots": {"base": [str(file_roots)]},
            "dcluster_command_timeout": 5,  # how long a runner waits for the engine (60 s by default)
        },
    )
    with factory.started(start_timeout=120):
        yield factory


@pytest.fixture(scope="module")
def minion(master):
    factory = master.salt_minion_daemon("dcpkg-minion")
    with factory.started(start_timeout=120):
        yield factory


@pytest.mark.daemons
def test_file_roots_sync_on_master_and_minion(master, minion):
    ret = master.salt_run_cli().run("saltutil.sync_all")
    assert ret.returncode == 0, ret
    assert {"runners.dcluster_mod", "runners.dcluster_reactor"} <= set(ret.data["runners"])
    assert "engines.dcluster_mod" in ret.data["engines"]
    extmods = os.path.join(master.config["extension_modules"], "runners", "dcluster_mod.py")
    assert os.path.exists(extmods)
    ret = master.salt_cli().run("saltutil.sync_all", minion_tgt=minion.id)
    assert ret.returncode == 0, ret
    assert {
        "modules.dcluster_slurm",
        "modules.dcluster_sge",
        "modules.dcluster_torque",
        "modules.dcluster_aws",
        "modules.dcluster_openstack",
    } <= set(ret.data["modules"])
    assert "beacons.dcluster_stats" in ret.data["beacons"]
    # the synced runner works, and validates a pillar with errors naming key paths
    ret = master.salt_run_cli().run("dcluster.validate")
    assert ret.returncode == 1, ret  # an invalid pillar fails the command, with its findings as data
    assert ret.data["valid"] is False
    assert ret.data["errors"] == [f"dcluster: not in the pillar of {master.id}"]
    ret = master.salt_cli().run("sys.doc", "dcluster_slurm.jobs", minion_tgt=minion.id)
    assert "CLI Example" in ret.data["dcluster_slurm.jobs"]


@pytest.mark.daemons
def test_a_failing_runner_fails_salt_run(master, minion):
    """With no engine on this master, the real ``salt-run`` exits non-zero and says why."""
    master.salt_run_cli().run("saltutil.sync_all")  # the file_roots copy of the runners, whichever test ran first
    ret = master.salt_run_cli().run("dcluster.status")
    assert ret.returncode == 1, ret
    assert "CommandExecutionError: dcluster.status: nothing published by the engine" in ret.stdout, ret
    # an action waits for the engine's answer (dcluster_command_timeout, here 5 s), then fails the same way
    ret = master.salt_run_cli(timeout=150).run("dcluster.hold", "no-such-worker")
    assert ret.returncode == 1, ret
    assert "CommandExecutionError: dcluster.hold: the dcluster engine did not answer 'hold' within 5 s" in ret.stdout
    # the reactor's callbacks refuse a forged id as data: no traceback, nothing to fail
    ret = master.salt_run_cli().run("dcluster_reactor.minion_started", "minion_id=not-ours")
    assert ret.returncode == 0 and ret.data["ok"] is False and "not a dcluster minion id" in ret.data["message"], ret


def test_every_package_is_listed_in_setup_cfg():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = cfg["options"]["packages"].split()
    assert len(listed) == len(set(listed))
    # (setuptools' find_packages cannot be imported here: Salt has loaded distutils already)
    found = {
        os.path.relpath(d, ROOT).replace(os.sep, ".")
        for top in ("dcluster", "dcluster_salt")
        for d, _, files in os.walk(ROOT / top)
        if "__init__.py" in files
    }
    # the demo runs the checkout's salt/ and reactor/ folders: not shipped in the wheel
    checkout_only = {"dcluster.demo"}
    assert checkout_only <= found, checkout_only - found
    assert not checkout_only & set(listed), checkout_only & set(listed)
    assert found - checkout_only <= set(listed), found - checkout_only - set(listed)
