"""dcluster_sge_cell: the head formula's Grid Engine cell states (_states/dcluster_sge_cell.py).

The listings are real ``qconf -sq`` outputs of Son of Grid Engine 8.1.9 (tests/data/scheduler-output/sge,
README there); the states are loaded through Salt's own loader with its real ``cmd`` module and run the
real ``qconf`` against a port where no qmaster listens.  tests/integration/test_head_formula.py runs them
against a real qmaster (created when absent, changed keeping per-host slots, then unchanged).
"""

import os
import shutil
import socket

import pytest
import salt.config
import salt.loader

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DATA = os.path.join(REPO, "tests", "data", "scheduler-output", "sge")
HOSTS = ["dchead", *(f"dcx{i}" for i in range(1, 7))]


def listing(name):
    with open(os.path.join(DATA, name)) as fh:
        return fh.read()


def load_states(tmp, test=False):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "cachedir": str(tmp / "cache"),
            "states_dirs": [os.path.join(REPO, "_states")],
            "test": test,
        }
    )
    opts["grains"] = salt.loader.grains(opts)
    utils = salt.loader.utils(opts)
    funcs = salt.loader.minion_mods(opts, utils=utils)
    return salt.loader.states(opts, funcs, utils, salt.loader.serializers(opts))


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """The loaded state functions, and the module they came from (its parsers)."""
    states = load_states(tmp_path_factory.mktemp("sgecell"))
    return states, states["dcluster_sge_cell.queue"].__globals__


def test_a_wrapped_queue_listing_keeps_every_per_host_value(cell):
    _, mod = cell
    queue = mod["parse_listing"](listing("dcsched-sge819-qconf-sq-all.q-wrapped.txt"))
    assert list(queue)[:3] == ["qname", "hostlist", "seq_no"] and len(queue) == 50
    slots, raw = queue["slots"]
    assert len(raw) == 2 and raw[0].endswith("\\")  # qconf wrapped it
    assert mod["default_value"](slots) == "1"
    assert slots.replace(" ", "") == "1," + ",".join(f"[{h}=4]" for h in HOSTS)
    assert queue["pe_list"][0] == "mpi" and queue["qtype"][0] == "BATCH INTERACTIVE"


def test_queue_changes_set_the_default_and_keep_the_overrides(cell):
    _, mod = cell
    queue = mod["parse_listing"](listing("dcsched-sge819-qconf-sq-all.q-wrapped.txt"))
    assert mod["queue_changes"](queue, "@allhosts", {"slots": "1", "shell": "/bin/sh"}) == {}
    changes = mod["queue_changes"](queue, "@allhosts", {"slots": "2", "load_thresholds": "NONE"})
    assert set(changes) == {"slots", "load_thresholds"}
    old, line = changes["slots"]
    assert old == "1" and "\n" not in line and "\\" not in line
    assert line.replace(" ", "") == "slots2," + ",".join(f"[{h}=4]" for h in HOSTS)
    assert changes["load_thresholds"] == ("np_load_avg=1.75", "load_thresholds NONE")
    # the host group joins a host list that lacks it; NONE is replaced
    assert mod["queue_changes"](queue, "@cloud", {})["hostlist"] == ("@allhosts", "hostlist @allhosts @cloud")
    template = mod["parse_listing"](listing("dcsched-sge819-qconf-sq-template.txt"))
    assert template["qname"][0] == "template"
    assert mod["queue_changes"](template, "@allhosts", {})["hostlist"] == ("NONE", "hostlist @allhosts")


def test_an_unknown_queue_attribute_is_named(cell):
    _, mod = cell
    template = mod["parse_listing"](listing("dcsched-sge819-qconf-sq-template.txt"))
    with pytest.raises(mod["_Failed"], match="queue attribute 'slot' is not one of qconf's: .*slots"):
        mod["queue_changes"](template, "@allhosts", {"slot": "1"})


def test_a_listing_cut_inside_a_wrapped_value_is_refused(cell):
    _, mod = cell
    text = listing("dcsched-sge819-qconf-sq-all.q-wrapped.txt")
    cut = text[: text.index("\n", text.index("[dcx4=4]")) + 1]  # ends with the backslash's line
    with pytest.raises(mod["_Failed"], match="ends inside the value of 'slots'"):
        mod["parse_listing"](cut)


@pytest.mark.parametrize(
    "fun, kwargs, message",
    [
        ("submit_host", {"name": "head; rm -rf /"}, "'head; rm -rf /' is not a valid host name"),
        ("hostgroup", {"name": "allhosts"}, "'allhosts' is not a valid host group name (@name)"),
        ("queue", {"name": "all.q", "hostlist": "@all hosts"}, "'@all hosts' is not a valid host group name"),
        ("queue", {"name": "-dq", "hostlist": "@allhosts"}, "'-dq' is not a valid queue name"),
        ("queue", {"name": "all.q", "hostlist": "@allhosts", "settings": {"qname": "x"}}, "'qname' is not a queue"),
        ("queue", {"name": "all.q", "hostlist": "@allhosts", "settings": {"shell": "/bin/sh\nqname x"}}, "one-line"),
        ("queue", {"name": "all.q", "hostlist": "@allhosts", "settings": ["slots"]}, "settings must be a mapping"),
        ("hostgroup", {"name": "@allhosts", "env": ["SGE_ROOT"]}, "env must be a mapping"),
        ("hostgroup", {"name": "@allhosts", "wait": "soon"}, "wait must be a number of seconds, not 'soon'"),
    ],
)
def test_bad_arguments_fail_naming_them_before_any_command(cell, fun, kwargs, message):
    states, _ = cell
    # qconf would fail loudly on this PATH: the message proves no command ran
    kwargs.setdefault("env", {"PATH": "/nonexistent"})
    kwargs.setdefault("wait", 0)
    ret = states[f"dcluster_sge_cell.{fun}"](**kwargs)
    assert ret["result"] is False and message in ret["comment"], ret
    assert ret["changes"] == {}


def _dead_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


needs_qconf = pytest.mark.skipif(
    not shutil.which("qconf") or not os.path.isdir("/var/lib/gridengine/default"),
    reason="Debian's gridengine-client (qconf) and its default cell are not installed",
)


@needs_qconf
def test_without_a_qmaster_test_true_says_what_it_cannot_check_and_a_real_run_fails(cell, tmp_path):
    states, _ = cell
    env = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default", "SGE_QMASTER_PORT": str(_dead_port())}
    # test=True does not wait for the qmaster (wait is for a real run, just after starting it)
    dry = load_states(tmp_path, test=True)["dcluster_sge_cell.queue"](
        name="all.q", hostlist="@allhosts", env=env, wait=600
    )
    assert dry["result"] is None and dry["changes"] == {}, dry
    assert "would be checked once the qmaster runs" in dry["comment"] and "qconf -sh failed" in dry["comment"]
    real = states["dcluster_sge_cell.submit_host"](name="headnode", env=env, wait=0)
    assert real["result"] is False and real["comment"].startswith("the qmaster does not answer: qconf -sh failed")
