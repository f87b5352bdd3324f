"""The reactor-called runners (``dcluster_reactor``) check the minion id before anything else: bad ids never reach the engine."""

import logging

import pytest

from dcluster import identity
from tests.support.hostile_ids import HOSTILE, NOT_STRINGS
from tests.unit.test_runner_no_engine import load_runner

OURS = identity.make("dc", "r1", "runner-ids-test-secret-1")
BAD = {**HOSTILE, **NOT_STRINGS}


@pytest.fixture
def runner(tmp_path, monkeypatch):
    mod = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path), "id": "master"}, "dcluster_reactor.py")
    sent = []

    def call(opts, cmd, args=None, timeout=60.0):
        sent.append((cmd, args))
        return {"ok": False, "message": "refused by the engine"}

    monkeypatch.setattr(mod.rc, "call", call)
    mod.sent = sent
    return mod


def calls(runner, minion_id):
    return (
        runner.pending_key(minion_id, act="pend"),
        runner.pending_key(minion_id, act="denied"),
        runner.minion_started(minion_id),
    )


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_id_never_reaches_the_engine(runner, name, caplog):
    caplog.set_level(logging.WARNING)
    for out in calls(runner, BAD[name]):
        assert out["ok"] is False and "not a dcluster minion id" in out["message"]
        assert len(out["message"]) < 200
    assert runner.sent == []
    for rec in caplog.records:  # the id's repr, cut to 200 characters: one line, bounded
        assert "\n" not in rec.getMessage() and len(rec.getMessage()) < 300


def test_a_well_formed_id_goes_to_the_engine_as_one_string(runner):
    assert runner.pending_key(OURS, act="pend")["message"] == "refused by the engine"
    assert runner.pending_key(OURS, act="denied")["ok"] is False
    runner.minion_started(OURS)
    assert runner.sent == [
        ("pending_key", {"minion_id": OURS}),
        ("pending_key", {"minion_id": OURS}),
        ("started", {"minion_id": OURS}),
    ]


def test_stats_have_no_runner_function(runner):
    """The workers' statistics reach Graphite through the engine: no reactor calls a runner per stats event."""
    assert not hasattr(runner, "forward_stats")


def test_other_auth_acts_do_nothing(runner):
    for act in ("accept", "reject", "full", ["pend"]):
        assert runner.pending_key(OURS, act=act)["ok"] is False
    assert runner.sent == []
