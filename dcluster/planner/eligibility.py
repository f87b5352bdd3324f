"""Which resources may run a job, and in which order to try them (the "expander").

Matching keeps Dynamic Cluster's reservation rules (pillar.example, each resource's ``reservation:``): a resource
reserved for a queue or an account serves only jobs of that queue or account
(a job the scheduler may run in that queue: one that names it, a pattern or
list matching it, or, on Grid Engine, no queue at all);
a job that asks for node properties can only go where the reservation's
``properties`` satisfy its requirement, under its scheduler's rule
(:mod:`dcluster.constraint`: all of them for Torque and Grid Engine, the
``--constraint`` expression for Slurm); a job with no property may use a
property-reserved resource.  A constraint that cannot be read makes the job
unplaceable (:func:`unreadable`), never a match.
Order: resources whose reservation explicitly matches the job first, then
lower priority number, then fewer nodes, then name (so plans are repeatable).
"""

from __future__ import annotations

from typing import Any

from ..config import Cluster, Resource
from ..constraint import ConstraintError, Expr, all_of, evaluate, names, parse_slurm
from ..model import Job
from ..schedulers import adapter_class


def monitored(job: Job, queues: tuple[str, ...]) -> bool:
    """Whether some queue of ``queue_to_monitor`` (``queues``; none: every queue) may run ``job``: only such
    a job is demand (Job.may_run_in: a job that names no queue may run in any)."""
    return not queues or any(job.may_run_in(q) for q in queues)


def requirement(job: Job) -> Expr | None:
    """The job's property requirement (None: none).  Raises ConstraintError for an unreadable constraint."""
    if job.constraint:
        return parse_slurm(job.constraint)
    return all_of(job.properties) if job.properties else None


def unreadable(job: Job) -> str | None:
    """Why the job's constraint cannot be read, naming the job and the constraint; None when it can."""
    try:
        requirement(job)
    except ConstraintError as exc:
        return f"job {job.id}: cannot read its constraint {job.constraint!r:.200}: {exc}"
    return None


def offered(res: Resource, cluster: Cluster | None = None) -> frozenset[str]:
    """The properties every node of ``res`` carries: its reservation's, and those the scheduler's adapter
    gives every node it registers (Slurm: ``node_feature`` and the reserved queue's name)."""
    if cluster is None:
        return frozenset(res.reservation.properties)
    return adapter_class(cluster.type).offered(cluster.config, res.reservation)


def _satisfied(job: Job, res: Resource, cluster: Cluster | None = None) -> bool:
    try:
        return evaluate(requirement(job), offered(res, cluster))
    except ConstraintError:
        return False  # unreadable: placed nowhere (the planner reports it through unreadable())


def eligible(job: Job, res: Resource, cluster: Cluster | None = None) -> bool:
    r = res.reservation
    if r.account and r.account != job.account:
        return False
    if r.queue and not job.may_run_in(r.queue):
        return False
    return _satisfied(job, res, cluster)


def exact_match(job: Job, res: Resource, cluster: Cluster | None = None) -> bool:
    r = res.reservation
    return bool(
        (r.account and r.account == job.account)
        or (r.queue and job.queue and job.may_run_in(r.queue))
        or (r.properties and not _names(job).isdisjoint(r.properties) and _satisfied(job, res, cluster))
    )


def _names(job: Job) -> frozenset[str]:
    """The properties the job's requirement names (none when unreadable)."""
    try:
        return frozenset(names(requirement(job)))
    except ConstraintError:
        return frozenset()


def rank(job: Job, res: Resource, cluster: Cluster | None = None) -> tuple[bool, int]:
    """The part of the order an admin sets: an explicit reservation match first, then priority.  Among
    resources of equal rank the planner may choose the node size (``node_size_choice``)."""
    return (not exact_match(job, res, cluster), res.priority)


def order(job: Job, resources: list[Resource], sizes: dict[str, int], cluster: Cluster | None = None) -> list[Resource]:
    """Eligible resources for ``job``, best first (``cluster``: what its scheduler adds to every node)."""
    fit = [r for r in resources if eligible(job, r, cluster)]
    fit.sort(key=lambda r: (*rank(job, r, cluster), sizes.get(r.name, 0), r.name))
    return fit


def job_class(job: Job) -> tuple[Any, ...]:
    """Jobs with equal class have equal eligibility and order: plan() caches on it."""
    return (job.queue, job.account, job.properties, job.constraint)
