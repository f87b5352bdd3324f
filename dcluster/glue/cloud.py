"""Shared by the cloud execution modules: config lookup, driver calls, Salt-shaped errors.

Salt's dunders come in as arguments; nothing of Salt is imported at module
level.  Errors name the pillar path (``dcluster:cloud:<name>``) so the
operator knows what to fix; no secret reaches a return value or a message
(driver errors are scrubbed, config errors print secrets as ``<secret>``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import identity
from ..clouds import launch, registry
from ..clouds.base import own_address
from ..clouds.errors import CloudError, scrub
from ..config import PILLAR_KEY, ConfigError, load
from ..config.model import Config, Resource

log = logging.getLogger(__name__)


class CloudGlueError(Exception):
    """A problem to report to the Salt caller (message is safe to show)."""


def resource_config(
    config_get: Callable[..., Any],
    resource: str,
    cloud_type: str | None = None,
    pillar: Mapping[str, Any] | None = None,
) -> tuple[Config, Resource]:
    """The validated config and the named resource; ``config_get`` is ``__salt__["config.get"]``."""
    data = pillar if pillar is not None else config_get(PILLAR_KEY)
    if not data:
        raise CloudGlueError(f"{PILLAR_KEY}: not set in pillar or configuration")
    try:
        cfg = load(data)
    except ConfigError as exc:
        raise CloudGlueError(str(exc)) from None
    res = cfg.resources.get(resource)
    if res is None:
        known = ", ".join(sorted(cfg.resources)) or "none"
        raise CloudGlueError(f"{PILLAR_KEY}:cloud:{resource}: no such resource (configured: {known})")
    if cloud_type is not None and res.type != cloud_type:
        raise CloudGlueError(f"{PILLAR_KEY}:cloud:{resource}:type: is {res.type}, not {cloud_type}")
    return cfg, res


def _fail(exc: CloudError, resource: str, secrets: Sequence[object]) -> CloudGlueError:
    return CloudGlueError(f"{PILLAR_KEY}:cloud:{resource}: {scrub(str(exc), secrets)}")


def _secrets(cfg: Config, res: Resource) -> list[object]:
    return [cfg.secret, *res.config.secrets]


def call(
    config_get: Callable[..., Any],
    op: str,
    resource: str,
    cloud_type: str | None = None,
    *,
    opts: Mapping[str, Any] | None = None,
    pillar: Mapping[str, Any] | None = None,
    driver_kwargs: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    """Run one driver operation and return plain data; raises CloudGlueError (safe text) on failure."""
    cfg, res = resource_config(config_get, resource, cloud_type, pillar)
    secrets = _secrets(cfg, res)
    try:
        drv = registry.driver_for(res, cfg, **(driver_kwargs or {}))
        if op == "instances":
            return [i.to_dict() for i in drv.instances()]
        if op == "cores":
            return drv.cores()
        if op == "mem_mb":
            return drv.mem_mb()
        if op == "destroy":
            return drv.destroy(list(kw["ids"]))
        if op == "launch":
            count = int(kw["count"])
            ids = [identity.make(cfg.cluster_name, res.name, cfg.secret) for _ in range(count)]
            render = launch.renderer(drv, cfg, res, explicit_master=kw.get("master"), default_master=own_address(opts))
            result = launch.create(drv, ids, render, "wait")
            if result.error is not None and not result.instances:
                raise result.error  # nothing exists: a plain failure
            out = result.to_dict()  # a partial launch is data: the caller must learn which instances exist
            if out["error"]:
                out["error"]["message"] = scrub(out["error"]["message"], secrets)
            return out
        raise CloudGlueError(f"unknown operation {op}")
    except CloudError as exc:
        raise _fail(exc, res.name, secrets) from None
    except ValueError as exc:
        raise CloudGlueError(f"{PILLAR_KEY}:cloud:{res.name}: {scrub(str(exc), secrets)}") from None
