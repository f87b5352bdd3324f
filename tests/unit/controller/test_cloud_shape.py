"""A cloud's answer for a new node's size is input: a flavor's vCPUs or an instance type's.  The planner
packs by free-core count, so an absurd count is refused where it enters (controller/polling.py) and the
size stays unknown, as when the cloud cannot be asked; the pillar's key replaces it."""

import logging

from memory_ports import Loop, slurm_pillar, step

from dcluster.model import MAX_NODE_CORES, Job, JobState


def test_a_cloud_s_absurd_flavor_size_is_refused_and_named(tmp_path, caplog):
    """A flavor's vCPUs or an instance type's are the cloud's answer: 10**9 of them is no node.  The
    size stays unknown (the planner launches nothing and says which key to set), and the log says why,
    once."""
    data = slurm_pillar("hostile-sizes-secret-123")
    del data["cloud"]["r1"]["cores"]
    lp = Loop(tmp_path, data)
    lp.cloud.cores_ = 10**9
    lp.sched.jobs_ = [Job("1", JobState.PENDING)]
    with caplog.at_level(logging.WARNING, logger="dcluster"):
        for _ in range(3):
            step(lp.c, lp.clock)
    try:
        assert not lp.cloud.launch_calls
        assert "cores per node unknown (set dcluster:cloud:r1:cores)" in dict(lp.c.plan.waiting)["1"]
        said = [
            r
            for r in caplog.records
            if "cannot learn the node size of r1: the cloud answers 1000" in r.getMessage()
            and f"not a whole number from 1 to {MAX_NODE_CORES}" in r.getMessage()
        ]
        assert len(said) == 1  # once, not at every poll
    finally:
        lp.c.shutdown()
