"""Per-resource launch backoff, kept apart from the policy (as in the k8s cluster-autoscaler).

Transient errors back off exponentially (capped).  Quota and capacity errors
mean "this cloud/zone is full": the resource rests for ``capacity_pause`` and
the planner falls back to the next eligible resource at once.  Configuration
and authentication errors will not heal by retrying, so they rest for the
maximum and the status shows the cloud's message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any

from ..config import Backoff, Resource, Secret
from ..config.secret import REDACTED
from ..model import Worker, WorkerState
from ..reconcile import BackoffState, BootstrapState, View

RETRYABLE = {"transient"}
FULL = {"quota", "capacity"}


def failure(
    state: BackoffState | None, kind: str, message: str, now: float, settings: Backoff, retry_after: float = 0.0
) -> BackoffState:
    """``retry_after``: what the cloud asked us to wait (a rate limit's Retry-After); the pause is at least
    that, up to ``settings.max`` (a hostile or absurd header must not stop a resource for days)."""
    failures = (state.failures if state else 0) + 1
    pause: float
    if kind in FULL:
        pause = settings.capacity_pause
    elif kind in RETRYABLE:
        pause = min(settings.max, settings.initial * settings.factor ** (failures - 1))
    else:  # config, auth, unknown: retrying will not help soon
        pause = settings.max
    pause = max(pause, min(float(retry_after or 0), settings.max))
    return BackoffState(failures=failures, until=now + pause, kind=kind, last_error=message[:500])


def success(state: BackoffState | None) -> BackoffState | None:
    """A launch that worked clears the backoff."""
    return None


# ---------------------------------------------------------------- the bootstrap breaker
# Launch errors are answers; an instance that boots and never joins is silence, which the
# backoff above never hears.  A bad image or user-data would be relaunched every
# max_launch_time for ever, so a resource whose instances stop joining is protected (as
# ParallelCluster's protected mode, per resource): after ``bootstrap_failures`` of them in a
# row it launches nothing more until a worker launched since joins, its pillar changes
# (a fixed image or user-data), or an operator runs ``salt-run dcluster.restore <resource>``.
# Once one has failed, it probes: what is starting and unproven plus what has failed never
# exceeds that number, so a bad image costs at most ``bootstrap_failures`` instances after
# its first batch.

KEPT_IDS = 20  # minion ids of the latest failures kept (status, and counting each one once)


def fingerprint(res: Resource) -> str:
    """The pillar of ``res`` that decides how its instances boot (type, image, user-data, ...)."""
    text = json.dumps({"type": res.type, "config": res.config}, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Secret):  # a hash of a credential must not reach state.json
        return REDACTED
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


def never_joined(
    state: BootstrapState | None, minion_id: str, launched_at: float, reason: str, print_: str
) -> BootstrapState:
    """One more instance of a resource destroyed without ever joining (counted once per id)."""
    if state is not None and state.fingerprint != print_:
        state = None  # launched under another pillar: the run starts again
    if state is not None and minion_id in state.last:
        return state
    return BootstrapState(
        failures=(state.failures if state else 0) + 1,
        since=min(state.since, launched_at) if state else launched_at,
        last=((state.last if state else ()) + (minion_id,))[-KEPT_IDS:],
        reason=reason[:500],
        fingerprint=print_,
    )


def joined(worker: Worker, configured: Collection[str]) -> bool:
    """Configured by Salt, or registered in the scheduler: the image and user-data work."""
    return worker.node is not None or worker.name in configured


def bootstrap_state(view: View, res: Resource) -> tuple[BootstrapState | None, str]:
    """The resource's breaker if it still holds, else None with why it ended ("" if there was none)."""
    state = view.bootstrap.get(res.name)
    if state is None:
        return None, ""
    if state.fingerprint != fingerprint(res):
        return None, "its pillar changed"
    for w in view.workers:
        if (
            w.resource == res.name
            and w.instance is not None
            and w.instance.launch_time >= state.since
            and joined(w, view.configured)
        ):
            return None, f"{w.name} joined"
    return state, ""


def launch_room(view: View, res: Resource, limit: int, pending: Collection[str] = ()) -> tuple[int | None, str]:
    """How many instances of ``res`` may be launched now: None for no limit, 0 with why when protected.

    ``pending`` are minion ids this plan destroys because they never joined (counted as failed now).
    """
    if limit <= 0:
        return None, ""
    state, _ = bootstrap_state(view, res)
    counted = set(state.last) if state else set()
    failures = (state.failures if state else 0) + sum(1 for mid in pending if mid not in counted)
    if failures == 0:
        return None, ""
    if failures >= limit:
        reason = state.reason if state else "never joined"
        return 0, (
            f"protected: {failures} launch(es) in a row never joined (last: {reason}); fix its image or "
            f"user-data in the pillar, or salt-run dcluster.restore {res.name}"
        )
    unproven = view.in_flight.get(res.name, 0) + sum(
        1
        for w in view.workers
        if w.resource == res.name
        and w.state == WorkerState.STARTING
        and w.name not in pending
        and not joined(w, view.configured)
    )
    room = max(0, limit - failures - unproven)
    return room, (
        f"{failures} launch(es) in a row never joined: at most {limit - failures} unproven at a time until one joins"
    )
