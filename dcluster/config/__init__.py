"""The ``dcluster:`` pillar: schema, validation and typed configuration.

>>> from dcluster.config import load
>>> cfg = load({"secret": "0123456789abcdef", "cluster": {"type": "slurm"}})
>>> cfg.cluster.type, cfg.max_idle_time
('slurm', 600)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from . import clouds, keys, schedulers
from .command import Command, CommandError
from .model import Backoff, Cluster, Config, ConfirmAbsence, Reservation, Resource
from .schedulers import SchedulerConfig, SgeConfig, SlurmConfig, TorqueConfig
from .schema import ConfigError, check
from .secret import Secret

__all__ = [
    "Backoff",
    "Cluster",
    "Command",
    "CommandError",
    "Config",
    "ConfigError",
    "Reservation",
    "Resource",
    "SchedulerConfig",
    "Secret",
    "SgeConfig",
    "SlurmConfig",
    "TorqueConfig",
    "errors",
    "load",
    "PILLAR_KEY",
]

PILLAR_KEY = "dcluster"


def load(data: Any, root: str = PILLAR_KEY) -> Config:
    """Validate the ``dcluster`` pillar and build a :class:`Config`.

    Raises :class:`ConfigError` listing every problem, each with its full key
    path (``dcluster:cloud:nectar:quantity:max: 0 is below min 2``).
    """
    value = check(data, keys.ROOT, (root,))
    return _build(value)


def errors(data: Any, root: str = PILLAR_KEY) -> list[str]:
    """Every problem of a pillar, or an empty list."""
    try:
        load(data, root)
    except ConfigError as exc:
        return exc.errors
    return []


def _build(v: Mapping[str, Any]) -> Config:
    checker = v["config-checker"]
    if checker.get("plugin") and not checker.get("salt") and not checker.get("port"):
        # Dynamic Cluster's SaltChecker plugin (plugin: dynamiccluster.salt.SaltChecker) is our salt checker.
        checker = MappingProxyType({"salt": MappingProxyType({"timeout": 900})})
    elif not checker.get("port"):
        checker = MappingProxyType({"salt": checker.get("salt") or MappingProxyType({"timeout": 900})})
    else:
        checker = MappingProxyType({"port": checker["port"]})
    resources = {name: _resource(name, r) for name, r in v["cloud"].items()}
    # Retired: listed, drained and destroyed, never launched (their limits are 0 whatever the pillar says).
    retired = {
        name: dataclasses.replace(_resource(name, r), min=0, max=0) for name, r in v["retired_resources"].items()
    }
    cl = v["cluster"]
    return Config(
        secret=v["secret"],
        previous_secrets=tuple(s for s in v["previous_secrets"] if s != v["secret"]),
        cluster=Cluster(
            type=cl["type"], head_minion=cl["head_minion"], config=schedulers.build(cl["type"], cl["config"])
        ),
        cluster_name=v["cluster_name"],
        max_idle_time=v["max_idle_time"],
        max_down_time=v["max_down_time"],
        max_launch_time=v["max_launch_time"],
        bootstrap_failures=v["bootstrap_failures"],
        cluster_poller_interval=v["cluster_poller_interval"],
        cloud_poller_interval=v["cloud_poller_interval"],
        auto_provision_interval=v["auto_provision_interval"],
        scale_up_delay=v["scale_up_delay"],
        respect_reservations=v["respect_reservations"],
        node_size_choice=v["node_size_choice"],
        idle_policy=v["idle_policy"],
        idle_keep_boots=v["idle_keep_boots"],
        protect_wide_jobs=v["protect_wide_jobs"],
        wide_job_idle=v["wide_job_idle"],
        preboot_begin_jobs=v["preboot_begin_jobs"],
        preboot_lead=v["preboot_lead"],
        worker_number=v["worker_number"],
        auto_mode=v["auto_mode"],
        hook_timeout=v["hook_timeout"],
        post_vm_provision_command=v["post_vm_provision_command"],
        post_vm_destroy_command=v["post_vm_destroy_command"],
        config_checker=checker,
        backoff=Backoff(**dict(v["backoff"])),
        confirm_absence=ConfirmAbsence(**dict(v["confirm_absence"])),
        resources=MappingProxyType(resources),
        retired=MappingProxyType(retired),
        plugins=v["plugins"],
        logging=v["logging"],
        name_resolution=v["name_resolution"],
    )


def _resource(name: str, r: Mapping[str, Any]) -> Resource:
    return Resource(
        name=name,
        type=r["type"],
        min=r["quantity"]["min"],
        max=r["quantity"]["max"],
        priority=r["priority"],
        reservation=Reservation(**dict(r["reservation"])),
        max_idle_time=r["max_idle_time"],
        cores=r["cores"],
        mem_mb=r["mem_mb"],
        launch_batch=r["launch_batch"],
        config=clouds.build(r["type"], r["config"]),
    )
