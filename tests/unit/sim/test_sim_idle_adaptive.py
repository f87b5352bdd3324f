"""The adaptive idle policy in a replay (``idle_policy: adaptive``, ``--idle-policy``): the replay gives the
planner a cycle when a job starts or ends even with nothing pending, as the engine's next poll would, so
the policy learns every start and can release a node the moment it idles."""

from __future__ import annotations

from dcluster.sim import metrics
from dcluster.sim.replay import Settings, jobs_from_swf, replay
from dcluster.sim.swf import parse_line

# Six one-node jobs of 10 s, 3000 s apart: demand far rarer than a boot (120 s) x idle_keep_boots.
SPARSE = "".join(f"{k} {3000 * (k - 1)} -1 10 1 -1 -1 1 10 -1 1 1 1 -1 -1 -1 -1 -1\n" for k in range(1, 7))


def node_seconds(policy):
    records = [r for r in (parse_line(line, "t.swf", i) for i, line in enumerate(SPARSE.splitlines(), 1)) if r]
    jobs, skipped = jobs_from_swf(records)
    result = replay(jobs, Settings(max_nodes=2, boot=120, idle=600, idle_policy=policy), skipped)
    out = metrics.summarise(result)
    assert out["jobs_completed"] == 6 and out["idle_policy"] == policy
    return out["node_hours"] * 3600, {j.id: j.start - j.submit for j in result.jobs}


def test_once_demand_is_learned_a_node_is_released_when_it_idles():
    fixed, fixed_waits = node_seconds("fixed")
    adaptive, adaptive_waits = node_seconds("adaptive")
    # fixed: each job's node boots 120 s, runs 10 s and idles 600 s (the last one's tail is not counted)
    assert fixed == 5 * 730 + 130
    # adaptive: from the 4th start on (MIN_TAKES starts and a boot seen), the node goes at the first
    # cycle after its job ends (10 s cadence) instead of 600 s later: jobs 4 and 5 save about 590 s each
    assert fixed - 2 * 600 <= adaptive <= fixed - 2 * 580
    # every job waited a boot either way: no idle node was ever there to take the next one
    assert fixed_waits == adaptive_waits
