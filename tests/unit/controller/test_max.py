"""Never above max, never twice (issue 13): what counts toward a resource's max, and backoff episodes.

The controller runs with the in-memory ports of memory_ports (our own port
interfaces; the real drivers' idempotent launches are tested against moto and
the OpenStack fake in tests/functional), one MemCloud per resource.
"""

import dataclasses
import threading
import time

from memory_ports import Clock, MemCloud, MemScheduler, key_pool, ports
from memory_ports import step as cycle

from dcluster import config as dconfig
from dcluster import identity
from dcluster.clouds.base import LaunchResult
from dcluster.clouds.errors import Transient
from dcluster.controller import Controller
from dcluster.controller import commands as cmds
from dcluster.controller import state as st
from dcluster.model import Instance, InstanceState, Job, JobState, Worker, WorkerState
from dcluster.planner import Kind, plan
from dcluster.reconcile import View

SECRET = "controller-test-secret-123"
NOW = 100000.0


def pillar(**res_over):
    cloud = {
        "r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}},
        "r2": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}},
    }
    for name, over in res_over.items():
        cloud[name] = {**cloud[name], **over}
    return {
        "secret": SECRET,
        "cluster": {"type": "slurm"},
        "max_launch_time": 600,
        "cloud_poller_interval": 10,
        "backoff": {"initial": 30, "capacity_pause": 300},
        "cloud": cloud,
    }


class ResCloud(MemCloud):
    """A MemCloud of one resource; ``hidden`` ids exist but are not listed yet (eventual consistency),
    ``timeout_after_create`` makes a launch create its instances and then fail as a timeout."""

    def __init__(self, resource):
        super().__init__()
        self.resource = resource
        self.hidden: set[str] = set()
        self.timeout_after_create = False
        self.gate = None  # a callable run before a launch answers
        self.slow_delete = False  # a deleted instance stays, deleting, until the test makes it gone

    def destroy(self, ids):
        if not self.slow_delete:
            return super().destroy(ids)
        out = {}
        for mid, inst in list(self.instances_.items()):
            if inst.id in ids and inst.state != InstanceState.DELETING:
                self.instances_[mid] = dataclasses.replace(inst, state=InstanceState.DELETING)
                self.destroyed.append(mid)
                out[inst.id] = "ok"
        return {i: out.get(i, "gone") for i in ids}

    def instances(self):
        return [i for i in super().instances() if i.minion_id not in self.hidden]

    def launch(self, count, minion_ids, userdata_for):
        result = super().launch(count, minion_ids, userdata_for)
        for inst in result.instances:
            self.instances_[inst.minion_id] = mine = Instance(
                id=inst.id,
                resource=self.resource,
                minion_id=inst.minion_id,
                state=inst.state,
                launch_time=inst.launch_time,
                cores=inst.cores,
                ip=inst.ip,
            )
            result.instances[result.instances.index(inst)] = mine
        if self.gate is not None:
            self.gate(minion_ids)
        if self.timeout_after_create:
            return LaunchResult([], count, Transient("read timed out (after the create)", cloud="test"))
        return result


def make(tmp_path, **res_over):
    sched, clock = MemScheduler(), Clock()
    clouds = {"r1": ResCloud("r1"), "r2": ResCloud("r2")}
    for cl in clouds.values():
        cl.clock = clock
    p = ports(pillar(**res_over), sched, None, [], set())
    p.driver = lambda cfg, res: clouds[res.name]
    c = Controller(p, state_path=str(tmp_path / "state.json"), clock=clock, keys=key_pool())
    return c, sched, clouds, clock


def launched(clouds):
    return {name: sum(len(ids) for ids in cl.launch_calls) for name, cl in clouds.items()}


# ------------------------------------------------------------------ a failed listing
def test_a_failed_listing_keeps_its_starting_instance_and_no_other_resource_launches(tmp_path):
    c, sched, clouds, clock = make(tmp_path)
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    cycle(c, clock)  # listed: no longer a recent launch, only the listing shows it
    first = launched(clouds)
    assert sum(first.values()) == 1 and not c.state.recent_launches
    (res,) = [r for r, n in first.items() if n]
    clouds[res].list_fails = True
    cycle(c, clock)
    assert launched(clouds) == first  # its starting capacity still serves the job
    (w,) = c.view.workers
    assert w.state == WorkerState.UNKNOWN and "last good listing" in w.reason
    assert c.view.current(res) == 1 and not c.view.cloud_ok[res]
    # nothing destructive on a stale listing, even long after max_launch_time
    for _ in range(70):
        cycle(c, clock)
    assert not clouds[res].destroyed and launched(clouds) == first
    clouds[res].list_fails = False
    cycle(c, clock)
    assert c.view.cloud_ok[res] and c.view.workers[0].reason != w.reason


def test_a_registered_worker_from_a_stale_listing_is_judged_afresh_once_the_listing_answers(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r2={"quantity": {"min": 0, "max": 0}})
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    (mid,) = clouds["r1"].launch_calls[0]
    c.mark_configured(mid, True)
    cycle(c, clock)
    sched.jobs_ = []
    cycle(c, clock)
    assert c.view.workers[0].state == WorkerState.IDLE
    clouds["r1"].list_fails = True
    c.cloud_changed("r1")
    cycle(c, clock)
    assert c.view.workers[0].state == WorkerState.UNKNOWN
    clouds["r1"].list_fails = False
    c.cloud_changed("r1")
    cycle(c, clock)
    assert c.view.workers[0].state == WorkerState.IDLE


def test_a_stale_listing_counts_toward_max(tmp_path):
    c, sched, clouds, clock = make(
        tmp_path, r1={"quantity": {"min": 0, "max": 2}, "priority": 1}, r2={"quantity": {"min": 0, "max": 0}}
    )
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(2)]
    cycle(c, clock)
    cycle(c, clock)
    assert launched(clouds)["r1"] == 2
    clouds["r1"].list_fails = True
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(4)]
    cycle(c, clock)
    clouds["r1"].list_fails = False
    assert c.view.current("r1") == 2
    cycle(c, clock)
    assert launched(clouds)["r1"] == 2  # at max: the stale two counted


# ------------------------------------------------------------------ launches of unknown outcome
def test_a_launch_that_created_and_then_timed_out_is_not_launched_again(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r2={"quantity": {"min": 0, "max": 0}})
    cl = clouds["r1"]
    cl.timeout_after_create = True
    cl.gate = lambda ids: cl.hidden.update(ids)  # and the listing lags
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    (mid,) = cl.launch_calls[0]
    assert c.state.maybe_launched == {mid: {"resource": "r1", "since": clock.t}}
    clock.t += 31  # past the transient backoff
    for _ in range(8):  # 80 s of listings without it: not yet confirmed absent
        cycle(c, clock)
    assert len(cl.launch_calls) == 1 and c.view.current("r1") == 1 and c.view.maybe_launched == {"r1": 1}
    cl.hidden.clear()
    cycle(c, clock)
    assert len(cl.launch_calls) == 1 and not c.state.maybe_launched
    assert [w.name for w in c.view.workers] == [mid] and c.view.current("r1") == 1


def test_a_timed_out_launch_that_made_nothing_is_forgotten_once_listings_agree(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r2={"quantity": {"min": 0, "max": 0}})
    cl = clouds["r1"]
    cl.refuse = Transient("read timed out", cloud="test")
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    cl.refuse = None
    for _ in range(17):  # under the 180 s grace: counted, so nothing is launched again
        cycle(c, clock)
    assert len(cl.launch_calls) == 1 and c.state.maybe_launched
    for _ in range(3):
        cycle(c, clock)
    assert not c.state.maybe_launched and len(cl.launch_calls) == 2


def test_a_failed_listing_neither_confirms_nor_forgets_a_maybe_launched_id(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r2={"quantity": {"min": 0, "max": 0}})
    cl = clouds["r1"]
    cl.refuse = Transient("read timed out", cloud="test")
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    cl.refuse, cl.list_fails = None, True
    for _ in range(30):
        cycle(c, clock)
    assert c.state.maybe_launched and len(cl.launch_calls) == 1


def test_maybe_launched_ids_survive_a_restart_and_garbage_is_dropped(tmp_path):
    s = st.ControllerState()
    s.maybe_launched = {"dc-r1-x": {"resource": "r1", "since": 5.0}}
    st.save(s, str(tmp_path / "s.json"))
    assert st.load(str(tmp_path / "s.json")).maybe_launched == {"dc-r1-x": {"resource": "r1", "since": 5.0}}
    data = s.to_json()
    data["maybe_launched"] = {
        "a": {"resource": 1, "since": 2},
        "b": {"resource": "r1", "since": True},
        "c": [],
        "d": {"resource": "r1", "since": 3},
    }
    assert st.ControllerState.from_json(data).maybe_launched == {"d": {"resource": "r1", "since": 3.0}}


def deleted_before_listed(tmp_path):
    """r1 (max 1) launched for a job; the listing lags the create, and an operator removes the instance
    before any listing showed it: the cloud is deleting it, and the listing does not show it yet."""
    c, sched, clouds, clock = make(
        tmp_path, r1={"quantity": {"min": 0, "max": 1}}, r2={"quantity": {"min": 0, "max": 0}}
    )
    cl = clouds["r1"]
    cl.gate = lambda ids: cl.hidden.update(ids)
    cl.slow_delete = True
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    cycle(c, clock)
    (mid,) = cl.launch_calls[0]
    assert cmds.run(c, "remove", name=mid)["ok"] and cl.destroyed == [mid]
    return c, cl, clock, mid


def test_an_instance_deleted_before_any_listing_showed_it_counts_until_listings_agree(tmp_path):
    # Chaos seeds 255, 904 (wrong family): forgotten at its destroy, it was replaced at once, above max.
    c, cl, clock, mid = deleted_before_listed(tmp_path)
    for _ in range(17):  # 170 s of listings without it: under the 180 s grace, it may still be there
        cycle(c, clock)
        assert len(cl.launch_calls) == 1 and c.view.current("r1") == 1
    assert [(w.name, w.state) for w in c.view.workers] == [(mid, WorkerState.DELETING)]
    del cl.instances_[mid]  # gone
    for _ in range(3):
        cycle(c, clock)
    assert len(cl.launch_calls) == 2 and mid not in c.state.recent_launches


def test_an_instance_deleted_before_listed_is_forgotten_once_a_listing_showed_it_gone(tmp_path):
    c, cl, clock, mid = deleted_before_listed(tmp_path)
    cl.hidden.clear()  # listed now, deleting: the listing counts it from here
    cycle(c, clock)
    assert mid not in c.state.recent_launches and c.view.current("r1") == 1 and len(cl.launch_calls) == 1
    del cl.instances_[mid]  # gone: a listing that showed it and misses it now is believed
    cycle(c, clock)
    cycle(c, clock)
    assert len(cl.launch_calls) == 2


# ------------------------------------------------------------------ every state counts toward max
def test_deleting_and_orphan_instances_count_toward_max():
    cfg = dconfig.load(pillar(r1={"quantity": {"min": 0, "max": 2}}, r2={"quantity": {"min": 0, "max": 0}}))

    def worker(state):
        mid = identity.make(cfg.cluster_name, "r1", cfg.secret)
        inst = Instance(
            id=f"i-{mid[-6:]}",
            resource="r1",
            minion_id=mid,
            state=InstanceState.RUNNING,
            launch_time=NOW - 900,
            cores=4,
        )
        return Worker(name=mid, state=state, resource="r1", instance=inst, since=NOW - 60, reason="test")

    v = View(
        now=NOW,
        workers=(worker(WorkerState.DELETING), worker(WorkerState.ORPHAN)),
        jobs=(Job("1", JobState.PENDING, chunk_cores=4),),
        cloud_ok={"r1": True, "r2": True},
    )
    assert v.current("r1") == 2
    assert not [a for a in plan(v, cfg).actions if a.kind == Kind.LAUNCH]
    v = View(
        now=NOW, workers=(worker(WorkerState.DELETING),), jobs=v.jobs, cloud_ok=v.cloud_ok, maybe_launched={"r1": 1}
    )
    assert v.current("r1") == 2


def test_no_launch_above_max_beside_an_orphan_or_a_deleting_instance():
    # issue 13: the plan itself, per state: at max 1, one such instance leaves no room for a launch
    cfg = dconfig.load(pillar(r1={"quantity": {"min": 0, "max": 1}}, r2={"quantity": {"min": 0, "max": 0}}))
    for state in (WorkerState.ORPHAN, WorkerState.DELETING):
        mid = identity.make(cfg.cluster_name, "r1", cfg.secret)
        inst = Instance(
            id=f"i-{mid[-6:]}",
            resource="r1",
            minion_id=mid,
            state=InstanceState.RUNNING,
            launch_time=NOW - 900,
            cores=4,
        )
        w = Worker(name=mid, state=state, resource="r1", instance=inst, since=NOW - 60, reason="test")
        v = View(
            now=NOW, workers=(w,), jobs=(Job("1", JobState.PENDING, chunk_cores=4),), cloud_ok={"r1": True, "r2": True}
        )
        launches = [a for a in plan(v, cfg).actions if a.kind == Kind.LAUNCH]
        assert launches == [], f"{state.value} at max 1: {sum(a.count for a in launches)} launched"


# ------------------------------------------------------------------ backoff episodes
def test_backoff_grows_once_per_episode_not_per_batch(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r1={"launch_batch": 1}, r2={"quantity": {"min": 0, "max": 0}})
    clouds["r1"].refuse = Transient("503 Service Unavailable", cloud="test")
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(4)]
    cycle(c, clock)
    assert len(clouds["r1"].launch_calls) == 4
    b = c.state.backoff["r1"]
    assert b.failures == 1 and b.until == clock.t + 30
    # a new attempt after the pause (and after listings agree the timed-out ids made nothing) that
    # fails again: a second episode
    for _ in range(30):
        cycle(c, clock)
        if len(clouds["r1"].launch_calls) > 4:
            break
    assert len(clouds["r1"].launch_calls) == 8 and c.state.backoff["r1"].failures == 2


def test_a_rate_limit_rests_the_resource_as_long_as_its_retry_after(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r1={"launch_batch": 1}, r2={"quantity": {"min": 0, "max": 0}})
    clouds["r1"].refuse = Transient("This request was rate-limited.", cloud="test", retry_after=300)
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    cycle(c, clock)
    b = c.state.backoff["r1"]
    assert b.kind == "transient" and b.until == clock.t + 300  # not the 30 s of a first transient failure


def test_a_sibling_batch_s_success_does_not_clear_a_failure(tmp_path):
    c, sched, clouds, clock = make(tmp_path, r1={"launch_batch": 1}, r2={"quantity": {"min": 0, "max": 0}})
    cl = clouds["r1"]
    calls = []
    lock = threading.Lock()

    def gate(ids):
        with lock:
            calls.append(ids)
            first = len(calls) == 1
        if first:
            raise Transient("503 Service Unavailable", cloud="test")
        deadline = time.monotonic() + 5  # answer only after the failed sibling is recorded
        while "r1" not in c.state.backoff and time.monotonic() < deadline:
            time.sleep(0.01)

    cl.gate = gate
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(2)]
    cycle(c, clock)
    assert len(calls) == 2
    assert c.state.backoff["r1"].failures == 1 and c.state.backoff["r1"].active(clock.t)


def test_a_launch_answered_during_the_cycle_is_counted_once_at_least(tmp_path):
    """The cycle reads what the actuator has in flight before it merges the launches it answered: a
    create call that answers in between counts (twice for one cycle), never not at all."""
    c, sched, clouds, clock = make(tmp_path, r1={"quantity": {"min": 0, "max": 1}}, r2={"quantity": {"max": 0}})
    queued = []
    c.submit_launch = queued.append  # the launch pool: the create call waits for the test
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    clock.t += 10
    c.cycle()
    assert c.state.in_flight == {"r1": 1} and launched(clouds)["r1"] == 0
    merge = c._merge_recent

    def merge_then_answer(*a, **k):
        out = merge(*a, **k)
        while queued:
            queued.pop(0)()  # the cloud answers the create call right after the merge
        return out

    c._merge_recent = merge_then_answer
    clock.t += 10
    c.cycle()
    assert c.view.current("r1") >= 1
    while queued:
        queued.pop(0)()
    assert launched(clouds)["r1"] == 1  # no second launch above max 1
