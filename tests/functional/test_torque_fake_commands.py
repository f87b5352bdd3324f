"""The dcluster_torque Salt module with the real cmd.run_all against fake Torque/MAUI commands on PATH.

Torque is not packaged for Debian 12, so nothing real can run: each fake
(tests/support/fakecmd.py) replays a real recorded output
(tests/data/scheduler-output/torque, with provenance) and logs the argv it was
given.  The MAUI reports are laid out by MAUI 3.3.x's own format strings
(tests/unit/schedulers/maui_layouts.py): no captured one exists, see
dcluster/schedulers/maui.py.
"""

from __future__ import annotations

import os

import pytest
import salt.config
import salt.loader
from salt.exceptions import CommandExecutionError

from tests.support.fakecmd import FakeCommands
from tests.unit.schedulers import maui_layouts as lay

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "scheduler-output", "torque")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAMES = ["qstat", "pbsnodes", "qmgr", "checknode", "diagnose", "showres", "setres", "releaseres", "qsig", "qdel"]
DIAGNOSE_P = lay.diagnose_p(
    [("152", 1716, False)],
    header="  Serv(QTime)",
    weights="     1(    1)",
    columns=["100.0(1716.)"],
    footer="100.0(100.0)",
)


def showres_n(*nodes):
    return lay.showres_n(
        [(n, [("User", f"{n}.0", "N/A", "1", "-00:01:00", "INFINITE", "Mon Dec  7 10:00:00")]) for n in nodes]
    )


TEMPLATES = {
    "qstat_command": "qstat -x -t",
    "pbsnodes_command": "pbsnodes {0} {1}",
    "add_node_command": 'qmgr -c "create node {0}"',
    "check_node_command": "checknode {0}",
    "remove_node_command": 'qmgr -c "delete node {0}"',
    "set_node_command": 'qmgr -c "set node {0} {1} {2} {3}"',
    "diagnose_p_command": "diagnose -p",
    "showres_command": "showres -n",
    "setres_command": "setres {0} {1} {2}",
    "releaseres_command": "releaseres {0}",
    "delete_job_command": "qdel -p {0}",
    "signal_job_command": "qsig -s {0} {1}",
}


@pytest.fixture
def fake(tmp_path):
    return FakeCommands(str(tmp_path / "bin"), NAMES)


@pytest.fixture
def mods(fake):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "module_dirs": [os.path.join(REPO, "_modules")],
            "grains": {},
            "pillar": {
                "dcluster": {
                    "cluster": {
                        "type": "torque",
                        "config": {**TEMPLATES, "command_env": {"PATH": fake.path_env}, "command_timeout": 20},
                    }
                }
            },
        }
    )
    funcs = salt.loader.minion_mods(opts)
    assert "dcluster_torque.jobs" in funcs, "the module did not load"
    return funcs


def test_jobs_and_nodes_from_recorded_outputs(fake, mods):
    fake.respond("qstat", file=os.path.join(DATA, "pcluster-torque612-qstat-t-x.xml"))
    fake.respond("diagnose", DIAGNOSE_P)
    fake.respond("pbsnodes", args=["-x"], file=os.path.join(DATA, "ctxswitch-qhost-output_04-pbsnodes-x.xml"))
    jobs = {j["id"]: j for j in mods["dcluster_torque.jobs"]()}
    assert len(jobs) == 7 and jobs["152"]["priority"] == 1716.0 and jobs["152"]["state"] == "pending"
    assert jobs["151"]["chunk_cores"] == 2 and jobs["149"]["nodes"] == ["ip-10-0-1-168"]
    nodes = mods["dcluster_torque.nodes"]()
    assert len(nodes) == 64 and nodes[0]["name"] == "n001" and nodes[0]["state"] == "held"
    assert ["qstat", "-x", "-t"] in fake.calls() and ["pbsnodes", "-x"] in fake.calls()


def test_failed_or_garbled_poll_raises_never_empty(fake, mods):
    fake.respond("pbsnodes", "", rc=1, stderr="pbsnodes: cannot connect to server torque, error=111")
    with pytest.raises(CommandExecutionError, match="pbsnodes -x.*cannot connect"):
        mods["dcluster_torque.nodes"]()
    fake.reset()
    with open(os.path.join(DATA, "pcluster-torque612-pbsnodes-x.xml")) as fh:
        fake.respond("pbsnodes", fh.read()[:700])  # truncated output
    with pytest.raises(CommandExecutionError, match="cannot parse output.*<Data>"):
        mods["dcluster_torque.nodes"]()


def test_add_hold_release_remove_vacate_argv(fake, mods):
    fake.respond("checknode", lay.checknode("dc-r1-aa", "Idle", "00:00:01"))
    mods["dcluster_torque.add_node"]("dc-r1-aa", 2, queue="batch")
    assert fake.calls() == [
        ["qmgr", "-c", "create node dc-r1-aa"],
        ["qmgr", "-c", "set node dc-r1-aa np = 2"],
        ["checknode", "dc-r1-aa"],
        ["setres", "-q", "batch", "dc-r1-aa"],
        ["qmgr", "-c", "set node dc-r1-aa state = free"],
    ]
    fake.reset()
    assert mods["dcluster_torque.hold"]("dc-r1-aa", reason="dcluster: idle") is True
    assert fake.calls() == [["pbsnodes", "-o", "-N", "dcluster: idle", "dc-r1-aa"]]
    fake.reset()
    fake.respond(
        "pbsnodes",
        args=["-x", "dc-r1-aa"],
        stdout="<Data><Node><name>dc-r1-aa</name><state>offline</state>"
        "<np>2</np><note>dcluster: idle</note><jobs>0/77.srv</jobs></Node></Data>",
    )
    fake.respond("showres", showres_n("dc-r1-aa"))
    with pytest.raises(CommandExecutionError, match="still runs jobs 77"):
        mods["dcluster_torque.remove"]("dc-r1-aa")
    assert mods["dcluster_torque.vacate"]("dc-r1-aa") == ["77"]
    assert fake.calls()[-2:] == [["qsig", "-s", "9", "77"], ["qdel", "-p", "77"]]
    mods["dcluster_torque.release"]("dc-r1-aa")
    assert fake.calls()[-1] == ["pbsnodes", "-c", "-N", "", "dc-r1-aa"]


def test_remove_releases_reservations_then_deletes(fake, mods):
    fake.respond(
        "pbsnodes",
        args=["-x", "dc-r1-aa"],
        stdout="<Data><Node><name>dc-r1-aa</name><state>offline</state><np>2</np></Node></Data>",
    )
    fake.respond("showres", showres_n("dc-r1-aa", "dc-r1-aab"))
    out = mods["dcluster_torque.remove"]("dc-r1-aa")
    assert out["released_reservations"] == ["dc-r1-aa.0"]
    assert fake.calls()[-2:] == [["releaseres", "dc-r1-aa.0"], ["qmgr", "-c", "delete node dc-r1-aa"]]


def test_injection_is_refused_before_anything_runs(fake, mods):
    with pytest.raises(CommandExecutionError, match="refusing invalid host name"):
        mods["dcluster_torque.hold"]("n1; touch /tmp/pwned")
    assert fake.calls() == []


def test_bad_settings_name_the_pillar_path(fake, mods):
    mods["config.get"]  # the loader is up
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "module_dirs": [os.path.join(REPO, "_modules")],
            "grains": {},
            "pillar": {"dcluster": {"cluster": {"type": "torque", "config": {"qstat_command": "qstat -x | grep Q"}}}},
        }
    )
    funcs = salt.loader.minion_mods(opts)
    with pytest.raises(CommandExecutionError, match="dcluster:cluster:config:qstat_command"):
        funcs["dcluster_torque.jobs"]()
