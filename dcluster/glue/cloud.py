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
from ..clouds import registry, userdata
from ..clouds.errors import CloudError, scrub
from ..config import PILLAR_KEY, ConfigError, load
from ..config.model import Config, Resource

log = logging.getLogger(__name__)


class CloudGlueError(Exception):
    """A problem to report to the Salt caller (message is safe to show)."""


def resource_config(
    config_get: Callable[..., Any], resource: str, cloud_type: str | None = None, pillar: Mapping | None = None
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


def _fail(exc: CloudError, resource: str, secrets: Sequence) -> CloudGlueError:
    return CloudGlueError(f"{PILLAR_KEY}:cloud:{resource}: {scrub(str(exc), secrets)}")


def _secrets(cfg: Config, res: Resource) -> list:
    return [cfg.secret] + [v for v in res.config.values() if hasattr(v, "reveal")]


def master_address(opts: Mapping | None, res: Resource, explicit: str | None = None) -> str:
    """Where new minions find the master: explicit > the local cloud's gateway > the master's interface/id."""
    if explicit:
        return explicit
    if res.type == "local":
        return str(res.config.get("gateway") or "127.200.0.1")
    opts = opts or {}
    iface = opts.get("interface")
    if iface and iface not in ("0.0.0.0", "::"):
        return str(iface)
    return str(opts.get("master") if opts.get("__role") == "minion" else opts.get("id") or "salt")


def call(
    config_get,
    op: str,
    resource: str,
    cloud_type: str | None = None,
    *,
    opts=None,
    pillar=None,
    driver_kwargs: dict | None = None,
    **kw,
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
            if res.type == "local":
                render = _local_renderer(drv, res, cfg, opts, kw.get("master"))
            else:
                render = userdata.renderer(
                    res.config.get("userdata_file") or None,
                    master=master_address(opts, res, kw.get("master")),
                    resource=res.name,
                    scheduler=cfg.cluster.type,
                    cluster=cfg.cluster_name,
                    resource_type=res.type,
                    extra=res.config.get("userdata_vars"),
                )
            result = drv.launch(count, ids, render)
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


def _local_renderer(drv, res, cfg, opts, master):
    """The local cloud's instances get a private directory in the template (``instance_dir``)."""
    tpl = userdata.load_template(res.config.get("userdata_file") or None)

    def userdata_for(minion_id: str) -> str:
        return userdata.render(
            tpl,
            minion_id=minion_id,
            master=master_address(opts, res, master),
            resource=res.name,
            scheduler=cfg.cluster.type,
            cluster=cfg.cluster_name,
            resource_type=res.type,
            instance_dir=drv.instance_root(minion_id),
            extra=res.config.get("userdata_vars"),
        )

    return userdata_for
