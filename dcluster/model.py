"""Plain, immutable data the core works on.

Scheduler adapters turn command output into :class:`Job` and :class:`Node`;
cloud drivers turn API answers into :class:`Instance`; :mod:`dcluster.reconcile`
joins them into :class:`Worker` objects, one per machine, each in exactly one
:class:`WorkerState`.  Everything here is immutable so a snapshot can be
shared between threads and kept as history without copying: frozen
dataclasses, but for :class:`Job`, which is read-only by convention (its
docstring says why).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from fnmatch import fnmatchcase
from typing import Any

from . import wire


class JobState(enum.StrEnum):
    PENDING = "pending"  # queued, eligible to run: the demand we scale for
    HELD = "held"  # queued but held by a user/admin/dependency: not demand
    RUNNING = "running"
    OTHER = "other"  # exiting, completed, suspended ...: ignored by the planner


class NodeState(enum.StrEnum):
    """A scheduler node's state, normalised across Torque, Grid Engine and Slurm."""

    IDLE = "idle"  # up, accepting jobs, no jobs
    BUSY = "busy"  # up, at least one job
    HELD = "held"  # offline/drained/disabled: accepts no new jobs (may still run some)
    DOWN = "down"  # not responding / error
    STARTING = "starting"  # known to the scheduler but not yet reporting (Slurm powering up, Torque mom-list-not-sent)
    UNKNOWN = "unknown"


class InstanceState(enum.StrEnum):
    PENDING = "pending"  # requested; spot request open, or building
    RUNNING = "running"  # the cloud says it is up
    ERROR = "error"
    DELETING = "deleting"  # shutting down / terminating
    GONE = "gone"  # terminated / deleted (still listed by some clouds for a while)


class WorkerState(enum.StrEnum):
    """Every worker is in exactly one of these (slurm-gcp slurmsync style)."""

    STARTING = "starting"  # our instance, not yet a usable scheduler node
    IDLE = "idle"  # our node, up, no jobs
    BUSY = "busy"  # our node, running jobs
    DRAINING = "draining"  # our node, held by *us* (hold reason ours); removed once empty
    HELD = "held"  # our node, held by an admin: never touched automatically
    ERROR = "error"  # our node down, or our instance in error, or node whose instance vanished
    DELETING = "deleting"  # the cloud is deleting it
    ORPHAN = "orphan"  # our instance that never became a scheduler node, past max_launch_time
    PHYSICAL = "physical"  # not launched by us: never touched
    UNKNOWN = "unknown"  # the cloud poll of its resource failed: no destructive action


# The most cores one node may have.  What a node, a cloud or a pillar says is input: the planner packs by
# free-core count (planner/packing.py), so a node claiming 2**64 cores cost it that much memory and time
# (a worker that registered itself so stopped every cycle).  The largest cloud instance today has 1,920
# vCPUs; a scheduler may count more slots than cores (Torque np, Grid Engine slots), rarely twice as many.
MAX_NODE_CORES = 4096
# The most nodes of one resource (quantity:max, an operator's limits): a job's chunks are laid out node by
# node up to it (a max of 10**12 and a job of 10**9 chunks ran the master out of memory).
MAX_NODES = 1_000_000

# Workers of these states count towards a resource's current size.
COUNTED_STATES = frozenset(
    {
        WorkerState.STARTING,
        WorkerState.IDLE,
        WorkerState.BUSY,
        WorkerState.DRAINING,
        WorkerState.HELD,
        WorkerState.ERROR,
        WorkerState.UNKNOWN,
    }
)


@dataclass(slots=True)
class Job:
    """One scheduler job, reduced to what scaling needs.

    The job's shape is ``chunks`` pieces of ``chunk_cores`` cores and
    ``chunk_mem_mb`` MB each.  ``distinct`` says the chunks must land on
    different nodes (Torque ``nodes=N:ppn=M``, Slurm ``-N``, Grid Engine
    integer allocation rules); when false the chunks may share nodes freely
    (Grid Engine ``$fill_up``/``$round_robin``: one chunk per slot).

    Treat a Job as read-only (derive changed ones with ``dataclasses.replace``),
    like the other model classes.  It alone is not frozen: a frozen
    dataclass sets every field through ``object.__setattr__`` (about 29,000
    CPU instructions a Job against 7,000), a tenth of a 50,000-job parse
    (docs/performance.md).  Nothing assigns to a Job's fields; as a mutable
    dataclass it is not hashable.
    """

    id: str
    state: JobState
    queue: str = ""
    account: str = ""
    properties: tuple[str, ...] = ()  # node properties/features the job requires
    constraint: str = ""  # Slurm --constraint as squeue shows it; when set it decides, not properties
    owner: str = ""
    name: str = ""
    priority: float = 0.0  # higher runs first
    chunks: int = 1
    chunk_cores: int = 1
    chunk_mem_mb: int = 0  # 0: not requested
    distinct: bool = True
    walltime_s: int = 0  # 0: not requested
    submit_time: float = 0.0
    nodes: tuple[str, ...] = ()  # nodes a running job occupies
    start_time: float = 0.0  # when a running job started (0: unknown); with walltime_s, when it must end
    begin_time: float = 0.0  # a held job's earliest start (Slurm --begin, Torque qsub -a); 0: none known
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def cores(self) -> int:
        return self.chunks * self.chunk_cores

    @property
    def mem_mb(self) -> int:
        return self.chunks * self.chunk_mem_mb

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return wire.from_dict(cls, data, state=JobState)

    def may_run_in(self, queue: str) -> bool:
        """Whether the scheduler may start this job in ``queue`` (a queue, partition or cluster queue name).

        ``queue`` is what the job asked for: empty when it named none (Grid Engine
        without ``-q``: any queue), else a comma-separated list (Slurm ``-p a,b``,
        Grid Engine ``-q a.q,b.q``), whose entries may be Grid Engine wildcard
        patterns (``*.q``) or queue instances (``b.q@host``: its cluster queue).
        """
        if not self.queue:
            return True
        if self.queue == queue:
            return True  # the common case, without splitting
        return any(fnmatchcase(queue, q.split("@", 1)[0].strip() or "*") for q in self.queue.split(","))


@dataclass(frozen=True, slots=True)
class Node:
    """One scheduler node (execution host)."""

    name: str
    state: NodeState
    cores: int = 0
    cores_used: int = 0
    mem_mb: int = 0
    jobs: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    hold_reason: str = ""  # why it is held/drained, when the scheduler keeps a reason
    state_since: float | None = None  # when the scheduler says it entered its state, if it says
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def held(self) -> bool:
        return self.state == NodeState.HELD

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        return wire.from_dict(cls, data, state=NodeState)


def host_key(name: str) -> str:
    """A host name as schedulers compare them: its first DNS label, case folded.  Grid Engine and Torque
    print the name the resolver gives (``dc-r1-....cluster.local``, or another case) for a host added by
    its short name; every worker's own name is a single lower-case label (identity.py), so a node whose
    key is a worker's name is that worker's node."""
    return name.split(".", 1)[0].casefold()


# Tags/metadata every instance we launch carries.  Listing selects on these.
TAG_CLUSTER = "dcluster-cluster"
TAG_RESOURCE = "dcluster-resource"
TAG_MINION = "dcluster-minion-id"
TAG_LAUNCHED = "dcluster-launch-time"


@dataclass(frozen=True, slots=True)
class Instance:
    """One cloud instance that carries our tags."""

    id: str
    resource: str
    minion_id: str  # also the scheduler node name
    state: InstanceState
    launch_time: float
    cluster: str = ""
    name: str = ""
    ip: str = ""
    cores: int = 0
    mem_mb: int = 0
    spot: bool = False
    tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instance:
        return wire.from_dict(cls, data, state=InstanceState)


@dataclass(frozen=True, slots=True)
class Worker:
    """A machine as dcluster sees it: a scheduler node joined with the instance behind it."""

    name: str
    state: WorkerState
    resource: str = ""  # "" for physical nodes
    node: Node | None = None
    instance: Instance | None = None
    since: float = 0.0  # when it entered ``state`` (as far as we know)
    reason: str = ""  # human-readable why it is in this state
    # when dcluster first saw it in ``state`` (reconcile: this poll, or carried while the state holds);
    # a destructive decision waits for a later poll that confirms it (planner.policy._confirmed)
    seen: float = 0.0
    # the state the polls last told while this one tells nothing new: a failed poll (unknown), or an error
    # seen at one poll only (unknown until the next agrees); None otherwise.  reconcile compares with it.
    was: WorkerState | None = None
    told_at: float = 0.0  # while polls fail (unknown): when the last one that told its state was; else 0

    @property
    def jobs(self) -> tuple[str, ...]:
        return self.node.jobs if self.node else ()

    @property
    def cores(self) -> int:
        if self.node and self.node.cores:
            return self.node.cores
        return self.instance.cores if self.instance else 0

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        out = {
            "name": self.name,
            "state": self.state.value,
            "resource": self.resource,
            "since": self.since,
            "reason": self.reason,
            "jobs": list(self.jobs),
            "cores": self.cores,
            "node": self.node.to_dict() if self.node else None,
            "instance": self.instance.to_dict() if self.instance else None,
        }
        if now is not None:
            out["age_s"] = max(0.0, now - self.since)
        return out


_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain(obj: Any) -> dict[str, Any]:
    """asdict() with enums turned into their values, for JSON and Salt returns.

    Field by field rather than through ``asdict``, whose recursive deep copy was most of the
    cost of publishing 100,000 jobs (issue 15); the model's fields are scalars, tuples of
    scalars and flat dicts (``extra``, ``tags``), copied here so the result shares nothing."""
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _FIELDS[type(obj)] = tuple(f.name for f in fields(obj))
    out = {}
    kinds = _KINDS
    for key in names:
        value = getattr(obj, key)
        kind = kinds.get(type(value))
        if kind is None:
            kind = _kind(type(value))
        if kind == _ENUM:
            value = value.value
        elif kind == _TUPLE:
            value = list(value)
        elif kind == _CONTAINER:
            value = _copy(value)
        out[key] = value
    return out


# What _plain does with a value, by its type: one dict look-up per field instead of up to three
# isinstance calls (a third of publishing 5,000 workers; issue 15).  Same order as those tests.
_SCALAR, _ENUM, _TUPLE, _CONTAINER = 0, 1, 2, 3
_KINDS: dict[type, int] = {}


def _kind(t: type) -> int:
    kind = (
        _ENUM
        if issubclass(t, enum.Enum)
        else _TUPLE
        if issubclass(t, tuple)
        else _CONTAINER
        if issubclass(t, (dict, list))
        else _SCALAR
    )
    _KINDS[t] = kind
    return kind


def _copy(value: Any) -> Any:
    """A deep copy of plain containers (what ``asdict`` did for a field)."""
    if isinstance(value, dict):  # no call per scalar: tags and extra are flat dicts of strings
        return {k: _copy(v) if isinstance(v, (dict, list, tuple)) else v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value
