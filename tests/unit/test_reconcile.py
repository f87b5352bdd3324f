"""Every worker lands in exactly one state, joined by identity, never by DNS."""

import itertools

import pytest
from builders import NOW, SECRET, config, inst, node, view, wid

from dcluster import identity
from dcluster.model import InstanceState, NodeState, WorkerState
from dcluster.reconcile import ONE_POLL, reconcile

CFG = config(max_launch_time=1200)


def state_of(v, name):
    (w,) = [w for w in v.workers if w.name == name]
    return w


@pytest.mark.parametrize(
    "node_kw, inst_kw, expected",
    [
        ({"state": NodeState.IDLE}, {}, WorkerState.IDLE),
        ({"state": NodeState.BUSY, "jobs": ("1",), "used": 2}, {}, WorkerState.BUSY),
        # a node whose state string says idle but runs a job is busy
        ({"state": NodeState.IDLE, "jobs": ("7",)}, {}, WorkerState.BUSY),
        ({"state": NodeState.HELD, "reason": "dcluster: idle 700 s"}, {}, WorkerState.DRAINING),
        ({"state": NodeState.HELD, "reason": "disk replacement (alice)"}, {}, WorkerState.HELD),
        ({"state": NodeState.HELD, "reason": ""}, {}, WorkerState.HELD),
        ({"state": NodeState.DOWN}, {}, WorkerState.ERROR),
        ({"state": NodeState.STARTING}, {}, WorkerState.STARTING),
        ({"state": NodeState.IDLE}, {"state": InstanceState.ERROR}, WorkerState.ERROR),
        ({"state": NodeState.IDLE}, {"state": InstanceState.DELETING}, WorkerState.DELETING),
        (None, {"age": 60}, WorkerState.STARTING),
        # one poll missing it proves nothing (tests/unit/test_absence.py confirms it into ORPHAN)
        (None, {"age": 1300}, WorkerState.UNKNOWN),
        (None, {"state": InstanceState.PENDING, "age": 5}, WorkerState.STARTING),
        (None, {"state": InstanceState.DELETING}, WorkerState.DELETING),
    ],
)
def test_classification(node_kw, inst_kw, expected):
    name = wid()
    nodes = [node(name, **node_kw)] if node_kw is not None else []
    v = view(CFG, nodes, {"r1": [inst(name, **inst_kw)]})
    if expected == WorkerState.ERROR:  # one poll is no proof: unknown until the next agrees
        assert state_of(v, name).state == WorkerState.UNKNOWN
        assert state_of(v, name).reason.startswith(ONE_POLL)
        v = view(CFG, nodes, {"r1": [inst(name, **inst_kw)]}, now=NOW + 10, previous=v)
    assert state_of(v, name).state == expected
    assert state_of(v, name).reason


def test_an_error_after_a_failed_poll_is_still_confirmed_by_the_next():
    # a failed poll (unknown) then one wrong "down" is one observation, not two
    name = wid()
    up = view(CFG, [node(name)], {"r1": [inst(name)]})
    failed = reconcile(CFG, NOW + 10, None, {"r1": [inst(name)]}, previous=up)
    assert state_of(failed, name).state == WorkerState.UNKNOWN
    down = reconcile(CFG, NOW + 20, [node(name, state=NodeState.DOWN)], {"r1": [inst(name)]}, previous=failed)
    assert state_of(down, name).state == WorkerState.UNKNOWN
    again = reconcile(CFG, NOW + 30, [node(name, state=NodeState.DOWN)], {"r1": [inst(name)]}, previous=down)
    assert state_of(again, name).state == WorkerState.ERROR and state_of(again, name).seen == NOW + 20
    # and a failed poll between the two tells nothing either way: the next good one confirms
    down = reconcile(CFG, NOW + 40, [node(name, state=NodeState.DOWN)], {"r1": [inst(name)]}, previous=up)
    failed = reconcile(CFG, NOW + 50, None, {"r1": [inst(name)]}, previous=down)
    again = reconcile(CFG, NOW + 60, [node(name, state=NodeState.DOWN)], {"r1": [inst(name)]}, previous=failed)
    assert state_of(again, name).state == WorkerState.ERROR


def test_unsigned_and_forged_names_are_physical():
    real = wid(n=1)
    forged = real[:-12] + "0" * 12  # right shape, wrong HMAC
    other_cluster = identity.make("other", "r1", SECRET, nonce="000001")
    v = view(CFG, [node("cn001"), node(forged), node(other_cluster)], {"r1": []})
    assert {w.name: w.state for w in v.workers} == {
        "cn001": WorkerState.PHYSICAL,
        forged: WorkerState.PHYSICAL,
        other_cluster: WorkerState.PHYSICAL,
    }
    assert all(w.resource == "" for w in v.workers)


def test_our_node_without_instance_is_error_only_when_the_cloud_answered():
    name = wid()
    first = view(CFG, [node(name)], {"r1": []}, now=NOW - 60)
    assert state_of(first, name).state == WorkerState.UNKNOWN  # one listing without it: confirming
    second = view(CFG, [node(name)], {"r1": []}, now=NOW - 30, previous=first)
    assert state_of(view(CFG, [node(name)], {"r1": []}, previous=second), name).state == WorkerState.ERROR
    failed = view(CFG, [node(name)], {"r1": None})
    assert state_of(failed, name).state == WorkerState.UNKNOWN
    assert failed.cloud_ok["r1"] is False


def test_failed_scheduler_poll_makes_instances_unknown():
    name = wid()
    v = view(CFG, None, {"r1": [inst(name)]})
    assert not v.scheduler_ok
    assert state_of(v, name).state == WorkerState.UNKNOWN


def test_gone_instances_are_not_workers():
    name = wid()
    v = view(CFG, [], {"r1": [inst(name, state=InstanceState.GONE)]})
    assert v.workers == ()


def test_join_is_by_minion_id_not_ip_or_dns():
    name = wid()
    i = inst(name)
    object.__setattr__(i, "ip", "127.200.0.99")
    # A node named like the instance's IP or a DNS name is not joined to it.
    v = view(CFG, [node("127.200.0.99"), node("host-127-200-0-99.example")], {"r1": [i]})
    assert state_of(v, name).node is None
    assert state_of(v, "127.200.0.99").state == WorkerState.PHYSICAL


def test_since_carries_over_while_the_state_holds_and_resets_on_change():
    name = wid()
    first = view(CFG, [node(name)], {"r1": [inst(name)]}, now=NOW)
    later = reconcile(CFG, NOW + 500, [node(name)], {"r1": [inst(name)]}, previous=first)
    assert state_of(later, name).since == NOW
    busy = reconcile(
        CFG, NOW + 600, [node(name, state=NodeState.BUSY, jobs=("1",))], {"r1": [inst(name)]}, previous=later
    )
    assert state_of(busy, name).since == NOW + 600


def test_scheduler_reported_state_time_is_used_after_a_restart():
    name = wid()
    v = view(CFG, [node(name, since=NOW - 900)], {"r1": [inst(name)]})
    assert state_of(v, name).since == NOW - 900


def test_every_combination_gives_exactly_one_state():
    name = wid()
    node_opts = [None] + [
        node(name, state=s, jobs=j, reason=r)
        for s in NodeState
        for j in ((), ("1",))
        for r in ("", "dcluster: x", "admin")
    ]
    inst_opts = [None] + [inst(name, state=s, age=a) for s in InstanceState for a in (10, 5000)]
    for n, i in itertools.product(node_opts, inst_opts):
        v = view(CFG, [n] if n else [], {"r1": [i] if i else []})
        names = [w.name for w in v.workers]
        assert names.count(name) <= 1
        if n is not None or (i is not None and i.state != InstanceState.GONE):
            assert names == [name], (n, i)
            assert isinstance(v.workers[0].state, WorkerState)


@pytest.mark.parametrize(
    "change, expected",
    [
        ("same", WorkerState.IDLE),  # the same snapshot objects: the worker is carried over as it was
        ("node", WorkerState.BUSY),  # a new node snapshot is classified afresh
        ("instance", WorkerState.DELETING),  # ...and so is a new instance snapshot
        ("scheduler_down", WorkerState.UNKNOWN),  # a failed poll is never answered from the last cycle
    ],
)
def test_unchanged_snapshots_reuse_the_previous_worker(change, expected):
    name = wid()
    n, i = node(name, since=NOW - 400), inst(name)
    first = reconcile(CFG, NOW, [n], {"r1": [i]})
    nodes = [n]
    if change == "node":
        nodes = [node(name, state=NodeState.BUSY, jobs=("1",), used=1)]
    elif change == "scheduler_down":
        nodes = None
    instances = {"r1": [inst(name, state=InstanceState.DELETING) if change == "instance" else i]}
    later = reconcile(CFG, NOW + 300, nodes, instances, previous=first)
    w = state_of(later, name)
    assert w.state == expected
    if change == "same":
        assert w is state_of(first, name) and w.since == NOW - 400


def test_a_starting_instance_still_turns_orphan_with_the_same_snapshot():
    name = wid()
    i = inst(name, age=100)
    first = reconcile(CFG, NOW, [], {"r1": [i]})
    assert state_of(first, name).state == WorkerState.STARTING
    between = reconcile(CFG, NOW + 600, [], {"r1": [i]}, previous=first)
    later = reconcile(CFG, NOW + 1200, [], {"r1": [i]}, previous=between)
    assert state_of(later, name).state == WorkerState.ORPHAN


def test_a_just_registered_node_reported_down_is_still_starting():
    # a new Grid Engine exec host shows "u" (down) until its execd reports: it must keep counting
    # as capacity under way, or the planner launches a second node for the same jobs
    name = wid()
    first = view(CFG, [], {"r1": [inst(name, age=20)]})
    assert state_of(first, name).state == WorkerState.STARTING
    down = reconcile(CFG, NOW + 5, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=20)]}, previous=first)
    assert state_of(down, name).state == WorkerState.STARTING
    assert "waiting for its first report" in state_of(down, name).reason
    # once it was usable, down means down
    up = reconcile(CFG, NOW + 10, [node(name)], {"r1": [inst(name, age=30)]}, previous=down)
    assert state_of(up, name).state == WorkerState.IDLE
    again = reconcile(CFG, NOW + 15, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=35)]}, previous=up)
    assert state_of(again, name).state == WorkerState.UNKNOWN  # one poll: confirmed by the next
    again = reconcile(CFG, NOW + 20, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=40)]}, previous=again)
    assert state_of(again, name).state == WorkerState.ERROR
    # and an old instance whose node never came up is not "starting" for ever
    old = view(CFG, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=5000)]})
    old = view(CFG, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=5010)]}, now=NOW + 10, previous=old)
    assert state_of(old, name).state == WorkerState.ERROR


@pytest.mark.parametrize("suffix", [".cluster.internal", ".", "upper"])
def test_a_node_listed_under_another_spelling_of_our_name_is_that_worker(suffix):
    # Grid Engine and Torque print their resolver's name for a host added by its short one (a domain,
    # another case): still our busy worker, never a physical node beside an orphan destroyed with its job
    from dcluster.model import Job, JobState
    from dcluster.planner import plan

    cfg = config(cluster_type="sge")
    name = wid("r1", 1)
    shown = name.upper() if suffix == "upper" else name + suffix
    prev = None
    for k in range(4):  # past max_launch_time, absence confirmed over polls
        n = node(shown, state=NodeState.BUSY, used=4, jobs=("77",))
        j = Job(id="77", state=JobState.RUNNING, nodes=(shown,), chunks=1, chunk_cores=4)
        v = reconcile(cfg, NOW + 60 * k, [n], {"r1": [inst(name, age=5000.0 + 60 * k)]}, [j], previous=prev)
        assert [(w.name, w.state) for w in v.workers] == [(name, WorkerState.BUSY)]
        assert not plan(v, cfg).actions
        prev = v


def test_both_spellings_listed_stay_apart():
    name = wid("r1", 1)
    nodes = [node(name, state=NodeState.IDLE), node(name + ".example.org", state=NodeState.BUSY, jobs=("5",))]
    v = reconcile(config(), NOW, nodes, {"r1": [inst(name)]}, [])
    assert state_of(v, name).state == WorkerState.IDLE
    assert state_of(v, name + ".example.org").state == WorkerState.PHYSICAL


def test_a_node_shown_up_while_only_its_listing_failed_is_no_longer_one_seen_down():
    # the first "down" was remembered through polls in which the scheduler showed the node idle (only the
    # cloud listing failed), so a second wrong "down" minutes later confirmed it (red team)
    name = wid()
    i = inst(name)
    up = view(CFG, [node(name)], {"r1": [i]})
    down = reconcile(CFG, NOW + 10, [node(name, state=NodeState.DOWN)], {"r1": [i]}, previous=up)
    assert state_of(down, name).state == WorkerState.UNKNOWN
    blind = reconcile(CFG, NOW + 20, [node(name)], {"r1": None}, previous=down, stale={"r1": [i]})
    assert state_of(blind, name).state == WorkerState.UNKNOWN
    again = reconcile(CFG, NOW + 30, [node(name, state=NodeState.DOWN)], {"r1": [i]}, previous=blind)
    assert state_of(again, name).state == WorkerState.UNKNOWN  # a first "down" again, not a second


def test_a_registered_node_waiting_for_its_first_report_stays_starting_across_a_failed_poll():
    # after the failed poll it was taken for a down one: a second launch for its job, destroyed as down
    name = wid()
    first = view(CFG, [], {"r1": [inst(name, age=20)]})
    down = reconcile(CFG, NOW + 10, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=30)]}, previous=first)
    failed = reconcile(CFG, NOW + 20, None, {"r1": [inst(name, age=40)]}, previous=down)
    again = reconcile(CFG, NOW + 30, [node(name, state=NodeState.DOWN)], {"r1": [inst(name, age=50)]}, previous=failed)
    assert state_of(again, name).state == WorkerState.STARTING


def test_the_same_listing_seen_again_does_not_confirm_an_instance_in_error():
    # the cloud is polled every 20 s, the scheduler every 10 s: the cached listing is no second answer
    name = wid()
    up = view(CFG, [node(name)], {"r1": [inst(name)]})
    wrong = inst(name, state=InstanceState.ERROR)
    once = reconcile(CFG, NOW + 10, [node(name)], {"r1": [wrong]}, previous=up)
    cached = reconcile(CFG, NOW + 20, [node(name)], {"r1": [wrong]}, previous=once)
    assert state_of(cached, name).state == WorkerState.UNKNOWN
    fresh = reconcile(CFG, NOW + 30, [node(name)], {"r1": [inst(name, state=InstanceState.ERROR)]}, previous=cached)
    assert state_of(fresh, name).state == WorkerState.ERROR
