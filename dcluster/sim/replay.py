"""Trace replay: the real reconcile + policy against a simulated scheduler and cloud, in simulated time.

The loop is event driven.  Scheduler events (a job arrives, a job ends) are
handled at their exact times: the simulated scheduler starts what fits at
once, as a real one would (``scheduler``: ``easy``, FCFS + EASY,
:mod:`.scheduler`; or ``slurm``, multifactor priority with a main pass on
events and a backfill pass every ``bf_interval`` s, :mod:`.slurm`, whose passes
are events too).  *Decision ticks* - the engine's
cycle: snapshot nodes, instances and pending jobs as :mod:`dcluster.model`
objects, :func:`dcluster.reconcile.reconcile` them, ask the policy for a
:class:`~dcluster.planner.Plan`, carry its actions out - run on the engine's
cadence (``poll`` s, default 10 s: the engine plans after every scheduler poll,
``cluster_poller_interval``; measured from the trace's first submit) and only
when something could change the answer:

* the scheduler changed (a job arrived, started or ended, a node changed):
  the next cycle sees it, as the engine's next poll would (the policy's view
  carries a worker's idle time over cycles, so a job that ran between two of
  them is seen or not by the same cycles as in the engine);
* a node's idle timer expires (``since + idle``, the policy's view's; one
  already due when the scheduler changes counts at once), an instance
  finishes booting, a backoff ends, the adaptive idle policy's rate falls, a
  pending job's age factor reaches its cap (the Slurm-like model, whose
  priorities the policy sees as the engine sees squeue's);
* a decision of the last plan changes by the clock alone (``Plan.recheck``:
  a backfill window closing, a wide job's start coming within its lead, a
  job older than ``scale_up_delay``, a booted node held back no longer);
* a node is drained and empty (the next cycle removes and destroys it);
* the previous tick acted while jobs wait, or changed the scheduler (the
  engine's next cycle).

Stretches with nothing pending and no timer due are jumped over.  A tick with
nothing to change would plan what the previous one planned, so skipping it
changes no result: ``tests/unit/sim/test_sim_policies.py`` compares the replay
with one that decides at every cycle, job by job.  (One exception: the
``powersave`` baseline asks the Slurm-like model what it would start, whose
age priority and backfill window move with the clock; it is not exact there.)

Carrying out actions: the engine's own :class:`dcluster.actuator.Actuator`
does it, over ports that act on the simulated scheduler and cloud
(:mod:`.ports`): LAUNCH in batches of ``launch_batch``, a classified error
putting the resource in backoff once per failure episode; REGISTER adds a
booted instance's node (the replay reports booted instances as
``configured``); HOLD/RELEASE hold and release the node (the hold reason is
the action's, ``dcluster: ...``); REMOVE takes the node out of the scheduler
(refused while it runs jobs, unless the action names jobs to vacate, which
are requeued); DESTROY deletes the instance.  Actions on one worker form a
chain that stops at its first failure, as in the engine.

Node-hours are instance time from launch to destroy, clipped to the replay's
span (first submit to last job end).  ``static`` nodes are up before the
first job (launched one boot delay earlier, charged from the first submit).
"""

from __future__ import annotations

import dataclasses
import math
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import identity
from ..actuator import Actuator, ActuatorPorts
from ..config import Config, load
from ..model import Job, JobState, Node, NodeState, WorkerState
from ..planner import Kind, Plan
from ..planner.idle import keep_for_demand
from ..reconcile import View, reconcile
from . import policies as _policies
from .cloud import Cloud, Faults, SimResource
from .ports import SimDriver, SimSchedulerPort, no_keys, sim_id
from .scheduler import Scheduler, SimJob
from .slurm import SlurmParams, SlurmScheduler
from .swf import SwfJob

SCHEDULERS = ("easy", "slurm")
SIM_SECRET = "dcluster-sim-secret-0001"  # not a secret: it only signs simulated minion ids
CLUSTER = "sim"
RESOURCE = "sim"


@dataclass
class Settings:
    policy: str = "dcluster"
    cores_per_node: int = 1
    max_nodes: int = 100
    min_nodes: int = 0
    boot: float = 300.0  # s from launch until the node can be registered (boot + configuration); the median
    boot_p95: float = 0.0  # above boot: boot times drawn from a lognormal with this 95th percentile
    seed: int = 0  # of the boot-time draws (failure draws: faults.seed)
    idle: int = 600  # max_idle_time / SuspendTime
    poll: int = 10  # the engine's decision cadence: it plans after every scheduler poll
    delay: int = 0  # scale_up_delay of the dcluster policy
    reservations: bool = True  # respect_reservations of the dcluster policy
    size_choice: str = "waste"  # node_size_choice of the dcluster policy (waste or priority)
    idle_policy: str = "adaptive"  # idle_policy of the dcluster policy (adaptive or fixed)
    keep_boots: float = 2.0  # idle_keep_boots of the dcluster policy
    wide_protection: bool = True  # protect_wide_jobs of the dcluster policy
    wide_idle: str = "keep"  # wide_job_idle of the dcluster policy (keep or release)
    mem_mb: int = 0  # memory per node; 0: unknown (never limits)
    kill_at_walltime: bool = False
    backfill: bool = True
    scheduler: str = "easy"  # the simulated scheduler: easy (FCFS + EASY) or slurm (see dcluster.sim.slurm)
    slurm: SlurmParams = field(default_factory=SlurmParams)
    # Whether the slurm model's reservations count nodes to come: booting instances at their ready time and
    # nodes still to launch (up to max) one boot from now, as Slurm counts the power-saved nodes it knows of.
    # None: for powersave only (its nodes are all in slurm.conf; dcluster adds a node once it has booted).
    reserve_future: bool | None = None
    faults: Faults = field(default_factory=Faults)
    max_launch_time: int | None = None  # default: boot + 3600
    # More resources besides "sim", for experiments (fallback ...): name -> dict of
    # cores, max, min, priority, boot, faults.
    extra_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    record: bool = False  # keep the time series (for the plot)

    def check(self) -> None:
        problems = []
        if self.scheduler not in SCHEDULERS:
            problems.append(f"scheduler {self.scheduler!r} is not one of {', '.join(SCHEDULERS)}")
        if self.size_choice not in ("waste", "priority"):
            problems.append(f"size_choice {self.size_choice!r} is not one of waste, priority")
        if self.idle_policy not in ("adaptive", "fixed"):
            problems.append(f"idle_policy {self.idle_policy!r} is not one of adaptive, fixed")
        if self.wide_idle not in ("release", "keep"):
            problems.append(f"wide_idle {self.wide_idle!r} is not one of release, keep")
        if self.keep_boots < 0:
            problems.append(f"keep_boots is {self.keep_boots}; it must not be negative")
        if self.boot_p95 and self.boot_p95 < self.boot:
            problems.append(f"boot_p95 {self.boot_p95} is below boot {self.boot} (the median)")
        problems += [f"slurm {p}" for p in self.slurm.problems()]
        if self.policy not in _policies.POLICIES:
            problems.append(f"policy {self.policy!r} is not one of {', '.join(_policies.POLICIES)}")
        for name in ("cores_per_node", "max_nodes", "poll"):
            if getattr(self, name) < 1:
                problems.append(f"{name} is {getattr(self, name)}; it must be at least 1")
        for name in ("boot", "boot_p95", "idle", "min_nodes", "mem_mb"):
            if getattr(self, name) < 0:
                problems.append(f"{name} is {getattr(self, name)}; it must not be negative")
        if self.min_nodes > self.max_nodes:
            problems.append(f"min_nodes {self.min_nodes} is above max_nodes {self.max_nodes}")
        if problems:
            raise ValueError("; ".join(problems))


def build_config(s: Settings) -> Config:
    """The Config the replay plans with: one ``local`` resource ``sim`` (plus any extra ones)."""

    def res(cores: int, lo: int, hi: int, boot: float, priority: int = 1, mem: int = 0) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "type": "local",
            "cores": cores,
            "quantity": {"min": lo, "max": hi},
            "priority": priority,
            "max_idle_time": s.idle,
            "config": {"cores": cores, "boot_delay": int(boot)},
        }
        if mem:
            spec["mem_mb"] = mem
            spec["config"]["mem_mb"] = mem
        return spec

    cloud = {RESOURCE: res(s.cores_per_node, s.min_nodes, s.max_nodes, s.boot, mem=s.mem_mb)}
    for name, spec in s.extra_resources.items():
        cloud[name] = res(
            spec.get("cores", s.cores_per_node),
            spec.get("min", 0),
            spec.get("max", s.max_nodes),
            spec.get("boot", s.boot),
            spec.get("priority", 2),
            spec.get("mem_mb", s.mem_mb),
        )
    return load(
        {
            "secret": SIM_SECRET,
            "cluster_name": CLUSTER,
            "cluster": {"type": "slurm"},
            "max_idle_time": s.idle,
            "max_launch_time": s.max_launch_time or int(max(s.boot, s.boot_p95)) + 3600,
            "cluster_poller_interval": s.poll,
            "scale_up_delay": s.delay,
            "respect_reservations": s.reservations,
            "node_size_choice": s.size_choice,
            "idle_policy": s.idle_policy,
            "idle_keep_boots": s.keep_boots,
            "protect_wide_jobs": s.wide_protection,
            "wide_job_idle": s.wide_idle,
            "cloud": cloud,
        }
    )


def jobs_from_swf(
    records: Iterable[SwfJob],
    cores_per_node: int = 1,
    kill_at_walltime: bool = False,
) -> tuple[list[SimJob], list[tuple[int, str]]]:
    """SWF records -> simulated jobs, in submit order; and (job number, why) of those skipped."""
    jobs, skipped = [], []
    for rec in records:
        procs = rec.processors
        if not procs:
            skipped.append((rec.job, "no processor count"))
            continue
        if rec.run is None:
            skipped.append((rec.job, "no run time"))
            continue
        walltime = rec.req_time if rec.req_time else rec.run
        runtime = min(rec.run, walltime) if kill_at_walltime else rec.run
        mem = math.ceil(rec.mem_kb / 1024) if rec.mem_kb else 0
        jobs.append(
            SimJob(
                id=str(rec.job),
                submit=float(rec.submit),
                cores=procs,
                runtime=float(runtime),
                walltime=float(walltime),
                mem_mb=mem,
            )
        )
    jobs.sort(key=lambda j: (j.submit, int(j.id) if j.id.isdigit() else 0, j.id))
    for i, job in enumerate(jobs):
        job.order = i
    return jobs, skipped


@dataclass
class Result:
    settings: Settings
    jobs: list[SimJob]
    skipped: list[tuple[int, str]]
    start: float
    end: float
    node_seconds: float
    launches: int
    launch_requests: int
    launch_failures: list[tuple[float, str, str]]
    peak_nodes: int
    ticks: int
    plan_s: float
    wall_s: float
    action_counts: dict[str, int]
    action_errors: list[str]
    backoffs: int
    series: list[tuple[float, int, int, int, int, float]]  # t, busy, idle, booting, draining, pending demand (nodes)
    unplaceable: int = 0
    core_seconds: float = 0.0  # instance seconds weighted by each instance's cores (mixed node sizes)


class Replay:
    def __init__(
        self,
        jobs: list[SimJob],
        settings: Settings,
        skipped: list[tuple[int, str]] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ):
        settings.check()
        self.s = settings
        self.jobs = jobs
        self.skipped = skipped or []
        self.progress = progress
        self.config = build_config(settings)
        self.policy = _policies.make(settings.policy, settings.max_nodes)
        # The adaptive idle policy learns from job starts the engine would see at its next poll: such a
        # change gets a cycle even with nothing pending (otherwise a job that starts on an idle node and
        # ends before the next cycle would be invisible to it, as would a node it could release at once).
        self.learns = settings.policy == "dcluster" and self.config.idle_policy == "adaptive"
        self.sched = self._scheduler(settings)
        resources = [
            SimResource(
                RESOURCE, settings.cores_per_node, settings.mem_mb, settings.boot, settings.faults, settings.boot_p95
            )
        ]
        for name, spec in settings.extra_resources.items():
            resources.append(
                SimResource(
                    name,
                    spec.get("cores", settings.cores_per_node),
                    spec.get("mem_mb", settings.mem_mb),
                    spec.get("boot", settings.boot),
                    spec.get("faults") or Faults(),
                    spec.get("boot_p95", 0.0),
                )
            )
        self.cloud = Cloud(CLUSTER, SIM_SECRET, resources, seed=settings.seed)
        self.now = 0.0  # the replay's time, which the actuator's clocks read
        self.actuator = self._actuator()
        self.prev: View | None = None
        self.recheck: float | None = None  # the last plan's Plan.recheck
        self.node_models: dict[str, Node] = {}
        self.action_counts: dict[str, int] = {}
        self.action_errors: list[str] = []
        self.unplaceable = 0
        self.series: list[tuple[float, int, int, int, int, float]] = []
        self.ticks = 0
        self.plan_s = 0.0
        self.peak = 0

    def _scheduler(self, s: Settings) -> Scheduler:
        if s.scheduler == "easy":
            return Scheduler(backfill=s.backfill)
        sched = SlurmScheduler(s.slurm, s.max_nodes * s.cores_per_node)
        if s.reserve_future or (s.reserve_future is None and s.policy == "powersave"):
            sched.future_nodes = self._future_nodes
        return sched

    def _future_nodes(self, now: float) -> list[tuple[float, int]]:
        """(ready time, cores) of every instance not yet a scheduler node (booting, or booted and unregistered),
        and of every node a resource may still launch (powered down, in Slurm's terms), ready one boot from now."""
        out = [(i.ready, i.cores) for name, i in self.cloud.alive.items() if name not in self.sched.nodes]
        for res in self.config.resources.values():
            room = res.max - self.cloud.alive_count(res.name)
            if room > 0:
                sim = self.cloud.resources[res.name]
                out += [(now + sim.boot, sim.cores)] * room
        return out

    # ------------------------------------------------------------ snapshots
    def _job_model(self, job: SimJob, now: float) -> Job:
        """The planner's view of a pending or running job, cached on it until it starts or is requeued.
        Against the Slurm-like model a pending job carries its priority, as ``squeue`` shows it to the engine
        (the planner orders pending jobs by it): :meth:`SlurmScheduler.rank`, which orders as the model does."""
        running = job.start is not None
        rank = self.sched.rank(job, now) if not running and isinstance(self.sched, SlurmScheduler) else 0.0
        m = job.model
        if m is None or (m.state == JobState.RUNNING) != running or m.start_time != (job.start or 0.0):
            m = job.model = Job(
                id=job.id,
                state=JobState.RUNNING if running else JobState.PENDING,
                chunks=job.cores,
                chunk_cores=1,
                chunk_mem_mb=job.mem_mb,
                distinct=False,
                walltime_s=int(job.walltime),
                submit_time=job.submit,
                start_time=job.start or 0.0,
                nodes=tuple(job.alloc) if running else (),
                priority=rank,
            )
        elif m.priority != rank:
            m = job.model = dataclasses.replace(m, priority=rank)
        return m

    def _nodes(self) -> list[Node]:
        models = self.node_models
        for name in self.sched.dirty:
            n = self.sched.nodes.get(name)
            if n is None:
                models.pop(name, None)
                continue
            if n.held:
                state = NodeState.HELD
            else:
                state = NodeState.BUSY if n.jobs else NodeState.IDLE
            models[name] = Node(
                name=n.name,
                state=state,
                cores=n.cores,
                cores_used=n.cores - n.free,
                mem_mb=n.mem_mb,
                jobs=tuple(n.jobs),
                hold_reason=n.hold_reason,
                state_since=n.since,
            )
        self.sched.dirty.clear()
        return list(models.values())

    def _view(self, now: float) -> View:
        configured = frozenset(
            name for name, inst in self.cloud.alive.items() if inst.ready <= now and name not in self.sched.nodes
        )
        acts, records = self.actuator.status(), self.actuator.records
        view = reconcile(
            self.config,
            now,
            self._nodes(),
            self.cloud.snapshot(now),
            [self._job_model(j, now) for j in self.sched.pending]
            + [self._job_model(j, now) for j in self.sched.running.values()],
            previous=self.prev,
            configured=configured,
            in_flight=dict(acts.in_flight),
            acting=acts.acting(now),
            backoff=dict(records.backoff),
        )
        self.prev = view
        return view

    # ------------------------------------------------------------ actions
    def _actuator(self) -> Actuator:
        clock = lambda: self.now  # noqa: E731 - simulated time is both the wall and the monotonic clock
        sched = SimSchedulerPort(self.sched, self.cloud, clock)
        drivers = {name: SimDriver(self.cloud, name, self.sched, clock) for name in self.cloud.resources}
        return Actuator(
            ActuatorPorts(
                scheduler=lambda cfg: sched,
                driver=lambda cfg, res: drivers[res.name],
                keys=no_keys(),
                clock=clock,
                monotonic=clock,
                fire=self._event,
                new_id=sim_id(self.cloud),
            )
        )

    def _event(self, tag: str, data: dict[str, Any]) -> None:
        kind, _, outcome = tag.removeprefix("action/").partition("/")
        if outcome == "started" and kind != Kind.LAUNCH.value:
            self.action_counts[kind] = self.action_counts.get(kind, 0) + 1
        elif outcome == "failed" and len(self.action_errors) < 100:
            what = data.get("target") or f"{data.get('requested')} x {data.get('resource')}"
            self.action_errors.append(f"t={self.now:.0f} {kind} {what}: {data.get('error')}")

    def _carry_out(self, plan: Plan, now: float) -> None:
        for a in plan.of(Kind.LAUNCH):
            self.action_counts[a.kind.value] = self.action_counts.get(a.kind.value, 0) + 1
        self.now = now
        self.actuator.run(self.config, plan, {}, observed=now)
        records = self.actuator.records
        # The simulated cloud answers at once and truly: what a launch made is listed from now on, and a
        # failed call made nothing, so nothing is left to count as maybe launched.
        records.recent_launches.clear()
        records.maybe_launched.clear()
        self.peak = max(self.peak, len(self.cloud.alive))

    # ------------------------------------------------------------ the loop
    def _grid(self, t: float) -> float:
        p = self.s.poll
        k = math.ceil((t - self.t0) / p - 1e-9)
        return self.t0 + k * p

    def _wakes(self, now: float, seen: float) -> float | None:
        """The earliest time, ``now`` or later, a timer could make the policy act.

        A timer due at or before ``seen`` (the time of a tick that planned on the very
        scheduler state there is now) was already weighed by that tick; any other due timer
        (``seen < t <= now``, e.g. a node idle since now under ``idle: 0``) is due now.
        """
        times = []
        pad = 1 if self.policy.strict_idle else 0
        # The policy times idle from its view, which carries a worker's ``since`` over cycles while it is
        # idle at both: a job that ran on it between two cycles (started and ended after the last one) does
        # not move it, though the node's own ``since`` moved (reconcile._since).
        idle_since = {w.name: w.since for w in self.prev.workers if w.state == WorkerState.IDLE} if self.prev else {}
        for n in self.sched.nodes.values():
            if n.held:
                if not n.jobs:
                    times.append(now + self.s.poll)  # drained and empty: the next cycle removes it
            elif not n.jobs and self.policy.has_idle:
                limit = self.config.idle_limit(self._resource_of(n.name))
                since = idle_since.get(n.name, n.since)
                times.append(since + limit + pad)
        if self.learns and self.prev is not None and any(not n.held and not n.jobs for n in self.sched.nodes.values()):
            for res in self.config.resources:
                keep = keep_for_demand(self.prev, self.config, res, now)
                again = keep.recheck() if keep is not None else None
                if again is not None:
                    times.append(self._edge(again, now))  # demand fading: one kept idle node fewer from then on
        if self.recheck is not None:
            times.append(self._edge(self.recheck, now))  # a decision of the last plan changes by the clock
        if isinstance(self.sched, SlurmScheduler) and self.sched.pending:
            capped = self.sched.rank_changes(now)
            if capped is not None:
                times.append(capped)  # a job's age factor reaches its cap: the pending jobs' order may change
        nr = self.cloud.next_ready(now)
        if nr is not None:
            times.append(nr)
        elif any(name not in self.sched.nodes for name in self.cloud.alive):
            times.append(now + self.s.poll)  # booted, not yet registered
        for b in self.actuator.records.backoff.values():
            if b.until > now:
                times.append(b.until)
        due = [t for t in times if t > seen]
        return max(now, min(due)) if due else None

    def _edge(self, when: float, now: float) -> float:
        """A recheck time as a wake: one at ``now`` is a decision on its edge (a rate that keeps one node
        fewer just after it, a job that fits a backfill window until it), which the next cycle sees."""
        return when if when > now else now + self.s.poll

    def _resource_of(self, name: str) -> str:
        inst = self.cloud.alive.get(name)
        return inst.resource if inst else RESOURCE

    def _record(self, now: float) -> None:
        busy = idle = held = 0
        for n in self.sched.nodes.values():
            if n.held:
                held += 1
            elif n.jobs:
                busy += 1
            else:
                idle += 1
        booting = len(self.cloud.alive) - len(self.sched.nodes)
        demand = self.sched.pending_cores() / self.s.cores_per_node
        point = (now, busy, idle, booting, held, demand)
        if self.series and self.series[-1][1:] == point[1:]:
            return
        if self.series and self.series[-1][0] == now:
            self.series[-1] = point
        else:
            self.series.append(point)

    def _tick(self, now: float) -> bool:
        view = self._view(now)
        t0 = _time.perf_counter()
        plan = self.policy.plan(view, self.config, now, sim=self.sched)
        self.plan_s += _time.perf_counter() - t0
        self.ticks += 1
        self.unplaceable = len(plan.unplaceable)
        self.recheck = plan.recheck
        self._carry_out(plan, now)
        if plan.actions:
            self.sched.schedule(now)
        return bool(plan.actions)

    def run(self) -> Result:
        wall0 = _time.perf_counter()
        jobs, s, sched = self.jobs, self.s, self.sched
        self.t0 = t0 = jobs[0].submit if jobs else 0.0
        if self.policy.prewarm:
            for inst in self.cloud.launch(RESOURCE, self.policy.prewarm, t0 - s.boot):
                inst.ready = min(inst.ready, t0)  # up when the trace starts, whatever boot time was drawn
            self.peak = len(self.cloud.alive)
        n_jobs = len(jobs)
        i = 0
        decision: float | None = t0
        last_report = 0.0
        stall = 0
        now = t0
        while True:
            cands = []
            if i < n_jobs:
                cands.append(jobs[i].submit)
            ne = sched.next_end()
            if ne is not None:
                cands.append(ne)
            if decision is not None:
                cands.append(decision)
            bf = sched.next_pass()  # the slurm model's periodic backfill pass
            if bf is not None:
                cands.append(bf)
            if not cands:
                break
            now = max(now, min(cands))
            sched.changed = False
            sched.finish_due(now)
            while i < n_jobs and jobs[i].submit <= now:
                sched.submit(jobs[i])
                i += 1
            sched.schedule(now)
            changed = sched.changed
            if changed:
                g = self._grid(now)
                decision = g if decision is None else min(decision, g)
            if decision is not None and decision <= now:
                sched.changed = False
                acted = self._tick(now)
                moved = sched.changed  # by the tick's actions, and the jobs they let start
                changed = changed or moved
                # Follow-ups (REMOVE/DESTROY once drained, REGISTER once booted, retry after a backoff) are
                # timers in _wakes; a tick that acted while jobs wait gets the engine's next cycle too, since
                # what it changed (nodes removed, released ...) may change what the policy does for them.
                # So does one that changed the scheduler: its next cycle observes the change (a job that ran
                # on a node it registered and ended before the next event moves the node's idle time).
                # A tick that acted planned on the state before its actions: a timer already due on what
                # it changed (a node it registered, idle since now under idle 0) was not weighed yet.
                nxt = self._wakes(now, seen=-math.inf if acted else now)
                if (acted and sched.pending) or moved:
                    nxt = min(nxt, now + s.poll) if nxt is not None else now + s.poll
                decision = self._grid(nxt) if nxt is not None else None
                if decision is not None and decision <= now:
                    decision = now + s.poll
                # Nothing runs and nothing arrives: a policy that keeps acting without effect must not loop forever.
                if not sched.running and i >= n_jobs and not changed:
                    stall += 1
                    if stall > 10_000:
                        break
                else:
                    stall = 0
            if s.record:
                self._record(now)
            if self.progress is not None and i - last_report >= 500:
                last_report = i
                self.progress(i, n_jobs)
            if i >= n_jobs and not sched.running and not sched.pending:
                # Everything is done: only idle timers remain; their cost past the last job is not counted.
                break
        if self.progress is not None:
            self.progress(n_jobs, n_jobs)
        ends = [j.end for j in jobs if j.end is not None]
        end = max([*ends, *(j.submit for j in jobs)], default=t0)
        return Result(
            settings=s,
            jobs=jobs,
            skipped=self.skipped,
            start=t0,
            end=end,
            node_seconds=self._node_seconds(t0, end),
            launches=self.cloud.launches,
            launch_requests=self.cloud.launch_requests,
            launch_failures=list(self.cloud.failures),
            peak_nodes=self.peak,
            ticks=self.ticks,
            plan_s=self.plan_s,
            wall_s=_time.perf_counter() - wall0,
            action_counts=dict(self.action_counts),
            action_errors=list(self.action_errors),
            backoffs=self.actuator.records.counters.get("backoff", 0),
            series=self.series,
            unplaceable=self.unplaceable,
            core_seconds=self._node_seconds(t0, end, by_cores=True),
        )

    def _node_seconds(self, start: float, end: float, by_cores: bool = False) -> float:
        total = 0.0
        for inst in [*self.cloud.gone, *self.cloud.alive.values()]:
            stop = inst.destroyed if inst.destroyed is not None else end
            total += max(0.0, min(stop, end) - max(inst.launched, start)) * (inst.cores if by_cores else 1)
        return total


def replay(
    jobs: list[SimJob],
    settings: Settings,
    skipped: list[tuple[int, str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    return Replay(jobs, settings, skipped, progress).run()


def our_id(name: str) -> bool:
    """Whether a node name is one the replay launched (a signed simulated minion id)."""
    return identity.parse(name, SIM_SECRET, CLUSTER) is not None
