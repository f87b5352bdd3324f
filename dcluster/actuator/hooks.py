"""The admin's hook commands (post_add_node_command and the like): argument lists, a timeout, logged."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..config import Command
from ..model import Worker
from .ports import ActuatorPorts

log = logging.getLogger(__name__)


class Hooks:
    def __init__(self, ports: ActuatorPorts):
        self.ports = ports

    def run(
        self, command: Command, worker: Worker | None, what: str, sync: bool = False, args: Sequence[str] | None = None
    ) -> None:
        """Run a hook without a shell, with a timeout, off the loop unless ``sync``; log its output."""
        if args is None:
            inst = worker.instance if worker else None
            args = (
                worker.name if worker else "",
                inst.ip if inst else "",
                inst.name if inst else "",
                worker.resource if worker else "",
            )
        timeout = self.ports.hook_timeout()

        def run() -> None:
            try:
                argv = command.render(*args, keep_empty=True)  # positions are the hook's interface
            except Exception as exc:  # noqa: BLE001 - a hook that cannot be rendered is skipped and logged
                log.warning("dcluster: %s not run: %s", what, exc)
                return
            rc, out = self.ports.hook(argv, timeout)
            level = logging.INFO if rc == 0 else logging.WARNING
            log.log(level, "dcluster: %s %s exited %s: %s", what, argv, rc, out.strip()[:2000])
            self.ports.fire(f"hook/{what}", {"argv": argv, "rc": rc, "output": out[-2000:]})

        if sync:
            run()
        else:  # on the hook pool: a hung hook never holds an action thread
            (self.ports.submit_hook or self.ports.submit)(run)
