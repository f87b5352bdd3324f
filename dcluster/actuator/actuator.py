"""Carries out a plan's actions: one chain per worker, launches in batches.

Actions on one worker form a chain run in order in one task; a chain stops at
its first failure, so an instance is never destroyed after its node could not
be removed.  One chain per worker at a time, whoever asks (the loop's plan or
an operator's command): the planner sees the workers being acted on in the
view (:meth:`Status.acting`) and plans nothing for them; should a plan still
name one (a chain that ended between its view and now), it is skipped here.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from ..config import Config
from ..model import Worker
from ..planner import Action, Kind, Plan
from .errors import ActionFailed, Busy
from .hooks import Hooks
from .launches import Launches
from .ports import ActuatorPorts
from .records import Records
from .status import Status
from .steps import Later, Steps

log = logging.getLogger(__name__)


class Actuator:
    def __init__(self, ports: ActuatorPorts, records: Records | None = None):
        self.ports = ports
        self.records = records if records is not None else Records()
        self.hooks = Hooks(ports)
        self.launches = Launches(ports, self.records)
        self.steps = Steps(ports, self.records, self.hooks)
        self._lock = threading.Lock()
        self._chains: set[str] = set()  # workers with a chain under way
        self._ended: dict[str, float] = {}  # worker -> when its last chain ended (monotonic)

    # ------------------------------------------------------------ status
    def status(self) -> Status:
        with self._lock:
            chains, ended = frozenset(self._chains), dict(self._ended)
        with self.records.lock:
            flying = {k: v for k, v in self.records.in_flight.items() if v}
        return Status(chains=chains, ended=ended, in_flight=flying)

    def idle(self) -> bool:
        """No chain, no create call and no poll of open requests under way (tests, shutdown)."""
        with self._lock:
            if self._chains:
                return False
        if self.launches.requests.busy():
            return False
        with self.records.lock:
            return not any(self.records.in_flight.values())

    # ------------------------------------------------------------ the loop's plan
    def run(self, cfg: Config, plan: Plan, workers: dict[str, Worker], observed: float) -> list[str]:
        """Carry out ``plan`` made on a view observed from ``observed`` on; returns the skipped workers."""
        chains: dict[str, list[Action]] = {}
        launches = [a for a in plan.actions if a.kind == Kind.LAUNCH]
        episode = self.launches.episode() if launches else 0
        for action in launches:
            self.launches.launch(cfg, action.resource, action.count, action.reason, episode=episode)
        for action in plan.actions:
            if action.kind != Kind.LAUNCH:
                chains.setdefault(action.target, []).append(action)
        with self._lock:  # a chain that ended before this view was observed cannot make it stale
            self._ended = {t: at for t, at in self._ended.items() if at >= observed}
        skipped = []
        for target, actions in chains.items():
            if not self._claim(target, observed):
                skipped.append(target)  # the planner should not have: the next plan will see
                continue
            self.ports.submit(functools.partial(self._chain_from, cfg, actions, workers.get(target), 0))
        return skipped

    def poll_requests(self, cfg: Config) -> None:
        """Start the polls of the requests create calls left open (spot); returns at once."""
        self.launches.requests.poll(cfg)

    def _claim(self, target: str, observed: float | None = None) -> bool:
        with self._lock:
            if target in self._chains:
                return False
            if observed is not None and self._ended.get(target, float("-inf")) >= observed:
                return False
            self._chains.add(target)
            return True

    def _release(self, target: str) -> None:
        with self._lock:
            self._chains.discard(target)
            self._ended[target] = self.ports.monotonic()

    def _chain_from(self, cfg: Config, actions: list[Action], worker: Worker | None, i: int) -> None:
        """The loop's chain from its ``i``-th action on, on the action pool.  An action with hooks hands
        them to the hook pool, which hands the rest of the chain back to the action pool when they
        ended: the chain waits for its hooks, no action thread does (issue 15)."""
        handed = False
        try:
            while i < len(actions):
                later: Later = []
                action = actions[i]
                ok, detail = self._do(cfg, action, worker, later)
                if not ok:
                    return
                i += 1
                if later:
                    handed = self._after_hooks(cfg, actions, worker, i, action, detail, later)
                    if handed:
                        return
                    continue
                self._done(action, detail)
        finally:
            if not handed:
                self._release(actions[0].target)

    def _after_hooks(
        self,
        cfg: Config,
        actions: list[Action],
        worker: Worker | None,
        i: int,
        action: Action,
        detail: Any,
        later: Later,
    ) -> bool:
        """Run ``later``'s hooks on the hook pool, then the chain from ``i`` on; False: run here instead."""

        def hooks() -> None:
            try:
                for command, w, what, args in later:
                    self.hooks.run(command, w, what, sync=True, args=args)
            finally:
                self._done(action, detail)
                try:
                    self.ports.submit(lambda: self._chain_from(cfg, actions, worker, i))
                except RuntimeError:  # the pool is shut down: the engine is stopping
                    self._release(actions[0].target)

        try:
            (self.ports.submit_hook or self.ports.submit)(hooks)
            return True
        except RuntimeError:
            for command, w, what, args in later:
                self.hooks.run(command, w, what, sync=True, args=args)
            self._done(action, detail)
            return False

    def _do(self, cfg: Config, action: Action, worker: Worker | None, later: Later | None) -> tuple[bool, Any]:
        self.ports.fire(f"action/{action.kind.value}/started", action.to_dict())
        try:
            detail = self.steps.do(cfg, action, worker, later)
        except Exception as exc:  # noqa: BLE001 - recorded, fired, chain stops
            msg = f"{action.kind.value} {action.target}: {exc}"
            log.warning("dcluster: %s", msg)
            self.records.error(self.ports.clock(), "action", msg)
            self.records.count(f"{action.kind.value}_failed")
            self.ports.fire(f"action/{action.kind.value}/failed", {**action.to_dict(), "error": str(exc)[:1000]})
            return False, exc
        self.records.count(action.kind.value)
        log.info("dcluster: %s", action)
        return True, detail

    def _done(self, action: Action, detail: Any) -> None:
        self.ports.fire(f"action/{action.kind.value}/done", {**action.to_dict(), "detail": detail})

    def _chain(
        self, cfg: Config, actions: list[Action], worker: Worker | None, raise_failure: bool = False
    ) -> list[Any]:
        """An operator's chain, on the caller's thread, hooks included."""
        details: list[Any] = []
        try:
            for action in actions:
                ok, detail = self._do(cfg, action, worker, None)
                if not ok:
                    if raise_failure:
                        raise detail
                    return details
                self._done(action, detail)
                details.append(detail)
            return details
        finally:
            self._release(actions[0].target)

    # ------------------------------------------------------------ an operator's command
    def perform(self, cfg: Config, actions: list[Action], worker: Worker | None) -> list[Any]:
        """Run one worker's chain now, on the caller's thread; returns each action's detail.

        Raises :class:`Busy` if a chain on that worker is under way, and the
        first action's error if one fails (the rest are not tried).
        """
        if not actions:
            return []
        target = actions[0].target
        if any(a.target != target or a.kind == Kind.LAUNCH for a in actions):
            raise ValueError("one chain acts on one worker")
        if not self._claim(target):
            raise Busy(f"{target}: a chain of actions on it is under way; try again when it ended")
        return self._chain(cfg, actions, worker, raise_failure=True)

    def launch(self, cfg: Config, resource: str, count: int, reason: str) -> list[str]:
        """Start ``count`` instances of ``resource`` (an operator's request); returns the minion ids asked."""
        return self.launches.launch(cfg, resource, count, reason)

    def hook(self, command: Any, worker: Worker | None, what: str) -> None:
        """Run a hook off the caller's thread (post_vm_provision_command)."""
        self.hooks.run(command, worker, what)


__all__ = ["ActionFailed", "Actuator", "Busy"]
