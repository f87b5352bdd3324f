"""The engine's events on the master's bus, and the hooks that follow a worker's changes.

Events are best effort: one that cannot be fired is logged and the loop goes on.  Their data is
scrubbed first (:mod:`dcluster.scrub`): no secret reaches the bus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import scrub
from ..config import Config
from ..model import InstanceState, Worker
from ..reconcile import View

log = logging.getLogger(__name__)

Fire = Callable[[str, dict[str, Any]], None]
Hook = Callable[[Any, Worker, str], None]  # (command, worker, what): the actuator runs it off the loop


def fire(bus: Callable[[str, dict[str, Any]], None], tag: str, data: dict[str, Any]) -> None:
    """``data`` scrubbed, under ``dcluster/<tag>``."""
    try:
        bus(f"dcluster/{tag}", scrub.data(data))
    except Exception:  # events are best effort; the loop goes on
        log.exception("dcluster: could not fire event %s", tag)


def worker_changes(before: View | None, after: View, config: Config | None, fire: Fire, hook: Hook) -> None:
    """An event per worker whose state changed (``worker/<state>``) or that is gone (``worker/gone``);
    ``post_vm_provision_command`` for each whose instance has just begun running."""
    old = {w.name: w for w in before.workers} if before else {}
    for w in after.workers:
        prev = old.get(w.name)
        if prev is None or prev.state != w.state:
            fire(
                f"worker/{w.state.value}",
                {
                    "name": w.name,
                    "resource": w.resource,
                    "from": prev.state.value if prev else None,
                    "to": w.state.value,
                    "reason": w.reason,
                },
            )
        if (
            config
            and config.post_vm_provision_command
            and w.instance is not None
            and w.instance.state == InstanceState.RUNNING
            and prev is not None
            and prev.instance is not None
            and prev.instance.state != InstanceState.RUNNING
        ):
            hook(config.post_vm_provision_command, w, "post_vm_provision_command")
    for name in set(old) - {w.name for w in after.workers}:
        fire("worker/gone", {"name": name, "resource": old[name].resource, "from": old[name].state.value})
