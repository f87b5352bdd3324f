"""The oracle: counts, from ground truth only, every broken promise of a run (issue 13's table).

It never asks the controller what it believes.  It watches the simulated
cloud and Slurm (destroys, launches, requeues) and, each cycle, re-plans with
the real policy (:func:`dcluster.planner.plan`) on a View reconciled from the
true state, read through the real parsers from fault-free outputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from dcluster import identity
from dcluster.planner import plan
from dcluster.reconcile import reconcile
from dcluster.schedulers.slurm import parse_future_nodes, parse_sinfo, parse_squeue

# The figures of issue 13's table, in its order, with its wording.
ROWS = (
    ("busy_destroyed", "busy nodes destroyed"),
    (
        "healthy_destroyed",
        "healthy nodes destroyed as broken (taken out of the scheduler undrained, up and responding)",
    ),
    ("jobs_lost", "jobs lost"),
    ("requeued_by_dcluster", "running jobs requeued by dcluster's own remove/vacate"),
    ("orphans_left", "orphan instances left"),
    ("cycles_above_max", "cycles with a resource above its max"),
    ("launched_beyond_policy", "nodes launched beyond what the policy plans on the true state"),
    ("good_destroyed_unconfigured", "good instances destroyed before they were configured (no restart in their life)"),
    (
        "good_destroyed_unconfigured_restart",
        "good instances destroyed before they were configured (a master restart in their life)",
    ),
)
INVARIANTS = tuple(name for name, _ in ROWS)


@dataclass
class Counters:
    busy_destroyed: int = 0
    healthy_destroyed: int = 0
    jobs_lost: int = 0
    requeued_by_dcluster: int = 0
    orphans_left: int = 0
    cycles_above_max: int = 0
    launched_beyond_policy: int = 0
    good_destroyed_unconfigured: int = 0
    good_destroyed_unconfigured_restart: int = 0
    # context, not invariants
    cycles: int = 0
    restarts: int = 0
    launches: int = 0
    jobs: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)  # a scenario's own measurements

    def broken(self) -> dict[str, int]:
        """The invariants that are not 0."""
        return {k: getattr(self, k) for k in INVARIANTS if getattr(self, k)}

    def add(self, other: Counters) -> None:
        for f in fields(self):
            if f.name in ("faults", "extra"):
                mine = getattr(self, f.name)
                for k, v in getattr(other, f.name).items():
                    mine[k] = mine.get(k, 0) + v
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict:
        return asdict(self)


class Oracle:
    def __init__(self, world):
        self.w = world
        self.c = Counters()
        self.launched_now: dict[str, int] = {}
        self.true_launches: dict[str, int] | None = None
        # The last true View and its clock offset: reconcile carries what it learnt across polls (how long
        # an instance has been no scheduler node, absence.py) in ``previous``; without it every true
        # view would see each orphan for the first time and keep it "confirming" (unknown, its cores
        # free) forever, so plan() on the truth would pack jobs on orphans.
        self._previous = None
        self._previous_shift = 0.0

    # ------------------------------------------------------------ hooks of the simulated cloud
    def on_destroy(self, inst, who: str) -> None:
        slurm = self.w.slurm
        if who in ("dcluster", "operator") and slurm.running_on(inst.minion_id):
            self.c.busy_destroyed += 1
        if who == "dcluster" and inst.minion_id in slurm.counts.removed_healthy:
            self.c.healthy_destroyed += 1
        slurm.machine_lost(inst.minion_id, by_dcluster=who != "cloud")
        if who == "dcluster" and inst.will_join and not inst.highstate_ok and inst.state != "error":
            if inst.restarts_seen:
                self.c.good_destroyed_unconfigured_restart += 1
            else:
                self.c.good_destroyed_unconfigured += 1

    def on_launch(self, inst) -> None:
        self.c.launches += 1
        if not inst.by_operator:
            self.launched_now[inst.resource] = self.launched_now.get(inst.resource, 0) + 1

    # ------------------------------------------------------------ each cycle
    def true_view(self, cfg, now: float, ctrl=None):
        """The View the controller would build if every answer were complete and right."""
        slurm, cloud = self.w.slurm, self.w.cloud
        jobs = parse_squeue(json.dumps(slurm.squeue()))
        nodes = parse_sinfo(json.dumps(slurm.sinfo()), jobs)
        known = {n.name for n in nodes}
        nodes += [n for n in parse_future_nodes(slurm.future_nodes()) if n.name not in known]
        insts = {r: [cloud.snapshot(i) for i in cloud.exist(r) if _ours(cfg, i.minion_id, r)] for r in cfg.resources}
        shift = 0.0
        if hasattr(ctrl, "monotonic"):
            # ``now`` is on the controller's monotonic clock: every time of the true state goes onto it at its
            # true age (the launch-time tag is what the master's stepped wall clock said; its creation is true)
            shift = now - self.w.t
            insts = {
                r: [replace(i, launch_time=cloud.instances[i.id].created + shift) for i in items]
                for r, items in insts.items()
            }
            nodes = [replace(n, state_since=n.state_since + shift) if n.state_since else n for n in nodes]
            jobs = [
                replace(
                    j,
                    submit_time=j.submit_time and j.submit_time + shift,
                    start_time=j.start_time and j.start_time + shift,
                )
                for j in jobs
            ]
        configured = {i.minion_id for i in cloud.instances.values() if i.highstate_ok and i.exists()}
        state = getattr(ctrl, "state", None)
        view = reconcile(
            cfg,
            now,
            nodes,
            insts,
            jobs,
            previous=self._previous_on(shift),
            configured=configured,
            in_flight={},
            backoff=dict(state.backoff) if state else {},
            limits=dict(state.limits) if state else {},
            auto_mode=ctrl.auto_mode() if ctrl is not None else True,
        )
        self._previous, self._previous_shift = view, shift
        return view

    def _previous_on(self, shift: float):
        """The last true View, its times moved onto this master's clock (a restarted master's monotonic
        clock has another origin)."""
        prev, d = self._previous, shift - self._previous_shift
        if prev is None or not d:
            return prev
        return replace(
            prev,
            now=prev.now + d,
            # (``seen`` is absent from trees before it, which ``bench/chaos.py --code`` may measure)
            workers=tuple(
                replace(w, since=w.since + d, **({"seen": w.seen + d} if hasattr(w, "seen") else {}))
                for w in prev.workers
            ),
            absences={k: replace(a, since=a.since + d) for k, a in prev.absences.items()},
        )

    def before_cycle(self, cfg, now: float, ctrl) -> None:
        self.launched_now = {}
        self.true_launches = plan(self.true_view(cfg, now, ctrl), cfg).launches()

    def after_cycle(self, cfg) -> None:
        self.c.cycles += 1
        if self.true_launches is not None:
            self.c.launched_beyond_policy += beyond(cfg, self.launched_now, self.true_launches)
        self.true_launches = None
        self.launched_now = {}
        self.count_above_max(cfg)

    def count_above_max(self, cfg) -> None:
        for name, res in cfg.resources.items():
            if len(self.w.cloud.exist(name)) > res.max:  # any state: starting, deleting, unlisted
                self.c.cycles_above_max += 1

    # ------------------------------------------------------------ after the cluster settled
    def settle(self, cfg, true_now: float) -> Counters:
        slurm, cloud = self.w.slurm, self.w.cloud
        self.c.requeued_by_dcluster = slurm.counts.requeued_by_dcluster
        self.c.jobs_lost = slurm.counts.failed_by_destroy + slurm.counts.cancelled_by_dcluster
        self.c.orphans_left = 0
        for inst in cloud.instances.values():
            if not inst.alive() or true_now - inst.created <= cfg.max_launch_time:
                continue
            if inst.minion_id not in slurm.nodes or not _ours(cfg, inst.minion_id, inst.resource):
                # not in the scheduler, or no longer manageable under this pillar (resource renamed, secret changed)
                self.c.orphans_left += 1
        self.c.jobs = len(slurm.jobs)
        return self.c


def beyond(cfg, launched: dict[str, int], planned: dict[str, int]) -> int:
    """Nodes launched beyond the plan on the true state, resource by resource in the expander's order.

    A launch on a less preferred resource that stands in for one the true plan makes on a preferred
    resource is not beyond the policy: it is the policy's own fallback when the controller may not use the
    preferred one this cycle for a reason the true state does not show (its listing failed; ids of a create
    call of unknown outcome count toward its max, as they must for "never above max").  What is counted is
    every node more than the true plan launches on that resource and on those preferred to it.
    """
    out, short = 0, 0
    for res in sorted(cfg.resources.values(), key=lambda r: (r.priority, r.name)):
        n, want = launched.get(res.name, 0), planned.get(res.name, 0)
        excess = max(0, n - want)
        stands_in = min(excess, short)
        short -= stands_in
        out += excess - stands_in
        short += max(0, want - n)
    # launches on a resource the pillar no longer has are all beyond
    return out + sum(n for name, n in launched.items() if name not in cfg.resources)


def _ours(cfg, minion_id: str, resource: str) -> bool:
    ident = identity.parse(minion_id, cfg.secret, cfg.cluster_name)
    return ident is not None and ident.resource == resource and resource in cfg.resources
