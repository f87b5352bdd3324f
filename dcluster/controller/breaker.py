"""The bootstrap breaker on the controller's side: count, end, persist and announce it.

The planner decides (:mod:`dcluster.planner.backoff`): it flags each destroy of
an instance that never joined and stops launching a resource once
``bootstrap_failures`` of them came in a row.  Here the actuator counts a
flagged destroy once it is done, each cycle ends a breaker that a join or a
pillar change disproves, and ``salt-run dcluster.restore <resource>`` lifts it.
The count lives in ``ControllerState.bootstrap``, which the state file keeps
across master restarts.  Events: ``dcluster/resource/protected`` when a
resource stops, ``dcluster/resource/unprotected`` when it may launch again.
"""

from __future__ import annotations

import dataclasses
import logging
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..config import Config
from ..model import Worker
from ..planner import Action
from ..planner import backoff as bo
from ..reconcile import BootstrapState, View

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)


def never_joined(c: Controller, cfg: Config, action: Action, worker: Worker | None) -> None:
    """A flagged destroy is done: one more instance of its resource that never joined."""
    res = cfg.resources.get(action.resource)
    if res is None:
        return
    # launch times in the view are anchored to the monotonic clock (controller/timeline.py): so is ``since``
    launched = worker.instance.launch_time if worker is not None and worker.instance is not None else c.monotonic()
    limit = cfg.bootstrap_failures
    with c.state.lock:
        before = c.state.bootstrap.get(action.resource)
        after = bo.never_joined(before, action.target, launched, action.reason, bo.fingerprint(res))
        c.state.bootstrap[action.resource] = after
    was = before is not None and before.fingerprint == after.fingerprint and before.protected(limit)
    if after.protected(limit) and not was:
        why = (
            f"{after.failures} instance(s) in a row never joined (bootstrap_failures {limit}), last "
            f"{action.target}: {action.reason}"
        )
        log.warning("dcluster: resource %s protected, no more launches: %s", action.resource, why)
        c.state.error(c.clock(), f"bootstrap:{action.resource}", why)
        c.fire(
            "resource/protected",
            {
                "resource": action.resource,
                "failures": after.failures,
                "limit": limit,
                "minion_ids": list(after.last),
                "reason": why[:1000],
                "resume": f"fix its image or user-data in the pillar, or salt-run dcluster.restore {action.resource}",
            },
        )
    c.save()  # a restart right after must not forget it


def refresh(c: Controller, cfg: Config, view: View) -> View:
    """End each breaker a worker that joined, a pillar change or a removed resource disproves.

    Returns ``view`` with only the breakers that still hold.
    """
    if not view.bootstrap:
        return view
    held = {}
    for name, state in view.bootstrap.items():
        res = cfg.resources.get(name)
        now_state, why = bo.bootstrap_state(view, res) if res is not None else (None, "the resource is gone")
        if now_state is not None:
            held[name] = now_state
        else:
            _end(c, name, state, why, cfg.bootstrap_failures)
    if len(held) == len(view.bootstrap):
        return view
    return dataclasses.replace(view, bootstrap=MappingProxyType(held))


def reset(c: Controller, resource: str, why: str) -> bool:
    """Lift the breaker of ``resource`` (an operator's ``restore``); whether there was one."""
    with c.state.lock:
        state = c.state.bootstrap.get(resource)
    if state is None:
        return False
    limit = c.config.bootstrap_failures if c.config is not None else 0
    _end(c, resource, state, why, limit)
    return True


def _end(c: Controller, resource: str, state: BootstrapState, why: str, limit: int) -> None:
    with c.state.lock:
        if c.state.bootstrap.get(resource) is state:  # not counted again meanwhile
            del c.state.bootstrap[resource]
    if state.protected(limit):
        log.warning("dcluster: resource %s may launch again: %s", resource, why)
        c.fire("resource/unprotected", {"resource": resource, "reason": why[:1000]})
