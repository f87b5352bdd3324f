"""Instances that may exist count toward max (issue 13's chaos suite, after the first fixes).

- one listing that leaves out a live instance that is no scheduler node (yet) does not make it vanish;
- the last good listing survives a restart, so a failed listing right after one does not either;
- the ids of a create call are saved before the call, so a master killed during it remembers them.

The controller runs on the in-memory ports of memory_ports (our own port interfaces), as in test_max.
"""

import json

from test_max import cycle, launched, make

from dcluster.controller import Controller
from dcluster.controller import state as st
from dcluster.controller.unlisted import listing_grace
from dcluster.model import Job, JobState, WorkerState

ONLY_R1 = {"r1": {"quantity": {"min": 0, "max": 1}}, "r2": {"quantity": {"min": 0, "max": 0}}}


def one_listed_starting_instance(tmp_path, **over):
    c, sched, clouds, clock = make(tmp_path, **{**ONLY_R1, **over})
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    cycle(c, clock)  # listed: no longer a recent launch, only the listing shows it
    (mid,) = clouds["r1"].launch_calls[0]
    assert not c.state.recent_launches and c.view.workers[0].name == mid
    return c, sched, clouds, clock, mid


def test_an_instance_missing_from_one_listing_still_counts_toward_max(tmp_path):
    c, sched, clouds, clock, mid = one_listed_starting_instance(tmp_path)
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(3)]
    clouds["r1"].hidden.add(mid)  # a listing that leaves it out
    cycle(c, clock)
    (w,) = c.view.workers
    assert w.name == mid and w.state == WorkerState.UNKNOWN and "missing from the r1 cloud listing" in w.reason
    assert c.view.current("r1") == 1 and launched(clouds)["r1"] == 1
    clouds["r1"].hidden.clear()  # the next listing shows it again: a worker like any other
    cycle(c, clock)
    assert c.view.workers[0].state == WorkerState.STARTING and launched(clouds)["r1"] == 1


def test_an_instance_listings_agree_is_gone_stops_counting(tmp_path):
    c, sched, clouds, clock, mid = one_listed_starting_instance(tmp_path)
    clouds["r1"].hidden.add(mid)  # it really is gone, and the job still waits
    start = clock.t
    while c.view.current("r1") and clock.t - start < 300:
        assert launched(clouds)["r1"] == 1
        cycle(c, clock)
    assert clock.t - start >= listing_grace(c.config) and mid not in c.state.listed
    assert launched(clouds)["r1"] == 2  # a replacement, once listings agree


def test_an_instance_we_destroyed_stops_counting_at_once(tmp_path):
    c, sched, clouds, clock, mid = one_listed_starting_instance(tmp_path)
    from dcluster.planner import Action, Kind

    c.actuator.perform(
        c.config, [Action(Kind.DESTROY, "r1", "a test", target=mid, instance_id=clouds["r1"].instances_[mid].id)], None
    )
    cycle(c, clock)
    assert c.view.current("r1") == 0 and not c.view.workers


def test_the_last_good_listing_survives_a_restart(tmp_path):
    c, sched, clouds, clock, mid = one_listed_starting_instance(tmp_path, r2={"quantity": {"min": 0, "max": 2}})
    c.shutdown()
    c2 = Controller(c.ports, state_path=c.state_path, clock=clock, keys=c.keys)
    try:
        clouds["r1"].list_fails = True  # the first listing after the restart fails
        cycle(c2, clock)
        (w,) = c2.view.workers
        assert w.name == mid and w.state == WorkerState.UNKNOWN and c2.view.current("r1") == 1
        assert launched(clouds) == {"r1": 1, "r2": 0}  # its capacity still serves the job: none elsewhere
    finally:
        c2.shutdown()


def test_the_ids_of_a_create_call_are_saved_before_it_and_remembered_after_a_restart(tmp_path):
    c, sched, clouds, clock = make(tmp_path, **ONLY_R1)
    cl = clouds["r1"]
    saved = {}

    def killed_during_the_call(ids):  # the instance exists; the master dies before the answer
        with open(c.state_path) as fh:
            saved.update(json.load(fh)["maybe_launched"])
        cl.hidden.update(ids)  # and the listing lags

    cl.gate = killed_during_the_call
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    (mid,) = cl.launch_calls[0]
    assert set(saved) == {mid} and saved[mid]["resource"] == "r1"
    assert not c.state.maybe_launched  # answered: the listing or recent_launches speaks for it now
    # the restarted master reads the file as it was during the call
    with open(c.state_path) as fh:
        data = json.load(fh)
    data["maybe_launched"], data["recent_launches"], data["listed"] = saved, {}, {}
    with open(c.state_path, "w") as fh:
        json.dump(data, fh)
    loaded = st.load(c.state_path)
    assert loaded.maybe_launched == {mid: {"resource": "r1", "since": saved[mid]["since"]}}
    c2 = Controller(c.ports, state_path=c.state_path, clock=clock, keys=c.keys)
    try:
        cycle(c2, clock, dt=31)  # past any backoff
        assert c2.view.current("r1") == 1 and launched(clouds)["r1"] == 1
        cl.hidden.clear()
        cycle(c2, clock)
        assert [w.name for w in c2.view.workers] == [mid] and not c2.state.maybe_launched
        assert launched(clouds)["r1"] == 1
    finally:
        c2.shutdown()
