"""The engine takes minion start events off the bus itself (controller/start_events.py, issue 15): a
starting worker of ours is highstated once, with the ``started`` command's checks; nothing else is."""

from __future__ import annotations

import json
import logging

import pytest
import salt.daemons.masterapi
from memory_ports import Loop, slurm_pillar

from dcluster import identity
from dcluster.controller import commands as cmds
from dcluster.controller import highstate_jobs
from dcluster.glue.engine_loop import EngineLoop
from tests.support.highstate_proofs import accepted_key, signed

SECRET = "starts-secret-0123456789"


class _Bus:
    def __init__(self):
        self.fired = []

    def fire_event(self, data, tag):
        self.fired.append({"tag": tag, "data": data})
        return True


class _Master:
    def __init__(self):
        self.event = _Bus()


def fired_by(minion_id, load_extra=None):
    """The events Salt 3008's master fires for a ``_minion_event`` load from ``minion_id`` (already verified)."""
    master = _Master()
    load = {"id": minion_id, "cmd": "_minion_event", "tok": b"x", **(load_extra or {})}
    assert salt.daemons.masterapi.RemoteFuncs._minion_event(master, load) is True
    return master.event.fired


def own_start(minion_id):
    """What the master fires when the minion itself starts (salt/minion.py: _fire_master_minion_start)."""
    return fired_by(minion_id, {"tag": f"salt/minion/{minion_id}/start", "data": f"Minion {minion_id} started"})


@pytest.fixture
def env(tmp_path):
    env = Loop(tmp_path, slurm_pillar(SECRET, cluster_name="dc"))
    env.published = []

    def publish(mids):
        env.published.extend(mids)
        return f"2026120500000000{len(env.published):04d}"

    env.c.ports.highstate = highstate_jobs.tracked(env.c, publish)
    env.loop = EngineLoop(env.c, None, lambda tag, data: None, monotonic=env.clock)
    yield env
    env.c.shutdown()


def starting(env, n=2):
    env.step()
    out = cmds.run(env.c, "launch", resource="r1", count=n)
    assert out["ok"], out
    assert env.c.wait_idle(10)
    env.step()
    assert {w.name: w.state.value for w in env.c.view.workers} == dict.fromkeys(out["minion_ids"], "starting")
    return out["minion_ids"]


def test_a_starting_workers_own_start_event_highstates_it_once(env):
    a, b = starting(env)
    for event in own_start(a) * 3:  # the minion restarted twice while its highstate ran
        env.loop.handle(event)
    assert env.published == [a]
    said = [d["message"] for t, d in env.events if t == "dcluster/command/started"]
    (job,) = env.c.state.highstate_jobs.values()
    assert (
        said
        == [f"highstate of {a} started"]
        + [f"a highstate of {a} is under way (jid {job['jid']}); not started again"] * 2
    )
    saved = json.loads(open(env.path).read())  # the highstate's jid survives a restart
    assert [j["minion"] for j in saved["highstate_jobs"].values()] == [a]


def test_a_start_whose_data_names_another_minion_is_refused_and_counted(env, caplog):
    a, b = starting(env)
    caplog.set_level(logging.WARNING)
    forged = fired_by(a, {"events": [{"tag": f"salt/minion/{b}/start", "data": {"id": a}}]})
    for event in forged:
        env.loop.handle(event)
    assert env.published == [] and env.c.state.counters.get("starts_refused") == 1
    assert "the event's id is not the tag's minion" in caplog.text


def test_other_minions_and_ids_not_signed_by_us_get_nothing(env):
    a, _ = starting(env)
    forged = identity.make("dc", "r1", "another-secret-0123456789")
    for mid in ("cn001", forged, a.upper(), a + "\n", "x" * 2_000_000):
        for event in fired_by("cn001", {"events": [{"tag": f"salt/minion/{mid}/start", "data": {"id": mid}}]}):
            env.loop.handle(event)
    assert env.published == [] and "starts_refused" not in env.c.state.counters
    for event in own_start(a):  # and the loop does handle starts
        env.loop.handle(event)
    assert env.published == [a]


def test_a_start_before_the_first_cycle_is_deferred_then_highstated(env):
    a, _ = starting(env)
    fresh = env.start()  # a restarted engine whose first cycle has not made a view (its poll failed, say)
    fresh.ports.highstate = env.c.ports.highstate
    assert fresh.load_config() is not None and fresh.config is not None and fresh.view is None
    env.c.shutdown()
    env.c = fresh
    env.loop = EngineLoop(fresh, None, lambda tag, data: None, monotonic=env.clock)
    for event in own_start(a):
        env.loop.handle(event)
    assert env.published == [] and a in fresh.state.deferred_starts
    env.step()
    assert env.published == [a]


def test_an_idle_workers_restarted_minion_is_not_highstated(env):
    a, b = starting(env)
    env.c.mark_configured(a, True)
    env.step()  # registered
    env.step()  # the scheduler shows it: idle
    assert {w.name: w.state.value for w in env.c.view.workers} == {a: "idle", b: "starting"}
    for event in own_start(a) + own_start(b):
        env.loop.handle(event)
    assert env.published == [b]


class QueuedBus:
    """The master's bus with events queued on it: ``get_event(wait)`` hands them out in order, then None."""

    def __init__(self, events):
        self.events = list(events)

    def __call__(self, wait):
        return self.events.pop(0) if self.events else None


def test_a_burst_of_starts_is_one_highstate_job(env, monkeypatch):
    from dcluster.glue import engine_loop

    ids = starting(env, n=4)
    jobs = []
    real = env.c.ports.highstate
    env.c.ports.highstate = lambda mids: jobs.append(list(mids)) or real(mids)
    monkeypatch.setattr(engine_loop, "START_BATCH", 3)
    bus = QueuedBus([e for mid in ids for e in own_start(mid)] + own_start(ids[0]))
    env.loop.next_cycle = float("inf")  # no cycle in between: only the events
    env.loop.step(bus)
    env.loop.step(bus)
    assert jobs == [ids[:3], ids[3:]]  # the batch's limit, then the rest (the repeated start: under way)
    keys = sorted(env.c.state.highstate_jobs)
    assert len(keys) == 4 and len({k.split("/")[0] for k in keys[:3]}) == 1
    assert sorted(k.split("/")[1] for k in keys) == sorted(ids)


def test_a_failed_publish_defers_the_burst_to_the_next_good_cycle(env):
    ids = starting(env, n=3)
    real, jobs = env.c.ports.highstate, []

    def down(mids):
        raise ConnectionError("the master's request server is restarting")

    env.c.ports.highstate = down
    env.loop.next_cycle = float("inf")
    env.loop.step(QueuedBus([e for mid in ids for e in own_start(mid)]))
    assert set(env.c.state.deferred_starts) == set(ids) and not env.c.state.highstate_jobs
    env.c.ports.highstate = lambda mids: jobs.append(list(mids)) or real(mids)
    env.step()
    assert len(jobs) == 1 and sorted(jobs[0]) == sorted(ids) and not env.c.state.deferred_starts  # one job


def test_a_batched_jobs_returns_settle_each_minion_and_no_other(env):
    a, b, c_ = starting(env, n=3)
    results = {}
    env.c.ports.job_result = lambda jid, mid: results.get((jid, mid))
    env.c.ports.accepted_key = accepted_key
    env.loop.next_cycle = float("inf")
    env.loop.step(QueuedBus(own_start(a) + own_start(b)))
    (jid,) = {job["jid"] for job in env.c.state.highstate_jobs.values()}
    ok = {"return": {"x": {"result": True}}, "retcode": 0, "success": True}
    results[(jid, a)], results[(jid, c_)] = signed(ok, jid, a), signed(ok, jid, c_)
    env.loop.handle({"tag": f"salt/job/{jid}/ret/{c_}", "data": {"id": c_, "fun": "state.apply"}})
    assert c_ not in env.c.state.configured and env.c.state.counters.get("highstate_returns_refused") == 1
    env.loop.handle({"tag": f"salt/job/{jid}/ret/{a}", "data": {"id": a, "fun": "state.apply"}})
    assert a in env.c.state.configured and b not in env.c.state.configured
    assert list(env.c.state.highstate_jobs) == [f"{jid}/{b}"]


def test_starts_that_change_nothing_do_not_serialise_the_state(env):
    # Any minion can fire starts: a refused one, or a worker's own start while its highstate is under
    # way, saved the whole state (46 ms at 5,000 workers, one a step: a paced flood kept the engine busy).
    a, _ = starting(env)
    env.loop.next_cycle = float("inf")
    env.loop.step(QueuedBus(own_start(a)))
    saves = []
    real = env.c._state_file.save
    env.c._state_file.save = lambda *args: saves.append(args) or real(*args)
    unsigned = identity.make("dc", "r1", "another-secret-0123456789")
    for event in own_start(a) + fired_by(
        a, {"events": [{"tag": f"salt/minion/{unsigned}/start", "data": {"id": unsigned}}]}
    ):
        env.loop.step(QueuedBus([event]))
    assert env.published == [a] and saves == []


def test_the_jid_is_saved_before_the_publish_so_a_crash_right_after_loses_no_highstate(env):
    """The engine made the jid, recorded and saved it, then published; it died before its next save: the
    restarted engine still knows the job and takes its returns (before, up to a batch of workers were
    never configured and were destroyed after max_launch_time)."""
    ids = starting(env, n=3)
    jids = iter(f"2026120511000000{i:04d}" for i in range(100))
    env.c.ports.new_jid = lambda: next(jids)
    on_disk = []

    def publish_then_die(mids, jid=""):
        on_disk.append(sorted(json.loads(open(env.path).read())["highstate_jobs"]))
        env.c.state_path = None  # the engine dies as the publish goes out: nothing is written after it
        return jid

    env.c.ports.highstate = highstate_jobs.tracked(env.c, publish_then_die)
    env.loop.next_cycle = float("inf")
    env.loop.step(QueuedBus([e for mid in ids for e in own_start(mid)]))
    jid = "20261205110000000000"
    assert on_disk == [sorted(f"{jid}/{mid}" for mid in ids)]
    restarted = env.start()
    assert sorted(restarted.state.highstate_jobs) == on_disk[0]
    ok = {"return": {"x": {"result": True}}, "retcode": 0, "success": True}
    restarted.ports.job_result = lambda j, mid: signed(ok, j, mid) if j == jid else None
    restarted.ports.accepted_key = accepted_key
    highstate_jobs.recheck(restarted)
    assert set(ids) <= restarted.state.configured and not restarted.state.highstate_jobs
    restarted.shutdown()


def test_a_publish_that_raises_or_answers_another_jid_is_recorded_as_it_answered(env):
    a, b, c_ = starting(env, n=3)
    jids = iter(f"2026120511000000{i:04d}" for i in range(100))
    env.c.ports.new_jid = lambda: next(jids)
    answers = [ConnectionError("the request server did not answer"), "20261205119999999999", 0]

    def publish(mids, jid=""):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    env.c.ports.highstate = highstate_jobs.tracked(env.c, publish)
    env.loop.handle(own_start(a)[0])  # raises: forgotten, the start deferred
    assert not env.c.state.highstate_jobs and a in env.c.state.deferred_starts
    env.loop.handle(own_start(b)[0])  # Salt published under its own jid
    assert list(env.c.state.highstate_jobs) == [f"20261205119999999999/{b}"]
    env.loop.handle(own_start(c_)[0])  # nothing published (no minion matched): nothing recorded
    assert list(env.c.state.highstate_jobs) == [f"20261205119999999999/{b}"]
