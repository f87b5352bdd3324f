"""What a replay cost and what users felt: the figures ``dcluster-sim --json`` writes.

* ``node_hours``: instance hours paid, launch to destroy (boot time included),
  clipped to the replay's span (first submit to last job end).
* ``work_node_hours``: the sum over started jobs of processors / cores per node
  times run time: node-hours of pure work, a lower bound of ``node_hours``
  (with one core per node it is exactly each job's nodes times its run time).
* ``oracle_node_hours``: what a scaler with perfect foresight would pay for the run's
  own schedule (same starts, same nodes): each node up exactly while a job of the
  final schedule runs on it, no boot, no idle (the union of its jobs' run times),
  clipped to the span.  The schedule's work bound at node granularity: with one
  core per node it equals ``work_node_hours``; with more it counts a node shared or
  half used as a whole node.  A run of a job requeued off a node is not counted.
  ``over_oracle`` is ``node_hours / oracle_node_hours``.
* ``oracle_boot_node_hours``: the same with the boots paid: the least a scaler with perfect
  foresight pays for the run's schedule when every node it starts boots for ``boot_s`` first (any
  node may stand in for any other; a gap shorter than a boot is kept idle, a longer one booted again).
  No policy delivering this schedule can pay less.
* waits are start - submit of jobs that started; ``p50_wait_s`` and ``p95_wait_s``
  are nearest-rank percentiles; ``mean_bounded_slowdown`` is the mean of
  ``max(1, (wait + run) / max(run, 10 s))`` over completed jobs (Feitelson's
  bounded slowdown, tau = 10 s).
* wide jobs use at least a quarter of the machine's cores (``wide_min_cores``,
  from ``machine_cores``: the trace machine's processors when known, else the
  replay's ``max_nodes`` x ``cores_per_node``); ``wide_mean_wait_s`` and
  ``wide_max_wait_s`` are over those that started, which a mean over all jobs hides.
* ``core_hours``: instance hours weighted by each instance's cores; with resources of
  several node sizes at the same price per core, the cost.  ``work_core_hours`` is the
  jobs' processors times run time, and ``core_over_work`` the ratio of the two.
* ``launches``: instances launched (not API calls: ``launch_requests``);
  ``peak_nodes``: most instances alive at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, cast

from .replay import Result
from .scheduler import SimJob

TAU = 10.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[rank - 1])


def _busy(jobs: Iterable[SimJob], start: float, end: float) -> list[tuple[float, float]]:
    """Each node's stretches busy with a job of the schedule (the union of its jobs' run intervals),
    clipped to ``[start, end]``, all nodes' together."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for j in jobs:
        if j.start is None or j.end is None:
            continue
        lo, hi = max(j.start, start), min(j.end, end)
        if hi > lo:
            for name in j.alloc:
                spans.setdefault(name, []).append((lo, hi))
    out: list[tuple[float, float]] = []
    for intervals in spans.values():
        intervals.sort()
        cur_lo, cur_hi = intervals[0]
        for lo, hi in intervals[1:]:
            if lo > cur_hi:
                out.append((cur_lo, cur_hi))
                cur_lo, cur_hi = lo, hi
            elif hi > cur_hi:
                cur_hi = hi
        out.append((cur_lo, cur_hi))
    return out


def oracle_node_seconds(jobs: Iterable[SimJob], start: float, end: float) -> float:
    """Node-seconds of each node's union of its jobs' run intervals, clipped to ``[start, end]``."""
    return sum(hi - lo for lo, hi in _busy(jobs, start, end))


def boot_oracle_node_seconds(jobs: Iterable[SimJob], start: float, end: float, boot: float) -> float:
    """The least node-seconds a scaler with perfect foresight pays for the schedule when each node it
    starts first boots for ``boot`` s: it has as many nodes up as the schedule has busy at each moment
    (the oracle's), any node standing in for any other.  Stacked by that count, each level's busy
    stretches cost their length, its first a boot, and each gap before the next the shorter of the gap
    (the node kept idle) and a boot (released, booted again).  Levels stacked last in, first out pair
    each node freed with the one wanted next, the best pairing for a cost concave in the gap."""
    busy = _busy(jobs, start, end)
    return sum(hi - lo for lo, hi in busy) + _boots(busy, boot)


def _boots(busy: list[tuple[float, float]], boot: float) -> float:
    """What boot_oracle_node_seconds pays over the busy stretches ``busy``: boots and gaps kept."""
    steps: dict[float, int] = {}
    for lo, hi in busy:
        steps[lo] = steps.get(lo, 0) + 1
        steps[hi] = steps.get(hi, 0) - 1
    total, up = 0.0, 0
    freed: dict[int, float] = {}  # level -> when its node went idle
    for t in sorted(steps):
        delta = steps[t]
        for level in range(up + 1, up + delta + 1):  # more nodes busy: kept or booted
            since = freed.pop(level, None)
            total += boot if since is None else min(t - since, boot)
        for level in range(up + delta + 1, up + 1):  # fewer: the top ones go idle
            freed[level] = t
        up += delta
    return total


def summarise(r: Result, machine_cores: int | None = None) -> dict[str, Any]:
    s = r.settings
    started = [j for j in r.jobs if j.start is not None]
    completed = [j for j in started if j.end is not None and j.end <= r.end]
    waits = [cast(float, j.start) - j.submit for j in started]
    machine = machine_cores or s.max_nodes * s.cores_per_node
    wide_min = max(1, math.ceil(machine / 4))
    wide = [j for j in r.jobs if j.cores >= wide_min]
    wide_waits = [j.start - j.submit for j in wide if j.start is not None]
    busy = _busy(started, r.start, r.end)  # once: the oracle and the oracle with boots both read it
    oracle = sum(hi - lo for lo, hi in busy) / 3600.0
    boot_oracle = oracle + _boots(busy, s.boot) / 3600.0
    slow = [max(1.0, (cast(float, j.start) - j.submit + j.runtime) / max(j.runtime, TAU)) for j in completed]
    work = sum(j.cores * j.runtime for j in started) / s.cores_per_node / 3600.0
    node_hours = r.node_seconds / 3600.0
    return {
        "policy": s.policy,
        "cores_per_node": s.cores_per_node,
        "max_nodes": s.max_nodes,
        "min_nodes": s.min_nodes,
        "boot_s": s.boot,
        "boot_p95_s": s.boot_p95 or None,
        "scheduler": s.scheduler,
        "slurm": ({k: getattr(s.slurm, k) for k in s.slurm.__dataclass_fields__} if s.scheduler == "slurm" else None),
        "launch_failure_rate": s.faults.rate,
        "capacity_refusal_rate": s.faults.capacity_rate,
        "idle_s": s.idle if s.policy != "static" else None,
        "poll_s": s.poll,
        "respect_reservations": s.reservations if s.policy == "dcluster" else None,
        "protect_wide_jobs": s.wide_protection if s.policy == "dcluster" else None,
        "wide_job_idle": s.wide_idle if s.policy == "dcluster" and s.wide_protection else None,
        "node_size_choice": s.size_choice if s.policy == "dcluster" and s.extra_resources else None,
        "idle_policy": s.idle_policy if s.policy == "dcluster" else None,
        "idle_keep_boots": s.keep_boots if s.policy == "dcluster" and s.idle_policy == "adaptive" else None,
        "node_sizes": [s.cores_per_node] + [int(e.get("cores", s.cores_per_node)) for e in s.extra_resources.values()],
        "jobs": len(r.jobs),
        "jobs_skipped": len(r.skipped),
        "jobs_completed": len(completed),
        "jobs_never_started": len(r.jobs) - len(started),
        "node_hours": round(node_hours, 3),
        "work_node_hours": round(work, 3),
        "utilisation": round(work / node_hours, 4) if node_hours else 0.0,
        "oracle_node_hours": round(oracle, 3),
        "oracle_boot_node_hours": round(boot_oracle, 3),
        "core_hours": round(r.core_seconds / 3600.0, 3),
        "work_core_hours": round(work * s.cores_per_node, 3),
        "core_over_work": round(r.core_seconds / 3600.0 / (work * s.cores_per_node), 4) if work else 0.0,
        "over_oracle": round(node_hours / oracle, 4) if oracle else 0.0,
        "mean_wait_s": round(sum(waits) / len(waits), 1) if waits else 0.0,
        "p50_wait_s": percentile(waits, 50),
        "p95_wait_s": percentile(waits, 95),
        "max_wait_s": max(waits) if waits else 0.0,
        "machine_cores": machine,
        "wide_min_cores": wide_min,
        "wide_jobs": len(wide),
        "wide_mean_wait_s": round(sum(wide_waits) / len(wide_waits), 1) if wide_waits else 0.0,
        "wide_max_wait_s": max(wide_waits) if wide_waits else 0.0,
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
