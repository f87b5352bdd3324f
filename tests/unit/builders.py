"""Small builders for core snapshots, shared by the planner and reconcile tests."""

from __future__ import annotations

import dataclasses

from dcluster import identity
from dcluster.config import load
from dcluster.model import Instance, InstanceState, Job, JobState, Node, NodeState
from dcluster.reconcile import reconcile

SECRET = "test-secret-0123456789"
NOW = 100_000.0


def config(resources=None, **top):
    """A valid Config; ``resources`` maps name -> resource dict (type local by default)."""
    cloud = {}
    for name, spec in (resources or {"r1": {}}).items():
        spec = dict(spec)
        spec.setdefault("type", "local")
        spec.setdefault("cores", 4)
        spec.setdefault("quantity", {"min": 0, "max": 10})
        cloud[name] = spec
    data = {"secret": SECRET, "cluster": {"type": top.pop("cluster_type", "slurm")}, "cloud": cloud}
    data.update(top)
    return load(data)


def wid(resource="r1", n=0, cluster="dc"):
    return identity.make(cluster, resource, SECRET, nonce=f"{n:06x}")


def inst(name, resource="r1", state=InstanceState.RUNNING, age=100.0, cores=4):
    return Instance(
        id=f"i-{name[-6:]}",
        resource=resource,
        minion_id=name,
        state=state,
        launch_time=NOW - age,
        cluster="dc",
        name=name,
        cores=cores,
    )


def node(name, state=NodeState.IDLE, cores=4, used=0, jobs=(), reason="", since=None):
    return Node(
        name=name, state=state, cores=cores, cores_used=used, jobs=tuple(jobs), hold_reason=reason, state_since=since
    )


def job(
    jid,
    chunks=1,
    cores=1,
    mem=0,
    distinct=True,
    queue="",
    account="",
    props=(),
    prio=0.0,
    submit=0.0,
    state=JobState.PENDING,
):
    return Job(
        id=str(jid),
        state=state,
        chunks=chunks,
        chunk_cores=cores,
        chunk_mem_mb=mem,
        distinct=distinct,
        queue=queue,
        account=account,
        properties=tuple(props),
        priority=prio,
        submit_time=submit,
    )


def view(cfg, nodes=(), instances=None, jobs=(), now=NOW, **extra):
    if instances is None:
        instances = {name: [] for name in cfg.resources}
    return reconcile(cfg, now, list(nodes) if nodes is not None else None, instances, jobs, **extra)


def seen_before(v, ago=10.0):
    """``v`` as a later poll that agrees with an earlier one ``ago`` s before: every worker was seen in its
    state then too (the planner destroys nothing on the word of a single poll)."""
    return dataclasses.replace(
        v, workers=tuple(dataclasses.replace(w, seen=min(w.seen, v.now - ago)) for w in v.workers)
    )


def worker(name, resource="r1", state=NodeState.IDLE, age=1000.0, **node_kw):
    """A node and the instance behind it."""
    return node(name, state=state, **node_kw), inst(name, resource, age=age)
