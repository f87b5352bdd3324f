"""The actuator's ports over the simulated scheduler and cloud, so the replay acts as the engine does.

:class:`dcluster.actuator.Actuator` carries out every plan of the replay:
chains that stop at their first failure, launch batches, backoff episodes,
keys made before a launch (placeholders here: nothing boots).  Only the
world under it is simulated: these adapters answer as the Slurm adapter and a
cloud driver would, from :class:`~.scheduler.Scheduler` and :class:`~.cloud.Cloud`
at the replay's current time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import identity
from ..clouds.base import LaunchResult
from ..clouds.errors import CloudError
from ..holds import is_our_hold
from ..keypairs import KeyPair, KeyPool
from .cloud import Cloud
from .scheduler import Scheduler, SchedulerError

_NO_KEY = KeyPair("", "")  # no simulated worker boots: user-data is never rendered


def no_keys() -> KeyPool:
    """The engine's key pool with nothing to generate: placeholder pairs, none kept ready."""
    return KeyPool(make=lambda: _NO_KEY)


class SimSchedulerPort:
    """The scheduler adapter's actions on the simulated scheduler (errors as the adapters raise them)."""

    def __init__(self, sched: Scheduler, cloud: Cloud, now: Callable[[], float]):
        self.sched, self.cloud, self.now = sched, cloud, now

    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> None:
        inst = self.cloud.alive.get(name)
        if inst is None:
            raise SchedulerError(f"no instance {name} to add as a node")
        self.sched.add_node(name, cores or inst.cores, mem_mb or inst.mem_mb, self.now())

    def hold(self, name: str, reason: str = "") -> None:
        if not is_our_hold(reason):
            raise SchedulerError(f"hold reason {reason!r} does not mark the hold as ours")
        self.sched.hold(name, reason, self.now())

    def release(self, name: str, force: bool = False) -> None:
        self.sched.release(name, self.now())

    def vacate(self, name: str) -> list[str]:
        return self.sched.remove_node(name, self.now(), vacate=True) if name in self.sched.nodes else []

    def remove(self, name: str) -> None:
        if name in self.sched.nodes:
            self.sched.remove_node(name, self.now())


class SimDriver:
    """A cloud driver's launch and destroy on the simulated cloud."""

    def __init__(self, cloud: Cloud, resource: str, sched: Scheduler, now: Callable[[], float]):
        self.cloud, self.resource, self.sched, self.now = cloud, resource, sched, now

    def launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        now = self.now()
        try:
            made = self.cloud.launch(self.resource, count, now, names=list(minion_ids)[:count])
        except CloudError as exc:
            return LaunchResult([], count, error=exc)
        return LaunchResult([i.snapshot(now, self.cloud.cluster) for i in made], count)

    def destroy(self, ids: Sequence[str]) -> dict[str, str]:
        out = {}
        for iid in ids:
            name = self.cloud.name_of(iid)
            if name is None:
                out[iid] = "gone"
            elif name in self.sched.nodes:  # the actuator's chain removes the node first
                out[iid] = f"refusing to destroy {name}: still a scheduler node"
            else:
                self.cloud.destroy(name, self.now())
                out[iid] = "ok"
        return out


def sim_id(cloud: Cloud) -> Callable[[Any, str], str]:
    """Minion ids with serial nonces: a replay repeats exactly."""

    def new_id(cfg: Any, resource: str) -> str:
        return identity.make(cloud.cluster, resource, cloud.secret, nonce=cloud.next_nonce())

    return new_id
