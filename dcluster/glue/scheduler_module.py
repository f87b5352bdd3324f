"""The one implementation behind the scheduler execution modules ``dcluster_<scheduler>``.

Each ``_modules/dcluster_<scheduler>.py`` only declares its Salt functions (name,
docstring, CLI example, the arguments its scheduler takes) and hands its dunders to a
:class:`SchedulerModule`: settings come from ``config.get dcluster:cluster`` (validated),
commands run through ``cmd.run_all`` with ``python_shell=False``, and a scheduler or
configuration error is raised as ``CommandExecutionError`` (see :mod:`.module_errors`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from ..config import ConfigError
from ..schedulers.errors import SchedulerError
from ..schedulers.validate import reservation_fields
from .module_errors import command_error
from .names import module_sync_hosts
from .salt_command import scheduler_adapter


class SchedulerModule:
    """The functions of the execution module ``dcluster_<kind>``."""

    def __init__(self, kind: str, log: logging.Logger) -> None:
        self.kind = kind
        self.name = f"dcluster_{kind}"
        self.log = log  # the Salt module's logger, so its records keep the module's name

    def call(self, salt: Mapping[str, Any], method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            adapter = scheduler_adapter(self.kind, salt["config.get"], salt["cmd.run_all"], **self._cache(salt))
            return getattr(adapter, method)(*args, **kwargs)
        except (SchedulerError, ConfigError) as exc:
            raise command_error(self.log, f"{self.name}.{method}", exc) from None

    def _cache(self, salt: Mapping[str, Any]) -> dict[str, str]:
        """Where an adapter that learns across polls keeps it: each call runs in a process of its own."""
        from ..schedulers import adapter_class

        if not adapter_class(self.kind).keeps_cache:
            return {}
        cachedir = salt["config.get"]("cachedir")
        return {"cache_dir": os.path.join(str(cachedir), "dcluster")} if cachedir else {}

    def jobs(self, salt: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [j.to_dict() for j in self.call(salt, "jobs")]

    def nodes(self, salt: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [n.to_dict() for n in self.call(salt, "nodes")]

    def add_node(
        self,
        salt: Mapping[str, Any],
        name: str,
        cores: int | str,
        mem_mb: int | str,
        reservation: Mapping[str, Any],
        **extra: Any,
    ) -> Any:
        """``reservation``: the resource's queue, account, property and properties; ``extra``: what
        only this scheduler's adapter takes (Slurm's ``address``)."""
        return self.call(salt, "add_node", name, int(cores), int(mem_mb), dict(reservation), **extra)

    def set_reservation(self, salt: Mapping[str, Any], name: str, **reservation: Any) -> Any:
        """The reservation read as add_node's is (``reservation_fields``): ``properties`` as a list or
        the CLI's comma-separated string, with the pillar's older singular ``property`` folded in."""
        queue, account, properties = reservation_fields(reservation)
        return self.call(salt, "set_reservation", name, queue=queue, account=account, properties=properties)

    def hold(self, salt: Mapping[str, Any], name: str, reason: str) -> bool:
        self.call(salt, "hold", name, reason)
        return True

    def release(self, salt: Mapping[str, Any], name: str, force: object) -> bool:
        self.call(salt, "release", name, force=bool(force))
        return True

    def remove(self, salt: Mapping[str, Any], name: str, **kwargs: Any) -> Any:
        return self.call(salt, "remove", name, **kwargs)

    def vacate(self, salt: Mapping[str, Any], name: str) -> Any:
        return self.call(salt, "vacate", name)

    def check(self, salt: Mapping[str, Any]) -> Any:
        return self.call(salt, "check")

    def sync_hosts(
        self,
        salt: Mapping[str, Any],
        context: MutableMapping[str, Any],
        entries: object,
        hosts_file: str,
        withdraw: object,
    ) -> dict[str, Any]:
        return module_sync_hosts(self.name, salt, context, hosts_file, entries, withdraw=bool(withdraw))
