"""Red-team regressions for issue 15: the engine's own start-event intake and the batched highstate jobs.

The doubles are the controller's in-memory ports and a job cache keyed (jid, minion) as Salt's is
(tests/unit/controller/test_highstate_jobs.py); the loop is the engine's real ``EngineLoop``.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "controller"))
from memory_ports import Clock
from test_highstate_jobs import SECRET, JobCache, make_controller, ret_event

from dcluster import identity
from dcluster.controller import state as st
from dcluster.glue.engine_loop import EngineLoop


class Walks(dict):
    """highstate_jobs, counting the walks over every outstanding highstate."""

    walks = 0

    def values(self):
        type(self).walks += 1
        return super().values()

    def items(self):
        type(self).walks += 1
        return super().items()


@pytest.fixture
def env(tmp_path):
    cache, clock = JobCache(), Clock()
    c, events = make_controller(tmp_path, cache, clock)
    ids = [identity.make("dc", "r1", SECRET) for _ in range(3)]
    jid = c.ports.highstate(ids)  # one batch: its jid is known to each of them
    Walks.walks = 0
    c.state.highstate_jobs = Walks(c.state.highstate_jobs)
    loop = EngineLoop(c, None, lambda tag, data: None)
    loop.next_cycle = float("inf")  # no cycle in these tests
    yield c, loop, jid, ids
    c.shutdown()


def handle(loop, tag, data):
    loop.handle({"tag": tag, "data": data})


def test_returns_of_other_jobs_do_not_walk_every_outstanding_highstate(env):
    # Every job's return goes past the engine: a hosts-file push to 5,000 workers while as many
    # highstates were outstanding walked them all once per return (1.3 s a push, quadratic).
    c, loop, jid, ids = env
    other = "20261205000000999999"
    for mid in ids:
        handle(loop, *ret_event(other, mid, fun="file.blockreplace"))
        handle(loop, *ret_event(other, mid))  # an admin's state.apply: refused (not started by the engine)
    handle(loop, *ret_event(other, "headnode", fun="state.apply"))  # not ours, not our shape: ignored
    assert Walks.walks == 0
    assert c.state.counters["highstate_returns_refused"] == len(ids)


def test_a_forged_return_naming_an_unsigned_id_for_a_batchs_jid_is_still_refused(env):
    c, loop, jid, ids = env
    fake = identity.make("dc", "r1", "another-secret-0123456789")
    handle(loop, *ret_event(jid, fake))
    assert c.state.counters["highstate_returns_refused"] == 1
    assert not c.state.configured and not c.state.config_failed


def test_a_batchs_jid_settles_each_minion_only_from_its_own_cache_entry(env):
    # A worker knows its batch's jid: a return it forges for a sibling (tag and data naming the
    # sibling) only makes the engine read the sibling's own entry in the job cache.
    c, loop, jid, (a, b, _) = env
    cache = c.ports.job_result
    cache.entries[(jid, a)] = {"return": {"x": {"result": True}}, "retcode": 0, "success": True}
    handle(loop, *ret_event(jid, b))
    assert b not in c.state.configured and f"{jid}/{b}" in c.state.highstate_jobs


def test_a_forged_start_is_counted_and_logged_once_through_the_loops_step(env):
    c, loop, jid, (a, b, _) = env
    events = [{"tag": f"salt/minion/{a}/start", "data": {"id": b}}]
    loop.step(lambda wait: events.pop() if events else None)
    assert c.state.counters["starts_refused"] == 1


@pytest.mark.parametrize("started", ["NaN", "Infinity", "-Infinity"])
def test_a_saved_highstate_with_a_non_finite_start_is_dropped(started):
    # json reads NaN; an entry started at NaN is never under way and never times out: the job
    # cache would be read for it every cycle for ever
    text = '{"highstate_jobs": {"1/m": {"jid": "1", "minion": "m", "started": STARTED}}, "saved_at": 50}'
    text = text.replace("STARTED", started)
    assert st.ControllerState.from_json(json.loads(text), mono=100.0, wall=60.0).highstate_jobs == {}


@pytest.mark.xfail(
    strict=True,
    reason="Salt 3008's master files a return under the load's resource_id, with no check that the "
    "sending minion manages it: the job cache is no proof of who returned (unfixed, see docs/security.md 3a)",
)
def test_a_siblings_return_filed_under_a_resource_id_does_not_configure_a_worker(env, tmp_path):
    # Real Salt: the master's AESFuncs._return (the load's own id authenticated by the channel before it)
    # and the local_cache job cache, read through the engine's own job_result port.
    import asyncio
    import copy

    import salt.config
    import salt.master
    import salt.minion

    from dcluster.controller import highstate_jobs
    from dcluster.glue.engine_ports import job_cache

    c, loop, jid, (a, b, _) = env
    opts = copy.deepcopy(salt.config.DEFAULT_MASTER_OPTS)
    for d in ("cache", "pki", "sock", "ext"):
        (tmp_path / d).mkdir()
    opts.update(
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        sock_dir=str(tmp_path / "sock"),
        root_dir=str(tmp_path),
        extension_modules=str(tmp_path / "ext"),
        master_job_cache="local_cache",
        ext_job_cache="",
        require_minion_sign_messages=False,
        minion_data_cache=False,
    )
    master = type("Master", (), {})()
    master.opts, master.mminion = opts, salt.minion.MasterMinion(opts, states=False, rend=False)
    master.event = type("Bus", (), {"fire_event": lambda *_: None, "fire_ret_load": lambda *_: None})()
    master.mminion.returners["local_cache.prep_jid"](passed_jid=jid)
    load = {"jid": jid, "fun": "state.apply", "tgt": [a, b], "tgt_type": "list", "arg": []}
    master.mminion.returners["local_cache.save_load"](jid, load, minions=[a, b])
    c.ports.job_result = job_cache(opts)
    forged = {"cmd": "_return", "id": a, "jid": jid, "fun": "state.apply", "retcode": 0, "success": True}
    forged.update({"return": {"file_|-x_|-x_|-managed": {"result": True}}, "resource_id": b})
    asyncio.run(salt.master.AESFuncs._return(master, forged))  # a, as itself, returns "for" b
    highstate_jobs.recheck(c)
    assert b not in c.state.configured
