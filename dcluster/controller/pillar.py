"""Reading the ``dcluster`` pillar each cycle: validated, or the last good configuration kept.

A pillar that cannot be read, is empty or does not validate is recorded as an error (and an
invalid one fired as ``config/invalid`` with its errors); the loop goes on with the configuration
it had, so a typo never stops or shrinks a running cluster.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import config as dconfig
from .. import scrub
from ..config import Config
from . import retired

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)


def load_config(c: Controller) -> Config | None:
    """The pillar, validated; on errors the last good configuration (None before the first)."""
    try:
        data = c.ports.pillar()
    except Exception as exc:  # noqa: BLE001
        c.state.error(c.clock(), "pillar", f"could not read the dcluster pillar: {exc}")
        return c.config
    if not data:
        c.state.error(c.clock(), "pillar", "the dcluster pillar is empty")
        return c.config
    try:
        cfg = dconfig.load(data)
    except dconfig.ConfigError as exc:
        log.error("dcluster: %s", exc)
        c.state.error(c.clock(), "config", str(exc))
        c.fire("config/invalid", {"errors": exc.errors})
        return c.config
    cfg = retired.apply(c, cfg)  # resources the pillar dropped stay listed until empty
    scrub.REGISTRY.update(cfg)  # before anything of this config can reach a message
    c.config = cfg
    return cfg
