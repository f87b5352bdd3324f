"""Each cycle, the head node's hosts entries are made to match the view (see :mod:`dcluster.names`).

Nothing of it is persisted: the entries are a function of the cloud listings, so after a master
restart the first cycle publishes them again and withdraws what a stale file still holds.  The
call is made when the entries change, and at least every ``cloud_poller_interval`` even when they
do not (an admin or a reinstalled head node may have lost them).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from .. import names
from ..config import Config
from ..reconcile import View
from ..schedulers import adapter_class

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)


class NameSync:
    def __init__(self) -> None:
        self.last: tuple[tuple[tuple[str, str], ...], bool] | None = None  # (entries, withdraw) last published
        self.last_at = -math.inf
        self.failed_at = -math.inf  # when the last call failed
        self.reported: tuple[str, ...] = ()  # problems and conflicts last reported (each is reported once)
        self.result: dict[str, Any] | None = None  # the head node's last answer, for the status
        self.skipped: frozenset[str] = frozenset()  # resources whose names a local cloud publishes itself
        self.problems: dict[str, str] = {}  # worker -> why its entry was refused

    def __call__(self, ctrl: Controller, cfg: Config, view: View, now: float, wall: float) -> None:
        port = ctrl.ports.names
        if port is None or cfg.name_resolution.get("method") != "hosts":
            return
        # The head node did not answer the scheduler poll: a call to it now would only wait out its
        # timeout in the middle of the cycle.  Nothing is registered meanwhile either.
        if not view.scheduler_ok:
            return
        # The local cloud's workers are namespaces of this machine, named by its own hosts_file option
        # (dcluster.clouds.local); the demo and the tests run it, and must leave the machine's file alone.
        skip = [r.name for r in (*cfg.resources.values(), *cfg.retired.values()) if r.type == "local"]
        entries, problems = names.wanted(view.workers, cfg.secrets, skip)
        self.skipped, self.problems = frozenset(skip), problems
        # A failed listing may miss live workers: add and update, withdraw nothing.
        withdraw = bool(view.cloud_ok) and all(view.cloud_ok.values())
        key = (tuple(sorted(entries.items())), withdraw)
        if key == self.last and now - self.last_at < cfg.cloud_poller_interval:
            return
        if now - self.failed_at < cfg.cloud_poller_interval:
            return  # a failed call is tried again after a poll interval, not every cycle
        try:
            result = port(cfg, entries, withdraw) or {}
        except Exception as exc:  # noqa: BLE001 - tried again next cycle
            log.warning("dcluster: publishing worker names failed: %s", exc)
            ctrl.state.error(wall, "names", f"publishing worker names failed: {exc}"[:1000])
            self.last, self.failed_at = None, now
            return
        self.last, self.last_at, self.result = key, now, result
        if result.get("set") or result.get("remove"):
            ctrl.fire("names/changed", {"set": result.get("set", []), "remove": result.get("remove", [])})
        report = tuple(problems.values()) + tuple(result.get("conflicts") or ())
        if report and report != self.reported:
            for msg in report:
                log.warning("dcluster: worker name not published: %s", msg)
            ctrl.state.error(wall, "names", "; ".join(report)[:1000])
        self.reported = report

    def not_ready(self, ctrl: Controller, cfg: Config, resource: str, name: str) -> str | None:
        """Why ``name`` may not be registered yet (its name would not resolve on the head), or None.

        Grid Engine and Torque refuse a host they cannot resolve; Slurm nodes get their address
        (NodeAddr) instead.  A name an admin's line resolves (a conflict) is ready.
        """
        if (
            ctrl.ports.names is None
            or cfg.name_resolution.get("method") != "hosts"
            or not adapter_class(cfg.cluster.type).resolves_names
            or resource in self.skipped
        ):
            return None
        if name in self.problems:
            return f"{name} is not registered: its hosts entry was refused ({self.problems[name]})"
        published = dict(self.last[0]) if self.last is not None else {}
        conflicts = {c.split(":", 1)[0] for c in (self.result or {}).get("conflicts") or ()}
        if name in published or name in conflicts:
            return None
        return (
            f"{name} is not registered yet: its name is not in the head node's hosts file "
            f"({cfg.name_resolution.get('hosts_file')}); it will be once the head node answers"
        )
