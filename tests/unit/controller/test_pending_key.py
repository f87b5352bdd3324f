"""A pending key under one of our ids is refused and reported; other ids are left to the admin.

Workers' keys are accepted before their launch, so no legitimate worker ever presents a
pending key: whoever does under a dcluster id is claiming to be that worker.
"""

import pytest
from memory_ports import MemCloud, MemScheduler, ports

from dcluster import identity
from dcluster.controller import Controller
from dcluster.controller import commands as cmds
from tests.support.hostile_ids import HOSTILE, NOT_STRINGS

SECRET = "pending-key-test-secret-123"


@pytest.fixture
def env(tmp_path):
    events, keys, rejected = [], set(), []
    pillar = {
        "secret": SECRET,
        "cluster_name": "dc",
        "cluster": {"type": "slurm"},
        "cloud": {"r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}}},
    }
    p = ports(pillar, MemScheduler(), MemCloud(), events, keys)
    p.reject_key = rejected.append
    p.key_states = lambda mid: {"pending"}  # a key waits under every id asked about here
    c = Controller(p, state_path=str(tmp_path / "state.json"))
    c.cycle()
    assert c.wait_idle(10) and c.config is not None
    yield c, events, rejected
    c.shutdown()


def test_a_pending_key_under_our_id_is_rejected_and_reported(env):
    c, events, rejected = env
    mid = identity.make("dc", "r1", SECRET)
    out = cmds.run(c, "pending_key", minion_id=mid)
    assert out["ok"] is False and "accepted before launch" in out["message"]
    assert rejected == [mid]
    assert ("key/refused", {"name": mid, "reason": out["message"]}) in [
        (t.split("dcluster/")[-1], d) for t, d in events
    ]
    assert c.state.counters["keys_refused"] == 1
    cmds.run(c, "pending_key", minion_id=mid)
    assert c.state.counters["keys_refused"] == 2 and rejected == [mid, mid]


@pytest.mark.parametrize(
    "mid",
    [
        "cn001",
        identity.make("dc", "r1", "another-secret-value-456"),
        identity.make("other", "r1", SECRET),
        *HOSTILE.values(),
        *NOT_STRINGS.values(),
    ],
)
def test_ids_that_are_not_ours_are_left_for_the_admin(env, mid):
    c, events, rejected = env
    out = cmds.run(c, "pending_key", minion_id=mid)
    assert out == {"ok": False, "message": "not a dcluster minion id; left for the admin"}
    assert rejected == [] and not [t for t, _ in events if "key/" in t]
    assert "keys_refused" not in c.state.counters


def test_a_failed_rejection_is_still_a_refusal(env):
    c, events, rejected = env

    def broken(mid):
        raise RuntimeError("the key cache is read-only")

    c.ports.reject_key = broken
    mid = identity.make("dc", "r1", SECRET)
    out = cmds.run(c, "pending_key", minion_id=mid)
    assert out["ok"] is False and "the key cache is read-only" in out["message"]
    assert c.state.counters["keys_refused"] == 1


@pytest.mark.parametrize("mid", [*HOSTILE.values(), *NOT_STRINGS.values()])
def test_started_refuses_malformed_ids_before_anything(env, mid):
    c, _, _ = env
    c.ports.highstate = lambda ms: pytest.fail(f"highstate of {ms!r:.40}")
    assert cmds.run(c, "started", minion_id=mid)["ok"] is False


def test_an_auth_event_for_an_id_with_no_pending_or_denied_key_is_ignored(env):
    # a worker can fire salt/auth itself: only a key the master holds is a claim to refuse and report
    c, events, rejected = env
    mid = identity.make("dc", "r1", SECRET)
    c.ports.key_states = lambda m: {"accepted"}
    out = cmds.run(c, "pending_key", minion_id=mid)
    assert out["ok"] is False and "ignored" in out["message"]
    assert rejected == [] and not [t for t, _ in events if "key/" in t]
    assert "keys_refused" not in c.state.counters and c.state.counters["auth_events_ignored"] == 1
    c.ports.key_states = lambda m: {"accepted", "denied"}  # someone did present another key: reported
    assert "accepted before launch" in cmds.run(c, "pending_key", minion_id=mid)["message"]
    assert c.state.counters["keys_refused"] == 1
