"""Scaling policies the replay can drive; all answer with :class:`dcluster.planner.Plan`.

* ``dcluster``: the real :func:`dcluster.planner.plan`, unchanged.
* ``static``: ``max`` nodes always on (already up when the trace starts).
* ``dc1``: Dynamic Cluster v1's allocator (the system dcluster rebuilds, see
  README.md), as a baseline: only the first 30 queued jobs are seen (``queued_job_number_to_display``);
  no scale-up at all while any node is starting; idle and in-flight nodes are
  ignored when sizing; a job bigger than a node asks for ``floor(P / cores)``
  nodes (Python 2 integer division: the remainder is lost), a smaller one is
  packed first-fit into the nodes proposed this round; every node has its own
  idle timer (strictly more than ``max_idle_time``), is held, then removed and
  destroyed once held and empty.
* ``powersave``: Slurm power saving.  All ``max`` nodes are configured in the
  scheduler; powered-down ones count as free, so the scheduler (FCFS + EASY)
  allocates jobs to them and exactly the nodes so allocated are resumed
  (``ResumeProgram``); a node idle for ``SuspendTime`` (the idle timeout) is
  suspended at once, with no drain step.

Each baseline is a small class producing the same :class:`Action` objects the
engine would carry out, so the replay treats every policy alike.
"""

from __future__ import annotations

from ..config import Config, Resource
from ..model import JobState, WorkerState
from ..planner import Action, Kind, Plan
from ..planner import plan as dcluster_plan
from ..planner.eligibility import order as eligible_order
from ..reconcile import View
from .scheduler import Scheduler

HOLD_PREFIX = "dcluster: "


class Policy:
    name = "?"
    strict_idle = False  # idle timer fires at "> limit" instead of ">= limit"
    prewarm = 0  # nodes already up when the replay starts
    has_idle = True  # the idle timeout is a setting of this policy

    def plan(self, view: View, config: Config, now: float, sim: Scheduler | None = None) -> Plan:
        raise NotImplementedError


class DclusterPolicy(Policy):
    name = "dcluster"

    def plan(self, view: View, config: Config, now: float, sim: Scheduler | None = None) -> Plan:
        return dcluster_plan(view, config, now)


def _registrations(view: View, config: Config) -> tuple[list[Action], set[str]]:
    """REGISTER every booted, configured instance not yet in the scheduler (what every policy must do)."""
    out, names = [], set()
    for w in view.workers:
        if (
            w.state == WorkerState.STARTING
            and w.node is None
            and w.instance is not None
            and w.instance.state.value == "running"
            and w.name in view.configured
        ):
            res = config.resources.get(w.resource)
            out.append(
                Action(
                    Kind.REGISTER,
                    w.resource,
                    "configuration finished",
                    target=w.name,
                    cores=w.instance.cores or (res.cores if res else 0) or 0,
                    mem_mb=w.instance.mem_mb or (res.mem_mb if res else 0) or 0,
                )
            )
            names.add(w.name)
    return out, names


def _backing_off(view: View, resource: str, now: float) -> bool:
    b = view.backoff.get(resource)
    return bool(b and b.active(now))


class StaticPolicy(Policy):
    """Max nodes, always: the no-autoscaling baseline."""

    name = "static"
    has_idle = False

    def __init__(self, max_nodes: int = 0):
        self.prewarm = max_nodes

    def plan(self, view: View, config: Config, now: float, sim: Scheduler | None = None) -> Plan:
        actions, _ = _registrations(view, config)
        for res in sorted(config.resources.values(), key=lambda r: r.name):
            short = res.max - view.current(res.name)
            if short > 0 and not _backing_off(view, res.name, now):
                actions.append(Action(Kind.LAUNCH, res.name, f"static: keep {res.max} nodes", count=short))
        return Plan(actions=tuple(actions))


class Dc1Policy(Policy):
    """Dynamic Cluster v1's allocator and per-node idle timers (see the module docstring)."""

    name = "dc1"
    strict_idle = True
    DISPLAY = 30

    def plan(self, view: View, config: Config, now: float, sim: Scheduler | None = None) -> Plan:
        actions, registered = _registrations(view, config)
        resources = sorted(config.resources.values(), key=lambda r: r.name)
        current = {r.name: sum(1 for w in view.workers if w.resource == r.name) for r in resources}
        starting = {
            r.name: any(
                w.state == WorkerState.STARTING and w.name not in registered
                for w in view.workers
                if w.resource == r.name
            )
            for r in resources
        }
        topped = False
        for res in resources:
            if current[res.name] < res.min and not starting[res.name]:
                actions.append(Action(Kind.LAUNCH, res.name, "dc1: below min", count=res.min - current[res.name]))
                topped = True
        if not topped and not any(starting.values()):
            actions += self._allocate(view, resources, current)
        actions += self._scale_down(view, config, now, resources)
        return Plan(actions=tuple(actions))

    def _allocate(self, view: View, resources: list[Resource], current: dict[str, int]) -> list[Action]:
        pending = [j for j in view.jobs if j.state == JobState.PENDING]
        pending.sort(key=lambda j: (-j.priority, j.submit_time, j.id))
        pending = pending[: self.DISPLAY]
        proposed: dict[str, list[int]] = {r.name: [] for r in resources}  # free cores of each proposed node
        claimed = {r.name: 0 for r in resources}
        for job in pending:
            for res in eligible_order(job, resources, current):
                cpn = res.cores or 1
                want = job.cores
                if min(job.chunk_cores, want) > cpn:
                    continue
                if (res.max - current[res.name]) * cpn - claimed[res.name] < want:
                    continue
                nodes = proposed[res.name]
                if want <= cpn:
                    for i, free in enumerate(nodes):
                        if free >= want:
                            nodes[i] -= want
                            break
                    else:
                        nodes.append(cpn - want)
                    claimed[res.name] += want
                else:
                    n = want // cpn  # Python 2 floor division: the remainder is not provisioned
                    nodes.extend([0] * n)
                    claimed[res.name] += n * cpn
                break
        out = []
        for res in resources:
            n = min(len(proposed[res.name]), res.max - current[res.name])
            if n > 0:
                out.append(Action(Kind.LAUNCH, res.name, f"dc1: {n} node(s) for queued jobs", count=n))
        return out

    def _scale_down(self, view: View, config: Config, now: float, resources: list[Resource]) -> list[Action]:
        out: list[Action] = []
        for res in resources:
            ws = [w for w in view.workers if w.resource == res.name]
            active = sum(1 for w in ws if w.state in (WorkerState.IDLE, WorkerState.BUSY))
            limit = config.idle_limit(res.name)
            for w in ws:
                if w.state == WorkerState.IDLE and now - w.since > limit and active > res.min:
                    out.append(
                        Action(
                            Kind.HOLD,
                            res.name,
                            f"{HOLD_PREFIX}dc1 idle {now - w.since:.0f} s > {limit} s",
                            target=w.name,
                        )
                    )
                    active -= 1
                elif w.state == WorkerState.DRAINING and not w.jobs and active + 1 > res.min:
                    out.append(Action(Kind.REMOVE, res.name, "dc1: held and empty", target=w.name))
                    out.append(
                        Action(
                            Kind.DESTROY,
                            res.name,
                            "dc1: held and empty",
                            target=w.name,
                            instance_id=w.instance.id if w.instance else "",
                        )
                    )
        return out


class PowersavePolicy(Policy):
    """Slurm power saving: resume the nodes the scheduler allocated, suspend after SuspendTime idle."""

    name = "powersave"

    def plan(self, view: View, config: Config, now: float, sim: Scheduler | None = None) -> Plan:
        if sim is None:
            raise ValueError("the powersave policy needs the simulated scheduler")
        actions, registered = _registrations(view, config)
        res = sorted(config.resources.values(), key=lambda r: r.name)[0]
        if len(config.resources) > 1:
            raise ValueError("the powersave baseline models one node set (one resource)")
        booting = [w for w in view.workers if w.resource == res.name and w.state == WorkerState.STARTING]
        off = max(0, res.max - view.current(res.name))
        if _backing_off(view, res.name, now):
            off = 0
        used_idle, resume = sim.whatif(now, booting=len(booting), off=off, cores=res.cores or 1)
        if resume:
            actions.append(
                Action(Kind.LAUNCH, res.name, f"powersave: resume {resume} node(s) allocated to jobs", count=resume)
            )
        limit = config.idle_limit(res.name)
        for w in view.workers:
            if (
                w.resource == res.name
                and w.state == WorkerState.IDLE
                and w.name not in used_idle
                and w.name not in registered
                and now - w.since >= limit
                and view.current(res.name) > res.min
            ):
                # SuspendProgram: straight down, no drain step (the node is idle).
                actions.append(
                    Action(Kind.REMOVE, res.name, f"powersave: idle >= SuspendTime {limit} s", target=w.name)
                )
                actions.append(
                    Action(
                        Kind.DESTROY,
                        res.name,
                        f"powersave: idle >= SuspendTime {limit} s",
                        target=w.name,
                        instance_id=w.instance.id if w.instance else "",
                    )
                )
            elif w.resource == res.name and w.state == WorkerState.DRAINING and not w.jobs:
                actions.append(Action(Kind.REMOVE, res.name, "powersave: drained", target=w.name))
                actions.append(
                    Action(
                        Kind.DESTROY,
                        res.name,
                        "powersave: drained",
                        target=w.name,
                        instance_id=w.instance.id if w.instance else "",
                    )
                )
        return Plan(actions=tuple(actions))


POLICIES = ("dcluster", "static", "dc1", "powersave")


def make(name: str, max_nodes: int = 0) -> Policy:
    if name == "dcluster":
        return DclusterPolicy()
    if name == "static":
        return StaticPolicy(max_nodes)
    if name == "dc1":
        return Dc1Policy()
    if name == "powersave":
        return PowersavePolicy()
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
