"""Which driver serves a resource."""

from __future__ import annotations

from typing import Any

from ..config.model import Config, Resource
from .base import Driver
from .errors import InvalidConfig


def driver_class(cloud_type: str) -> type[Driver]:
    if cloud_type == "aws":
        from .aws import AwsDriver

        return AwsDriver
    if cloud_type == "openstack":
        from .openstack import OpenStackDriver

        return OpenStackDriver
    if cloud_type == "local":
        from .local import LocalDriver

        return LocalDriver
    raise InvalidConfig(f"unknown cloud type {cloud_type!r} (openstack, aws or local)", code="type")


def driver_for(resource: Resource, config: Config, **kwargs: Any) -> Driver:
    """The driver of ``resource``; ``kwargs`` go to the driver (test seams such as ``client=``)."""
    drv = driver_class(resource.type)(resource, config.cluster_name, config.secret, **kwargs)
    drv.previous_secrets = tuple(config.previous_secrets)
    return drv
