"""Ground truth of a cloud, and a :class:`dcluster.clouds.base.Driver` over it.

A simulation (no cloud API runs): instances exist here with their true state
whether or not a listing shows them.  :class:`SimDriver` implements the Driver
interface the real drivers implement (``instances() launch() destroy()
cores() mem_mb()``); faults are asked for at each call through the ``faults``
object (:class:`tests.support.chaos.faults.Faults`), which may raise the
classified errors real drivers raise, hide an instance, or kill the master.

It is tolerant of how launches are split: one call may carry one or many
minion ids, each instance is created (or not) on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dcluster import model
from dcluster.clouds.base import Driver, LaunchResult, tags_for
from dcluster.clouds.errors import CloudError, Transient
from dcluster.model import Instance, InstanceState

BOOT = (40.0, 120.0)  # seconds from creation until the minion first connects
HIGHSTATE = (20.0, 60.0)  # seconds a highstate takes
DELETE = (5.0, 30.0)  # seconds the cloud takes to delete


@dataclass
class SimInstance:
    id: str
    minion_id: str
    resource: str
    created: float  # true time
    launch_tag: float  # what the master's clock said (the launch-time tag)
    boot_at: float  # when its minion first tries to connect
    visible_at: float  # when listings start to show it (eventual consistency)
    ip: str
    cores: int
    will_join: bool = True  # False: bad image / user-data, the minion never connects
    state: str = "building"  # building, running, deleting, gone
    gone_at: float = 0.0
    accepted: bool = False  # key accepted by the master
    accepted_at: float = 0.0
    start_fired: bool = False
    started_ok: bool = False  # the start reactor asked for a highstate
    highstate_done_at: float = 0.0
    configured: bool = False  # its highstate succeeded and the master heard of it (truth: it did succeed)
    highstate_ok: bool = False  # truth: its configuration finished, whether or not dcluster heard
    restarts_seen: int = 0  # master restarts while it was alive
    by_operator: bool = False
    destroyed_by: str = ""  # "", "dcluster", "operator", "cloud"
    tags: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.state in ("building", "running")

    def exists(self) -> bool:
        return self.state != "gone"


class SimCloud:
    """Every instance of every resource, and what happens to them."""

    def __init__(self, clock: Callable[[], float], rng, cluster: str):
        self.clock = clock
        self.rng = rng
        self.cluster = cluster
        self.instances: dict[str, SimInstance] = {}  # cloud id -> instance
        self.serial = 0
        self.on_destroy: Callable[[SimInstance, str], None] = lambda inst, who: None
        self.on_launch: Callable[[SimInstance], None] = lambda inst: None
        self.operator = False  # set by the harness while an operator command runs

    def by_minion(self, minion_id: str) -> SimInstance | None:
        for inst in self.instances.values():
            if inst.minion_id == minion_id and inst.exists():
                return inst
        return None

    def create(
        self, resource: str, minion_id: str, cores: int, launch_tag: float, lag: float = 0.0, will_join: bool = True
    ) -> SimInstance:
        now = self.clock()
        self.serial += 1
        inst = SimInstance(
            id=f"i-{self.serial:08x}",
            minion_id=minion_id,
            resource=resource,
            created=now,
            launch_tag=launch_tag,
            boot_at=now + self.rng.uniform(*BOOT),
            visible_at=now + lag,
            ip=f"127.200.0.{10 + self.serial % 200}",
            cores=cores,
            will_join=will_join,
            by_operator=self.operator,
            tags=tags_for(self.cluster, resource, minion_id, launch_tag),
        )
        self.instances[inst.id] = inst
        self.on_launch(inst)
        return inst

    def delete(self, inst: SimInstance, who: str) -> None:
        if not inst.alive():
            return
        inst.state = "deleting"
        inst.gone_at = self.clock() + self.rng.uniform(*DELETE)
        inst.destroyed_by = who
        self.on_destroy(inst, who)

    def tick(self) -> None:
        now = self.clock()
        for inst in self.instances.values():
            if inst.state == "building" and now >= inst.boot_at:
                inst.state = "running"
            elif inst.state == "deleting" and now >= inst.gone_at:
                inst.state = "gone"

    def exist(self, resource: str) -> list[SimInstance]:
        return [i for i in self.instances.values() if i.resource == resource and i.exists()]

    def snapshot(self, inst: SimInstance) -> Instance:
        state = {
            "building": InstanceState.PENDING,
            "running": InstanceState.RUNNING,
            "deleting": InstanceState.DELETING,
        }.get(inst.state, InstanceState.GONE)
        return Instance(
            id=inst.id,
            resource=inst.resource,
            minion_id=inst.minion_id,
            state=state,
            launch_time=inst.launch_tag,
            cluster=self.cluster,
            name=inst.minion_id,
            ip=inst.ip,
            cores=inst.cores,
            tags=dict(inst.tags),
        )


class SimDriver(Driver):
    """One resource of the simulated cloud, behind the Driver interface."""

    type = "chaos"

    def __init__(self, resource, cluster_name, secret, cloud: SimCloud, faults, master_clock: Callable[[], float]):
        super().__init__(resource, cluster_name, secret)
        self.cloud = cloud
        self.faults = faults
        self.master_clock = master_clock

    def instances(self) -> list[Instance]:
        self.faults.cloud_call("list", self.resource.name)
        now = self.cloud.clock()
        listed = [i for i in self.cloud.exist(self.resource.name) if now >= i.visible_at]
        listed = self.faults.listing(self.resource.name, listed)
        snapshots = [self.cloud.snapshot(i) for i in listed if self.verified(i.minion_id)]
        return self.faults.wrong_states(self.resource.name, snapshots)

    def launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        ids = self.check_ids(count, minion_ids)
        made: list[Instance] = []
        for mid in ids:
            userdata_for(mid)  # rendered as a real driver would; a template error raises here
            try:
                self.faults.cloud_call("launch", self.resource.name)
            except CloudError as exc:
                return LaunchResult(made, count, exc)
            cores = self.resource.cores or 4
            inst = self.cloud.create(
                self.resource.name,
                mid,
                cores,
                self.master_clock(),
                lag=self.faults.listing_lag(),
                will_join=self.faults.joins(),
            )
            made.append(self.cloud.snapshot(inst))
            # created, then the API call times out: the caller never hears of this instance
            if self.faults.after_create(self.resource.name):
                return LaunchResult(
                    made[:-1], count, Transient("read timed out after creating (simulated)", cloud="chaos")
                )
        return LaunchResult(made, count)

    def destroy(self, ids: Sequence[str]) -> dict[str, str]:
        out = {}
        for iid in ids:
            self.faults.cloud_call("destroy", self.resource.name)
            inst = self.cloud.instances.get(iid)
            if inst is None or not inst.exists() or inst.state == "deleting":
                out[iid] = "gone"
                continue
            if inst.resource != self.resource.name or inst.tags.get(model.TAG_CLUSTER) != self.cluster:
                out[iid] = "refused: not ours"
                continue
            self.cloud.delete(inst, "operator" if self.cloud.operator else "dcluster")
            out[iid] = "ok"
            self.faults.after_destroy(self.resource.name)
        return out

    def cores(self) -> int:
        return self.resource.cores or 4

    def mem_mb(self) -> int:
        return self.resource.mem_mb or 0
