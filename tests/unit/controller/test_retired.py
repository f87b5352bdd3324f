"""Pillar edits leak nothing: a resource dropped from the pillar is drained and destroyed (its settings
kept in memory, or given under retired_resources after a restart), and previous_secrets lets the secret
rotate without orphaning a worker.

The cloud is an in-memory double of one cloud holding every resource's instances by their tags; each
resource's driver is a real :class:`dcluster.clouds.base.Driver` subclass, so what it lists is decided
by the drivers' own ``is_ours``/``verified`` (cluster tag, resource tag, HMAC of the id).
"""

import json

import pytest
from memory_ports import MemScheduler, key_pool

from dcluster import identity, model
from dcluster.clouds.base import Driver, LaunchResult, tags_for
from dcluster.controller import Controller, Ports
from dcluster.model import Instance, InstanceState, Job, JobState, Node, NodeState, WorkerState

OLD = "old-secret-0123456789"
NEW = "new-secret-9876543210"
PASSWORD = "r1-keystone-password-never-in-state"


def pillar(secret=OLD, resources=("r1", "r2"), **over):
    cloud = {
        "r1": {
            "type": "openstack",
            "cores": 4,
            "quantity": {"min": 0, "max": 4},
            "config": {
                "auth_url": "https://keystone.example:5000/v3",
                "username": "dc",
                "password": PASSWORD,
                "project": "hpc",
                "image_uuid": "img-1",
                "flavor": "m1.large",
            },
        },
        "r2": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}},
    }
    data = {
        "secret": secret,
        "cluster": {"type": "slurm"},
        "max_idle_time": 100,
        "max_launch_time": 600,
        "cloud": {k: v for k, v in cloud.items() if k in resources},
    }
    data.update(over)
    return data, cloud


class World:
    """Every instance of the one cloud, with its tags."""

    def __init__(self):
        self.servers: dict[str, tuple[dict, Instance]] = {}
        self.destroyed: list[str] = []

    def add(self, cluster, resource, secret, t):
        mid = identity.make(cluster, resource, secret)
        self.servers[f"i-{mid[-8:]}"] = (
            tags_for(cluster, resource, mid, t),
            Instance(
                id=f"i-{mid[-8:]}",
                resource=resource,
                minion_id=mid,
                state=InstanceState.RUNNING,
                launch_time=t,
                cores=4,
            ),
        )
        return mid


class MemDriver(Driver):
    type = "mem"

    def __init__(self, resource, cluster_name, secret, world):
        super().__init__(resource, cluster_name, secret)
        self.world = world

    def instances(self):
        return [
            i for tags, i in self.world.servers.values() if self.is_ours(tags) and self.verified(tags[model.TAG_MINION])
        ]

    def launch(self, count, minion_ids, userdata_for):
        out = []
        for mid in self.check_ids(count, minion_ids):
            iid = f"i-{mid[-8:]}"
            inst = Instance(
                id=iid,
                resource=self.resource.name,
                minion_id=mid,
                state=InstanceState.RUNNING,
                launch_time=1000.0,
                cores=4,
            )
            self.world.servers[iid] = (tags_for(self.cluster, self.resource.name, mid, 1000.0), inst)
            out.append(inst)
        return LaunchResult(out, count)

    def destroy(self, ids):
        out = {}
        for iid in ids:
            tags, _inst = self.world.servers.get(iid, ({}, None))
            if not tags:
                out[iid] = "gone"
            elif not (self.is_ours(tags) and self.verified(tags[model.TAG_MINION])):
                out[iid] = "refused: not ours"
            else:
                del self.world.servers[iid]
                self.world.destroyed.append(tags[model.TAG_MINION])
                out[iid] = "ok"
        return out

    def cores(self):
        return 4

    def mem_mb(self):
        return 0


class Env:
    def __init__(self, tmp_path, data):
        self.t = 1000.0
        self.data = data
        self.sched, self.world, self.events, self.keys = MemScheduler(), World(), [], set()
        self.path = str(tmp_path / "state.json")
        self.c = self.start()

    def driver(self, cfg, res):
        drv = MemDriver(res, cfg.cluster_name, cfg.secret, self.world)
        drv.previous_secrets = tuple(getattr(cfg, "previous_secrets", ()))  # as clouds.registry.driver_for does
        return drv

    def start(self):
        ports = Ports(
            pillar=lambda: self.data,
            scheduler=lambda cfg: self.sched,
            driver=self.driver,
            fire=lambda tag, data: self.events.append((tag, data)),
            preaccept_key=lambda mid, pub: self.keys.add(mid),
            delete_key=self.keys.discard,
            accepted_keys=lambda: set(self.keys),
            hook=lambda argv, timeout: (0, "ok"),
        )
        return Controller(ports, state_path=self.path, clock=lambda: self.t, keys=key_pool())

    def restart(self):
        self.c.shutdown()
        self.c = self.start()

    def step(self, dt=10):
        self.t += dt
        out = self.c.cycle()
        assert out["ok"], out
        assert self.c.wait_idle(10)

    def worker(self, resource, secret=OLD, jobs=()):
        """A registered worker of ``resource``: instance, accepted key, scheduler node."""
        mid = self.world.add("dc", resource, secret, self.t - 500)
        self.keys.add(mid)
        state = NodeState.BUSY if jobs else NodeState.IDLE
        self.sched.nodes_[mid] = Node(
            mid, state, cores=4, jobs=tuple(jobs), cores_used=4 if jobs else 0, state_since=self.t
        )
        self.sched.jobs_ += [Job(j, JobState.RUNNING, chunk_cores=4, nodes=(mid,)) for j in jobs]
        return mid

    def finish(self, mid):
        n = self.sched.nodes_[mid]
        self.sched.nodes_[mid] = Node(mid, n.state, cores=4, hold_reason=n.hold_reason, state_since=self.t)
        self.sched.jobs_ = [j for j in self.sched.jobs_ if mid not in j.nodes]

    def state_of(self, mid):
        return {w.name: w.state for w in self.c.view.workers}.get(mid)

    def retired_events(self, state):
        return [d for t, d in self.events if t == "dcluster/resource/retired" and d.get("state") == state]


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path, pillar()[0])
    yield e
    e.c.shutdown()


def drop_r1(env):
    env.data = pillar(resources=("r2",))[0]


def test_dropped_resource_is_drained_then_destroyed(env):
    busy, idle = env.worker("r1", jobs=("7",)), env.worker("r1")
    keep = env.worker("r2", jobs=("8",))
    env.step()
    assert env.state_of(busy) == WorkerState.BUSY
    drop_r1(env)
    env.step()
    # the idle one goes at once; the busy one is held, never destroyed while its job runs
    assert idle in env.world.destroyed
    assert busy not in env.world.destroyed and env.sched.nodes_[busy].state == NodeState.HELD
    assert env.retired_events("draining") and env.retired_events("draining")[0]["resource"] == "r1"
    for _ in range(5):
        env.step()
    assert busy not in env.world.destroyed and keep not in env.world.destroyed
    assert "1 worker(s)" in _status(env)["r1"] and busy in _status(env)["r1"]
    env.finish(busy)
    env.step()
    env.step()
    assert busy in env.world.destroyed and busy not in env.sched.nodes_ and busy not in env.keys
    # forgotten once listings across a grace agree nothing is left
    for _ in range(10):
        env.step()
    assert env.retired_events("done") and "r1" not in env.c.state.retired
    assert env.c.config.retired == {}
    assert keep not in env.world.destroyed


def test_renamed_resource_keeps_nothing_running(env):
    old = env.worker("r1")
    data, cloud = pillar()
    data["cloud"] = {"r1new": cloud["r1"], "r2": cloud["r2"]}
    env.step()
    env.data = data
    env.step()
    assert old in env.world.destroyed


def test_state_never_holds_the_credentials_of_a_retired_resource(env):
    env.worker("r1", jobs=("7",))
    env.step()
    drop_r1(env)
    env.step()
    text = open(env.path).read()
    assert PASSWORD not in text  # the published config shows it masked, as every credential
    assert json.loads(text)["retired"]["r1"]["settings"] == "memory"


def test_after_a_restart_the_status_says_what_is_stranded_and_retired_resources_cleans_up(env):
    busy = env.worker("r1", jobs=("7",))
    env.step()
    drop_r1(env)
    env.step()
    env.restart()  # the memory of r1's settings is gone
    env.finish(busy)
    for _ in range(3):
        env.step()
    line = _status(env)["r1"]
    assert "no longer known" in line and "retired_resources:r1" in line and busy in line
    assert busy not in env.world.destroyed
    assert len(env.retired_events("stranded")) == 1
    # the admin gives the settings back under retired_resources: drained and destroyed, then reported
    data, cloud = pillar(resources=("r2",))
    data["retired_resources"] = {"r1": cloud["r1"]}
    env.data = data
    for _ in range(10):
        env.step()
    assert busy in env.world.destroyed and busy not in env.sched.nodes_
    assert "you may remove it" in _status(env)["r1"]


def test_retired_resources_never_launch(env):
    data, cloud = pillar(resources=("r2",))
    data["retired_resources"] = {"r1": cloud["r1"]}
    data["cloud"]["r2"]["quantity"] = {"min": 0, "max": 0}
    env.data = data
    env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    for _ in range(3):
        env.step()
    assert env.world.servers == {}


def test_previous_secrets_keep_old_workers_ours(env):
    idle = env.worker("r2")
    busy = env.worker("r2", jobs=("7",))
    gone = identity.make("dc", "r2", OLD)
    env.keys.add(gone)  # an accepted key whose instance no longer exists
    env.step()
    assert env.state_of(idle) == WorkerState.IDLE and idle not in env.world.destroyed
    env.data = pillar(secret=NEW, previous_secrets=[OLD])[0]
    for _ in range(12):
        env.step()
    assert env.state_of(busy) == WorkerState.BUSY  # still ours, still listed
    assert idle in env.world.destroyed  # idled out like any worker
    assert gone not in env.keys  # its key swept
    # new launches are signed with the new secret only
    env.sched.jobs_.append(Job("9", JobState.PENDING, chunk_cores=4))
    env.step()
    new = [tags[model.TAG_MINION] for tags, _ in env.world.servers.values() if tags[model.TAG_MINION] != busy]
    assert new and all(identity.parse(m, NEW, "dc") for m in new)
    assert not any(identity.parse(m, OLD, "dc") for m in new)


def test_without_previous_secrets_a_rotation_orphans(env):
    # what previous_secrets is for: without it the old worker is no longer ours (not listed, not touched)
    idle = env.worker("r2")
    env.step()
    env.data = pillar(secret=NEW)[0]
    for _ in range(12):
        env.step()
    assert idle not in env.world.destroyed and env.state_of(idle) == WorkerState.PHYSICAL


def _status(env):
    from dcluster.controller import retired

    return {name: retired.line(name, e) for name, e in env.c.state.retired.items()}
