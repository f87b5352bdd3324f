"""In-memory test doubles of the controller's own ports (scheduler, cloud, keys, events).

These stand in for *our* interfaces so the loop's bookkeeping can be checked
cycle by cycle without daemons (``Loop``: a Controller on them at a test
``Clock``); the real adapters and drivers are exercised against real daemons,
moto and namespaces in tests/integration and tests/functional, and the whole
chain in the end-to-end tests.
"""

from __future__ import annotations

import itertools
import threading

from dcluster import keypairs
from dcluster.clouds.base import LaunchResult
from dcluster.clouds.errors import InsufficientCapacity
from dcluster.controller import Controller, Ports
from dcluster.model import Instance, InstanceState, Job, JobState, Node, NodeState


class MemScheduler:
    def __init__(self):
        self.nodes_: dict[str, Node] = {}
        self.jobs_ = []
        self.calls = []
        self.fail = False

    def jobs(self):
        if self.fail:
            raise RuntimeError("squeue: slurm_load_jobs error: Unable to contact slurm controller")
        return list(self.jobs_)

    def nodes(self):
        if self.fail:
            raise RuntimeError("sinfo: Unable to contact slurm controller")
        return list(self.nodes_.values())

    def add_node(self, name, cores, mem_mb=0, reservation=None, properties=(), address=None):
        self.calls.append(("add_node", name, cores))
        self.nodes_[name] = Node(name, NodeState.IDLE, cores=cores)

    def hold(self, name, reason="dcluster"):
        self.calls.append(("hold", name, reason))
        n = self.nodes_[name]
        self.nodes_[name] = Node(
            name, NodeState.HELD, cores=n.cores, jobs=n.jobs, cores_used=n.cores_used, hold_reason=reason
        )

    def release(self, name, force=False):
        self.calls.append(("release", name) + (("force",) if force else ()))
        n = self.nodes_[name]
        self.nodes_[name] = Node(name, NodeState.IDLE, cores=n.cores)

    def remove(self, name):
        self.calls.append(("remove", name))
        if self.nodes_[name].jobs:
            raise RuntimeError(f"{name} has jobs")
        del self.nodes_[name]

    def vacate(self, name):
        self.calls.append(("vacate", name))

    def check(self):
        return {"ok": True}


class MemCloud:
    def __init__(self, cores=4):
        self.instances_: dict[str, Instance] = {}
        self.cores_ = cores
        self.launch_calls = []
        self.userdata: dict[str, str] = {}  # minion id -> the user-data it was launched with
        self.destroyed = []
        self.refuse = None  # an exception to raise from launch
        self.list_fails = False
        self.clock = lambda: 0.0

    def instances(self):
        if self.list_fails:
            raise RuntimeError("503 Service Unavailable")
        return [i for i in self.instances_.values() if i.state != InstanceState.GONE]

    def launch(self, count, minion_ids, userdata_for):
        self.launch_calls.append(list(minion_ids))
        self.userdata.update({mid: userdata_for(mid) for mid in minion_ids})
        if self.refuse is not None:
            return LaunchResult([], count, self.refuse)
        out = []
        for mid in minion_ids:
            inst = Instance(
                id=f"i-{mid[-8:]}",
                resource="r1",
                minion_id=mid,
                state=InstanceState.RUNNING,
                launch_time=self.clock(),
                cores=self.cores_,
                ip="127.200.0.250",
            )
            self.instances_[mid] = inst
            out.append(inst)
        return LaunchResult(out, count)

    def destroy(self, ids):
        out = {}
        for mid, inst in list(self.instances_.items()):
            if inst.id in ids:
                del self.instances_[mid]
                self.destroyed.append(mid)
                out[inst.id] = "ok"
        return {i: out.get(i, "gone") for i in ids}

    def cores(self):
        return self.cores_

    def mem_mb(self):
        return 0


_PAIRS: list[keypairs.KeyPair] = []
_PAIRS_LOCK = threading.Lock()


def key_pool():
    """A KeyPool handing out real RSA pairs from a few made once: each launch's keys are distinct
    among 16, which is all a unit test needs, without 40 ms of key making per launch."""
    with _PAIRS_LOCK:
        if not _PAIRS:
            _PAIRS.extend(keypairs.generate() for _ in range(16))
    pairs = itertools.cycle(list(_PAIRS))
    return keypairs.KeyPool(make=lambda: next(pairs))


def ports(pillar, sched, cloud, events, keys):
    return Ports(
        pillar=lambda: pillar,
        scheduler=lambda cfg: sched,
        driver=lambda cfg, res: cloud,
        fire=lambda tag, data: events.append((tag, data)),
        preaccept_key=lambda mid, pub: keys.add(mid),  # the public key itself: see test_controller's key tests
        delete_key=lambda mid: keys.discard(mid),
        accepted_keys=lambda: set(keys),
        key_states=lambda mid: {"accepted"} if mid in keys else set(),
        hook=lambda argv, timeout: (0, "ok"),
        master_address="127.200.0.1",
    )


def slurm_pillar(secret, r1=None, **settings):
    """A pillar of a Slurm cluster with one local resource r1 of 4 cores (min 0, max 4), the keys in
    ``r1`` replacing its own, and ``settings`` on top."""
    resource = {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}, **(r1 or {})}
    return {"secret": secret, "cluster": {"type": "slurm"}, "cloud": {"r1": resource}, **settings}


class Clock:
    """The wall clock of a test: it stands still until the test moves ``t``."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def step(c, clock, dt=10):
    """Move ``clock`` on by ``dt`` seconds and run one cycle of ``c`` to the end of the actions it started."""
    clock.t += dt
    out = c.cycle()
    assert c.wait_idle(10)
    return out


def registered_worker(c, sched, cloud, clock):
    """One 4-core job launched one worker, now configured and registered; the queue is empty again."""
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    (name,) = cloud.launch_calls[0]
    c.mark_configured(name, True)
    step(c, clock)
    sched.jobs_ = []
    assert name in sched.nodes_
    return name


class Loop:
    """A Controller on the in-memory ports at a test Clock, its state file in ``tmp_path``.

    The pillar port reads ``data`` at each cycle, so a test edits or replaces it as an operator
    edits the pillar; ``start`` makes another Controller on the same ports, state file and clock.
    """

    def __init__(self, tmp_path, data):
        self.sched, self.cloud, self.events, self.keys, self.clock = MemScheduler(), MemCloud(), [], set(), Clock()
        self.cloud.clock = self.clock
        self.data = data
        self.path = str(tmp_path / "state.json")
        self.c = self.start()

    def start(self):
        p = ports(self.data, self.sched, self.cloud, self.events, self.keys)
        p.pillar = lambda: self.data
        return Controller(p, state_path=self.path, clock=self.clock, keys=key_pool())

    def step(self, dt=10):
        return step(self.c, self.clock, dt)


__all__ = [
    "Clock",
    "InsufficientCapacity",
    "Loop",
    "MemCloud",
    "MemScheduler",
    "key_pool",
    "ports",
    "registered_worker",
    "slurm_pillar",
    "step",
]
