"""Red-team regressions for issue 15: the engine's own start-event intake and the batched highstate jobs.

The doubles are the controller's in-memory ports and a job cache keyed (jid, minion) as Salt's is
(tests/unit/controller/test_highstate_jobs.py); the loop is the engine's real ``EngineLoop``.
"""

import concurrent.futures
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "controller"))
from memory_ports import Clock
from test_highstate_jobs import SECRET, JobCache, make_controller, ret_event

from dcluster import highstate_proof, identity, keypairs
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


def _salt_master(tmp_path, jid, minions):
    """Salt's own master half that files returns (AESFuncs._return into local_cache), its key cache and
    the engine's ports over them."""
    import copy

    import salt.cache
    import salt.config
    import salt.master
    import salt.minion

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
        __role="master",  # as salt.config.master_config sets it (the key cache's driver reads it)
        id="master_master",
    )
    master = type("Master", (), {})()
    master.opts, master.mminion = opts, salt.minion.MasterMinion(opts, states=False, rend=False)
    master.event = type("Bus", (), {"fire_event": lambda *_: None, "fire_ret_load": lambda *_: None})()
    master.mminion.returners["local_cache.prep_jid"](passed_jid=jid)
    load = {"jid": jid, "fun": "state.apply", "tgt": list(minions), "tgt_type": "list", "arg": []}
    master.mminion.returners["local_cache.save_load"](jid, load, minions=list(minions))
    keys = {mid: keypairs.generate() for mid in minions}
    cache = salt.cache.Cache(opts, driver="localfs_key")
    for mid, pair in keys.items():  # as the engine's preaccept_key stores them before the launch
        cache.store("keys", mid, {"pub": pair.public_pem, "state": "accepted"})
    return master, keys


def _file_return(master, sender, jid, ret, **more):
    """A return as the master's request server hands it to AESFuncs._return: the channel authenticated
    ``sender`` (the load's ``id``); everything else is what that minion chose to send."""
    import asyncio

    import salt.master

    load = {"cmd": "_return", "id": sender, "jid": jid, "fun": "state.apply", "retcode": 0, "success": True}
    load.update({"return": ret, **more})

    async def file_it():
        # _return stores the job through loop.run_in_executor: run that inline, in this thread.  In a
        # pytest process that has made other masters' loaders, a worker thread's Salt loader context
        # once filed the return where this test's job cache did not see it (CI, not reproduced alone).
        asyncio.get_running_loop().set_default_executor(_Inline())
        await salt.master.AESFuncs._return(master, load)

    asyncio.run(file_it())


class _Inline(concurrent.futures.ThreadPoolExecutor):
    """An executor that runs each call at once in the caller's thread (asyncio wants a thread pool)."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, as a thread pool would
            future.set_exception(exc)
        return future


def _proof(pair, jid, mid):
    signature = highstate_proof.sign(pair.private_pem, jid, mid)
    proof = {"jid": jid, "minion": mid, "signature": signature}
    return {highstate_proof.STATE_KEY: {"result": True, "changes": {"proof": proof}}}


OK_STATES = {"file_|-x_|-x_|-managed": {"result": True}}


@pytest.mark.parametrize("proof", ["none", "the sender's key over the sibling's id", "the sibling's, of another job"])
def test_a_siblings_return_filed_under_a_resource_id_does_not_configure_a_worker(env, tmp_path, proof):
    # Real Salt: the master's AESFuncs._return (the load's own id authenticated by the channel before it)
    # files a return under the load's resource_id, unchecked; the local_cache job cache and the master's
    # key cache are read through the engine's own ports.
    from dcluster.controller import highstate_jobs
    from dcluster.glue.engine_ports import accepted_key, job_cache

    c, loop, jid, (a, b, _) = env
    master, keys = _salt_master(tmp_path, jid, (a, b))
    c.ports.job_result, c.ports.accepted_key = job_cache(master.opts), accepted_key(master.opts)
    forged = dict(OK_STATES)
    if proof == "the sender's key over the sibling's id":
        forged.update(_proof(keys[a], jid, b))  # a has only its own key
    elif proof == "the sibling's, of another job":
        forged.update(_proof(keys[b], "20261205000000000001", b))  # b's proof of an earlier highstate, replayed
    _file_return(master, a, jid, forged, resource_id=b)  # a, as itself, returns "for" b
    assert c.ports.job_result(jid, b) is not None  # the hole: Salt filed it under b
    highstate_jobs.recheck(c)
    assert b not in c.state.configured
    assert f"carries no valid proof from {b}'s own key" in c.state.config_failed[b]
    assert c.state.counters["highstate_proofs_refused"] == 1


def test_a_workers_own_proven_return_through_salts_master_configures_it(env, tmp_path):
    from dcluster.controller import highstate_jobs
    from dcluster.glue.engine_ports import accepted_key, job_cache

    c, loop, jid, (a, b, _) = env
    master, keys = _salt_master(tmp_path, jid, (a, b))
    c.ports.job_result, c.ports.accepted_key = job_cache(master.opts), accepted_key(master.opts)
    _file_return(master, b, jid, {**OK_STATES, **_proof(keys[b], jid, b)})
    highstate_jobs.recheck(c)
    assert b in c.state.configured and a not in c.state.configured and not c.state.config_failed


def test_only_an_accepted_key_verifies_a_proof(env, tmp_path):
    # a pending (or rejected) key under a worker's id is never the worker's own (keys are pre-accepted)
    import salt.cache

    from dcluster.controller import highstate_jobs
    from dcluster.glue.engine_ports import accepted_key, job_cache

    c, loop, jid, (a, b, _) = env
    master, keys = _salt_master(tmp_path, jid, (a, b))
    cache = salt.cache.Cache(master.opts, driver="localfs_key")
    cache.flush("keys", b)
    cache.store("keys", b, {"pub": keys[b].public_pem, "state": "pending"})
    c.ports.job_result, c.ports.accepted_key = job_cache(master.opts), accepted_key(master.opts)
    assert c.ports.accepted_key(a) == keys[a].public_pem and c.ports.accepted_key(b) is None
    _file_return(master, b, jid, {**OK_STATES, **_proof(keys[b], jid, b)})
    highstate_jobs.recheck(c)
    assert b not in c.state.configured and f"the master has no accepted key for {b}" in c.state.config_failed[b]
