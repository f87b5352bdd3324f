"""A simulated cloud: instances that boot after a delay, and launches that can fail.

Launch failures raise the classified errors real drivers raise
(:mod:`dcluster.clouds.errors`), so the replay handles them the way the
engine does: :func:`dcluster.planner.backoff.failure` on the resource, and
the planner falls back to another eligible resource meanwhile.

Failures are injected per resource with :class:`Faults`:

* ``windows``: ``(start, end, kind)`` - every launch in ``[start, end)`` fails
  with ``kind`` (quota, capacity, config, auth, transient);
* ``capacity``: the most instances the resource can have alive at once; a
  launch that would exceed it fails with ``capacity`` and launches nothing
  (clouds refuse a whole ``min_count`` request);
* ``rate``: probability that one launch request fails with ``rate_kind``
  (seeded, so replays repeat);
* ``capacity_rate``: probability that one launch request is refused for want of
  capacity (``capacity``, as a cloud out of that instance type answers).

Boot times: a resource boots in ``boot`` s, or, with ``boot_p95`` above it, in a
time drawn from the lognormal distribution whose median is ``boot`` and whose
95th percentile is ``boot_p95`` (boot and configuration times are skewed: most
nodes come up near the median, a few take much longer).  Draws are seeded per
resource, apart from the failure draws, so turning one on does not shift the other.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import cast

from .. import identity
from ..clouds import errors
from ..model import Instance, InstanceState

KINDS = ("quota", "capacity", "config", "auth", "transient")


@dataclass(frozen=True)
class Faults:
    windows: tuple[tuple[float, float, str], ...] = ()
    capacity: int | None = None
    rate: float = 0.0
    rate_kind: str = "transient"
    seed: int = 0
    capacity_rate: float = 0.0

    def __post_init__(self) -> None:
        for _, _, kind in self.windows:
            if kind not in KINDS:
                raise ValueError(f"fault kind {kind!r} is not one of {', '.join(KINDS)}")
        if self.rate_kind not in KINDS:
            raise ValueError(f"fault kind {self.rate_kind!r} is not one of {', '.join(KINDS)}")
        for name in ("rate", "capacity_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"fault {name} {getattr(self, name)} is not within 0..1")


@dataclass(slots=True)
class SimInstance:
    id: str
    name: str
    resource: str
    launched: float
    ready: float  # boot (and configuration) done
    cores: int
    mem_mb: int
    destroyed: float | None = None
    model: Instance | None = None  # cached snapshot, rebuilt when the state changes
    model_state: InstanceState | None = None

    def state(self, now: float) -> InstanceState:
        return InstanceState.RUNNING if now >= self.ready else InstanceState.PENDING

    def snapshot(self, now: float, cluster: str) -> Instance:
        st = self.state(now)
        if self.model is None or self.model_state != st:
            self.model = Instance(
                id=self.id,
                resource=self.resource,
                minion_id=self.name,
                state=st,
                launch_time=self.launched,
                cluster=cluster,
                name=self.name,
                cores=self.cores,
                mem_mb=self.mem_mb,
            )
            self.model_state = st
        return self.model


@dataclass
class SimResource:
    name: str
    cores: int
    mem_mb: int = 0
    boot: float = 300.0  # s; the median when boot_p95 is set
    faults: Faults = field(default_factory=Faults)
    boot_p95: float = 0.0  # 0 (or not above boot): every boot takes ``boot`` s

    def __post_init__(self) -> None:
        if self.boot < 0 or self.boot_p95 < 0:
            raise ValueError(f"resource {self.name}: boot {self.boot} / boot_p95 {self.boot_p95} is negative")
        if self.boot_p95 and self.boot_p95 < self.boot:
            raise ValueError(f"resource {self.name}: boot_p95 {self.boot_p95} is below the median boot {self.boot}")


Z95 = 1.6448536269514722  # the standard normal's 95th percentile


def boot_draw(res: SimResource, rng: random.Random) -> float:
    """One boot time of ``res`` (see the module docstring)."""
    if not res.boot_p95 or res.boot_p95 <= res.boot or res.boot <= 0:
        return res.boot
    sigma = math.log(res.boot_p95 / res.boot) / Z95
    return rng.lognormvariate(math.log(res.boot), sigma)


class Cloud:
    """Instances of every simulated resource, with node-hour accounting."""

    def __init__(self, cluster: str, secret: str, resources: list[SimResource], seed: int = 0):
        self.cluster, self.secret = cluster, secret
        self.resources = {r.name: r for r in resources}
        self.alive: dict[str, SimInstance] = {}  # by name
        self.gone: list[SimInstance] = []
        self.launches = 0  # instances launched
        self.launch_requests = 0
        self.failures: list[tuple[float, str, str]] = []  # (time, resource, kind)
        self._serial = 0  # minion-id nonces
        self._ids = 0  # instance ids
        self._by_id: dict[str, str] = {}  # instance id -> name, of live instances
        self._ver = 0  # bumped on launch/destroy
        self._snap: tuple[int, float, float, dict[str, list[Instance]]] | None = None  # (ver, from, until, snapshot)
        self._rng = {r.name: random.Random(r.faults.seed) for r in resources}
        self._boot_rng = {r.name: random.Random(f"boot:{seed}:{r.name}") for r in resources}

    def alive_count(self, resource: str | None = None) -> int:
        if resource is None:
            return len(self.alive)
        return sum(1 for i in self.alive.values() if i.resource == resource)

    def next_nonce(self) -> str:
        self._serial += 1
        return f"{self._serial:06x}"

    def name_of(self, instance_id: str) -> str | None:
        return self._by_id.get(instance_id)

    def launch(self, resource: str, count: int, now: float, names: list[str] | None = None) -> list[SimInstance]:
        """``names``: the minion ids asked for (the actuator makes them); made here if None."""
        res = self.resources.get(resource)
        if res is None:
            raise errors.InvalidConfig(f"no resource {resource}", cloud="sim")
        self.launch_requests += 1
        kind = self._fault(res, count, now)
        if kind:
            self.failures.append((now, resource, kind))
            raise errors.make(
                kind, f"injected {kind} failure launching {count} x {resource} at t={now:.0f}", cloud="sim"
            )
        if names is None:
            names = [identity.make(self.cluster, resource, self.secret, nonce=self.next_nonce()) for _ in range(count)]
        out = []
        for name in names[:count]:
            self._ids += 1
            inst = SimInstance(
                id=f"sim-{self._ids}",
                name=name,
                resource=resource,
                launched=now,
                ready=now + boot_draw(res, self._boot_rng[resource]),
                cores=res.cores,
                mem_mb=res.mem_mb,
            )
            self.alive[name] = inst
            self._by_id[inst.id] = name
            out.append(inst)
        self._ver += 1
        self.launches += len(out)
        return out

    def _fault(self, res: SimResource, count: int, now: float) -> str | None:
        f = res.faults
        for start, end, kind in f.windows:
            if start <= now < end:
                return kind
        if f.capacity is not None and self.alive_count(res.name) + count > f.capacity:
            return "capacity"
        if f.rate and self._rng[res.name].random() < f.rate:
            return f.rate_kind
        if f.capacity_rate and self._rng[res.name].random() < f.capacity_rate:
            return "capacity"
        return None

    def destroy(self, name: str, now: float) -> SimInstance:
        inst = self.alive.pop(name, None)
        if inst is None:
            raise errors.NotFound(f"no instance {name}", cloud="sim")
        self._by_id.pop(inst.id, None)
        inst.destroyed = now
        self._ver += 1
        self.gone.append(inst)
        return inst

    def snapshot(self, now: float) -> dict[str, list[Instance]]:
        snap = self._snap
        if snap is not None and snap[0] == self._ver and snap[1] <= now < snap[2]:
            return snap[3]
        out: dict[str, list[Instance]] = {name: [] for name in self.resources}
        for inst in self.alive.values():
            out[inst.resource].append(inst.snapshot(now, self.cluster))
        nr = self.next_ready(now)
        self._snap = (self._ver, now, nr if nr is not None else float("inf"), out)
        return out

    def booting(self, now: float) -> list[SimInstance]:
        return [i for i in self.alive.values() if i.ready > now]

    def next_ready(self, now: float) -> float | None:
        times = [i.ready for i in self.alive.values() if i.ready > now]
        return min(times) if times else None

    def node_seconds(self, until: float) -> float:
        """Instance-seconds paid for from launch to destroy (or ``until``)."""
        total = 0.0
        for inst in self.gone:
            total += max(0.0, min(cast(float, inst.destroyed), until) - inst.launched)  # set when it went
        for inst in self.alive.values():
            total += max(0.0, until - inst.launched)
        return total
