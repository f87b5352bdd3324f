"""A draining node that a job releases is live capacity for the rest of the plan.

Found in review: the released node moved to the live buckets, but the live tier's largest free
count (``Pool.top``) was not raised, so the scan of the live tier stopped below it; its leftover
cores were invisible to later jobs of the same plan, which launched new nodes instead.
"""

from builders import config, inst, job, node, view, wid

from dcluster.model import NodeState
from dcluster.planner import plan
from dcluster.planner.packing import DRAINING, LIVE, Pool


def test_a_released_node_is_found_by_the_live_scan():
    pool = Pool("r1", 8, 0, 5)
    pool.add(1, -1, "live", LIVE)
    drain = pool.add(8, -1, "drain", DRAINING)
    assert pool.place(1, 4, 0, True, (LIVE,), False) is None
    assert pool.place(1, 4, 0, True, (LIVE, DRAINING), False) == [drain]
    assert pool.place(1, 4, 0, True, (LIVE,), False) == [drain]
    assert pool.bins[drain].free == 0


def test_two_jobs_fit_on_one_released_node_and_nothing_is_launched():
    cfg = config({"r1": {"cores": 8}}, max_idle_time=600)
    live, held = wid(n=1), wid(n=2)
    nodes = [
        node(live, state=NodeState.BUSY, cores=8, used=7, jobs=("1",)),
        node(held, state=NodeState.HELD, cores=8, reason="dcluster: idle 600 s, max_idle_time 600 s"),
    ]
    v = view(
        cfg,
        nodes,
        {"r1": [inst(live, age=5000, cores=8), inst(held, age=5000, cores=8)]},
        jobs=[job(2, cores=4), job(3, cores=4)],
    )
    p = plan(v, cfg)
    assert p.launches() == {}
