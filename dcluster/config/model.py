"""Typed, immutable configuration objects built from the validated pillar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ..scrub import is_credential_key, mask_url_password
from .clouds import CloudConfig
from .command import Command
from .schedulers import SchedulerConfig
from .secret import REDACTED, Secret


@dataclass(frozen=True, slots=True)
class Reservation:
    queue: str | None = None
    account: str | None = None
    properties: tuple[str, ...] = ()  # every node gets all of them (the pillar's singular property: one)


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    type: str
    min: int = 0
    max: int = 1
    priority: int = 1
    reservation: Reservation = Reservation()
    max_idle_time: int | None = None  # None: the global one
    cores: int | None = None  # None: ask the cloud
    mem_mb: int | None = None
    launch_batch: int = 50
    config: CloudConfig = field(default_factory=CloudConfig)  # typed per cloud type (config/clouds.py)


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: int = 60
    factor: float = 2.0
    max: int = 1800
    capacity_pause: int = 600


@dataclass(frozen=True, slots=True)
class ConfirmAbsence:
    polls: int = 3
    seconds: int = 60


@dataclass(frozen=True, slots=True)
class Cluster:
    type: str
    config: SchedulerConfig  # the type's own settings (dcluster.config.schedulers)
    head_minion: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    secret: Secret
    cluster: Cluster
    previous_secrets: tuple[Secret, ...] = ()  # ids signed under these are still ours; new ones use `secret`
    cluster_name: str = "dc"
    max_idle_time: int = 600
    max_down_time: int = 480
    max_launch_time: int = 1200
    bootstrap_failures: int = 3  # the bootstrap breaker (dcluster.planner.backoff); 0: off
    cluster_poller_interval: int = 10
    cloud_poller_interval: int = 20
    auto_provision_interval: int = 60
    scale_up_delay: int = 0
    respect_reservations: bool = True
    node_size_choice: str = "waste"  # or "priority" (planner/policy.py: which same-priority resource launches)
    idle_policy: str = "adaptive"  # or "fixed" (planner/idle.py: when an unwanted idle worker is released)
    idle_keep_boots: float = 2.0  # adaptive: keep idle workers demand would take within this many boot times
    protect_wide_jobs: bool = True  # planner/policy.py: a blocked head job's booted nodes join the scheduler together
    wide_job_idle: str = "keep"  # protect_wide_jobs: release or keep the idle nodes of a wide job whose start is far
    preboot_begin_jobs: bool = True  # planner/policy.py: launch for a held job whose begin time is within the lead
    preboot_lead: int = 0  # ... that lead, s; 0: the slowest recent boot + a poll (300 s before any boot is seen)
    worker_number: int = 2
    auto_mode: bool = True
    hook_timeout: int = 120
    post_vm_provision_command: Command | None = None
    post_vm_destroy_command: Command | None = None
    config_checker: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({"salt": {"timeout": 900}}))
    backoff: Backoff = Backoff()
    confirm_absence: ConfirmAbsence = ConfirmAbsence()
    resources: Mapping[str, Resource] = field(default_factory=lambda: MappingProxyType({}))
    # Resources whose instances are drained and destroyed, never launched: the pillar's retired_resources,
    # and those the engine remembers from an earlier pillar (dcluster.controller.retired).
    retired: Mapping[str, Resource] = field(default_factory=lambda: MappingProxyType({}))
    plugins: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    logging: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # dcluster.names: method (hosts|none), hosts_file, also_on_workers
    name_resolution: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType(
            {"method": "hosts", "hosts_file": "/etc/hosts", "also_on_workers": True}
        )
    )

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every secret an id of ours may be signed under: the current one first."""
        return (self.secret, *self.previous_secrets)

    def resource(self, name: str) -> Resource | None:
        """A resource in use or retired (both are listed and their instances destroyed)."""
        return self.resources.get(name) or self.retired.get(name)

    def idle_limit(self, resource: str) -> int:
        res = self.resources.get(resource)
        if res is not None and res.max_idle_time is not None:
            return res.max_idle_time
        return self.max_idle_time

    def redacted(self) -> dict[str, Any]:
        """Plain data for runner output, the dashboard and state.json: every credential masked.

        Masked: each Secret, any value under a credential-like key (``token``,
        ``api_key``, ``access_key_id`` ...), the password of a URL (a proxy),
        and every ``command_env`` value (an environment is where schedulers
        and sites keep passwords and license keys).
        """
        plain: dict[str, Any] = _plain(self)
        return plain


def _plain(value: Any, key: Any = None) -> Any:
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, Command):
        return value.template
    if key == "command_env" and isinstance(value, Mapping):
        return {k: REDACTED for k in value}
    if isinstance(value, Mapping):
        return {k: _plain(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, key) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in fields(value)}
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "" and is_credential_key(key):
        return REDACTED
    if isinstance(value, str):
        return mask_url_password(value)
    return value
