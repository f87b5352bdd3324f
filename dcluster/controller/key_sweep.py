"""Deleting the accepted keys of our minion ids whose instance no longer exists.

A key is pre-accepted before its instance exists, and a launch that timed out may have made an
instance no listing shows yet: a key is unused only when listings across
:func:`~.unlisted.listing_grace` seconds agree.  Keys that are not ours (their id does not verify)
are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import identity
from ..config import Config
from ..reconcile import View
from .ports import Ports
from .state import ControllerState
from .unlisted import Unlisted, listing_grace

log = logging.getLogger(__name__)


class KeySweep:
    def __init__(self) -> None:
        self._keyless = Unlisted()  # our accepted keys with no instance -> first seen so

    def sweep(
        self,
        cfg: Config,
        view: View,
        ports: Ports,
        state: ControllerState,
        fire: Callable[[str, dict[str, Any]], None],
    ) -> None:
        try:
            accepted = ports.accepted_keys()
        except Exception as exc:  # noqa: BLE001
            log.debug("dcluster: cannot list keys: %s", exc)
            return
        alive = {w.name for w in view.workers}
        unused = set()
        for mid in accepted:
            ident = identity.parse(mid, cfg.secrets, cfg.cluster_name)
            if ident is None or mid in alive or not view.cloud_ok.get(ident.resource, False):
                continue
            if mid in state.recent_launches or mid in state.maybe_launched or state.in_flight.get(ident.resource):
                continue
            unused.add(mid)
        self._keyless.observe(unused, view.now)
        for mid in sorted(self._keyless.confirmed(listing_grace(cfg), view.now)):
            try:
                ports.delete_key(mid)
                fire("key/deleted", {"name": mid, "reason": "its instance no longer exists"})
            except Exception as exc:  # noqa: BLE001
                log.warning("dcluster: could not delete key %s: %s", mid, exc)
