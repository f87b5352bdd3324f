"""Put every worker into exactly one state, from the scheduler and cloud snapshots.

Workers are joined by identity, never by reverse DNS: the scheduler node name
equals the minion id recorded in the instance's tags at launch.  A node whose
name is not one of our HMAC-signed ids is PHYSICAL and is never touched.  A
resource whose cloud poll failed has its workers put in UNKNOWN, which the
planner never acts on destructively: a failed poll must not look like "the
instance is gone".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import absence, identity
from .absence import Absence
from .config import Config
from .demand import Demand
from .demand import observe as observe_demand
from .holds import is_our_hold
from .model import (
    COUNTED_STATES,
    Instance,
    InstanceState,
    Job,
    Node,
    NodeState,
    Worker,
    WorkerState,
    host_key,
)

# What counts toward a resource's max: every instance that exists in any state, until it is gone
# (an orphan or an instance being deleted is still there, and still paid for).
MAX_STATES = COUNTED_STATES | {WorkerState.DELETING, WorkerState.ORPHAN}
STALE_REASON = "cloud poll failed; kept from the last good listing; no action until it answers"
UNLISTED_REASON = (
    "missing from the {resource} cloud listing, shown by an earlier one: counted until listings "
    "agree it is gone; no action"
)
# A worker found in error (its node down, its instance in ERROR) at one poll only: unknown until the next
# agrees, so that one wrong answer neither destroys it nor launches its replacement (red team)
ONE_POLL = "one poll so far says: "


@dataclass(frozen=True, slots=True)
class Limits:
    """Operator overrides of a resource's limits (freeze, drain)."""

    min: int
    max: int
    mode: str = "normal"  # normal | frozen | draining


@dataclass(frozen=True, slots=True)
class BackoffState:
    failures: int = 0
    until: float = 0.0  # no launches on this resource before this time
    kind: str = ""  # last error kind: quota, capacity, config, auth, transient
    last_error: str = ""

    def active(self, now: float) -> bool:
        return self.until > now


@dataclass(frozen=True, slots=True)
class BootstrapState:
    """The bootstrap breaker of a resource: its instances launched and destroyed without ever joining.

    ``failures`` counts such instances in a row (a worker that joins ends the
    run); at the pillar's ``bootstrap_failures`` the resource launches no more
    until an operator restores it or its pillar changes (``fingerprint``).
    """

    failures: int = 0
    since: float = 0.0  # launch time of the first of them: only a worker launched since disproves it
    last: tuple[str, ...] = ()  # the latest of them (minion ids), for the status and de-duplication
    reason: str = ""
    fingerprint: str = ""  # the resource's pillar when they were launched

    def protected(self, limit: int) -> bool:
        return limit > 0 and self.failures >= limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "since": self.since,
            "last": list(self.last),
            "reason": self.reason,
            "fingerprint": self.fingerprint,
        }


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class View:
    """Everything the planner may look at; built by :func:`reconcile`."""

    now: float
    workers: tuple[Worker, ...]
    jobs: tuple[Job, ...]
    scheduler_ok: bool = True
    cloud_ok: Mapping[str, bool] = field(default_factory=_empty)
    configured: frozenset[str] = frozenset()  # minion ids whose configuration check passed
    # minion ids whose REGISTER was carried out (actuator Records.registered); None: not known (the
    # simulator, tests), and then a node that joined by itself is not registered again
    registered: frozenset[str] | None = None
    in_flight: Mapping[str, int] = field(default_factory=_empty)  # launches requested, not yet listed
    # ids asked of a create call that failed transiently, not listed yet: they may exist
    maybe_launched: Mapping[str, int] = field(default_factory=_empty)
    backoff: Mapping[str, BackoffState] = field(default_factory=_empty)
    limits: Mapping[str, Limits] = field(default_factory=_empty)
    bootstrap: Mapping[str, BootstrapState] = field(default_factory=_empty)  # resources whose instances never joined
    shapes: Mapping[str, tuple[int, int]] = field(default_factory=_empty)  # (cores, mem_mb) the cloud reports
    auto_mode: bool = True
    absences: Mapping[str, Absence] = field(default_factory=_empty)  # workers missing from one source (absence.py)
    # workers whose instance the cloud listed as being deleted: in how many listings in a row (a new
    # listing is a new instance snapshot); its node is removed only on more than one
    deleting: Mapping[str, int] = field(default_factory=_empty)
    # ... listed in ERROR (stopped, or a wrong answer): in how many listings in a row; destroyed only on more than one
    in_error: Mapping[str, int] = field(default_factory=_empty)
    # workers the actuator is acting on (a chain under way or ended while this view was observed:
    # dcluster.actuator.Status.acting); the planner plans nothing for them this cycle
    acting: frozenset[str] = frozenset()
    # recent job starts and boot durations per resource (demand.py), carried from the previous view
    demand: Mapping[str, Demand] = field(default_factory=_empty)
    # the jobs' submit times are on the monotonic clock: scale_up_delay was set when they were polled
    # (controller/timeline.py); what people read is put back on the wall clock by it, not by today's config
    submit_times: bool = False

    def by_resource(self, resource: str) -> list[Worker]:
        return [w for w in self.workers if w.resource == resource]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for w in self.workers:
            out.setdefault(w.resource or "(physical)", {}).setdefault(w.state.value, 0)
            out[w.resource or "(physical)"][w.state.value] += 1
        return out

    def current(self, resource: str) -> int:
        """What counts toward max: instances in any state until gone, plus launches under way or of
        unknown outcome.

        A node whose instance the listings agree is gone (ERROR, no instance) is no instance: it is
        not counted.  Counting it made the plan depend on one node list: an ``sinfo`` that left the
        dead node out, once, made room for a launch the next poll took back (chaos seed 3050)."""
        return sum(
            1
            for w in self.workers
            if w.resource == resource
            and w.state in MAX_STATES
            and (w.instance is not None or w.state != WorkerState.ERROR)
        ) + self.launching(resource)

    def launching(self, resource: str) -> int:
        """Instances that may exist and no listing shows: launches under way, and create calls of
        unknown outcome.  Counted as starting capacity, so a job never causes two launches."""
        return self.in_flight.get(resource, 0) + self.maybe_launched.get(resource, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "workers": [w.to_dict(self.now) for w in self.workers],
            "jobs": [j.to_dict() for j in self.jobs],
            "scheduler_ok": self.scheduler_ok,
            "cloud_ok": dict(self.cloud_ok),
            "in_flight": dict(self.in_flight),
            "maybe_launched": dict(self.maybe_launched),
            "backoff": {
                k: {"failures": b.failures, "until": b.until, "kind": b.kind, "last_error": b.last_error}
                for k, b in self.backoff.items()
            },
            "limits": {k: {"min": v.min, "max": v.max, "mode": v.mode} for k, v in self.limits.items()},
            "bootstrap": {k: b.to_dict() for k, b in self.bootstrap.items()},
            "auto_mode": self.auto_mode,
            "absences": {k: a.to_dict() for k, a in self.absences.items()},
            "deleting": dict(self.deleting),
            "in_error": dict(self.in_error),
            "acting": sorted(self.acting),
        }


def _blind_limit(config: Config) -> float:
    """How long failed polls may last before what the polls before them told is forgotten: a few of each."""
    return max(60.0, 3.0 * config.cluster_poller_interval, 2.0 * config.cloud_poller_interval)


def _aliases(shown: Mapping[str, object], ours: Mapping[str, object]) -> dict[str, str]:
    """Names in ``shown`` that are another spelling of a name in ``ours`` (the same model.host_key) and
    not a name of ``ours`` themselves, each to that name; none when both spellings are shown."""
    out = {}
    for name in shown:
        if name not in ours and (key := host_key(name)) != name and key in ours and key not in shown:
            out[name] = key
    return out


def reconcile(
    config: Config,
    now: float,
    nodes: Iterable[Node] | None,
    instances: Mapping[str, Iterable[Instance] | None],
    jobs: Iterable[Job] = (),
    previous: View | None = None,
    stale: Mapping[str, Iterable[Instance]] | None = None,
    unlisted: Mapping[str, Iterable[Instance]] | None = None,
    **extra: Any,
) -> View:
    """Join the snapshots into a :class:`View`.

    ``nodes`` is None when the scheduler poll failed; ``instances`` maps each
    resource to its instances, or to None when that resource's poll failed.
    ``previous`` carries each worker's ``since`` across cycles.  ``stale``
    maps a resource whose poll failed to its last known instances: they stay
    in the view (as UNKNOWN workers, so they count toward max and nothing
    destructive is based on them) instead of vanishing.  ``unlisted`` maps a
    resource whose poll answered to instances an earlier good listing showed
    and this one misses: one that is no scheduler node is kept the same way
    (a node missing its instance is absence.py's).  ``extra``
    passes the engine's runtime state (configured, in_flight, backoff,
    limits, auto_mode) through to the view.
    """
    scheduler_ok = nodes is not None
    node_map = {n.name: n for n in (nodes or ())}
    # retired resources are listed too: their instances are drained and destroyed (controller/retired.py)
    cloud_ok = {name: instances.get(name) is not None for name in (*config.resources, *config.retired)}
    inst_map: dict[str, Instance] = {}
    inst: Instance | None  # a listed instance in the loops below; a worker's, if any, after them
    stale_ids: set[str] = set()
    for name, items in (stale or {}).items():
        if cloud_ok.get(name, True):
            continue  # listed this cycle: the fresh answer wins
        for inst in items or ():
            if inst.state != InstanceState.GONE:
                inst_map[inst.minion_id] = inst
                stale_ids.add(inst.minion_id)
    for listing in instances.values():
        for inst in listing or ():
            if inst.state == InstanceState.GONE:
                continue  # terminated instances are history, not workers
            # Two live instances claiming one minion id would be a bug elsewhere; keep the older.
            old = inst_map.get(inst.minion_id)
            if old is None or inst.launch_time < old.launch_time:
                inst_map[inst.minion_id] = inst
    unlisted_ids: set[str] = set()
    for name, items in (unlisted or {}).items():
        if not cloud_ok.get(name, False):
            continue  # its stale listing has them
        for inst in items or ():
            if inst.state != InstanceState.GONE and inst.minion_id not in inst_map and inst.minion_id not in node_map:
                inst_map[inst.minion_id] = inst
                unlisted_ids.add(inst.minion_id)

    # A scheduler that prints its resolver's name for a host (Grid Engine, Torque: with a domain, in
    # another case) lists our worker under a name not its own.  Joined by host_key; else its node would
    # be a physical one and its instance an orphan, destroyed while the job on it runs.
    for shown, name in _aliases(node_map, inst_map).items():
        node_map[name] = node_map.pop(shown)
    before = {w.name: w for w in previous.workers} if previous else {}
    jobs = tuple(jobs)
    listed_jobs = absence.running_on(jobs) if scheduler_ok else {}
    for shown, name in _aliases(listed_jobs, inst_map).items():
        listed_jobs[name] = (*listed_jobs.get(name, ()), *listed_jobs.pop(shown))
    prev_absences = previous.absences if previous is not None else {}
    prev_deleting = previous.deleting if previous is not None else {}
    prev_in_error = previous.in_error if previous is not None else {}
    deleting: dict[str, int] = {}
    in_error: dict[str, int] = {}
    absences: dict[str, Absence] = {}
    workers = []
    for name in sorted(set(node_map) | set(inst_map)):
        node, inst = node_map.get(name), inst_map.get(name)
        prev = before.get(name)
        listed = listed_jobs.get(name, ())
        if inst is not None and inst.state in (InstanceState.DELETING, InstanceState.ERROR):
            counts, prev_counts = (
                (deleting, prev_deleting) if inst.state == InstanceState.DELETING else (in_error, prev_in_error)
            )
            seen = prev_counts.get(name, 0)
            same_listing = prev is not None and prev.instance is inst  # not polled again (or a stale listing)
            counts[name] = max(1, seen) if same_listing else seen + 1
        if (
            prev is not None
            and not (listed and not set(listed) <= set(node.jobs if node else ()))
            and node is not None
            and inst is not None
            and prev.node is node
            and prev.instance is inst
            and scheduler_ok
            and cloud_ok.get(inst.resource, False)
            and prev.state != WorkerState.STARTING
            and prev.was is None
        ):  # starting ones depend on their age; an error seen once is confirmed by the next poll, same or not
            # Same (immutable) snapshots as last cycle: with a node present the classification does
            # not depend on the time, so the worker is unchanged.  Saves most of the work of a
            # cycle in a large steady cluster (and of every step of a trace replay).
            workers.append(prev)
            continue
        if name in stale_ids:
            # stale and unlisted ids are keys of inst_map: inst is that instance
            state, resource, reason = WorkerState.UNKNOWN, inst_map[name].resource, STALE_REASON
        elif name in unlisted_ids:
            res_name = inst_map[name].resource
            state, resource, reason = WorkerState.UNKNOWN, res_name, UNLISTED_REASON.format(resource=res_name)
        else:
            state, resource, reason = _classify(config, now, name, node, inst, cloud_ok, scheduler_ok)
        if (
            state == WorkerState.ERROR
            and node is not None
            and inst is not None
            and not node.jobs
            and node.state in (NodeState.DOWN, NodeState.UNKNOWN)
            and inst.state == InstanceState.RUNNING
            and now - inst.launch_time <= config.max_launch_time
            and prev is not None
            and (prev.was or prev.state) == WorkerState.STARTING  # (a failed poll in between tells nothing)
        ):
            # Just registered and never usable yet (a new Grid Engine exec host is "u" until its
            # execd reports): still starting, so its capacity counts and no second node is launched.
            state, reason = WorkerState.STARTING, f"registered, waiting for its first report ({reason})"
        # What the polls before said of it: its state, or, while they said nothing new (a failed poll) or an
        # error seen once awaits the next poll, the state they last told (Worker.was)
        told = (prev.was or prev.state) if prev is not None else None
        blind = state == WorkerState.UNKNOWN and (
            name in stale_ids or not scheduler_ok or (inst is None and not cloud_ok.get(resource, False))
        )
        was = None
        told_at = 0.0  # (a worker a poll told about: this poll)
        if blind:
            # a failed poll tells nothing: what the polls before told stands, and its timers go on (else a poll
            # failing now and then kept a dead node unknown, and paid for, for ever); but not through a longer
            # outage (much may have happened meanwhile: a qmaster restart, a node back up and down again), and
            # a node the scheduler shows up while only its listing failed is no longer one that was seen down
            told_at = (prev.told_at or previous.now) if prev is not None and previous is not None else now
            up = node is not None and node.state not in (NodeState.DOWN, NodeState.UNKNOWN, NodeState.STARTING)
            long = now - told_at > _blind_limit(config)
            was = None if (name in stale_ids and up) or long else told
        elif (
            state == WorkerState.ERROR
            and inst is not None
            and (
                told != WorkerState.ERROR
                or (  # the same listing seen again (the cloud is polled less often than the scheduler) is no second
                    inst.state == InstanceState.ERROR
                    and prev is not None
                    and prev.was == WorkerState.ERROR
                    and prev.instance is inst
                )
            )
        ):
            # (a node whose instance is missing: absence.py confirms that)
            state, reason = WorkerState.UNKNOWN, f"{ONE_POLL}{reason}; no action until the next poll agrees"
            was = WorkerState.ERROR
        if name in unlisted_ids:
            if name in prev_absences:  # no observation of either source about it: its count goes on
                absences[name] = prev_absences[name]
        elif state != WorkerState.PHYSICAL:
            gone = absence.observe(
                prev_absences.get(name),
                node,
                inst,
                resource,
                scheduler_ok,
                cloud_ok,
                prev is not None and prev.node is not None,
                now,
                was_deleting=prev is not None
                and prev.instance is not None
                and prev.instance.state == InstanceState.DELETING,
            )
            if gone is not None:
                absences[name] = gone
            state, reason = absence.judge(config, now, state, reason, gone, node, resource, listed)
        since = _since(state, node, inst, before.get(name), now, previous)
        if blind and was is not None and prev is not None:
            since = prev.since
        # seen so since before: in the state the polls told (blind, or an error seen once awaiting the next),
        # else in this one (also an error seen once before, now confirmed)
        first_seen = prev.seen if prev is not None and told == (was or state) else now
        workers.append(
            Worker(
                name=name,
                state=state,
                resource=resource,
                node=node,
                instance=inst,
                since=since,
                reason=reason,
                seen=first_seen,
                was=was,
                told_at=told_at,
            )
        )
    if not scheduler_ok and previous is not None:
        jobs_out = previous.jobs  # keep showing what we last knew; the planner acts on nothing
        extra["submit_times"] = previous.submit_times  # and on the clock they were polled on
    else:
        jobs_out = jobs
    return View(
        now=now,
        workers=tuple(workers),
        jobs=tuple(jobs_out),
        scheduler_ok=scheduler_ok,
        cloud_ok=MappingProxyType(cloud_ok),
        absences=MappingProxyType(absences),
        deleting=MappingProxyType(deleting),
        in_error=MappingProxyType(in_error),
        demand=MappingProxyType(dict(observe_demand(previous, workers, now, scheduler_ok, before))),
        **{k: _freeze(v) for k, v in extra.items()},
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    if isinstance(value, (set, list)):
        return frozenset(value)
    return value


def _classify(
    config: Config,
    now: float,
    name: str,
    node: Node | None,
    inst: Instance | None,
    cloud_ok: Mapping[str, bool],
    scheduler_ok: bool,
) -> tuple[WorkerState, str, str]:
    if inst is None:
        ident = identity.parse(name, config.secrets, config.cluster_name)
        if ident is None:
            return WorkerState.PHYSICAL, "", "not launched by dcluster"
        resource = ident.resource
        if not cloud_ok.get(resource, False):
            why = "unknown resource" if resource not in config.resources else "cloud poll failed"
            return WorkerState.UNKNOWN, resource, f"{why}; no action until the cloud answers"
        return WorkerState.ERROR, resource, "its instance is gone from the cloud"

    resource = inst.resource
    if not scheduler_ok:
        return WorkerState.UNKNOWN, resource, "scheduler poll failed; no action until it answers"
    age = now - inst.launch_time
    if inst.state == InstanceState.DELETING:
        return WorkerState.DELETING, resource, "the cloud is deleting the instance"
    if inst.state == InstanceState.ERROR:
        return WorkerState.ERROR, resource, "the instance is in ERROR in the cloud"
    if node is None:
        if age > config.max_launch_time:
            return (
                WorkerState.ORPHAN,
                resource,
                f"never became a scheduler node within max_launch_time ({config.max_launch_time} s); "
                f"launched {age:.0f} s ago",
            )
        return WorkerState.STARTING, resource, f"instance {inst.state.value}, not yet a scheduler node"

    if node.jobs and node.state in (NodeState.IDLE, NodeState.STARTING, NodeState.UNKNOWN):
        # A node with jobs is busy whatever its state string says.
        return WorkerState.BUSY, resource, f"{len(node.jobs)} job(s)"
    if node.state == NodeState.HELD:
        if is_our_hold(node.hold_reason):
            return WorkerState.DRAINING, resource, node.hold_reason or "held by dcluster"
        return WorkerState.HELD, resource, f"held by an admin: {node.hold_reason or 'no reason given'}"
    if node.state == NodeState.IDLE:
        return WorkerState.IDLE, resource, "no jobs"
    if node.state == NodeState.BUSY:
        return WorkerState.BUSY, resource, f"{len(node.jobs)} job(s)"
    if node.state == NodeState.STARTING:
        return WorkerState.STARTING, resource, "registered, not yet reporting"
    if node.state == NodeState.DOWN:
        return (
            WorkerState.ERROR,
            resource,
            f"down in the scheduler{': ' + node.hold_reason if node.hold_reason else ''}",
        )
    return WorkerState.ERROR, resource, f"scheduler state {node.state.value}"


def _since(
    state: WorkerState,
    node: Node | None,
    inst: Instance | None,
    before: Worker | None,
    now: float,
    previous: View | None = None,
) -> float:
    if before is not None and (before.state == state or before.was == state):
        return before.since  # (also across a failed poll, and an error seen once now confirmed)
    if state == WorkerState.STARTING and inst is not None:
        return inst.launch_time
    if (
        node is not None
        and node.state_since is not None
        and state in (WorkerState.IDLE, WorkerState.BUSY, WorkerState.DRAINING, WorkerState.HELD, WorkerState.ERROR)
    ):
        since = min(node.state_since, now)
        if (
            before is not None
            and previous is not None
            and before.state not in (WorkerState.UNKNOWN, WorkerState.STARTING)
        ):
            # We saw it in another state last poll, so it changed since then, whatever the node's
            # timestamp says: one poll with a flipped state string must not look down for hours.
            since = max(since, min(previous.now, now))
        return since
    return now
