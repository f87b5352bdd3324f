"""``node_size_choice: waste``: among resources of the same priority, which node size a new launch for
a job uses, the one that wastes least for the job's shape and wall time."""

from __future__ import annotations

from typing import Any

from ..config import Config, Resource
from ..model import Job
from . import eligibility
from .packing import Pool


def size_choice(
    config: Config,
    job: Job,
    cls: tuple[Any, ...],
    fits: list[Resource],
    pools: dict[str, Pool],
    tiers: tuple[int, ...],
    behind: int,
    rank_cache: dict[tuple[Any, ...], dict[str, tuple[bool, int]]],
) -> tuple[Resource, str, int] | None:
    """The resource whose new nodes waste least for ``job``, among the first priority group (in the
    expander's order) where one can take it; with the reason for the dry-run and the spare cores
    counted on to be filled by the ``behind`` cores of jobs queued behind it.

    Waste, in idle core-seconds: the new nodes' cores this job leaves free over its wall time (less
    those the jobs behind it would take: the plan packs them there before launching more), plus
    every new core's idle tail of max_idle_time (again less the cores the jobs behind take, whose
    own nodes would pay that tail).  At the same price per core a node's cost is its cores, so
    this is the cost above the job's own work.  Ties (a job of unknown wall time, no idle tail)
    go to fewer spare cores, then fewer new cores, then the smaller node, then the expander's order.
    Returns None when fewer than two resources of that group can take it (nothing to choose).
    """
    ranks = rank_cache.setdefault(cls, {})
    group: list[tuple[tuple[int, ...], Resource, int]] = []
    group_rank: tuple[bool, int] | None = None
    able = [(i, res) for i, res in enumerate(fits) if pools[res.name].might_fit(job.chunk_cores, tiers, True)]
    if len(able) < 2:
        return None  # (most often: the others are at their max)
    for i, res in able:
        pool = pools[res.name]
        rank = ranks.get(res.name)
        if rank is None:
            rank = ranks[res.name] = eligibility.rank(job, res, config.cluster)
        if group_rank is not None and rank != group_rank:
            break  # a lower priority: only when the best group cannot take it
        layout = pool.layout(job.chunks, job.chunk_cores, job.chunk_mem_mb, job.distinct, tiers, True)
        if layout is None:
            continue
        group_rank = rank
        new_cores = len(layout.new) * pool.cores
        spare = new_cores - sum(layout.new) * job.chunk_cores
        credit = min(spare, behind)
        idle = config.idle_limit(res.name)
        waste = (spare - credit) * job.walltime_s + (new_cores - credit) * idle
        group.append(((waste, spare - credit, new_cores, pool.cores, i, credit), res, len(layout.new)))
    if len(group) < 2:
        return None
    group.sort(key=lambda g: g[0])
    (waste, _, _, _, _, credit), best, n = group[0]
    others = ", ".join(f"{r.name} {k[0]:,.0f}" for k, r, _ in group[1:4]) + (" ..." if len(group) > 4 else "")
    wall = f"{job.walltime_s} s wall time" if job.walltime_s else "unknown wall time"
    why = (
        f"{best.name}: on {n} new node(s) of {pools[best.name].cores} cores this plan launches, the node "
        f"size that wastes least for {job.chunks}x{job.chunk_cores} cores, {wall}: {waste:,.0f} idle core-s "
        f"against {others} (node_size_choice waste)"
    )
    return best, why, credit
