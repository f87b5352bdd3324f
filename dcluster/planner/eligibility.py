"""Which resources may run a job, and in which order to try them (the "expander").

Matching follows the original's rules (seed doc, "Cloud variables"): a resource
reserved for a queue or an account serves only jobs of that queue or account
(a job the scheduler may run in that queue: one that names it, a pattern or
list matching it, or, on Grid Engine, no queue at all);
a job that asks for node properties can only go where the reservation
provides them; a job with no property may use a property-reserved resource.
Order: resources whose reservation explicitly matches the job first, then
lower priority number, then fewer nodes, then name (so plans are repeatable).
"""

from __future__ import annotations

from ..config import Resource
from ..model import Job


def eligible(job: Job, res: Resource) -> bool:
    r = res.reservation
    if r.account and r.account != job.account:
        return False
    if r.queue and not job.may_run_in(r.queue):
        return False
    if job.properties:
        offered = {r.property} if r.property else set()
        if not set(job.properties) <= offered:
            return False
    return True


def exact_match(job: Job, res: Resource) -> bool:
    r = res.reservation
    return bool(
        (r.account and r.account == job.account)
        or (r.queue and job.queue and job.may_run_in(r.queue))
        or (r.property and r.property in job.properties)
    )


def order(job: Job, resources: list[Resource], sizes: dict[str, int]) -> list[Resource]:
    """Eligible resources for ``job``, best first."""
    fit = [r for r in resources if eligible(job, r)]
    fit.sort(key=lambda r: (not exact_match(job, r), r.priority, sizes.get(r.name, 0), r.name))
    return fit


def job_class(job: Job) -> tuple:
    """Jobs with equal class have equal eligibility and order: plan() caches on it."""
    return (job.queue, job.account, job.properties)
