"""A Slurm-like simulated scheduler: multifactor priority, a main pass on events, a periodic backfill pass.

Written from Slurm's documentation (slurm.conf(5) ``SchedulerParameters`` and the
multifactor priority plugin's page), not from the planner, so the simulator no
longer grades the planner with the planner's own rule.  What it models:

* **Priority** (``PriorityType=priority/multifactor``): ``prio_age`` x the age
  factor (time pending / ``prio_max_age``, capped at 1; ``PriorityWeightAge``,
  ``PriorityMaxAge``) + ``prio_size`` x the size factor (cores / the machine's
  cores; with ``favor_small`` one minus that: ``PriorityWeightJobSize``,
  ``PriorityFavorSmall``).  Ties go to the earlier submit.  Not modelled:
  fair-share (it needs accounts' decayed usage), QOS, partitions (one partition).
* **Main pass** on every event (submit, job end, node change): pending jobs in
  priority order start while they fit; the first one that does not stops the pass
  (Slurm leaves the rest of a partition pending behind a blocked job).
* **Backfill pass** every ``bf_interval`` s (30), at multiples of it on the
  simulated clock.  It tests at most ``bf_max_job_test`` jobs (500) in priority
  order against a profile of free cores over time: cores free now, each running
  job's cores back at its start + wall time (rounded up to ``bf_resolution``, 60 s;
  an overrun job is expected back at once), and, when the replay passes them,
  *future* nodes (booting instances, or Slurm power-saved nodes being resumed) at
  the time they are ready.  A job whose earliest start (the whole wall time
  fitting) is now starts now; one whose earliest start is within ``bf_window`` s
  (a day; Slurm's own setting is in minutes) gets a reservation for its cores from
  then for its wall time, which every later job must respect; one that cannot start
  within the window gets nothing and may be overtaken (why Slurm advises a window
  at least as long as the longest time limit).  ``bf_reserve`` (Slurm's
  ``bf_job_part_count_reserve``) limits reservations to the top jobs; 0 reserves
  for every job tested.
* Passes that cannot differ from the last one (no node, job or queue change since)
  are skipped; they would start nothing.

Node bookkeeping (cores, memory, held nodes, requeue on removal) is the base
:class:`~.scheduler.Scheduler`'s.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .scheduler import NodeKey, Scheduler, SimJob, SimNode, Take


@dataclass(frozen=True)
class SlurmParams:
    bf_interval: int = 30  # s between backfill passes
    bf_window: int = 86400  # s ahead the backfill pass looks (Slurm: bf_window=1440 minutes)
    bf_max_job_test: int = 500  # jobs tested per backfill pass
    bf_resolution: int = 60  # s: expected ends are rounded up to this
    bf_reserve: int = 0  # reserve for this many top jobs; 0: every job tested (bf_job_part_count_reserve)
    prio_age: float = 1000.0  # PriorityWeightAge
    prio_max_age: float = 7 * 86400.0  # PriorityMaxAge, s
    prio_size: float = 1000.0  # PriorityWeightJobSize
    favor_small: bool = False  # PriorityFavorSmall

    @classmethod
    def from_options(cls, opts: dict[str, Any]) -> SlurmParams:
        """From loosely typed options (strings from the Salt CLI); an unknown key or a bad value is named."""
        defaults = cls()
        values = {}
        for key, value in opts.items():
            if key not in cls.__dataclass_fields__:
                raise ValueError(f"unknown slurm option {key!r}; known: {', '.join(cls.__dataclass_fields__)}")
            kind = type(getattr(defaults, key))
            try:
                if kind is bool and isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    value = value.lower() in ("true", "1", "yes")
                elif kind is not bool:
                    value = kind(value)
            except (TypeError, ValueError):
                what = {int: "an integer", float: "a number", bool: "true or false"}[kind]
                raise ValueError(f"slurm option {key}={value!r} is not {what}") from None
            values[key] = value
        return cls(**values)

    def problems(self) -> list[str]:
        out = []
        for name in ("bf_interval", "bf_window", "bf_max_job_test", "bf_resolution", "prio_max_age"):
            if getattr(self, name) < 1:
                out.append(f"{name} is {getattr(self, name)}; it must be at least 1")
        for name in ("bf_reserve", "prio_age", "prio_size"):
            if getattr(self, name) < 0:
                out.append(f"{name} is {getattr(self, name)}; it must not be negative")
        return out


class Profile:
    """Free cores over time: ``free[i]`` cores from ``times[i]`` until ``times[i + 1]`` (the last for ever)."""

    def __init__(self, now: float, free: int, changes: list[tuple[float, int]]):
        self.times, self.free = [now], [free]
        for when, delta in sorted(changes):
            if when <= self.times[-1]:
                self.free[-1] += delta
            else:
                self.times.append(when)
                self.free.append(self.free[-1] + delta)

    def earliest(self, cores: int, duration: float, latest: float) -> float | None:
        """The first time, at most ``latest``, from which ``cores`` are free for ``duration`` s."""
        times, free, n = self.times, self.free, len(self.times)
        i = 0
        while i < n and times[i] <= latest:
            if free[i] < cores:
                i += 1
                continue
            end = times[i] + duration
            j = i + 1
            while j < n and times[j] < end and free[j] >= cores:
                j += 1
            if j >= n or times[j] >= end:
                return times[i]
            i = j + 1
        return None

    def take(self, start: float, end: float, cores: int) -> None:
        i, j = self._split(start), self._split(end)
        for k in range(i, j):
            self.free[k] -= cores

    def _split(self, when: float) -> int:
        k = bisect.bisect_left(self.times, when)
        if k < len(self.times) and self.times[k] == when:
            return k
        self.times.insert(k, when)
        self.free.insert(k, self.free[k - 1])
        return k


# One scheduling pass: (now, usable nodes, take, pending) -> the jobs it started.
Pass = Callable[[float, list[SimNode], Take, list[SimJob]], list[SimJob]]


class SlurmScheduler(Scheduler):
    """Slurm's main and backfill passes over the registered nodes (see the module docstring)."""

    def __init__(self, params: SlurmParams | None = None, machine_cores: int = 1):
        super().__init__(backfill=True)
        self.p = params or SlurmParams()
        problems = self.p.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.machine = max(1, machine_cores)
        # (ready time, cores) of nodes to come; set by the replay when reservations may count them.
        self.future_nodes: Callable[[float], list[tuple[float, int]]] | None = None
        self.pver = 0  # bumped on every submit or requeue
        self.bf_passes = 0
        self._main_seen: tuple[int, int] | None = None
        self._bf_seen: tuple[int, int] | None = None
        self._dirty_at: float | None = None  # first change the backfill pass has not seen

    def submit(self, job: SimJob) -> None:
        super().submit(job)
        self.pver += 1

    # ------------------------------------------------------------ priority
    def priority(self, job: SimJob, now: float) -> float:
        age = min(1.0, max(0.0, now - job.submit) / self.p.prio_max_age)
        return self.p.prio_age * age + self.p.prio_size * self._size(job)

    def _size(self, job: SimJob) -> float:
        """The job-size factor, 0 to 1 (PriorityFavorSmall turns it round)."""
        size = min(1.0, job.cores / self.machine)
        return 1.0 - size if self.p.favor_small else size

    def rank(self, job: SimJob, now: float) -> float:
        """The job's priority as the engine's poll shows it to the planner (``Job.priority``, which orders
        its pending jobs), less the age factor every job below the age cap gains alike with time: the same
        order as :meth:`priority`, and a value that stays put until the job's age reaches
        ``prio_max_age`` (the replay wakes then: :meth:`rank_changes`)."""
        size = self.p.prio_size * self._size(job)
        if now - job.submit < self.p.prio_max_age:  # below the cap: the same value at every poll
            return size - self.p.prio_age * job.submit / self.p.prio_max_age
        return size + self.p.prio_age * (1.0 - now / self.p.prio_max_age)

    def rank_changes(self, now: float) -> float | None:
        """The soonest time after ``now`` a pending job's age factor reaches its cap (its rank then falls
        behind the others' with time), or None."""
        caps = [j.submit + self.p.prio_max_age for j in self.pending if j.submit + self.p.prio_max_age > now]
        return min(caps) if caps and self.p.prio_age else None

    def by_priority(self, now: float, jobs: list[SimJob] | None = None) -> list[SimJob]:
        jobs = self.pending if jobs is None else jobs
        return sorted(jobs, key=lambda j: (-self.priority(j, now), j.order))

    # ------------------------------------------------------------ passes
    def _state(self) -> tuple[int, int]:
        return (self.nver, self.pver)

    def next_pass(self) -> float | None:
        """When the next backfill pass could start something: the first tick at or after an unseen change."""
        if not self.pending or self._dirty_at is None:
            return None
        bi = self.p.bf_interval
        return math.ceil(self._dirty_at / bi - 1e-9) * bi

    def schedule(self, now: float) -> list[SimJob]:
        self._overruns(now)  # the wall times passed (this model's passes do not follow them: its reservations do)
        started: list[SimJob] = []
        if self.pending and self._state() != self._main_seen:
            started += self._run(self._main, now)
            self._main_seen = self._state()
        if not self.pending:  # a backfill pass with nothing pending would do nothing: none is due
            self._dirty_at, self._bf_seen = None, self._state()
            return started
        if self._state() != self._bf_seen and self._dirty_at is None:
            self._dirty_at = now
        due = self.next_pass()
        if due is not None and due <= now:
            self.bf_passes += 1
            started += self._run(self._backfill, now)
            self._dirty_at, self._bf_seen = None, self._state()
            self._main_seen = self._state()  # what backfill started takes nothing the top job could use now
        return started

    def _run(self, pass_: Pass, now: float) -> list[SimJob]:
        usable = [n for n in self.nodes.values() if n.free > 0 and not n.held]
        if not usable:
            return []
        started = pass_(now, usable, lambda job, alloc: self._start(job, alloc, now), self.pending)
        if started:
            ids = {j.id for j in started}
            self.pending = [j for j in self.pending if j.id not in ids]
        return started

    def _main(
        self, now: float, usable: list[SimNode], take: Take, pending: list[SimJob], key: NodeKey | None = None
    ) -> list[SimJob]:
        key = key or (lambda n: (n.free, n.name))
        usable.sort(key=key)
        free = sum(n.free for n in usable)
        started: list[SimJob] = []
        for job in self.by_priority(now, pending):
            if job.cores > free:
                break
            alloc = self._fit(job, usable)
            if alloc is None:
                break
            take(job, alloc)
            started.append(job)
            free -= job.cores
            usable.sort(key=key)
        return started

    def _profile(self, now: float, free: int, extra: Sequence[tuple[float, int]] = ()) -> Profile:
        res = self.p.bf_resolution
        held = self.held  # cores on held nodes free up for nobody
        changes = list(extra)
        for job in self.running.values():
            cores = sum(c for name, c in job.alloc.items() if name not in held) if held else job.cores
            if cores:
                end = max(job.expected_end, now)
                changes.append((max(now, math.ceil(end / res) * res), cores))
        if self.future_nodes is not None:
            changes += [(max(now, t), c) for t, c in self.future_nodes(now)]
        return Profile(now, free, changes)

    def _backfill(
        self, now: float, usable: list[SimNode], take: Take, pending: list[SimJob], key: NodeKey | None = None
    ) -> list[SimJob]:
        key = key or (lambda n: (n.free, n.name))
        usable.sort(key=key)
        prof = self._profile(now, sum(n.free for n in usable))
        latest = now + self.p.bf_window
        reserved = 0
        started = []
        for job in self.by_priority(now, pending)[: self.p.bf_max_job_test]:
            if prof.free[0] <= 0:
                break  # nothing more can start now; later reservations would change nothing
            when = prof.earliest(job.cores, job.walltime, latest)
            if when is None:
                continue  # cannot start within the window: no reservation
            if when <= now:
                alloc = self._fit(job, usable)
                if alloc is not None:
                    take(job, alloc)
                    started.append(job)
                    prof.take(now, now + job.walltime, job.cores)
                    usable.sort(key=key)
                    continue
            if not self.p.bf_reserve or reserved < self.p.bf_reserve:
                prof.take(when, when + job.walltime, job.cores)
                reserved += 1
        return started

    # ------------------------------------------------------------ power saving's view
    def _whatif_pass(self, now: float, virtual: list[SimNode], take: Take, key: NodeKey) -> None:
        """Power saving's view (:meth:`Scheduler.whatif`): booting and powered-down nodes count as free
        now (Slurm allocates a job to them and it waits for the resume); the main pass, then the
        backfill pass.
        """
        first = self._main(now, virtual, take, self.pending, key)
        ids = {j.id for j in first}
        future, self.future_nodes = self.future_nodes, None  # the booting nodes are among ``virtual`` here
        try:
            self._backfill(
                now, [n for n in virtual if n.free > 0], take, [j for j in self.pending if j.id not in ids], key
            )
        finally:
            self.future_nodes = future
