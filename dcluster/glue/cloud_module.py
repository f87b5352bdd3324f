"""The one implementation behind the cloud execution modules ``dcluster_<cloud>``.

Each ``_modules/dcluster_<cloud>.py`` only declares its Salt functions (name, docstring,
CLI example) and hands its dunders to a :class:`CloudModule` made for its cloud type:
the resource is read from the validated ``dcluster`` pillar/config, the driver of
:mod:`dcluster.clouds` is called through :func:`dcluster.glue.cloud.call`, and a failure is
raised as ``CommandExecutionError`` whose message starts with the pillar path and the
error's kind (quota, capacity, config, auth, transient, notfound), never a credential.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from . import cloud
from .module_errors import command_error


class CloudModule:
    """The functions of the execution module ``dcluster_<cloud_type>``."""

    def __init__(self, cloud_type: str, log: logging.Logger) -> None:
        self.cloud_type = cloud_type
        self.name = f"dcluster_{cloud_type}"
        self.log = log  # the Salt module's logger, so its records keep the module's name

    def call(self, salt: Mapping[str, Any], opts: Mapping[str, Any], op: str, resource: str, **kwargs: Any) -> Any:
        try:
            return cloud.call(salt["config.get"], op, resource, self.cloud_type, opts=opts, **kwargs)
        except cloud.CloudGlueError as exc:
            raise command_error(self.log, f"{self.name}.{op} {resource}", exc) from None

    def instances(self, salt: Mapping[str, Any], opts: Mapping[str, Any], resource: str) -> Any:
        return self.call(salt, opts, "instances", resource)

    def launch(
        self, salt: Mapping[str, Any], opts: Mapping[str, Any], resource: str, count: int | str, master: str | None
    ) -> Any:
        return self.call(salt, opts, "launch", resource, count=int(count), master=master)

    def destroy(self, salt: Mapping[str, Any], opts: Mapping[str, Any], resource: str, ids: object) -> Any:
        """``ids`` from the CLI: a list, or one comma-separated string."""
        if isinstance(ids, str):
            ids = [i for i in ids.split(",") if i]
        if not isinstance(ids, Iterable):
            raise command_error(self.log, f"{self.name}.destroy {resource}", TypeError(f"ids: not a list: {ids!r:.80}"))
        return self.call(salt, opts, "destroy", resource, ids=list(ids))

    def cores(self, salt: Mapping[str, Any], opts: Mapping[str, Any], resource: str) -> Any:
        return self.call(salt, opts, "cores", resource)

    def mem_mb(self, salt: Mapping[str, Any], opts: Mapping[str, Any], resource: str) -> Any:
        return self.call(salt, opts, "mem_mb", resource)
