"""Operator commands never act on a view that may be wrong, and a start during one is deferred (issue 13).

A failed poll does not show an empty cluster: after one, the view lacks nodes that are running jobs.
``remove``/``vacate`` (and ``launch``, whose room is counted from the listing) refuse until a good
cycle; a minion's one start event is kept and acted on when the view can tell what the worker is.
"""

import pytest
from memory_ports import Loop, key_pool, registered_worker, slurm_pillar, step

from dcluster.clouds.base import LaunchResult
from dcluster.clouds.errors import Transient
from dcluster.controller import Controller
from dcluster.controller import commands as cmds
from dcluster.model import Job, JobState, Node, NodeState

SECRET = "q7-operator-test-s3cret-0123456789"


def pillar(**over):
    return (
        slurm_pillar(
            SECRET, max_idle_time=1000, max_launch_time=600, cluster_poller_interval=10, cloud_poller_interval=10
        )
        | over
    )


@pytest.fixture
def env(tmp_path):
    lp = Loop(tmp_path, pillar())
    highstates = []
    lp.c.ports.highstate = lambda mids: highstates.extend(mids) or f"jid-{len(highstates)}"
    yield lp.c, lp.sched, lp.cloud, lp.clock, highstates
    lp.c.shutdown()


def busy(sched, name, job="5"):
    sched.nodes_[name] = Node(name, NodeState.BUSY, cores=4, jobs=(job,), cores_used=4)
    sched.jobs_ = [Job(job, JobState.RUNNING, chunk_cores=4, nodes=(name,))]


def touched(sched, cloud, name):
    return [x for x in sched.calls if x[0] in ("remove", "vacate") and x[1] == name] + [
        m for m in cloud.destroyed if m == name
    ]


def refused(out, why):
    assert out["ok"] is False and out.get("stale") is True, out
    assert why in out["message"] and "retry" in out["message"], out["message"]


def test_remove_after_a_failed_scheduler_poll_refuses_and_destroys_nothing(env):
    c, sched, cloud, clock, _ = env
    name = registered_worker(c, sched, cloud, clock)
    busy(sched, name)
    step(c, clock)
    sched.fail = True  # the node, busy, is missing from this cycle's view
    step(c, clock)
    refused(cmds.run(c, "remove", name=name), "scheduler poll failed")
    assert touched(sched, cloud, name) == []
    sched.fail = False
    step(c, clock)
    out = cmds.run(c, "remove", name=name)  # a good view: refused for the job, as always
    assert not out["ok"] and "5" in out["message"] and touched(sched, cloud, name) == []


def test_remove_after_a_failed_cloud_listing_refuses(env):
    c, sched, cloud, clock, _ = env
    name = registered_worker(c, sched, cloud, clock)
    cloud.list_fails = True
    c.cloud_changed("r1")
    step(c, clock)
    assert {w.name: w.state.value for w in c.view.workers}[name] == "unknown"
    refused(cmds.run(c, "remove", name=name), "is in state unknown")
    assert touched(sched, cloud, name) == []


def test_remove_on_a_stale_view_refuses(env):
    c, sched, cloud, clock, _ = env
    name = registered_worker(c, sched, cloud, clock)  # idle in the last view
    busy(sched, name)  # ...and busy since; the engine has not cycled for a minute
    clock.t += 60
    refused(cmds.run(c, "remove", name=name), "s old")
    assert touched(sched, cloud, name) == []


def test_remove_refuses_while_the_job_list_shows_a_job_on_the_node(env):
    c, sched, cloud, clock, _ = env
    name = registered_worker(c, sched, cloud, clock)
    # sinfo lists the node without jobs (plausible but wrong); squeue shows job 9 running on it
    sched.jobs_ = [Job("9", JobState.RUNNING, chunk_cores=4, nodes=(name,))]
    step(c, clock)
    out = cmds.run(c, "remove", name=name)
    assert not out["ok"] and "9" in out["message"]
    assert touched(sched, cloud, name) == []


def test_remove_right_after_the_cycle_that_registered_the_worker_refuses(env):
    # Chaos seed 226: the view of a cycle is taken before its actions run.  That cycle registered the
    # configured worker (the view: starting, no scheduler node); jobs started on the new node at once,
    # and an operator's remove before the next cycle destroyed it as a starting worker, with its jobs.
    c, sched, cloud, clock, _ = env
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    (name,) = cloud.launch_calls[0]
    c.mark_configured(name, True)
    step(c, clock)  # registers it
    assert name in sched.nodes_ and {w.name: w.state.value for w in c.view.workers}[name] == "starting"
    busy(sched, name, job="1")
    refused(cmds.run(c, "remove", name=name), "after this view")
    assert touched(sched, cloud, name) == []
    step(c, clock)  # a view that shows the node and its job: refused for the job, as always
    out = cmds.run(c, "remove", name=name)
    assert not out["ok"] and "1" in out["message"] and touched(sched, cloud, name) == []


def test_remove_on_a_good_view_still_removes_an_idle_worker(env):
    c, sched, cloud, clock, _ = env
    name = registered_worker(c, sched, cloud, clock)
    step(c, clock)
    assert cmds.run(c, "remove", name=name)["ok"]
    assert ("remove", name) in sched.calls and cloud.destroyed == [name]


def test_vacate_refuses_on_an_unknown_worker_and_a_stale_view(env):
    c, sched, cloud, clock, _ = env
    name = registered_worker(c, sched, cloud, clock)
    busy(sched, name)
    step(c, clock)
    clock.t += 60
    refused(cmds.run(c, "vacate", name=name), "s old")
    cloud.list_fails = True
    c.cloud_changed("r1")
    step(c, clock)
    refused(cmds.run(c, "vacate", name=name), "unknown")
    assert touched(sched, cloud, name) == []
    cloud.list_fails = False
    c.cloud_changed("r1")
    busy(sched, name)  # a new Node object, as a real adapter parses each poll
    step(c, clock)
    out = cmds.run(c, "vacate", name=name)
    assert out["ok"] and ("vacate", name) in sched.calls, out


def test_launch_refuses_while_the_resource_s_listing_failed(env):
    c, sched, cloud, clock, _ = env
    c.ports.pillar = lambda: pillar(cloud={"r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 1}}})
    step(c, clock)
    assert cmds.run(c, "launch", resource="r1")["ok"]
    step(c, clock)
    cloud.list_fails = True  # hides the starting instance: a second launch would go above max 1
    c.cloud_changed("r1")
    step(c, clock)
    refused(cmds.run(c, "launch", resource="r1"), "listing failed")
    assert len(cloud.launch_calls) == 1


def test_hold_and_release_say_why_after_a_failed_scheduler_poll(env):
    c, sched, cloud, clock, _ = env
    sched.nodes_["cn01"] = Node("cn01", NodeState.IDLE, cores=8)
    step(c, clock)
    sched.fail = True
    step(c, clock)
    refused(cmds.run(c, "hold", name="cn01"), "scheduler poll failed")
    refused(cmds.run(c, "release", name="cn01"), "scheduler poll failed")
    assert not [x for x in sched.calls if x[0] in ("hold", "release")]


def starting_after_a_failed_poll(c, sched, cloud, clock):
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    (name,) = cloud.launch_calls[0]
    sched.fail = True
    step(c, clock)
    assert {w.name: w.state.value for w in c.view.workers}[name] == "unknown"
    return name


def test_a_start_during_an_unknown_view_is_highstated_on_the_next_good_cycle(env):
    c, sched, cloud, clock, highstates = env
    name = starting_after_a_failed_poll(c, sched, cloud, clock)
    out = cmds.run(c, "started", minion_id=name)
    assert out["ok"] and out["deferred"] and highstates == []
    step(c, clock)  # still failing: it waits
    assert highstates == [] and name in c.state.deferred_starts
    sched.fail = False
    step(c, clock)
    assert highstates == [name] and c.state.deferred_starts == {}
    step(c, clock)
    assert highstates == [name]  # once


def test_a_deferred_start_survives_a_restart(env, tmp_path):
    c, sched, cloud, clock, _ = env
    name = starting_after_a_failed_poll(c, sched, cloud, clock)
    cmds.run(c, "started", minion_id=name)
    c2 = Controller(c.ports, state_path=c.state_path, clock=clock, keys=key_pool())
    try:
        assert c2.state.deferred_starts == {name: clock.t}
        later = []
        c2.ports.highstate = lambda mids: later.extend(mids) or "jid-x"
        sched.fail = False
        step(c2, clock)
        assert later == [name]
    finally:
        c2.shutdown()


def test_a_deferred_start_is_dropped_when_the_worker_is_gone_or_too_old(env):
    c, sched, cloud, clock, highstates = env
    name = starting_after_a_failed_poll(c, sched, cloud, clock)
    cmds.run(c, "started", minion_id=name)
    cloud.destroy([cloud.instances_[name].id])  # gone by the next good cycle
    c.cloud_changed("r1")
    sched.fail = False
    step(c, clock)
    assert highstates == [] and name in c.state.deferred_starts  # one listing without it proves nothing
    start = clock.t
    while c.state.deferred_starts and clock.t - start < 300:
        step(c, clock)  # until listings across listing_grace agree it is gone
    assert highstates == [] and c.state.deferred_starts == {}
    c.state.deferred_starts["dc-r1-000000-000000000000"] = clock.t - 601  # older than max_launch_time
    step(c, clock)
    assert highstates == [] and c.state.deferred_starts == {}


def test_a_deferred_start_waits_for_a_launch_no_listing_shows_yet(env):
    # Chaos seed 744: the create call made the instance, then timed out (its id is maybe launched) and
    # listings lag behind it.  Its minion's start came during a failed scheduler poll; the next good
    # cycle did not show it yet and dropped the start: never highstated, destroyed after max_launch_time.
    c, sched, cloud, clock, highstates = env
    hidden = set()
    create, listing = cloud.launch, cloud.instances

    def created_then_timed_out(count, minion_ids, userdata_for):
        create(count, minion_ids, userdata_for)
        hidden.update(minion_ids)  # not listed yet (eventual consistency)
        return LaunchResult([], count, Transient("read timed out after creating (test)"))

    cloud.launch = created_then_timed_out
    cloud.instances = lambda: [i for i in listing() if i.minion_id not in hidden]
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    (name,) = cloud.launch_calls[0]
    assert name in c.state.maybe_launched and name not in {w.name for w in c.view.workers}
    sched.fail = True
    step(c, clock)
    assert cmds.run(c, "started", minion_id=name)["deferred"]
    sched.fail = False
    step(c, clock)  # a good view that does not show it yet: the start waits
    assert highstates == [] and name in c.state.deferred_starts
    hidden.clear()
    step(c, clock)
    assert highstates == [name] and c.state.deferred_starts == {}


def test_deferred_starts_are_bounded_and_malformed_ones_not_loaded(env, monkeypatch):
    c, sched, cloud, clock, _ = env
    name = starting_after_a_failed_poll(c, sched, cloud, clock)
    monkeypatch.setattr(cmds, "DEFERRED_STARTS", 2)
    c.state.deferred_starts.update({"a": 1.0, "b": 2.0})
    cmds.run(c, "started", minion_id=name)
    assert set(c.state.deferred_starts) == {"b", name}
    from dcluster.controller import state as st

    loaded = st.ControllerState.from_json({"deferred_starts": {"x": "soon", "y": True, "z": 5, 7: 1.0}})
    assert loaded.deferred_starts == {"z": 5.0}
