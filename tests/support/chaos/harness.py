"""One chaos run: the real Controller over a simulated Slurm and cloud, in simulated time.

What is real: :class:`dcluster.controller.Controller` with real
:class:`dcluster.controller.ports.Ports`, the actuator, the operator commands
(:func:`dcluster.controller.commands.run`), the state file, the real Slurm
adapter and its parsers (``make_adapter("slurm", ...)``), reconcile and the
planner.  What is simulated (and says so): Slurm and the cloud
(:mod:`.slurm`, :mod:`.cloud`), the Salt side (key acceptance, the start
reactor, highstates, which the harness performs the way the engine and
reactors do), and the clock.

Usage::

    run = Run(seed=7, family="wrong")
    counters = run.run()            # faults, then settle; returns Counters

or step by step (the scenarios do)::

    run = Run(seed=1, family=None)  # no random faults
    run.submit(cpus=4, duration=900)
    run.advance(300)                # cycles every cluster_poller_interval
    run.faults.force("sched_exit")  # the next scheduler query fails
    run.operator("remove", name=...)
    counters = run.settle()

Determinism: actions the controller submits to its thread pool are run
inline (:func:`_inline`), minion-id nonces come from the run's seed, and the
fault draws for each cloud resource have their own generator, so a seed
replays the same run.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import inspect
import os
import random
import shutil
import tempfile
from concurrent.futures import Future
from typing import Any

from dcluster import config as dconfig
from dcluster import identity
from dcluster.controller import Controller, Ports, commands
from dcluster.schedulers import make_adapter

try:  # newer controllers read highstate results from Salt's job cache (issue #12)
    from dcluster.controller import highstate_jobs
except ImportError:  # pragma: no cover - older trees
    highstate_jobs = None

try:  # newer engines take a highstate only with the worker's own signature over it
    from .. import highstate_proofs
except ImportError:  # pragma: no cover - older trees
    highstate_proofs = None

from .cloud import HIGHSTATE, SimCloud, SimDriver
from .faults import RATES, WRONG_RATES, Faults, MasterKilled
from .oracle import Counters, Oracle
from .slurm import SimSlurm

SECRET = "chaos-secret-0123456789"
T0 = 1_800_000_000.0
DOWNTIME = (10.0, 60.0)  # a restarted master is back after this long
HISTORY = 5  # samples of the graphs' history kept in the state
FAULT_TIME = 1500.0  # seconds of faults and job arrivals in a run (bench/chaos.py may change it)
SETTLE = (900.0, 2400.0)  # then settle at least / at most this long


def pillar(**over: Any) -> dict[str, Any]:
    """Two resources that can both run every job, so a failure on one can push launches onto the other."""
    data = {
        "secret": SECRET,
        "cluster": {"type": "slurm"},
        "max_idle_time": 120,
        "max_launch_time": 600,
        "max_down_time": 240,
        "cluster_poller_interval": 10,
        "cloud_poller_interval": 10,
        "backoff": {"initial": 30, "max": 300, "capacity_pause": 120},
        "cloud": {
            "r1": {"type": "local", "cores": 4, "priority": 1, "quantity": {"min": 0, "max": 4}},
            "r2": {"type": "local", "cores": 4, "priority": 2, "quantity": {"min": 0, "max": 3}},
        },
    }
    data.update(over)
    return data


class _Nonces:
    """Stands in for :mod:`secrets` in :mod:`dcluster.identity` during a run: seeded nonces."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def token_hex(self, nbytes: int) -> str:
        return f"{self.rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


@contextlib.contextmanager
def seeded_ids(rng: random.Random):
    saved = identity._secrets
    identity._secrets = _Nonces(rng)
    try:
        yield
    finally:
        identity._secrets = saved


def _inline(fn) -> Future:
    # The controller's action pool, run in the caller's thread: one order of events per seed.
    # A MasterKilled raised inside escapes like a process death (nothing catches a BaseException).
    fut: Future = Future()
    fut.set_result(fn())
    return fut


class Run:
    def __init__(
        self,
        seed: int = 0,
        family: str | None = "detectable",
        pillar_data: dict | None = None,
        fault_time: float = FAULT_TIME,
        job_rate: float | None = None,
        rates: dict | None = None,
    ):
        self.seed = seed
        self.rng = random.Random(f"world-{seed}")
        self.t = T0  # true time
        self.offset = 0.0  # the master's wall clock minus true time (clock steps move only this)
        self._boots = random.Random(f"boot-{seed}")  # each master process's monotonic clock origin
        self.mono_base = 0.0
        self.pillar = pillar_data or pillar()
        self.cfg = dconfig.load(self.pillar)
        self.fault_time = fault_time
        self.job_rate = job_rate if job_rate is not None else (0.0 if family is None else 0.12)  # scripted: no arrivals
        # family None: no random faults at all (scripted scenarios force the ones they want)
        quiet = {k: 0.0 for k in (*RATES, *WRONG_RATES)}
        self.faults = Faults(seed, family or "detectable", rates=quiet if family is None else rates)
        self.faults.kill = self._kill
        self.cloud = SimCloud(lambda: self.t, random.Random(f"cloud-{seed}"), self.cfg.cluster_name)
        self.slurm = SimSlurm(lambda: self.t, self._machine_up)
        self.oracle = Oracle(self)
        self.cloud.on_destroy = self.oracle.on_destroy
        self.cloud.on_launch = self.oracle.on_launch
        self.keys: set[str] = set()
        self.events = 0
        # (jid, minion id) -> when its highstate returns (one job may highstate several minions)
        self.highstates: dict[tuple[str, str], float] = {}
        self.returned: set[tuple[str, str]] = set()
        self.jids = 0
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # the state file is written every cycle
        self.tmp = tempfile.mkdtemp(prefix="dcluster-chaos-", dir=shm)
        self.state_path = f"{self.tmp}/state.json"
        self.ctrl: Controller | None = None
        self.down_until = 0.0
        self.kills: list[str] = []
        self._ids = seeded_ids(random.Random(f"ids-{seed}"))
        self._ids.__enter__()
        self._start()

    # ------------------------------------------------------------ wiring
    def master_clock(self) -> float:
        return self.t + self.offset

    def master_monotonic(self) -> float:
        """The master's monotonic clock: true time from an origin of its own (a new one each start,
        as after a reboot: nothing monotonic carries over a restart), never stepped."""
        return self.t + self.mono_base

    def _ports(self) -> Ports:
        """Fresh ports for each master process (the engine wraps some of them per Controller)."""
        run = self.faults.wrap(self.slurm.run)

        def driver(cfg, res):
            drv = SimDriver(res, cfg.cluster_name, cfg.secret, self.cloud, self.faults, self.master_clock)
            # as clouds.registry.driver_for: ids signed under a rotated-out secret are still ours
            drv.previous_secrets = tuple(getattr(cfg, "previous_secrets", ()))
            return drv

        offered = {
            "pillar": lambda: self.pillar,
            "scheduler": lambda cfg: make_adapter("slurm", cfg.cluster.config, run, sleep=lambda s: None),
            "driver": driver,
            "fire": self._fire,
            "accept_key": self.keys.add,
            "preaccept_key": lambda mid, *pem: self.keys.add(mid),  # keys made before the launch (issue 13)
            "delete_key": self.keys.discard,
            "reject_key": lambda mid: None,
            "accepted_keys": lambda: set(self.keys),
            "accepted_key": lambda mid: highstate_proofs.accepted_key(mid) if mid in self.keys else None,
            "hook": lambda argv, timeout: (0, "ok"),
            "master_address": "127.200.0.1",
            "new_jid": self._new_jid,  # the engine makes the jid and saves it before the publish
        }
        # Ports changes as the controller is reworked: pass what this version of it has.
        names = {f.name for f in dataclasses.fields(Ports)}
        ports = Ports(**{k: v for k, v in offered.items() if k in names})
        ports.highstate = self._highstate  # what the start reactor calls, as the engine's ports have
        ports.job_result = self._job_result  # Salt's job cache, as the engine's ports have
        return ports

    def _fire(self, tag: str, data: dict) -> None:
        self.events += 1

    def _machine_up(self, name: str) -> bool:
        inst = self.cloud.by_minion(name)
        return inst is not None and inst.state == "running" and inst.highstate_ok

    def _start(self) -> None:
        ports = self._ports()
        self.mono_base = self._boots.uniform(1e3, 1e6) - T0
        # Controller changes as it is reworked: a version without a monotonic clock gets the wall clock only.
        mono = {"monotonic": self.master_monotonic} if "monotonic" in inspect.signature(Controller).parameters else {}
        self.ctrl = Controller(ports, state_path=self.state_path, clock=self.master_clock, **mono)
        self.ctrl.submit = _inline
        if hasattr(self.ctrl, "submit_launch"):  # create calls on a pool of their own (issue 15): inline too
            self.ctrl.submit_launch = _inline
        # The graphs' history (720 samples) is no input of any decision, but writing it with the state
        # file every cycle was 80 % of a run's time: keep a few samples.
        if hasattr(self.ctrl.state, "history"):
            self.ctrl.state.history = collections.deque(self.ctrl.state.history, maxlen=HISTORY)
        if highstate_jobs is not None:  # as _engines/dcluster_mod.py wires it
            ports.highstate = highstate_jobs.tracked(self.ctrl, ports.highstate)

    def _kill(self, where: str) -> None:
        self.kills.append(where)
        if self.ctrl is not None:
            self.ctrl.state_path = None  # a dead process writes nothing more
        raise MasterKilled(where)

    def _down(self) -> None:
        """The master process is gone; it comes back after a downtime with a new Controller."""
        ctrl, self.ctrl = self.ctrl, None
        if ctrl is not None:
            for pool in (getattr(ctrl, "_poll_pool", None), getattr(ctrl, "_pool", None)):
                if pool is not None:
                    pool.shutdown(wait=False)
        self.down_until = self.t + self.rng.uniform(*DOWNTIME)
        self.oracle.c.restarts += 1
        for inst in self.cloud.instances.values():
            if inst.alive():
                inst.restarts_seen += 1

    def _guard(self, fn, *a, **kw):
        """Call into the controller; a kill inside takes the master down."""
        if self.ctrl is None:
            return None
        try:
            return fn(*a, **kw)
        except MasterKilled:
            self._down()
            return None

    def close(self) -> None:
        if self.ctrl is not None:
            with contextlib.suppress(Exception):
                self.ctrl.state_path = None
                self.ctrl.shutdown()
            self.ctrl = None
        self._ids.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ the world between cycles
    def submit(self, cpus: int | None = None, duration: float | None = None) -> Any:
        return self.slurm.submit(cpus or self.rng.choice((1, 1, 2, 4)), duration or self.rng.uniform(60, 600))

    def operator(self, cmd: str, **kw: Any) -> dict | None:
        """An operator command through the runner's path (commands.run), as salt-run sends it."""
        self.slurm.operator = self.cloud.operator = True
        try:
            return self._guard(commands.run, self.ctrl, cmd, **kw)
        finally:
            self.slurm.operator = self.cloud.operator = False

    def _random_operator(self) -> None:
        names = sorted(set(self.slurm.nodes) | {i.minion_id for i in self.cloud.instances.values() if i.alive()})
        res = sorted(self.cfg.resources)
        cmd = self.faults.rng.choice(
            ("remove", "vacate", "hold", "release", "drain", "freeze", "restore", "auto", "launch")
        )
        if cmd in ("remove", "vacate", "hold", "release"):
            if names:
                self.operator(cmd, name=self.faults.rng.choice(names))
        elif cmd == "auto":
            self.operator("auto", enable=self.faults.rng.random() < 0.7)
        elif cmd == "launch":
            self.operator("launch", resource=self.faults.rng.choice(res), count=self.faults.rng.choice((1, 2)))
        else:
            self.operator(cmd, resource=self.faults.rng.choice(res))

    def _minions(self) -> None:
        """Salt's side: keys, start events and highstate returns, as the reactors and engine handle them."""
        for inst in list(self.cloud.instances.values()):
            if not inst.alive():
                continue
            mid = inst.minion_id
            if inst.state == "running" and inst.will_join and not inst.accepted and self.ctrl is not None:
                if mid in self.keys:  # pre-accepted with the launch
                    inst.accepted = True
                elif "accept" in commands.COMMANDS:
                    # the auth reactor; a refused minion retries its key like salt-minion does
                    out = self._guard(commands.run, self.ctrl, "accept", minion_id=mid)
                    inst.accepted = bool(out and out.get("ok"))
                if inst.accepted:
                    inst.accepted_at = self.t
            elif inst.accepted and not inst.start_fired and self.t > inst.accepted_at and self.ctrl is not None:
                # the minion connects and fires its start event once, a poll interval after its key
                # was accepted: the start reactor
                inst.start_fired = True
                res = self._guard(commands.run, self.ctrl, "started", minion_id=mid)
                inst.started_ok = bool(res and res.get("ok"))
        for (jid, mid), done in list(self.highstates.items()):
            if self.t < done or (jid, mid) in self.returned:
                continue
            self.returned.add((jid, mid))
            inst = self.cloud.by_minion(mid)
            if inst is None or not inst.alive():
                continue
            inst.highstate_ok = True
            if self.ctrl is None:
                continue  # the return event is lost; only Salt's job cache has it
            if highstate_jobs is not None:
                self._guard(
                    highstate_jobs.on_return,
                    self.ctrl,
                    f"salt/job/{jid}/ret/{mid}",
                    {"id": mid, "fun": "state.highstate", "jid": jid},
                )
            else:
                # The engine of older trees marks a worker configured when the return event arrives.
                self._guard(self.ctrl.mark_configured, mid, True, "highstate succeeded (chaos harness)")

    def _new_jid(self) -> str:
        self.jids += 1
        return f"2026{self.jids:016d}"

    def _highstate(self, minion_ids: list[str] | str, jid: str = "") -> str:
        jid = jid or self._new_jid()
        # one job for several minions since issue 15's batched starts; one id before (regressions_on.py)
        for mid in [minion_ids] if isinstance(minion_ids, str) else minion_ids:
            self.highstates[(jid, mid)] = self.t + self.rng.uniform(*HIGHSTATE)
        return jid

    def _job_result(self, jid: str, minion_id: str) -> dict | None:
        done = self.highstates.get((jid, minion_id))
        if done is None or self.t < done:
            return None
        entry = {"return": {"pkg_|-slurmd_|-slurmd_|-installed": {"result": True}}, "retcode": 0, "success": True}
        return highstate_proofs.signed(entry, jid, minion_id) if highstate_proofs is not None else entry

    def _tick_faults(self) -> None:
        for event in self.faults.tick_events():
            if event == "vanish":
                alive = [i for i in self.cloud.instances.values() if i.alive()]
                if alive:
                    self.cloud.delete(self.faults.rng.choice(alive), "cloud")
            elif event == "clock_step":
                self.offset = max(-900.0, min(900.0, self.offset + self.faults.clock_step()))
            elif event == "operator" and self.ctrl is not None:
                self._random_operator()
            elif event == "restart" and self.ctrl is not None:
                self.ctrl.state_path = None  # killed between cycles: the file holds the last save
                self._down()

    # ------------------------------------------------------------ time
    def step(self) -> None:
        """One cluster_poller_interval of true time, then one cycle if the master is up."""
        self.t += self.cfg.cluster_poller_interval
        self.cloud.tick()
        self.slurm.tick()
        arriving = self.faults.active and self.t - T0 < self.fault_time
        if arriving and self.rng.random() < self.job_rate:
            for _ in range(self.rng.randint(1, 4)):
                self.submit()
        self._minions()
        if self.faults.active:
            self._tick_faults()
        if self.ctrl is None and self.t >= self.down_until:
            self._start()
        if self.ctrl is None:
            self.oracle.count_above_max(self.cfg)
            return
        cfg = self.ctrl.config or self.cfg
        self.oracle.before_cycle(cfg, self.oracle_now(), self.ctrl)
        self._guard(self.ctrl.cycle)
        self.oracle.after_cycle(cfg)

    def oracle_now(self) -> float:
        """The time the oracle plans at, on the controller's clock for intervals (the monotonic one when it
        has one: then the oracle also sees true ages, see Oracle.true_view)."""
        return self.ctrl.monotonic() if hasattr(self.ctrl, "monotonic") else self.master_clock()

    def advance(self, seconds: float) -> None:
        end = self.t + seconds
        while self.t < end:
            self.step()

    def settle(self) -> Counters:
        """Faults stop; the operator undoes his overrides; run until quiet; count."""
        self.faults.active = False
        while self.ctrl is None:
            self.step()
        for res in self.cfg.resources:
            self.operator("restore", resource=res)
        self.operator("auto", enable=True)
        for node in list(self.slurm.nodes.values()):
            if node.drain and node.reason.startswith(commands.OPERATOR_HOLD[:10]):
                self.operator("release", name=node.name)
        start = self.t
        while self.t - start < SETTLE[1]:
            self.step()
            if self.t - start >= SETTLE[0] and not self.slurm.unfinished():
                break
        self.oracle.c.faults = dict(self.faults.counts)
        return self.oracle.settle(self.ctrl.config or self.cfg, self.t)

    def run(self) -> Counters:
        try:
            self.advance(self.fault_time)
            return self.settle()
        finally:
            self.close()


def one_run(seed: int, family: str, fault_time: float = FAULT_TIME) -> Counters:
    return Run(seed, family, fault_time=fault_time).run()
