"""Reservation properties and Slurm constraints on real slurmctld/slurmd 22.05 (issue 16).

A resource with ``properties: [a, b]`` gets a dynamic node with the features
``a`` and ``b``; jobs submitted with ``--constraint='[a|b]'`` and ``a&b`` are
read from squeue, placed by the planner's eligibility on that resource and not
on one whose properties do not satisfy them, and Slurm really runs them on the
node.  Own bridge, subnet, ports and namespaces, so it may run beside the
other daemon tests.
"""

from __future__ import annotations

import os

import pytest

from dcluster import netns
from dcluster.config import load
from dcluster.model import JobState, NodeState
from dcluster.planner import eligibility
from dcluster.schedulers.slurm import SlurmAdapter
from tests.support import slurm as support
from tests.support import wait_for

pytestmark = [pytest.mark.daemons]

BRIDGE, GATEWAY, PREFIX, HOST = "dcresv0", "127.200.0.225", 28, "127.200.0.226"


class Cluster(support.SlurmCluster):
    def __init__(self):
        support.SlurmHead.__init__(
            self,
            support.tempfile.mkdtemp(prefix="dcresv-slurm-"),
            GATEWAY,
            cluster="dcresv",
            ctld_port=16947,
            slurmd_port=16948,
            feature=support.FEATURE,
            partition=support.PARTITION,
        )
        self.netns_hosts, self.slurmd = {}, {}

    def start(self):
        netns.ensure_bridge(BRIDGE, GATEWAY, PREFIX)
        support.SlurmHead.start(self)

    def stop(self):
        for node in list(self.slurmd):
            self.stop_slurmd(node)
        try:
            if netns.exists("dcrv1"):
                netns.delete_host("dcrv1")
        finally:
            support.SlurmHead.stop(self)
            netns.delete_bridge(BRIDGE)


@pytest.fixture(scope="module")
def cluster(request):
    why = support.skip_reason()
    if why:
        pytest.skip(f"Slurm daemon tests skipped: {why}")
    c = Cluster()
    request.addfinalizer(c.stop)  # runs even when start() or a test fails
    c.start()
    if netns.exists("dcrv1"):
        netns.delete_host("dcrv1")
    netns.add_host("dcrv1", HOST, BRIDGE, PREFIX)
    c.netns_hosts["dcrv1"] = HOST
    return c


def sbatch(cluster, *args):
    rc, out, err = cluster.run(["sbatch", "--parsable", "-o", "/dev/null", *args])
    assert rc == 0, err
    return out.strip().split(";")[0]


def test_constrained_jobs_are_placed_on_the_resource_whose_properties_match_and_slurm_runs_them(cluster):
    cfg = load(
        {
            "secret": "0123456789abcdef",
            "cluster": cluster.config(),
            "cloud": {
                "ab": {"type": "local", "reservation": {"properties": ["a", "b"]}, "quantity": {"max": 2}},
                "onlya": {"type": "local", "reservation": {"property": "a"}, "quantity": {"max": 2}},
                "plain": {"type": "local", "quantity": {"max": 2}},
            },
        }
    )
    sched = SlurmAdapter(cfg.cluster.config, cluster.run)
    # The node the engine registers for a worker of "ab": created with every property as a feature.
    out = sched.add_node(
        "dcrn1",
        2,
        400,
        reservation=cfg.resources["ab"].reservation,
        properties=cfg.resources["ab"].reservation.properties,
        address=HOST,
    )
    assert out["created"] is True and out["features"] == ["dcluster", "a", "b"]
    node = {n.name: n for n in sched.nodes()}["dcrn1"]
    assert node.state == NodeState.STARTING and node.properties == ("dcluster", "a", "b")

    either = sbatch(cluster, "-c", "1", "--mem=100", "--constraint=[a|b]", "--wrap", "sleep 300")
    both = sbatch(cluster, "-c", "1", "--mem=100", "--constraint=a&b", "--wrap", "sleep 300")
    counts = sbatch(cluster, "-H", "-N", "2", "--constraint=[a*1&b*1]", "--wrap", "sleep 1")
    if os.environ.get("RECORD_TO"):  # how tests/data/scheduler-output/slurm/dcsched-slurm2205-squeue-constraints
        rc, text, _ = cluster.run(["squeue", "--all", "--json"])  # -json.json was recorded
        with open(os.path.join(os.environ["RECORD_TO"], "dcsched-slurm2205-squeue-constraints-json.json"), "w") as fh:
            fh.write(text)
    jobs = {j.id: j for j in sched.jobs()}
    assert jobs[counts].constraint == "[a*1&b*1]"
    assert (jobs[either].state, jobs[either].constraint) == (JobState.PENDING, "[a|b]")
    assert (jobs[both].state, jobs[both].constraint) == (JobState.PENDING, "a&b")

    resources = list(cfg.resources.values())
    # [a|b]: both "ab" and "onlya" serve it, "ab" first only by name (both match exactly); never "plain"
    assert [r.name for r in eligibility.order(jobs[either], resources, {})] == ["ab", "onlya"]
    # a&b: only the resource whose nodes carry both
    assert [r.name for r in eligibility.order(jobs[both], resources, {})] == ["ab"]

    # The worker's slurmd joins (-Z, as the worker formula starts it) naming no feature of its own: the
    # node keeps those it was created with, and Slurm starts both jobs there.
    cluster.start_slurmd("dcrv1", "dcrn1", dynamic_conf="CPUs=2 RealMemory=400")
    running = wait_for(
        lambda: (lambda js: js if all(js[j].state == JobState.RUNNING for j in (either, both)) else None)(
            {j.id: j for j in sched.jobs()}
        ),
        60,
        0.5,
        what="both jobs to run",
    )
    assert running[either].nodes == ("dcrn1",) and running[both].nodes == ("dcrn1",)
    assert {"a", "b"} <= set({n.name: n for n in sched.nodes()}["dcrn1"].properties)
    cluster.run(["scancel", either, both, counts])


def test_counts_in_brackets_need_a_resource_whose_nodes_carry_every_counted_feature(cluster):
    cfg = load(
        {
            "secret": "0123456789abcdef",
            "cluster": cluster.config(),
            "cloud": {
                "ab": {"type": "local", "reservation": {"properties": ["a", "b"]}, "quantity": {"max": 2}},
                "onlya": {"type": "local", "reservation": {"properties": ["a"]}, "quantity": {"max": 2}},
            },
        }
    )
    sched = SlurmAdapter(cfg.cluster.config, cluster.run)
    job = sbatch(cluster, "-H", "-N", "2", "--constraint=[a*1&b*1]", "--wrap", "sleep 1")
    found = {j.id: j for j in sched.jobs()}[job]
    assert (found.constraint, found.chunks) == ("[a*1&b*1]", 2)
    assert [r.name for r in eligibility.order(found, list(cfg.resources.values()), {})] == ["ab"]
    cluster.run(["scancel", job])
