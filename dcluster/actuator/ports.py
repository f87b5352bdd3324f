"""The outside world as the actuator sees it: narrow callables, no controller.

The engine builds these from its Salt ports (``dcluster.controller.loop``);
the simulator from its simulated scheduler and cloud (``dcluster.sim``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from .. import identity
from ..config import Config, Resource
from ..keypairs import KeyPair
from ..model import Job, Node, Worker
from ..planner import Action


class SchedulerActions(Protocol):
    """What the actuator asks of a scheduler: its actions only (the simulator's port offers no more)."""

    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> Any: ...
    def hold(self, name: str, reason: str = ...) -> Any: ...
    def release(self, name: str, force: bool = False) -> Any: ...
    def remove(self, name: str) -> Any: ...
    def vacate(self, name: str) -> Any: ...


class SchedulerPort(SchedulerActions, Protocol):
    """A scheduler adapter as the engine uses it (dcluster.schedulers.adapter.Adapter): queries too."""

    def jobs(self) -> list[Job]: ...
    def nodes(self) -> list[Node]: ...
    def check(self) -> dict[str, Any]: ...


class KeySource(Protocol):
    def take(self, n: int) -> list[KeyPair]: ...


def _nothing(*_a: Any, **_k: Any) -> None:
    return None


def _inline(fn: Callable[[], Any]) -> Future[Any]:
    fut: Future[Any] = Future()
    try:
        fut.set_result(fn())
    except BaseException as exc:  # noqa: BLE001 - the future carries it, as a pool's would
        fut.set_exception(exc)
    return fut


@dataclass(frozen=True)
class ActuatorPorts:
    scheduler: Callable[[Config], SchedulerActions]
    driver: Callable[[Config, Resource], Any]  # -> dcluster.clouds.base.Driver
    keys: KeySource  # workers' minion key pairs (dcluster.keypairs.KeyPool)
    clock: Callable[[], float]  # wall clock: timestamps for people
    monotonic: Callable[[], float]  # every interval (backoff, grace, when a chain ended)
    fire: Callable[[str, dict[str, Any]], None] = _nothing  # (tag under dcluster/, data): scrubbed by the port
    preaccept_key: Callable[[str, str], Any] = _nothing  # (minion id, public key PEM)
    delete_key: Callable[[str], Any] = _nothing
    hook: Callable[[Sequence[str], float], tuple[int, str]] = lambda argv, timeout: (0, "")
    hook_timeout: Callable[[], float] = lambda: 120.0
    submit: Callable[[Callable[[], Any]], Future[Any]] = _inline  # the engine's thread pool
    # Create calls and the polls of open spot requests run on a pool of their own: a slow cloud never
    # delays a REGISTER, REMOVE or DESTROY of another worker (issue 15).  None: on ``submit``.
    submit_launch: Callable[[Callable[[], Any]], Future[Any]] | None = None
    # Hooks (bounded by hook_timeout) run on a pool of their own: a hung hook holds up its own worker's
    # chain only, never another worker's action.  None: on ``submit``.
    submit_hook: Callable[[Callable[[], Any]], Future[Any]] | None = None
    # Where new minions find the master (dcluster.clouds.base.master_address): the address given
    # explicitly, else the one the cloud fixes, else the master's own (``master_default``).
    master_address: str | None = None
    master_default: str = "salt"
    new_id: Callable[[Config, str], str] = lambda cfg, resource: identity.make(cfg.cluster_name, resource, cfg.secret)
    save: Callable[[], None] = _nothing  # persist the records now (before a create call)
    # What the rest of the engine learns from what was done:
    launching: Callable[[Sequence[str]], None] = _nothing  # ids a create call is about to make
    cloud_changed: Callable[[str], None] = _nothing  # list this resource again soon
    destroyed: Callable[[str], None] = _nothing  # minion id whose instance the cloud deleted
    never_joined: Callable[[Config, Action, Worker | None], None] = _nothing  # the bootstrap breaker's count
    # (config, resource, minion id) -> why it may not be registered yet (its name does not resolve on the
    # head node: dcluster.controller.name_sync), or None
    name_not_ready: Callable[[Config, str, str], str | None] = _nothing
