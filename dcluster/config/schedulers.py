"""Typed, immutable settings of each scheduler type (``dcluster:cluster:config``).

One frozen dataclass per ``cluster:type``.  The defaults and the docs live in
the schema only (:mod:`dcluster.config.keys`, which also checks
``pillar.example``): these classes have none, so a value is always the
validated pillar's or the schema's default, never a third one written at a
call site.  :func:`build` makes one from the validated section; a raw mapping
goes through :func:`from_pillar`, which validates it first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from . import keys
from .command import Command
from .schema import check


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """What every scheduler type takes (keys.COMMON_CLUSTER)."""

    queue_to_monitor: tuple[str, ...]
    queued_job_number_to_display: int
    post_add_node_command: Command | None
    post_remove_node_command: Command | None
    command_timeout: int
    command_env: Mapping[str, str | int]

    def environment(self) -> dict[str, str] | None:
        """``command_env`` as the environment a command runs with; None when empty."""
        return {k: str(v) for k, v in self.command_env.items()} or None


@dataclass(frozen=True, slots=True)
class TorqueConfig(SchedulerConfig):
    qstat_command: Command
    pbsnodes_command: Command
    add_node_command: Command
    check_node_command: Command
    remove_node_command: Command
    set_node_command: Command
    diagnose_p_command: Command
    showres_command: Command
    setres_command: Command
    releaseres_command: Command
    delete_job_command: Command
    signal_job_command: Command


@dataclass(frozen=True, slots=True)
class SgeConfig(SchedulerConfig):
    qstat_command: Command
    qstat_j_command: Command
    qhost_command: Command
    hostgroup_command: Command
    qmod_command: Command
    remove_node_command: Command
    set_slots_command: Command
    unset_slots_command: Command
    qconf_spl_command: Command
    qconf_sp_command: Command
    qdel_command: Command
    add_exechost_command: Command
    kill_execd_command: Command
    qconf_command: Command
    default_hostgroup: str
    default_queue: str


@dataclass(frozen=True, slots=True)
class SlurmConfig(SchedulerConfig):
    squeue_command: Command
    sinfo_command: Command
    scontrol_command: Command
    partition: str
    node_feature: str


CONFIG_TYPES: Mapping[str, type[SchedulerConfig]] = MappingProxyType(
    {"torque": TorqueConfig, "sge": SgeConfig, "slurm": SlurmConfig}
)


def build(kind: str, value: Mapping[str, Any]) -> SchedulerConfig:
    """The typed settings of scheduler ``kind`` from its section as the schema returned it."""
    cls = CONFIG_TYPES[kind]
    return cls(**{f.name: value[f.name] for f in fields(cls)})


def from_pillar(
    kind: str, data: Mapping[str, Any] | None, path: tuple[str, ...] = ("dcluster", "cluster", "config")
) -> SchedulerConfig:
    """Validate a raw ``cluster:config`` mapping of scheduler ``kind`` (defaults filled in) and build it.

    Raises :class:`dcluster.config.ConfigError` naming each bad key by its path.
    """
    if kind not in CONFIG_TYPES:
        raise ValueError(f"unknown scheduler type {kind!r} ({', '.join(CONFIG_TYPES)})")
    value = check(data or {}, keys.CLUSTER_CONFIGS[kind], path)
    return build(kind, value)
