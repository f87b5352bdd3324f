"""What a replay cost and what users felt: the figures ``dcluster-sim --json`` writes.

* ``node_hours``: instance hours paid, launch to destroy (boot time included),
  clipped to the replay's span (first submit to last job end).
* ``work_node_hours``: the sum over started jobs of processors / cores per node
  times run time: node-hours of pure work, a lower bound of ``node_hours``
  (with one core per node it is exactly each job's nodes times its run time).
* waits are start - submit of jobs that started; ``p95_wait_s`` is the nearest-rank
  95th percentile; ``mean_bounded_slowdown`` is the mean of
  ``max(1, (wait + run) / max(run, 10 s))`` over completed jobs (Feitelson's
  bounded slowdown, tau = 10 s).
* ``launches``: instances launched (not API calls: ``launch_requests``);
  ``peak_nodes``: most instances alive at once.
"""

from __future__ import annotations

import math
from typing import Any

from .replay import Result

TAU = 10.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[rank - 1])


def summarise(r: Result) -> dict[str, Any]:
    s = r.settings
    started = [j for j in r.jobs if j.start is not None]
    completed = [j for j in started if j.end is not None and j.end <= r.end]
    waits = [j.start - j.submit for j in started]
    slow = [max(1.0, (j.start - j.submit + j.runtime) / max(j.runtime, TAU)) for j in completed]
    work = sum(j.cores * j.runtime for j in started) / s.cores_per_node / 3600.0
    node_hours = r.node_seconds / 3600.0
    return {
        "policy": s.policy,
        "cores_per_node": s.cores_per_node,
        "max_nodes": s.max_nodes,
        "min_nodes": s.min_nodes,
        "boot_s": s.boot,
        "idle_s": s.idle if s.policy != "static" else None,
        "poll_s": s.poll,
        "respect_reservations": s.reservations if s.policy == "dcluster" else None,
        "jobs": len(r.jobs),
        "jobs_skipped": len(r.skipped),
        "jobs_completed": len(completed),
        "jobs_never_started": len(r.jobs) - len(started),
        "node_hours": round(node_hours, 3),
        "work_node_hours": round(work, 3),
        "utilisation": round(work / node_hours, 4) if node_hours else 0.0,
        "mean_wait_s": round(sum(waits) / len(waits), 1) if waits else 0.0,
        "p95_wait_s": percentile(waits, 95),
        "max_wait_s": max(waits) if waits else 0.0,
        "mean_bounded_slowdown": round(sum(slow) / len(slow), 3) if slow else 0.0,
        "launches": r.launches,
        "launch_requests": r.launch_requests,
        "launch_failures": len(r.launch_failures),
        "peak_nodes": r.peak_nodes,
        "span_s": r.end - r.start,
        "ticks": r.ticks,
        "plan_s": round(r.plan_s, 3),
        "replay_s": round(r.wall_s, 3),
        "actions": dict(sorted(r.action_counts.items())),
        "action_errors": r.action_errors[:20],
    }

