"""No destruction on one observation (issue 13, dcluster/absence.py).

A worker missing from one source, or whose node disagrees with the job list,
is unknown ("confirming") until polls across ``confirm_absence`` agree, and is
never destroyed, removed or requeued while any source shows a job on it.
"""

import dataclasses

import pytest
from builders import NOW, config, inst, job, node, view, wid

from dcluster.config import ConfigError, load
from dcluster.model import InstanceState, Job, JobState, NodeState, WorkerState
from dcluster.planner import plan
from dcluster.planner.actions import Kind
from dcluster.reconcile import reconcile

CFG = config(max_launch_time=1200, max_idle_time=0, max_down_time=480)


def state_of(v, name):
    (w,) = [w for w in v.workers if w.name == name]
    return w


def polls(cfg, seconds_apart, count, nodes, instances, jobs=(), previous=None, end=NOW, **extra):
    """``count`` reconciles ``seconds_apart`` apart ending at ``end``, each fed the last view."""
    v = previous
    for k in range(count):
        at = end - (count - 1 - k) * seconds_apart
        nodes_now = nodes(at) if callable(nodes) else nodes
        v = view(cfg, nodes_now, instances, jobs, now=at, previous=v, **extra)
    return v


def destructive(p):
    return [(a.kind, a.target, a.jobs) for a in p.actions if a.kind in (Kind.DESTROY, Kind.REMOVE, Kind.HOLD)]


def running(jid, name):
    return Job(id=str(jid), state=JobState.RUNNING, chunk_cores=4, nodes=(name,))


# ------------------------------------------------------------ missing from the scheduler
def test_one_sinfo_missing_an_old_node_destroys_nothing():
    name = wid()
    before = view(CFG, [node(name)], {"r1": [inst(name, age=5000)]}, now=NOW - 10)
    v = view(CFG, [], {"r1": [inst(name, age=5000)]}, previous=before)
    w = state_of(v, name)
    assert w.state == WorkerState.UNKNOWN
    assert "absent from the scheduler's node list" in w.reason and "confirming" in w.reason
    assert destructive(plan(v, CFG)) == []
    assert v.to_dict()["absences"][name]["source"] == "scheduler"


def test_a_node_missing_from_sinfo_but_running_a_job_in_the_job_list_is_never_destroyed():
    name = wid()
    v = polls(CFG, 30, 10, [], {"r1": [inst(name, age=5000)]}, jobs=[running(7, name)])
    w = state_of(v, name)
    assert w.state == WorkerState.UNKNOWN and "job 7" in w.reason
    assert destructive(plan(v, CFG)) == []


def test_absence_is_confirmed_by_polls_and_time_then_the_orphan_is_destroyed():
    name = wid()
    instances = {"r1": [inst(name, age=5000)]}
    # three polls 10 s apart span 20 s, under confirm_absence.seconds (60): not yet
    assert state_of(polls(CFG, 10, 3, [], instances), name).state == WorkerState.UNKNOWN
    # two polls 60 s apart span the time but are too few
    assert state_of(polls(CFG, 60, 2, [], instances), name).state == WorkerState.UNKNOWN
    v = polls(CFG, 30, 3, [], instances)
    assert state_of(v, name).state == WorkerState.ORPHAN
    assert [(a.kind, a.target) for a in plan(v, CFG).actions] == [(Kind.DESTROY, name)]


def test_a_restart_restarts_the_confirmation():
    name = wid()
    instances = {"r1": [inst(name, age=5000)]}
    confirmed = polls(CFG, 30, 3, [], instances)
    assert state_of(confirmed, name).state == WorkerState.ORPHAN
    after_restart = view(CFG, [], instances, now=NOW + 10)  # no previous view: the memory is gone
    assert state_of(after_restart, name).state == WorkerState.UNKNOWN


def test_a_failed_poll_neither_counts_nor_restarts_the_confirmation():
    name = wid()
    instances = {"r1": [inst(name, age=5000)]}
    two = polls(CFG, 30, 2, [], instances, end=NOW - 60)
    failed = view(CFG, None, instances, now=NOW - 30, previous=two)
    assert failed.absences[name].polls == 2 and failed.absences[name].since == NOW - 90
    third = view(CFG, [], instances, now=NOW, previous=failed)
    assert state_of(third, name).state == WorkerState.ORPHAN


def test_a_node_that_comes_back_resets_the_count():
    name = wid()
    instances = {"r1": [inst(name, age=5000)]}
    v = polls(CFG, 30, 2, [], instances, end=NOW - 60)
    v = view(CFG, [node(name, state=NodeState.BUSY, jobs=("1",), used=4)], instances, now=NOW - 30, previous=v)
    assert name not in v.absences
    v = view(CFG, [], instances, now=NOW, previous=v)
    assert state_of(v, name).state == WorkerState.UNKNOWN and v.absences[name].polls == 1


def test_a_known_node_missing_young_is_not_registered_again_on_one_poll():
    name = wid()
    i = inst(name, age=100)
    before = view(CFG, [node(name)], {"r1": [i]}, now=NOW - 10, configured={name})
    v = view(CFG, [], {"r1": [i]}, previous=before, configured={name})
    assert state_of(v, name).state == WorkerState.UNKNOWN
    assert plan(v, CFG).actions == ()


# ------------------------------------------------------------ missing from the cloud listing
def test_one_listing_missing_an_instance_neither_removes_nor_requeues():
    name = wid()
    busy = node(name, state=NodeState.BUSY, jobs=("3",), used=4)
    before = view(CFG, [busy], {"r1": [inst(name, age=5000)]}, now=NOW - 10)
    v = view(CFG, [busy], {"r1": []}, previous=before)
    assert state_of(v, name).state == WorkerState.UNKNOWN
    assert destructive(plan(v, CFG)) == []
    idle = view(CFG, [node(name)], {"r1": []}, previous=before)
    assert "confirming" in state_of(idle, name).reason
    assert destructive(plan(idle, CFG)) == []


def test_a_confirmed_absence_never_requeues_jobs_the_scheduler_still_shows():
    name = wid()
    busy = node(name, state=NodeState.BUSY, jobs=("3",), used=4)
    v = polls(CFG, 30, 5, [busy], {"r1": []})
    assert state_of(v, name).state == WorkerState.UNKNOWN and "job 3" in state_of(v, name).reason
    assert destructive(plan(v, CFG)) == []


def test_a_confirmed_absence_of_an_empty_node_removes_it():
    name = wid()
    v = polls(CFG, 30, 3, [node(name, state=NodeState.DOWN)], {"r1": []})
    assert state_of(v, name).state == WorkerState.ERROR
    assert destructive(plan(v, CFG)) == [(Kind.REMOVE, name, ())]


def test_cloud_absence_needs_twice_the_cloud_poll_interval():
    cfg = config(cloud_poller_interval=60, confirm_absence={"polls": 3, "seconds": 0})
    name = wid()
    v = polls(cfg, 30, 4, [node(name)], {"r1": []})  # 90 s: one cached listing seen four times
    assert state_of(v, name).state == WorkerState.UNKNOWN
    v = polls(cfg, 30, 5, [node(name)], {"r1": []})
    assert state_of(v, name).state == WorkerState.ERROR


# ------------------------------------------------------------ the node and the job list disagree
def test_an_idle_node_the_job_list_says_runs_a_job_is_not_scaled_down():
    name = wid()
    pair = (node(name, since=NOW - 5000), inst(name, age=5000))
    v = polls(CFG, 30, 5, [pair[0]], {"r1": [pair[1]]}, jobs=[running(9, name)])
    w = state_of(v, name)
    assert w.state == WorkerState.UNKNOWN and "job 9" in w.reason
    assert destructive(plan(v, CFG)) == []


def test_one_flipped_state_does_not_make_a_node_down_since_its_last_change():
    name = wid()
    i = inst(name, age=5000)
    before = view(CFG, [node(name, since=NOW - 5000)], {"r1": [i]}, now=NOW - 10, jobs=[])
    v = view(CFG, [node(name, state=NodeState.DOWN, since=NOW - 5000)], {"r1": [i]}, previous=before)
    assert state_of(v, name).state == WorkerState.UNKNOWN  # one poll: confirmed by the next
    assert destructive(plan(v, CFG)) == []
    v = view(CFG, [node(name, state=NodeState.DOWN, since=NOW - 5000)], {"r1": [i]}, now=NOW + 10, previous=v)
    w = state_of(v, name)
    assert (
        w.state == WorkerState.ERROR and w.since == NOW and w.seen == NOW
    )  # both from the first "down", not NOW - 5000
    assert destructive(plan(v, CFG)) == []


# ------------------------------------------------------------ the pillar key
def test_confirm_absence_is_validated_by_key_path():
    base = {"secret": "s" * 20, "cluster": {"type": "slurm"}, "cloud": {"r1": {"type": "local"}}}
    assert load(base).confirm_absence.polls == 3 and load(base).confirm_absence.seconds == 60
    with pytest.raises(ConfigError) as bad:
        load({**base, "confirm_absence": {"polls": 0, "secnds": 5}})
    text = " ".join(bad.value.errors)
    assert "confirm_absence:polls" in text and "confirm_absence:secnds: unknown key" in text


# ------------------------------------------------------------ a node whose instance is gone
def test_a_node_whose_instance_is_gone_does_not_count_toward_max():
    # Listings agree its instance is gone: it costs nothing and holds no quota, so a replacement may
    # launch at once (the dead node is removed in the same plan).
    cfg = config({"r1": {"quantity": {"min": 0, "max": 2}}}, max_launch_time=1200, max_idle_time=0, max_down_time=480)
    gone, busy = wid(n=1), wid(n=2)
    v = polls(
        cfg,
        30,
        3,
        [node(gone, state=NodeState.DOWN), node(busy, state=NodeState.BUSY, used=4, jobs=("1",))],
        {"r1": [inst(busy, age=5000)]},
        jobs=[running(1, busy), job(9, cores=4)],
    )
    assert state_of(v, gone).state == WorkerState.ERROR and state_of(v, gone).instance is None
    assert v.current("r1") == 1
    p = plan(v, cfg)
    assert p.launches() == {"r1": 1} and (Kind.REMOVE, gone, ()) in destructive(p)


def test_one_sinfo_that_leaves_out_a_node_whose_instance_is_gone_changes_no_launch():
    # Chaos seed 3050 ("wrong"): such a node counted toward max, so one sinfo that left it out made
    # room for a launch the plan on the true state did not make.  The plan must not depend on it.
    cfg = config({"r1": {"quantity": {"min": 0, "max": 2}}}, max_launch_time=1200, max_idle_time=0, max_down_time=480)
    gone, busy = wid(n=1), wid(n=2)
    busy_node = node(busy, state=NodeState.BUSY, used=4, jobs=("1",))
    jobs = [running(1, busy), job(9, cores=4)]
    before = polls(
        cfg,
        30,
        3,
        [node(gone, state=NodeState.DOWN), busy_node],
        {"r1": [inst(busy, age=5000)]},
        jobs=jobs,
        end=NOW - 30,
    )
    full = view(
        cfg, [node(gone, state=NodeState.DOWN), busy_node], {"r1": [inst(busy, age=5000)]}, jobs=jobs, previous=before
    )
    short = view(cfg, [busy_node], {"r1": [inst(busy, age=5000)]}, jobs=jobs, previous=before)
    assert plan(full, cfg).launches() == plan(short, cfg).launches()


# ------------------------------------------------------------ an instance the cloud is deleting
def test_a_node_gone_from_the_scheduler_whose_instance_the_cloud_is_deleting_is_no_capacity():
    # Chaos seeds 8045, 8006: the node was removed (its instance being deleted); "confirming" its absence
    # made the instance look live, and a pending job was planned onto its free cores instead of a launch.
    cfg = config({"r1": {"quantity": {"min": 0, "max": 2}}}, max_launch_time=1200, max_idle_time=0, max_down_time=480)
    name = wid()
    deleting = inst(name, state=InstanceState.DELETING, age=5000)
    before = view(cfg, [node(name, state=NodeState.DOWN)], {"r1": [deleting]}, now=NOW - 10)
    v = view(cfg, [], {"r1": [deleting]}, jobs=[job(9, cores=1)], previous=before)
    w = state_of(v, name)
    assert w.state == WorkerState.DELETING, w.reason
    assert v.current("r1") == 1  # still there, still paid for
    p = plan(v, cfg)
    assert p.launches() == {"r1": 1} and destructive(p) == []
    # a job the job list still shows on it keeps it untouchable, as for any absent node
    v = view(cfg, [], {"r1": [deleting]}, jobs=[running(7, name)], previous=before)
    assert state_of(v, name).state == WorkerState.UNKNOWN and "job 7" in state_of(v, name).reason


def test_a_node_whose_instance_was_last_seen_being_deleted_is_not_confirmed_when_the_listing_drops_it():
    # Chaos seed 8085: the instance was listed deleting, then gone; its dead node stayed "confirming" for
    # confirm_absence (counted toward max, its cores free) though the cloud had said it was going.
    cfg = config({"r1": {"quantity": {"min": 0, "max": 1}}}, max_launch_time=1200, max_idle_time=0, max_down_time=480)
    name = wid()
    down = node(name, state=NodeState.DOWN)
    before = view(cfg, [down], {"r1": [inst(name, state=InstanceState.DELETING, age=5000)]}, now=NOW - 10)
    v = view(cfg, [down], {"r1": []}, jobs=[job(9, cores=4)], previous=before)
    w = state_of(v, name)
    assert w.state == WorkerState.ERROR and w.instance is None, w.reason
    assert v.current("r1") == 0
    p = plan(v, cfg)
    assert p.launches() == {"r1": 1} and (Kind.REMOVE, name, ()) in destructive(p)
    # also when the poll that saw it deleting could not reach the scheduler
    blind = view(cfg, None, {"r1": [inst(name, state=InstanceState.DELETING, age=5000)]}, now=NOW - 10)
    assert state_of(view(cfg, [down], {"r1": []}, previous=blind), name).state == WorkerState.ERROR
    # the node still shows a job: no action while it does, deleting or not
    busy = node(name, state=NodeState.BUSY, jobs=("3",), used=4)
    v = view(cfg, [busy], {"r1": []}, previous=view(cfg, [busy], {"r1": [before.workers[0].instance]}, now=NOW - 10))
    assert state_of(v, name).state == WorkerState.UNKNOWN and "job 3" in state_of(v, name).reason
    # last seen running: one listing that leaves it out is still only confirming
    live = view(cfg, [down], {"r1": [inst(name, age=5000)]}, now=NOW - 10)
    assert "confirming" in state_of(view(cfg, [down], {"r1": []}, previous=live), name).reason


def test_one_listing_that_calls_an_idle_worker_s_instance_deleting_removes_nothing():
    """A wrong "deleting" once would cost a good node (out of the scheduler, then destroyed as an orphan
    when the next listing shows its instance running): its node goes only when a second listing, a new
    snapshot and not the same one seen again, says so too."""
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 4}}})
    a = wid(n=1)
    idle = node(a, cores=1, since=NOW - 500)
    ok = inst(a, age=5000, cores=1)
    v0 = reconcile(cfg, NOW - 60, [idle], {"r1": [ok]}, [], configured={a}, registered={a})

    def removes(v):
        return [x for x in plan(v, cfg).actions if x.target == a and x.kind in (Kind.REMOVE, Kind.DESTROY)]

    first = dataclasses.replace(ok, state=InstanceState.DELETING)
    v1 = reconcile(cfg, NOW - 30, [idle], {"r1": [first]}, [], previous=v0, configured={a}, registered={a})
    assert dict(v1.deleting) == {a: 1}
    assert not removes(v1)
    # the same listing again (the cloud not polled since): still one
    v2 = reconcile(cfg, NOW - 20, [idle], {"r1": [first]}, [], previous=v1, configured={a}, registered={a})
    assert dict(v2.deleting) == {a: 1}
    assert not removes(v2)
    # a wrong answer, then the instance is running again: the count starts over
    v3 = reconcile(cfg, NOW - 10, [idle], {"r1": [ok]}, [], previous=v2, configured={a}, registered={a})
    assert dict(v3.deleting) == {}
    assert not removes(v3)
    # two listings in a row: the node is taken out of the scheduler
    v4 = reconcile(
        cfg, NOW, [idle], {"r1": [dataclasses.replace(first)]}, [], previous=v3, configured={a}, registered={a}
    )
    v5 = reconcile(
        cfg, NOW + 30, [idle], {"r1": [dataclasses.replace(first)]}, [], previous=v4, configured={a}, registered={a}
    )
    assert dict(v5.deleting) == {a: 2}
    assert [x.kind for x in removes(v5)] == [Kind.REMOVE]
