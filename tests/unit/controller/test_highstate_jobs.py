"""Highstate results only from jobs the engine started, read from the job cache (engine glue + highstate_jobs).

The job cache here is a dict standing in for the master's ``get_jid`` (the
real one is read in tests/integration/test_minion_commands.py); the events are
what a minion can fire with ``salt-call event.send``.
"""

import logging

import pytest
from memory_ports import Clock, MemCloud, MemScheduler, slurm_pillar

from dcluster import identity
from dcluster.controller import Controller, Ports, highstate_jobs
from dcluster.controller import commands as cmds
from dcluster.glue import command_auth
from dcluster.glue.engine_loop import EngineLoop
from tests.support.highstate_proofs import accepted_key
from tests.support.highstate_proofs import signed as proven

SECRET = "highstate-jobs-test-secret-1"
OK_RETURN = {"return": {"file_|-marker_|-/m_|-managed": {"result": True}}, "retcode": 0, "success": True}
FAILED_RETURN = {"return": {"pkg_|-slurmd_|-slurmd_|-installed": {"result": False}}, "retcode": 2, "success": False}


def pillar(timeout=900):
    return slurm_pillar(SECRET, cluster_name="dc", config_checker={"salt": {"timeout": timeout}})


class JobCache:
    """Stands in for the master's job cache: {(jid, minion): entry}, and the jids it has published."""

    def __init__(self):
        self.entries = {}
        self.published = []

    def highstate(self, minion_ids):
        jid = f"2026010100000000{len(self.published):04d}"
        self.published.extend((jid, mid) for mid in minion_ids)
        return jid

    def __call__(self, jid, minion_id):
        return self.entries.get((jid, minion_id))


def make_controller(tmp_path, cache, clock, timeout=900):
    ports = Ports(
        pillar=lambda: pillar(timeout),
        scheduler=lambda cfg: MemScheduler(),
        driver=lambda cfg, res: MemCloud(),
        fire=lambda tag, data: None,
    )
    c = Controller(ports, state_path=str(tmp_path / "state.json"), clock=clock)
    events = []
    ports.fire = lambda tag, data: events.append((tag, data))
    ports.job_result = cache
    ports.accepted_key = accepted_key
    ports.highstate = highstate_jobs.tracked(c, cache.highstate)
    c.load_config()
    return c, events


@pytest.fixture
def env(tmp_path):
    cache, clock = JobCache(), Clock()
    c, events = make_controller(tmp_path, cache, clock)
    a, b = identity.make("dc", "r1", SECRET), identity.make("dc", "r1", SECRET)
    yield c, cache, clock, events, a, b
    c.shutdown()


def ret_event(jid, minion, claimed=None, **data):
    body = {
        "id": minion if claimed is None else claimed,
        "jid": jid,
        "fun": "state.apply",
        "retcode": 0,
        "success": True,
        "return": OK_RETURN["return"],
    }
    body.update(data)
    return f"salt/job/{jid}/ret/{minion}", body


def hs_return(c, tag, data):
    """A return event as the engine's loop handles it."""
    return EngineLoop(c, None, lambda tag, data: None).highstate_return(tag, data)


def nothing_marked(c, *names):
    return all(n not in c.state.configured and n not in c.state.config_failed for n in names)


def test_the_start_command_records_the_jid_it_started(env):
    c, cache, clock, events, a, b = env
    c.cycle()  # a view to judge the start by: before the first cycle a start is deferred (test_stale_view.py)
    out = cmds.run(c, "started", minion_id=a)
    assert out["ok"], out
    assert c.state.highstate_jobs == {f"{out['jid']}/{a}": {"jid": out["jid"], "minion": a, "started": 1000.0}}


def test_a_return_whose_data_id_is_not_the_tags_minion_is_refused(env, caplog):
    c, cache, clock, events, a, b = env
    jid = c.ports.highstate([a])
    cache.entries[(jid, a)] = proven(OK_RETURN, jid, a)
    with caplog.at_level(logging.WARNING):
        first = hs_return(c, *ret_event(jid, a, claimed=b))
        second = hs_return(c, f"salt/job/{jid}/ret/{a}", "not a mapping")
    assert nothing_marked(c, a, b) and f"{jid}/{a}" in c.state.highstate_jobs
    assert first == second == "refused"
    assert c.state.counters["highstate_returns_refused"] == 2
    assert "the event's id is not the tag's minion" in caplog.text


def test_a_return_of_a_job_the_engine_did_not_start_is_refused(env, caplog):
    c, cache, clock, events, a, b = env
    forged = "20260101000000999999"
    # even a real (proven) cache entry of someone else's job is not taken
    cache.entries[(forged, a)] = proven(OK_RETURN, forged, a)
    with caplog.at_level(logging.WARNING):
        status = hs_return(c, *ret_event(forged, a))
    assert nothing_marked(c, a) and status == "refused"
    assert "did not start" in caplog.text and c.state.counters["highstate_returns_refused"] == 1
    # other jobs' returns (the head node's scheduler calls, an admin's test.ping) pass by quietly
    assert hs_return(c, *ret_event(forged, "headnode", fun="dcluster_slurm.jobs")) == "ignored"
    assert c.state.counters["highstate_returns_refused"] == 1


def test_the_jid_of_another_minion_is_refused(env):
    c, cache, clock, events, a, b = env
    jid = c.ports.highstate([a])
    cache.entries[(jid, b)] = proven(OK_RETURN, jid, b)
    status = hs_return(c, *ret_event(jid, b))
    assert nothing_marked(c, a, b) and c.state.highstate_jobs[f"{jid}/{a}"]["minion"] == a
    assert status == "refused"


def test_the_result_is_the_job_caches_not_the_events(env):
    c, cache, clock, events, a, b = env
    jid = c.ports.highstate([a])
    cache.entries[(jid, a)] = FAILED_RETURN
    status = hs_return(c, *ret_event(jid, a))  # the event says success
    assert a not in c.state.configured and status == "settled"
    assert "pkg_|-slurmd_|-slurmd_|-installed" in c.state.config_failed[a]
    assert f"{jid}/{a}" not in c.state.highstate_jobs
    assert ("dcluster/worker/config_failed", {"name": a, "detail": c.state.config_failed[a]}) in events


def test_a_return_not_yet_in_the_cache_is_taken_on_a_later_cycle(env):
    c, cache, clock, events, a, b = env
    jid = c.ports.highstate([a])
    status = hs_return(c, *ret_event(jid, a))
    assert nothing_marked(c, a) and status == "pending"
    clock.t += 10
    c.cycle()
    assert nothing_marked(c, a)
    cache.entries[(jid, a)] = proven(OK_RETURN, jid, a)
    clock.t += 10
    c.cycle()
    assert a in c.state.configured and f"{jid}/{a}" not in c.state.highstate_jobs


def test_an_outstanding_jid_survives_a_restart(tmp_path):
    cache, clock = JobCache(), Clock()
    c, _ = make_controller(tmp_path, cache, clock)
    a = identity.make("dc", "r1", SECRET)
    jid = c.ports.highstate([a])
    c.save()
    c.shutdown()
    # the return arrives while the master is down: no event, only the cache has it
    cache.entries[(jid, a)] = proven(OK_RETURN, jid, a)
    c2, _ = make_controller(tmp_path, cache, clock)
    assert c2.state.highstate_jobs == {f"{jid}/{a}": {"jid": jid, "minion": a, "started": 1000.0}}
    clock.t += 10
    c2.cycle()
    assert a in c2.state.configured
    c2.shutdown()


def test_an_outstanding_jid_is_forgotten_after_the_checkers_timeout(tmp_path):
    cache, clock = JobCache(), Clock()
    c, _ = make_controller(tmp_path, cache, clock, timeout=60)
    a = identity.make("dc", "r1", SECRET)
    jid = c.ports.highstate([a])
    clock.t += 30
    c.cycle()
    assert f"{jid}/{a}" in c.state.highstate_jobs
    assert nothing_marked(c, a)
    clock.t += 31
    c.cycle()
    # the timeout is the checker's verdict: a failed configuration the status shows, naming the key
    assert f"{jid}/{a}" not in c.state.highstate_jobs and a not in c.state.configured
    assert "within 60 s (dcluster:config-checker:salt:timeout)" in c.state.config_failed[a]
    cache.entries[(jid, a)] = proven(OK_RETURN, jid, a)  # too late: nobody is waiting for it
    status = hs_return(c, *ret_event(jid, a))
    assert a not in c.state.configured and status == "refused"
    c.shutdown()


@pytest.mark.parametrize(
    "entry",
    [
        {"return": {"s": {"result": True}}, "retcode": 0},  # no success flag
        {"return": {"s": {"result": True}}, "retcode": 0, "success": "yes"},
        {"return": {"s": {"result": True}}, "retcode": True, "success": True},
        {"return": ["Pillar failed to render"], "retcode": 5, "success": False},
        {"return": {"s": {"result": False}}, "retcode": 0, "success": True},
        "not a mapping",
    ],
)
def test_only_a_clean_successful_state_run_counts(entry):
    ok, detail = highstate_jobs.judge(entry)
    assert not ok and detail.startswith("highstate failed")


def test_malformed_saved_jobs_are_dropped(tmp_path):
    from dcluster.controller import state as st

    good = {"minion": "m", "started": 5}
    loaded = st.ControllerState.from_json(
        {
            "highstate_jobs": {
                "1": good,  # as the release before saved it: keyed by the jid alone
                "5/n": {"jid": "5", "minion": "n", "started": 6},
                "2": {"minion": 3, "started": 1},
                "3": {"minion": "m", "started": True},
                "4": "x",
                "6/n": {"jid": "7", "minion": "n", "started": 6},  # the key and the entry disagree
                "8/o": {"jid": "8", "minion": "n", "started": 6},
                "9/n": {"minion": "n", "started": 6},
            }
        }
    )
    assert loaded.highstate_jobs == {
        "1/m": {"jid": "1", "minion": "m", "started": 5.0},
        "5/n": {"jid": "5", "minion": "n", "started": 6.0},
    }
    assert st.ControllerState.from_json({"highstate_jobs": ["x"]}).highstate_jobs == {}


# ------------------------------------------------------------ commands through the engine's glue
def signed(cmd, args, now=None):
    return command_auth.sign(b"s" * 32, cmd, args, "dcluster/reply/" + "0" * 32, now=now)


def test_the_engine_obeys_a_signed_command_and_answers_it(env):
    c, cache, clock, events, a, b = env
    fired = []
    v = command_auth.Verifier(lambda: b"s" * 32)
    out = EngineLoop(c, v, lambda tag, data: fired.append((tag, data))).command(
        "dcluster/cmd/auto", signed("auto", {"enable": False})
    )
    assert out["ok"] and c.state.auto_mode is False
    assert fired == [("dcluster/reply/" + "0" * 32, out)]


@pytest.mark.parametrize(
    "cmd,data",
    [
        ("auto", {"args": {"enable": False}, "reply": "x"}),  # what `salt-call event.send` sends
        ("launch", {"args": {"resource": "r1", "count": 1}, "reply": "dcluster/reply/" + "0" * 32}),
        ("auto", "enable=False"),
    ],
)
def test_the_engine_refuses_an_unsigned_command_without_answering(env, caplog, cmd, data):
    c, cache, clock, events, a, b = env
    fired = []
    v = command_auth.Verifier(lambda: b"s" * 32)
    with caplog.at_level(logging.WARNING):
        assert (
            EngineLoop(c, v, lambda tag, data: fired.append((tag, data))).command(f"dcluster/cmd/{cmd}", data) is None
        )
    assert fired == [] and c.state.auto_mode is None and not c.actuator.status().chains
    assert c.state.counters["commands_refused"] == 1
    assert f"refused command 'dcluster/cmd/{cmd}'" in caplog.text


def test_there_is_no_command_that_marks_a_worker_configured(env):
    c, cache, clock, events, a, b = env
    assert "configured" not in cmds.COMMANDS
    out = cmds.run(c, "configured", minion_id=a, ok=True)
    assert not out["ok"] and nothing_marked(c, a)


def test_a_flood_of_returns_for_a_pending_jid_reads_the_job_cache_once_per_hint(env):
    # A worker knows the jid of its own highstate and may fire its return event any number of times
    # (red team): each one read the master's job cache.  While a read of that jid is already due,
    # another event adds nothing.
    c, cache, clock, events, a, b = env
    jid = c.ports.highstate([a])
    reads = []
    c.ports.job_result = lambda j, m: reads.append((j, m)) or cache(j, m)
    t = [100.0]
    loop = EngineLoop(c, None, lambda tag, data: None, monotonic=lambda: t[0])
    loop.next_cycle = float("inf")  # no cycle (whose recheck reads the cache too) in this test
    tag, data = ret_event(jid, a)
    for _ in range(500):
        loop.handle({"tag": tag, "data": data})
    assert reads == [(jid, a)] and f"{jid}/{a}" in loop.hinted and nothing_marked(c, a)
    cache.entries[(jid, a)] = proven(OK_RETURN, jid, a)
    t[0] += 1.0
    loop.step(lambda wait: None)  # the hint's time came: the cache is read again, and has it now
    assert a in c.state.configured and len(reads) == 2


def test_a_return_naming_another_minion_for_a_due_jid_is_still_refused_and_counted(env):
    c, cache, clock, events, a, b = env
    jid = c.ports.highstate([a])
    loop = EngineLoop(c, None, lambda tag, data: None)
    loop.next_cycle = float("inf")
    loop.handle(dict(zip(("tag", "data"), ret_event(jid, a), strict=True)))
    assert f"{jid}/{a}" in loop.hinted
    loop.handle(dict(zip(("tag", "data"), ret_event(jid, b), strict=True)))
    assert c.state.counters["highstate_returns_refused"] == 1
