"""The Slurm adapter against real slurmctld/slurmd 22.05 with dynamic nodes in network namespaces."""

from __future__ import annotations

import os
import time

import pytest
import salt.config
import salt.loader

from dcluster.config import load
from dcluster.model import JobState, NodeState
from dcluster.schedulers import RefusedError
from dcluster.schedulers.slurm import SlurmAdapter
from tests.support import slurm as support
from tests.support import wait_for

pytestmark = [pytest.mark.daemons]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def cluster(request):
    why = support.skip_reason()
    if why:
        pytest.skip(f"Slurm daemon tests skipped: {why}")
    c = support.SlurmCluster()
    request.addfinalizer(c.stop)  # runs even when start() or a test fails
    c.start()
    c.add_netns_host("dcsl1", 0)
    c.add_netns_host("dcsl2", 1)
    return c


@pytest.fixture(scope="module")
def sched(cluster):
    conf = load({"secret": "0123456789abcdef", "cluster": cluster.config()}).cluster.config
    return SlurmAdapter(conf, cluster.run)


def node_of(sched, name):
    return {n.name: n for n in sched.nodes()}.get(name)


@pytest.fixture(scope="module")
def two_nodes(cluster, sched):
    # dcn1 registers by itself (slurmd -Z); add_node then only gives it our features.
    cluster.start_slurmd("dcsl1", "dcn1", dynamic_conf="CPUs=2 RealMemory=500 Feature=dcluster")
    wait_for(
        lambda: node_of(sched, "dcn1") and node_of(sched, "dcn1").state == NodeState.IDLE,
        15,
        0.2,
        what="dcn1 to register",
    )
    out = sched.add_node("dcn1", 2, 500, properties=["small"])
    assert out["created"] is False and "small" in node_of(sched, "dcn1").properties
    # dcn2 is created first (state=future), then its slurmd registers.
    out = sched.add_node("dcn2", 1, 400, reservation={"property": "big"}, address=cluster.netns_hosts["dcsl2"])
    assert out["created"] is True
    n2 = node_of(sched, "dcn2")
    assert n2 is not None and n2.state == NodeState.STARTING and n2.properties == ("dcluster", "big")
    # the address the cloud gave: slurmctld reaches the node there, whatever its name resolves to
    rc, shown, err = cluster.run(["scontrol", "--future", "show", "node", "dcn2"])  # FUTURE nodes are hidden without it
    assert rc == 0, (rc, shown, err)
    assert f"NodeAddr={cluster.netns_hosts['dcsl2']} " in shown and "NodeHostName=dcn2 " in shown
    cluster.start_slurmd("dcsl2", "dcn2", dynamic_conf="CPUs=1 RealMemory=400 Feature=dcluster,big")
    wait_for(lambda: node_of(sched, "dcn2").state == NodeState.IDLE, 15, 0.2, what="dcn2 to register")
    return ["dcn1", "dcn2"]


def sbatch(cluster, *args):
    rc, out, err = cluster.run(["sbatch", "--parsable", "-o", "/dev/null", *args])
    assert rc == 0, err
    return out.strip().split(";")[0]


def test_an_address_that_is_not_an_ip_literal_is_refused_before_any_command(cluster, sched):
    for bad in ("10.0.0.5 state=idle", "head.example", "fe80::1%eth0"):
        with pytest.raises(RefusedError, match="not an IP address"):
            sched.add_node("dcn9", 1, address=bad)
    assert node_of(sched, "dcn9") is None


def test_both_ways_of_adding_nodes_join_the_partition(sched, two_nodes):
    for name in two_nodes:
        node = node_of(sched, name)
        assert node.state == NodeState.IDLE and "dyn" in node.extra["partitions"]
    assert node_of(sched, "dcn1").cores == 2 and node_of(sched, "dcn2").mem_mb == 400
    assert sched.check()["healthy"] is True


def test_jobs_states_shapes_and_node_jobs(cluster, sched, two_nodes):
    run = sbatch(cluster, "-w", "dcn1", "-c", "1", "--mem=100", "--wrap", "sleep 300")
    held = sbatch(cluster, "-H", "--wrap", "sleep 1")
    wide = sbatch(cluster, "-N", "3", "-n", "3", "-C", "big", "--mem=200", "--wrap", "sleep 1")
    jobs = wait_for(
        lambda: (lambda js: js if js[run].state == JobState.RUNNING else None)({j.id: j for j in sched.jobs()}),
        30,
        0.5,
        what="the job to run",
    )
    assert jobs[run].nodes == ("dcn1",) and jobs[run].queue == "dyn"
    assert jobs[held].state == JobState.HELD
    w = jobs[wide]
    assert (w.state, w.chunks, w.chunk_cores, w.chunk_mem_mb, w.properties) == (JobState.PENDING, 3, 1, 200, ("big",))
    assert run in node_of(sched, "dcn1").jobs and node_of(sched, "dcn1").state == NodeState.BUSY
    cluster.run(["scancel", held, wide])


def test_a_job_submitted_with_a_begin_time_is_held_until_then_and_says_when(cluster, sched, two_nodes):
    # preboot_begin_jobs reads this: the planner counts it as demand only once that time is a boot away.
    before = time.time()
    jid = sbatch(cluster, "--begin=now+600", "--wrap", "sleep 1")
    try:
        job = wait_for(
            lambda: (lambda j: j if j and j.begin_time else None)({j.id: j for j in sched.jobs()}.get(jid)),
            30,
            0.5,
            what="squeue to show the job's begin time",
        )
        assert job.state == JobState.HELD and job.extra["reason"] == "BeginTime"
        assert before + 598 <= job.begin_time <= time.time() + 601, (before, job.begin_time)
    finally:
        cluster.run(["scancel", jid])


def test_a_throttled_array_with_a_begin_time_is_demand_for_no_more_tasks_than_may_run_at_once(
    cluster, sched, two_nodes
):
    # --array=1-3%1: Slurm runs one task at a time; pre-boot must not launch a node for each of the three.
    jid = sbatch(cluster, "--array=1-3%1", "--begin=now+600", "--wrap", "sleep 1")
    try:
        tasks = wait_for(
            lambda: (lambda ts: ts if any(t.begin_time for t in ts) else None)(
                [j for j in sched.jobs() if j.id.startswith(f"{jid}_")]
            ),
            30,
            0.5,
            what="squeue to show the array's begin time",
        )
        assert len(tasks) == 3 and all(t.state == JobState.HELD for t in tasks), tasks
        assert sum(1 for t in tasks if t.begin_time) == 1, tasks
        assert sum(1 for t in tasks if t.extra["reason"] == "JobArrayTaskLimit") == 2, tasks
    finally:
        cluster.run(["scancel", jid])


def test_our_drain_and_an_admins_drain_are_told_apart(cluster, sched, two_nodes):
    sched.hold("dcn2", "dcluster: idle 600 s")
    node = node_of(sched, "dcn2")
    assert node.state == NodeState.HELD and node.hold_reason == "dcluster: idle 600 s"
    sched.release("dcn2")
    # After a resume Slurm 22.05 may flag the node NOT_RESPONDING (reported DOWN) until its next ping.
    wait_for(lambda: node_of(sched, "dcn2").state == NodeState.IDLE, 40, 0.5, what="dcn2 to be idle again")
    cluster.run(["scontrol", "update", "nodename=dcn2", "state=drain", "reason=bad dimm"])
    node = node_of(sched, "dcn2")
    assert node.state == NodeState.HELD and node.hold_reason == "bad dimm"
    with pytest.raises(RefusedError, match="someone else"):
        sched.release("dcn2")
    sched.release("dcn2", force=True)
    assert node_of(sched, "dcn2").state in (NodeState.IDLE, NodeState.DOWN)
    assert node_of(sched, "dcn2").hold_reason == ""


def test_remove_refused_while_jobs_then_vacate_and_delete(cluster, sched, two_nodes):
    node = node_of(sched, "dcn1")
    assert node.jobs, "the sleep job of the earlier test should still run on dcn1"
    with pytest.raises(RefusedError, match="still runs jobs"):
        sched.remove("dcn1")
    sched.hold("dcn1", "dcluster: removing")
    assert sched.vacate("dcn1") == list(node.jobs)
    wait_for(
        lambda: not node_of(sched, "dcn1").jobs and not node_of(sched, "dcn1").cores_used, 30, 0.5, what="dcn1 to empty"
    )
    cluster.stop_slurmd("dcn1")
    assert sched.remove("dcn1") == {"name": "dcn1", "removed": True}
    assert node_of(sched, "dcn1") is None
    cluster.run(["scancel", *node.jobs])


def test_salt_module_with_real_cmd_run_all(cluster, two_nodes):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "module_dirs": [os.path.join(REPO, "_modules")],
            "grains": {},
            "pillar": {"dcluster": {"cluster": cluster.config()}},
        }
    )
    funcs = salt.loader.minion_mods(opts)
    # The earlier test's forced resume may leave dcn2 NOT_RESPONDING (reported down) until slurmctld's next ping.
    nodes = wait_for(
        lambda: (lambda ns: ns if ns["dcn2"]["state"] == "idle" else None)(
            {n["name"]: n for n in funcs["dcluster_slurm.nodes"]()}
        ),
        40,
        0.5,
        what="dcn2 to be idle through the module",
    )
    assert "big" in nodes["dcn2"]["properties"] and nodes["dcn2"]["cores"] == 1
    assert isinstance(funcs["dcluster_slurm.jobs"](), list)
    assert funcs["dcluster_slurm.check"]()["healthy"] is True


def test_a_node_that_registers_itself_gets_the_engines_register_once(tmp_path, cluster, sched, two_nodes):
    """Issue 16: slurmd -Z (the worker formula's way) left a worker without its reservation's features,
    its account reservation and post_add_node_command; the engine now registers such a node, once."""
    from dcluster import identity
    from dcluster.controller import Controller
    from dcluster.model import Instance, InstanceState
    from tests.unit.controller.memory_ports import Clock, MemCloud, key_pool, ports, step

    secret = "selfjoin-test-secret-0123"
    mid = identity.make("dc", "r1", secret)
    clock, cloud, hooks, events = Clock(), MemCloud(), [], []
    cloud.instances_[mid] = Instance(
        id="i-self",
        resource="r1",
        minion_id=mid,
        state=InstanceState.RUNNING,
        launch_time=clock(),
        cores=1,
        ip="127.200.0.252",
    )
    pillar = {
        "secret": secret,
        "cluster_name": "dc",
        "max_idle_time": 3600,
        "cluster": {
            **cluster.config(),
            "config": {**cluster.config()["config"], "post_add_node_command": "/usr/local/bin/added {0} {1}"},
        },
        "cloud": {
            "r1": {
                "type": "local",
                "cores": 1,
                "quantity": {"min": 0, "max": 2},
                "reservation": {"property": "gpu", "account": "physics"},
            }
        },
    }

    def controller():
        p = ports(pillar, None, cloud, events, set())
        p.scheduler = lambda cfg: SlurmAdapter(cfg.cluster.config, cluster.run)
        p.hook = lambda argv, timeout: hooks.append(list(argv)) or (0, "ok")
        return Controller(p, state_path=str(tmp_path / "state.json"), clock=clock, keys=key_pool())

    c = controller()
    try:
        cluster.add_netns_host("dcsl3", 2)
        cluster.start_slurmd("dcsl3", mid, dynamic_conf="CPUs=1 RealMemory=300 Feature=dcluster")
        wait_for(
            lambda: node_of(sched, mid) and node_of(sched, mid).state == NodeState.IDLE,
            15,
            0.2,
            what="the worker's slurmd to register itself",
        )
        c.mark_configured(mid, True, "highstate done")
        step(c, clock)
        node = node_of(sched, mid)
        assert "gpu" in node.properties, node.properties  # the reservation's property, as a feature
        rc, out, _ = cluster.run(["scontrol", "show", "reservation", f"dcluster_{mid}"])
        assert rc == 0 and "Accounts=physics" in out and f"Nodes={mid}" in out, out
        assert hooks == [["/usr/local/bin/added", mid, "127.200.0.252"]]
        step(c, clock)
        c.shutdown()
        c = controller()  # a master restart remembers it was done
        step(c, clock)
        assert hooks == [["/usr/local/bin/added", mid, "127.200.0.252"]]
        assert [t.rsplit("/", 1)[1] for t, _ in events if "action/register/" in t] == ["started", "done"]
    finally:
        c.shutdown()
        cluster.run(["scontrol", "delete", "reservation", f"dcluster_{mid}"])
        cluster.stop_slurmd(mid)
        cluster.run(["scontrol", "delete", f"nodename={mid}"])
