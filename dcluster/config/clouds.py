"""Typed, frozen settings of each cloud type: the ``dcluster:cloud:<name>:config`` section.

One class per cloud type (:class:`AwsConfig`, :class:`OpenStackConfig`,
:class:`LocalConfig`); the defaults written here are the only ones: the
schema (:mod:`dcluster.config.keys`) takes its defaults from these classes, and
the drivers read attributes, never keys.  ``dcluster.config.load`` validates a
section against the schema (errors name the pillar key path) and builds the
object once (:func:`build`).

Each object also reads as the validated mapping it was built from (its field
names are the pillar's keys), so redacted output, the boot fingerprint of the
bootstrap breaker and anything that shows the pillar see the section as before.
Secrets stay :class:`~dcluster.config.secret.Secret` objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from .secret import Secret


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class Section(Mapping[str, Any]):
    """A frozen dataclass that also reads as a mapping of its fields (the pillar's keys)."""

    # what @dataclass gives each subclass: declared so that dataclasses.fields() takes the class
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every credential of the section (for scrubbing messages)."""
        return tuple(v for v in (getattr(self, n) for n in self._names()) if isinstance(v, Secret))


@dataclass(frozen=True, kw_only=True)
class CloudConfig(Section):
    """Keys every cloud type takes."""

    instance_name_prefix: str = ""
    userdata_file: str = ""
    userdata_vars: Mapping[str, Any] = field(default_factory=_empty)

    def name_for(self, minion_id: str) -> str:
        """The instance's name shown in the cloud's console: the prefix, if any, and the minion id."""
        return f"{self.instance_name_prefix}-{minion_id}" if self.instance_name_prefix else minion_id


@dataclass(frozen=True, kw_only=True)
class Disk(Section):
    """One EBS volume of ``disk_map``."""

    device: str
    size: int
    delete_on_termination: bool = True
    volume_type: str = "gp3"


@dataclass(frozen=True, kw_only=True)
class AwsConfig(CloudConfig):
    access_key_id: str | None = None  # unset: boto3's default credential chain
    secret_access_key: Secret | None = None
    image_id: str
    instance_type: str
    region_name: str = "us-east-1"
    key_name: str | None = None
    security_groups: tuple[str, ...] = ()
    availability_zone: str | None = None
    subnet_id: str | None = None
    use_public_ip_address: bool = False
    disk_map: Mapping[str, Disk] = field(default_factory=_empty)
    spot_bid: float | str | None = None  # set: launch spot instances
    spot_timeout: int = 300
    spot_fallback_on_demand: bool = True
    proxy: str | None = None
    proxy_port: int | None = None
    validate_certs: bool = True
    endpoint_url: str | None = None

    @property
    def spot(self) -> bool:
        return self.spot_bid is not None


@dataclass(frozen=True, kw_only=True)
class BootFromVolume(Section):
    size_gb: int | None = None  # unset: boot from the image on the hypervisor's disk
    volume_type: str | None = None
    delete_on_termination: bool = True


@dataclass(frozen=True, kw_only=True)
class OpenStackConfig(CloudConfig):
    username: str | None = None
    password: Secret | None = None
    project: str | None = None
    project_id: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    application_credential_id: str | None = None
    application_credential_secret: Secret | None = None
    auth_url: str
    region_name: str | None = None
    image_uuid: str
    flavor: str
    key_name: str | None = None
    security_groups: tuple[str, ...] = ()
    availability_zone: str | None = None
    network: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=_empty)
    verify: bool | str = True  # True, or the path of a CA bundle; False only with insecure
    insecure: bool = False
    proxy: str | None = None
    boot_from_volume: BootFromVolume = BootFromVolume()
    timeout: int = 30


@dataclass(frozen=True, kw_only=True)
class LocalConfig(CloudConfig):
    bridge: str = "dcbr0"
    network: str = "127.200.0.0/24"
    gateway: str = "127.200.0.1"
    cores: int = 2
    mem_mb: int = 2048
    state_dir: str = "/var/lib/dcluster/local-cloud"
    boot_delay: int = 0
    hosts_file: str = ""


CLASSES: Mapping[str, type[CloudConfig]] = MappingProxyType(
    {"aws": AwsConfig, "openstack": OpenStackConfig, "local": LocalConfig}
)


def build(cloud_type: str, section: Mapping[str, Any]) -> CloudConfig:
    """The typed settings of a section the schema has validated (every key present, defaults filled)."""
    values = dict(section)
    if cloud_type == "aws":
        disks = values.get("disk_map") or {}
        values["disk_map"] = MappingProxyType({name: Disk(**dict(d)) for name, d in disks.items()})
    if cloud_type == "openstack":
        values["boot_from_volume"] = BootFromVolume(**dict(values.get("boot_from_volume") or {}))
    return CLASSES[cloud_type](**values)


def default(cls: type[Section], name: str) -> Any:
    """The default of one field (for the schema, so that defaults are written once)."""
    for f in dataclasses.fields(cls):
        if f.name == name and f.default is not dataclasses.MISSING:
            return f.default
    raise KeyError(f"{cls.__name__}.{name} has no default")
