"""Ground truth of a Slurm cluster, answering the real adapter's commands in Slurm 22.05's formats.

This is a simulation (no slurmctld runs): nodes and jobs live here, and
:meth:`SimSlurm.run` is the ``run(argv) -> (rc, stdout, stderr)`` callable
the real :class:`dcluster.schedulers.slurm.SlurmAdapter` is built over.  Its
answers have the shape of the recorded 22.05.8 outputs in
tests/data/scheduler-output/slurm (``sinfo --json``, ``squeue --all --json``,
``scontrol --future show node -o``), so the real parsers read them.

Faults never live here: :class:`tests.support.chaos.faults.Faults` wraps
``run`` and decides, per call, to time out, fail, garble or drop a record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

META = {
    "plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
    "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"},
}
PARTITION = "dyn"
JOIN_DELAY = 10.0  # slurmd of a configured worker registers this long after the node is created


@dataclass
class SimNode:
    name: str
    cpus: int
    mem_mb: int = 0
    features: str = "dcluster"
    address: str = ""
    created: float = 0.0
    up: bool = False  # slurmd registered (FUTURE until then)
    not_responding: bool = False  # was up, its machine is gone
    drain: bool = False
    reason: str = ""
    reason_at: float = 0.0


@dataclass
class SimJob:
    id: int
    cpus: int
    duration: float  # true run time
    submit: float
    priority: int
    state: str = "PENDING"  # PENDING, RUNNING, COMPLETED, FAILED
    node: str = ""
    start: float = 0.0
    requeues: int = 0

    @property
    def time_limit_min(self) -> int:
        return int(self.duration // 60) + 2


@dataclass
class SlurmCounts:
    """What the scheduler saw happen, for the oracle (requeues split by who asked)."""

    requeued_by_dcluster: int = 0
    requeued_by_operator: int = 0
    requeued_by_node_failure: int = 0
    failed_by_destroy: int = 0
    cancelled_by_dcluster: int = 0
    completed: int = 0
    refused: list[str] = field(default_factory=list)
    # nodes taken out while up, responding and not drained (by dcluster, not an operator): scale-down drains
    # first, so only a node judged broken (not usable, down, its instance in error) goes so
    removed_healthy: list[str] = field(default_factory=list)


class SimSlurm:
    def __init__(self, clock: Callable[[], float], alive: Callable[[str], bool]):
        self.clock = clock  # true time (the head node's clock)
        self.alive = alive  # is the machine behind this node name running and joined?
        self.nodes: dict[str, SimNode] = {}
        self.jobs: dict[int, SimJob] = {}
        self.next_id = 1
        self.counts = SlurmCounts()
        self.operator = False  # set by the harness while an operator command runs

    # ------------------------------------------------------------ the world moving
    def submit(self, cpus: int, duration: float, priority: int = 1000) -> SimJob:
        job = SimJob(self.next_id, cpus, duration, self.clock(), priority - self.next_id)
        self.jobs[job.id] = job
        self.next_id += 1
        return job

    def running_on(self, name: str) -> list[SimJob]:
        return [j for j in self.jobs.values() if j.state == "RUNNING" and j.node == name]

    def used(self, name: str) -> int:
        return sum(j.cpus for j in self.running_on(name))

    def machine_lost(self, name: str, by_dcluster: bool) -> list[SimJob]:
        """The machine behind ``name`` is gone: its jobs fail (our fault) or are requeued (the cloud's)."""
        node = self.nodes.get(name)
        jobs = self.running_on(name)
        for j in jobs:
            if by_dcluster:
                j.state = "FAILED"
                self.counts.failed_by_destroy += 1
            else:
                j.state, j.node, j.start = "PENDING", "", 0.0
                j.requeues += 1
                self.counts.requeued_by_node_failure += 1
        if node is not None and node.up:
            node.not_responding = True
        return jobs

    def tick(self) -> None:
        now = self.clock()
        for j in self.jobs.values():
            if j.state == "RUNNING" and now >= j.start + j.duration:
                j.state, j.node = "COMPLETED", ""
                self.counts.completed += 1
        for n in self.nodes.values():
            ok = self.alive(n.name)
            if not n.up and ok and now >= n.created + JOIN_DELAY:
                n.up, n.not_responding = True, False
            elif n.up and not ok:
                n.not_responding = True
            elif n.up and ok and n.not_responding:
                n.not_responding = False
        free = {
            n.name: n.cpus - self.used(n.name)
            for n in self.nodes.values()
            if n.up and not n.not_responding and not n.drain
        }
        for j in sorted((j for j in self.jobs.values() if j.state == "PENDING"), key=lambda j: (-j.priority, j.id)):
            for name in sorted(free):
                if free[name] >= j.cpus:
                    j.state, j.node, j.start = "RUNNING", name, now
                    free[name] -= j.cpus
                    break

    def unfinished(self) -> int:
        return sum(1 for j in self.jobs.values() if j.state in ("PENDING", "RUNNING"))

    # ------------------------------------------------------------ outputs
    def _node_state(self, n: SimNode) -> tuple[str, list[str]]:
        flags = ["DYNAMIC_NORM"]
        used = self.used(n.name)
        if n.not_responding:
            base = "down"
            flags.insert(0, "NOT_RESPONDING")
        elif used >= n.cpus:
            base = "allocated"
        elif used:
            base = "mixed"
        else:
            base = "idle"
        if n.drain:
            flags.insert(0, "DRAIN")
        return base, flags

    def sinfo(self) -> dict:
        out = []
        for n in self.nodes.values():
            if not n.up:
                continue  # sinfo hides FUTURE nodes
            base, flags = self._node_state(n)
            used = self.used(n.name)
            out.append(
                {
                    "name": n.name,
                    "hostname": n.name,
                    "address": n.address or n.name,
                    "state": base,
                    "state_flags": flags,
                    "reason": n.reason if n.drain or n.not_responding else "",
                    "reason_changed_at": int(n.reason_at) if n.reason else 0,
                    "reason_set_by_user": "root",
                    "cpus": n.cpus,
                    "alloc_cpus": used,
                    "idle_cpus": n.cpus - used,
                    "real_memory": n.mem_mb,
                    "alloc_memory": 0,
                    "features": n.features,
                    "active_features": n.features,
                    "partitions": [PARTITION],
                    "slurmd_version": "22.05.8",
                    "weight": 1,
                    "tres": f"cpu={n.cpus},mem={n.mem_mb}M,billing={n.cpus}",
                }
            )
        return {"meta": META, "errors": [], "nodes": out}

    def squeue(self) -> dict:
        out = []
        for j in self.jobs.values():
            if j.state not in ("PENDING", "RUNNING"):
                continue
            out.append(
                {
                    "account": "",
                    "array_job_id": 0,
                    "array_task_id": None,
                    "array_task_string": "",
                    "job_id": j.id,
                    "job_state": j.state,
                    "state_reason": "None" if j.state == "RUNNING" else "Resources",
                    "nodes": j.node,
                    "cpus": j.cpus,
                    "node_count": 1,
                    "tasks": j.cpus,
                    "start_time": int(j.start),
                    "end_time": int(j.start + j.time_limit_min * 60) if j.start else 0,
                    "time_limit": j.time_limit_min,
                    "submit_time": int(j.submit),
                    "priority": j.priority,
                    "partition": PARTITION,
                    "tres_req_str": f"cpu={j.cpus},node=1,billing={j.cpus}",
                    "features": "",
                    "memory_per_node": None,
                    "memory_per_cpu": None,
                    "name": f"job{j.id}",
                    "user_name": "chaos",
                    "requeue": True,
                    "restart_cnt": j.requeues,
                    "batch_flag": True,
                }
            )
        return {"meta": META, "errors": [], "jobs": out}

    def future_nodes(self) -> str:
        lines = []
        for n in self.nodes.values():
            if n.up:
                continue
            lines.append(
                f"NodeName={n.name} Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUTot={n.cpus} CPULoad=N/A "
                f"AvailableFeatures={n.features} ActiveFeatures={n.features} Gres=(null) "
                f"NodeAddr={n.address or n.name} NodeHostName={n.name} RealMemory={n.mem_mb} "
                f"State=FUTURE+DYNAMIC_NORM ThreadsPerCore=1 Partitions={PARTITION} Weight=1"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    # ------------------------------------------------------------ the command line
    def run(self, argv, stdin=None) -> tuple[int, str, str]:
        prog = argv[0].rsplit("/", 1)[-1]
        args = list(argv[1:])
        if prog == "squeue":
            return 0, json.dumps(self.squeue()), ""
        if prog == "sinfo":
            return 0, json.dumps(self.sinfo()), ""
        if prog == "scancel":
            job = self.jobs.get(_int(args[0]))
            if job is not None and job.state in ("PENDING", "RUNNING"):
                if job.state == "RUNNING" and not self.operator:
                    self.counts.cancelled_by_dcluster += 1
                job.state, job.node = "FAILED", ""
            return 0, "", ""
        if prog != "scontrol":
            return 127, "", f"{prog}: command not found"
        if args[:4] == ["--future", "show", "node", "-o"]:
            return 0, self.future_nodes(), ""
        if args == ["ping"]:
            return 0, "Slurmctld(primary) at head is UP\n", ""
        kv = dict(a.split("=", 1) for a in args[1:] if "=" in a)
        verb = args[0] if args else ""
        if verb == "create" and "nodename" in kv:
            return self._create(kv)
        if verb == "create" and args[1:2] == ["reservation"]:
            return 0, f"Reservation created: {kv.get('reservationname', '')}\n", ""
        if verb == "delete" and args[1:2] == ["reservation"]:
            return 1, "", "Error deleting the reservation: Requested reservation is invalid\n"
        if verb == "delete" and "nodename" in kv:
            return self._delete(kv["nodename"])
        if verb == "update" and "nodename" in kv:
            return self._update(kv)
        if verb == "requeue":
            return self._requeue(_int(args[1]) if len(args) > 1 else -1)
        return 1, "", f"scontrol: unsupported by the simulation: {' '.join(args)[:200]}\n"

    def _create(self, kv: dict) -> tuple[int, str, str]:
        name = kv["nodename"]
        if name in self.nodes:
            return 1, "", f"scontrol_create_nodes error: Duplicate node name {name}\n"
        self.nodes[name] = SimNode(
            name,
            int(kv.get("cpus", 1)),
            int(kv.get("realmemory", 0)),
            kv.get("features", "dcluster"),
            kv.get("nodeaddr", ""),
            created=self.clock(),
        )
        return 0, "", ""

    def _delete(self, name: str) -> tuple[int, str, str]:
        if name not in self.nodes:
            return 1, "", f"delete_nodes error: Invalid node name specified: {name}\n"
        if self.running_on(name):
            self.counts.refused.append(name)
            return 1, "", f"delete_nodes error: Node {name} is in use\n"
        n = self.nodes[name]
        if n.up and not n.not_responding and not n.drain and not self.operator and self.alive(name):
            self.counts.removed_healthy.append(name)
        del self.nodes[name]
        return 0, "", ""

    def _update(self, kv: dict) -> tuple[int, str, str]:
        node = self.nodes.get(kv["nodename"])
        if node is None:
            return 1, "", "slurm_update error: Invalid node name specified\n"
        state = kv.get("state", "").lower()
        if state == "drain":
            node.drain, node.reason, node.reason_at = True, kv.get("reason", ""), self.clock()
        elif state == "resume":
            node.drain, node.reason = False, ""
        if "activefeatures" in kv:
            node.features = kv["activefeatures"]
        return 0, "", ""

    def _requeue(self, jid: int) -> tuple[int, str, str]:
        job = self.jobs.get(jid)
        if job is None or job.state not in ("PENDING", "RUNNING"):
            return 1, "", f"Requeue of job {jid} failed: Invalid job id specified\n"
        if job.state == "RUNNING":
            if self.operator:
                self.counts.requeued_by_operator += 1
            else:
                self.counts.requeued_by_dcluster += 1
        job.state, job.node, job.start = "PENDING", "", 0.0
        job.requeues += 1
        return 0, "", ""


def _int(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return -1
