"""The dcluster_worker state through Salt's loader, with test=True and for real.

"For real" starts a stand-in daemon (a copy of /bin/sleep named like the
scheduler's daemon, in a temp sbin) that daemonizes the way slurmd does: the
state must see it running in this network namespace, report changes, and be
idempotent on the next run.  Torque's and Grid Engine's formulas cannot run
their daemons here unless installed, so their SLS files are rendered with
state.show_sls (Torque is not packaged in Debian 12).
"""

import os
import signal
import sys
import textwrap

import pytest
import salt.config
import salt.loader

from dcluster.glue import worker

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
NAME = "dc-loc-abcdef-0123456789ab"

# A fake slurmd: forks, the parent exits (daemonizing), the child sleeps with argv[0] = this file.
FAKE = textwrap.dedent(f"""\
    #!{sys.executable}
    import os, sys, time
    if os.fork():
        sys.exit(0)
    os.setsid()
    with open(os.environ["FAKE_OUT"], "w") as fh:
        fh.write(" ".join(sys.argv[1:]) + "\\n" + os.environ.get("SLURM_CONF", ""))
    # keep our path as argv[0], as a real daemon binary has it
    os.execv(sys.executable, [sys.argv[0], "-c", "import time; time.sleep(120)", *sys.argv[1:]])
""")


def loader(tmp_path, test=False, pillar=None):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "test": test,
            "cachedir": str(tmp_path / "cache"),
            "state_dirs": [os.path.join(REPO, "_states")],
            "grains": {"id": NAME},
            "pillar": pillar or {},
            "file_roots": {"base": [os.path.join(REPO, "salt")]},
            "id": NAME,
        }
    )
    utils = salt.loader.utils(opts)
    funcs = salt.loader.minion_mods(opts, utils=utils)
    states = salt.loader.states(opts, funcs, utils, {})
    return opts, funcs, states


@pytest.fixture
def sbin(tmp_path):
    d = tmp_path / "sbin"
    d.mkdir()
    fake = d / "slurmd"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    yield d
    for pid in worker.running(str(fake)):
        os.kill(pid, signal.SIGKILL)


def test_test_mode_predicts_the_start_and_changes_nothing(tmp_path, sbin):
    _, _, states = loader(tmp_path, test=True)
    ret = states["dcluster_worker.registered"](
        NAME, "slurm", cores=2, mem_mb=1000, features=["dcluster"], conf="/etc/slurm/slurm.conf", sbin=str(sbin)
    )
    assert ret["result"] is None and ret["name"] == NAME
    assert ret["changes"]["started"]["argv"] == [
        str(sbin / "slurmd"),
        "-f",
        "/etc/slurm/slurm.conf",
        "-N",
        NAME,
        "-Z",
        "--conf",
        "CPUs=2 RealMemory=1000 Feature=dcluster",
    ]
    assert worker.running(str(sbin / "slurmd")) == []


def test_starts_the_daemon_then_is_idempotent(tmp_path, sbin, monkeypatch):
    out = tmp_path / "argv"
    monkeypatch.setenv("FAKE_OUT", str(out))
    _, _, states = loader(tmp_path)
    kw = {"cores": 2, "features": ["dcluster", "big"], "sbin": str(sbin), "env": {"SLURM_CONF": "/x/slurm.conf"}}
    ret = states["dcluster_worker.registered"](NAME, "slurm", **kw)
    assert ret["result"] is True, ret["comment"]
    pid = ret["changes"]["started"]["pid"]
    assert worker.running(str(sbin / "slurmd"), NAME) == [pid]
    assert out.read_text() == f"-N {NAME} -Z --conf CPUs=2 Feature=dcluster,big\n/x/slurm.conf"
    again = states["dcluster_worker.registered"](NAME, "slurm", **kw)
    assert again["result"] is True and again["changes"] == {} and str(pid) in again["comment"]
    # another node's slurmd is not ours
    assert worker.running(str(sbin / "slurmd"), "dc-loc-ffffff-0123456789ab") == []


def test_bad_input_and_missing_daemon_fail_with_a_reason(tmp_path):
    _, _, states = loader(tmp_path)
    ret = states["dcluster_worker.registered"](NAME, "pbspro")
    assert ret["result"] is False and "not one of" in ret["comment"]
    ret = states["dcluster_worker.registered"](NAME, "slurm")
    assert ret["result"] is False and "cores must be given" in ret["comment"]
    ret = states["dcluster_worker.registered"]("bad name;rm", "sge")
    assert ret["result"] is False and "node name" in ret["comment"]
    ret = states["dcluster_worker.registered"](NAME, "sge", sbin=str(tmp_path / "nowhere"))
    assert ret["result"] is False and "is not installed" in ret["comment"]


@pytest.mark.parametrize("scheduler, daemon", [("slurm", "slurmd"), ("sge", "sge_execd"), ("torque", "pbs_mom")])
def test_worker_formulas_render_for_each_scheduler(tmp_path, scheduler, daemon):
    example = os.path.join(REPO, "salt", "pillar-examples", f"{scheduler}.sls")
    import yaml

    with open(example) as fh:
        pillar = yaml.safe_load(fh)
    opts, funcs, _ = loader(tmp_path, pillar=pillar)
    opts["grains"]["dcluster"] = {"scheduler": scheduler}
    funcs = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))
    low = funcs["state.show_sls"]("dcluster.worker")
    assert isinstance(low, dict), low
    ours = [v for v in low.values() if "registered" in v.get("dcluster_worker", ())]
    assert len(ours) == 1, low
    # last: the minion's signature over the job, which the engine needs to take the highstate as this worker's
    proof = low["dcluster-highstate-proof"]["dcluster_worker"]
    assert "highstate_proof" in proof and {"order": "last"} in proof
    call = dict(kv for item in ours[0]["dcluster_worker"] if isinstance(item, dict) for kv in item.items())
    assert "registered" in ours[0]["dcluster_worker"]
    assert call["scheduler"] == scheduler and call["name"] == NAME
    assert (
        os.path.basename(
            worker.daemon_argv(scheduler, NAME, cores=call.get("cores"), features=call.get("features") or ())[0]
        )
        == daemon
    )
    if scheduler == "torque":
        assert {"dcluster-torque-server-name", "dcluster-torque-mom-config"} <= set(low)
        mom = dict(
            kv for item in low["dcluster-torque-mom-config"]["file"] if isinstance(item, dict) for kv in item.items()
        )
        assert "$pbsserver headnode" in mom["contents"]


def test_an_unknown_scheduler_grain_fails_the_highstate(tmp_path):
    opts, _, _ = loader(tmp_path)
    opts["grains"]["dcluster"] = {"scheduler": "lsf"}
    funcs = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))
    low = funcs["state.show_sls"]("dcluster.worker")
    assert "dcluster-worker-unknown-scheduler" in low
