"""The one launch path: user-data rendered for each id, then the driver's create call.

Both launchers use it: the engine's actuator (:mod:`dcluster.actuator.launches`,
keys accepted before, spot requests left open for its loop) and the cloud
execution modules (:mod:`dcluster.glue.cloud`, waiting for spot requests in
the call).  The master's address follows the one rule of
:func:`dcluster.clouds.base.master_address` and each instance's private
directory comes from :meth:`Driver.instance_root`, so no cloud is
special-cased here.  Doubles of a driver that answer every create call with
its instances (the simulator's cloud, test clouds) need offer only
``launch``: the operations they lack take the :class:`Driver` defaults here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from ..config.model import Config, Resource
from ..keypairs import KeyPair
from . import userdata
from .base import Driver, LaunchResult, master_address

Mode = Literal["wait", "start", "on_demand"]


def renderer(
    drv: Driver,
    cfg: Config,
    res: Resource,
    *,
    explicit_master: str | None,
    default_master: str,
    keys: Mapping[str, KeyPair] | None = None,
) -> Callable[[str], str]:
    """``userdata_for(minion_id)`` of ``res`` (its template loaded once, here: a template that cannot be
    read or compiled raises :class:`~dcluster.clouds.errors.InvalidConfig` before any create call)."""
    return userdata.renderer(
        res.config.userdata_file or None,
        master=master_address(drv, explicit_master, default_master),
        resource=res.name,
        scheduler=cfg.cluster.type,
        cluster=cfg.cluster_name,
        resource_type=res.type,
        instance_dir_for=getattr(drv, "instance_root", None),
        extra=res.config.userdata_vars,
        keys=keys,
    )


def create(drv: Driver, ids: Sequence[str], userdata_for: Callable[[str], str], mode: Mode) -> LaunchResult:
    """The driver's create call for ``ids``: ``wait`` for requests answered later (a module's call),
    ``start`` them and leave them open (the engine's loop polls them), or ``on_demand`` (no request)."""
    if mode == "on_demand":
        call = drv.launch_on_demand
    elif mode == "start":
        call = getattr(drv, "start_launch", drv.launch)
    else:
        call = drv.launch
    return call(len(ids), list(ids), userdata_for)
