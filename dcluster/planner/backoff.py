"""Per-resource launch backoff, kept apart from the policy (as in the k8s cluster-autoscaler).

Transient errors back off exponentially (capped).  Quota and capacity errors
mean "this cloud/zone is full": the resource rests for ``capacity_pause`` and
the planner falls back to the next eligible resource at once.  Configuration
and authentication errors will not heal by retrying, so they rest for the
maximum and the status shows the cloud's message.
"""

from __future__ import annotations

from ..config import Backoff
from ..reconcile import BackoffState

RETRYABLE = {"transient"}
FULL = {"quota", "capacity"}


def failure(state: BackoffState | None, kind: str, message: str, now: float, settings: Backoff) -> BackoffState:
    failures = (state.failures if state else 0) + 1
    if kind in FULL:
        pause = settings.capacity_pause
    elif kind in RETRYABLE:
        pause = min(settings.max, settings.initial * settings.factor ** (failures - 1))
    else:  # config, auth, unknown: retrying will not help soon
        pause = settings.max
    return BackoffState(failures=failures, until=now + pause, kind=kind, last_error=message[:500])


def success(state: BackoffState | None) -> BackoffState | None:
    """A launch that worked clears the backoff."""
    return None
