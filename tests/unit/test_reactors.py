"""The reactors through Salt's real Reactor pipeline: no event value becomes a reaction of its own.

Each reactor file is rendered, verified and compiled by ``salt.utils.reactor.Reactor.reactions``
(render_reaction -> render_template -> verify_high -> compile_high_data, what the master's
Reactor process runs, with real master opts), and each chunk is turned into the client call
by ``ReactWrap.run``; only the last step, handing the call to a Runner/Wheel/Local client, is
replaced by a recorder (tests/support/reactor.py).  ``test_the_pre_12_auth_reactor_runs_the_payload``
keeps the attack on record: the same check fails on the reactor this replaced.
"""

import pytest

from tests.conftest import ROOT
from tests.support.hostile_ids import HOSTILE, NOT_STRINGS, OLD_AUTH_SLS, payload
from tests.support.reactor import master_reactor, react

REACTORS = ROOT / "reactor"
WELL_FORMED = "dc-r1-abcdef-0123456789ab"


@pytest.fixture(scope="module")
def reactor(tmp_path_factory):
    with master_reactor(tmp_path_factory.mktemp("reactor")) as r:
        yield r


def foreign(calls):
    return [c for c in calls if not (c[0] == "runner" and c[1].startswith("dcluster_reactor."))]


# ------------------------------------------------------------------ the attack on the old reactor
def test_the_pre_12_auth_reactor_runs_the_payload(reactor, tmp_path):
    """The reactor before #12 put data['id'] into YAML: the payload id adds its own reactions."""
    old = tmp_path / "auth.sls"
    old.write_text(OLD_AUTH_SLS)
    chunks = reactor.reactions("salt/auth", {"id": payload("dcpwn-x"), "act": "pend"}, [str(old)])
    called = {(c["state"], c["fun"]) for c in chunks}
    assert {("runner", "salt.cmd"), ("wheel", "key.accept"), ("local", "cmd.run")} <= called
    assert not any(
        c["fun"].startswith(("dcluster.", "dcluster_reactor.")) for c in chunks
    )  # dcluster's own check never ran
    (local,) = [c for c in chunks if c["state"] == "local"]
    (wheel,) = [c for c in chunks if c["state"] == "wheel"]
    assert local["tgt"] == "*" and wheel["args"] == [{"match": "*"}]


# ------------------------------------------------------------------ auth.sls
@pytest.mark.parametrize("act", ["pend", "denied"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_auth_passes_any_str_id_as_one_string_to_dcluster_only(reactor, name, act):
    mid = HOSTILE[name]
    calls = react(reactor, REACTORS / "auth.sls", "salt/auth", {"id": mid, "act": act, "pub": "k", "result": True})
    assert calls == [("runner", "dcluster_reactor.pending_key", (), {"minion_id": mid, "act": act})]
    assert type(calls[0][3]["minion_id"]) is str and calls[0][3]["minion_id"] == mid


def test_auth_with_a_well_formed_id(reactor):
    calls = react(reactor, REACTORS / "auth.sls", "salt/auth", {"id": WELL_FORMED, "act": "pend"})
    assert calls == [("runner", "dcluster_reactor.pending_key", (), {"minion_id": WELL_FORMED, "act": "pend"})]


@pytest.mark.parametrize("act", ["accept", "reject", "full", "error", None, "pend\n", ["pend"]])
def test_auth_ignores_other_acts(reactor, act):
    assert react(reactor, REACTORS / "auth.sls", "salt/auth", {"id": WELL_FORMED, "act": act}) == []


@pytest.mark.parametrize("name", sorted(NOT_STRINGS))
def test_auth_ignores_an_id_that_is_not_a_string(reactor, name):
    assert react(reactor, REACTORS / "auth.sls", "salt/auth", {"id": NOT_STRINGS[name], "act": "pend"}) == []
    assert react(reactor, REACTORS / "auth.sls", "salt/auth", {"act": "pend"}) == []


# ------------------------------------------------------------------ start.sls (retired)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_retired_start_reactor_reacts_to_nothing(reactor, name):
    """A master still mapping minion starts to start.sls calls no runner for any of them: the engine
    reads those events itself (controller/start_events.py), so the old runner call would ask twice."""
    mid = HOSTILE[name]
    start = REACTORS / "start.sls"
    assert react(reactor, start, f"salt/minion/{mid}/start", {"id": mid, "cmd": "_minion_event"}) == []
    assert react(reactor, start, f"salt/minion/{WELL_FORMED}/start", {"id": WELL_FORMED}) == []


# ------------------------------------------------------------------ stats.sls (retired)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_retired_stats_reactor_reacts_to_nothing(reactor, name):
    """A master still mapping the beacon's events to stats.sls starts no runner job for any of them:
    the engine reads those events itself (controller/stats_intake.py)."""
    mid = HOSTILE[name]
    stats = REACTORS / "stats.sls"
    data = {"time": 1.0, "cpu": {"percent": 3.5}, "id": mid, "_stamp": "2026-01-01T00:00:00.000000"}
    assert react(reactor, stats, f"salt/beacon/{mid}/dcluster_stats/", data) == []
    assert react(reactor, stats, f"salt/beacon/{WELL_FORMED}/dcluster_stats/", {**data, "id": WELL_FORMED}) == []


def test_only_dcluster_reactions_from_any_reactor(reactor):
    """The check the old auth reactor fails: run every hostile id through every reactor."""
    for mid in list(HOSTILE.values()) + list(NOT_STRINGS.values()):
        for path, tag, data in (
            (REACTORS / "auth.sls", "salt/auth", {"id": mid, "act": "pend"}),
            (REACTORS / "start.sls", f"salt/minion/{mid}/start", {"id": mid}),
            (REACTORS / "stats.sls", f"salt/beacon/{mid}/dcluster_stats/", {"id": mid}),
        ):
            assert foreign(react(reactor, path, tag, data)) == []
