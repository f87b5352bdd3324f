"""One autoscaling cycle: observe -> reconcile -> plan -> act -> events.

:class:`Controller` orchestrates the cycle; each step's work lives in a module of its own
(:mod:`.pillar`, :mod:`.polling`, :mod:`.merged`, :mod:`.port_checks`, :mod:`.events`,
:mod:`.key_sweep`, :mod:`.status`, :mod:`.pools`).  Errors of a cycle are caught and logged; they
never end the loop and never turn into deletions (a failed poll becomes "unknown", on which the
planner does nothing destructive).  Actions run on bounded thread pools, so one slow cloud call
does not stall the loop; one chain of actions per worker at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from .. import gcpause
from ..actuator import Actuator, ActuatorPorts
from ..config import Config
from ..keypairs import KeyPool
from ..model import Instance, Job, Node
from ..planner import Plan, plan
from ..reconcile import View, reconcile
from ..worker_stats import WorkerStats
from . import breaker, commands, events, highstate_jobs, pillar, retired, status
from . import publish as published
from . import state as st
from .key_sweep import KeySweep
from .listed import Listed
from .merged import Listings, Merged
from .name_sync import NameSync
from .polling import Polls, SchedulerPoll
from .pools import ActionPools
from .port_checks import PortChecks
from .ports import Ports
from .publisher import Publisher
from .timeline import Timeline

log = logging.getLogger(__name__)


class Controller:
    def __init__(
        self,
        ports: Ports,
        state_path: str | None = None,
        clock: Callable[[], float] = time.time,
        keys: KeyPool | None = None,
        monotonic: Callable[[], float] | None = None,
    ):
        """``clock`` is the wall clock: timestamps for people and what is compared with outside times.
        ``monotonic`` measures every interval (see :mod:`.timeline`); when only ``clock`` is injected
        (a test's fake time), it drives both."""
        self.ports = ports
        self.clock = clock
        self.monotonic = monotonic or (time.monotonic if clock is time.time else clock)
        self.state_path = state_path
        self.state = st.load(state_path, self.monotonic(), clock()) if state_path else st.ControllerState()
        if state_path:
            self.state.history.extend(published.history(state_path))  # the graphs go on across a restart
        self._state_file = st.StateFile()  # written when it changed (issue 15)
        self.publisher = Publisher(published.write)  # what the runners read, written off the cycle
        # when we asked the cloud for each launch: persisted, so it bounds their age after a restart too
        self.timeline = Timeline(clock, self.monotonic, launched=self.state.launched, lock=self.state.lock)
        self.config: Config | None = None
        self.view: View | None = None
        self.plan: Plan | None = None
        self.listed = Listed(self.state)  # our instances as good listings showed them (persisted)
        # late-bound where a test swaps the controller's own (its clock)
        self.polls = Polls(ports, self.state, self.timeline, self.listed, self.fire, lambda: self.clock())
        self.merged = Merged(self.state, self.timeline, self.listed)
        self.port_checks = PortChecks()
        self.key_sweep = KeySweep()
        self.pools = ActionPools()
        self._newly_configured = False  # a worker became configured after the last view was made
        self.keys = keys or KeyPool()  # workers' minion key pairs, made ahead of launches (see dcluster.keypairs)
        self.actuator = Actuator(self._actuator_ports(), records=self.state)
        self.name_sync = NameSync()  # worker names on the head node (dcluster.names)
        self.retirement = retired.Retirement()  # resources the pillar dropped (their settings: memory only)
        self.lock = threading.RLock()
        self.meta: dict[str, Any] = {}  # how the engine runs (pillar minion, master address), for the runners
        self.worker_stats = WorkerStats()  # the beacons' statistics, for the graphs only (stats_intake.py)

    # ------------------------------------------------------------ plumbing
    def _actuator_ports(self) -> ActuatorPorts:
        """The actuator's world: this engine's ports, clocks and pool, never the controller itself.

        Late-bound where a test swaps the controller's own (its pool, its clock)."""
        ports = self.ports
        return ActuatorPorts(
            scheduler=lambda cfg: ports.scheduler(cfg),
            driver=lambda cfg, res: ports.driver(cfg, res),
            keys=self.keys,
            clock=lambda: self.clock(),
            monotonic=lambda: self.monotonic(),
            fire=self.fire,
            preaccept_key=lambda mid, pem: ports.preaccept_key(mid, pem),
            delete_key=lambda mid: ports.delete_key(mid),
            hook=lambda argv, timeout: ports.hook(argv, timeout),
            hook_timeout=lambda: self.config.hook_timeout if self.config else 120,
            submit=lambda fn: self.submit(fn),
            submit_launch=lambda fn: self.submit_launch(fn),
            submit_hook=lambda fn: self.submit_hook(fn),
            master_address=ports.master_address,
            master_default=ports.master_default,
            save=self.save,
            launching=lambda ids: self.timeline.launching(ids),
            cloud_changed=self.cloud_changed,
            destroyed=lambda mid: self.listed.forget(mid),
            never_joined=lambda cfg, action, worker: breaker.never_joined(self, cfg, action, worker),
            name_not_ready=lambda cfg, resource, name: self.name_sync.not_ready(self, cfg, resource, name),
        )

    def _pool_size(self) -> int:
        return self.config.worker_number if self.config else 2

    def pool(self) -> ThreadPoolExecutor:
        return self.pools.resize(self._pool_size())

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        return self.pool().submit(fn)

    def submit_launch(self, fn: Callable[[], Any]) -> Future[Any]:
        return self.pools.submit_launch(self._pool_size(), fn)

    def submit_hook(self, fn: Callable[[], Any]) -> Future[Any]:
        return self.pools.submit_hook(fn)

    def fire(self, tag: str, data: dict[str, Any]) -> None:
        events.fire(self.ports.fire, tag, data)

    def auto_mode(self) -> bool:
        if self.state.auto_mode is not None:
            return self.state.auto_mode
        return self.config.auto_mode if self.config else True

    def shutdown(self) -> None:
        self.publisher.stop()
        self.pools.shutdown()
        self.polls.shutdown()
        self.port_checks.shutdown()
        self.save()

    def save(self) -> None:
        if self.state_path:
            try:
                self._state_file.save(self.state, self.state_path, self.monotonic(), self.clock())
            except OSError:
                log.exception("dcluster: could not write %s", self.state_path)

    # ------------------------------------------------------------ observe
    def load_config(self) -> Config | None:
        """The pillar, validated; on errors keep the last good configuration (:mod:`.pillar`)."""
        return pillar.load_config(self)

    def poll_scheduler(self, cfg: Config) -> SchedulerPoll:
        return self.polls.scheduler(cfg)

    def poll_cloud(self, cfg: Config, now: float) -> dict[str, list[Instance] | None]:
        return self.polls.clouds(cfg, now)

    def _observe(
        self, cfg: Config, now: float
    ) -> tuple[list[Node] | None, list[Job] | None, dict[str, list[Instance] | None]]:
        """The scheduler's poll and the cloud's listings, at the same time: they are independent
        observations, and most of the scheduler's is waiting for a command or in libxml2, which
        leaves the interpreter to the listings (issue 15: 0.3-0.5 s of a 50,000-job cycle).
        The cycle goes on only once both are done; a failed poll is still (None, None)."""
        sched = self.polls.sched_pool.submit(self.poll_scheduler, cfg)
        try:
            listings = self.poll_cloud(cfg, now)
        except BaseException:
            wait_futures([sched])  # never two polls of the scheduler at once
            raise
        nodes, jobs = sched.result()
        return nodes, jobs, listings

    def _merge_recent(self, cfg: Config, insts: Listings, now: float) -> dict[str, list[Instance] | None]:
        """Our launches the cloud does not list yet added, those it does dropped (:mod:`.merged`)."""
        return self.merged.recent(cfg, insts, now)

    # ------------------------------------------------------------ the cycle
    def cycle(self) -> dict[str, Any]:
        """One round.  Never raises: errors are recorded, logged and fired."""
        # No cyclic collection inside: a cycle makes 100,000s of objects that live on (the jobs, the
        # view), and collections rescanning them were 0.45 s of a 50,000-job cycle's CPU; the first
        # collection after it does that work once, outside the cycle (issue 15; dcluster/gcpause.py)
        with gcpause.paused():
            return self._guarded_cycle()

    def _guarded_cycle(self) -> dict[str, Any]:
        now, wall = self.timeline.observe()  # intervals on the first, timestamps for people on the second
        try:
            return self._cycle(now, wall)
        except Exception as exc:  # the loop must survive anything
            log.exception("dcluster: cycle failed")
            self.state.error(wall, "cycle", f"{type(exc).__name__}: {exc}")
            self.fire("cycle/failed", {"error": f"{type(exc).__name__}: {exc}"[:1000]})
            return {"ok": False, "error": str(exc)}
        finally:
            self.save()

    def _cycle(self, now: float, wall: float) -> dict[str, Any]:
        cfg = self.load_config()
        if cfg is None:
            return {"ok": False, "error": "no valid configuration"}
        self.timeline.keep_launched = 2.0 * cfg.max_launch_time  # a worker may be starting that long
        self.pool()
        # Keys for one launch action of every resource are made ahead of time.
        self.keys.set_target(sum(min(r.launch_batch, r.max) for r in cfg.resources.values()))
        nodes, jobs, listings = self._observe(cfg, now)
        # What the actuator does, taken before the launches it answered are merged: a launch answered in
        # between is then counted twice for a cycle (in flight and merged), never not at all (above max).
        acts = self.actuator.status()
        insts = self._merge_recent(cfg, listings, now)
        stale = self.merged.stale(cfg, insts, now)
        unlisted = self.merged.unlisted(cfg, insts)
        maybe = self.merged.maybe_launched(cfg, insts, now)
        highstate_jobs.recheck(self)  # results that reached Salt's job cache since (or during a restart)
        with self.state.lock:
            self._newly_configured = False  # this view has them all
            view = reconcile(
                cfg,
                now,
                nodes,
                insts,
                jobs or (),
                previous=self.view,
                stale=stale,
                unlisted=unlisted,
                maybe_launched=maybe,
                configured=set(self.state.configured),
                registered=set(self.state.registered),
                in_flight=dict(acts.in_flight),
                acting=acts.acting(now),
                backoff=dict(self.state.backoff),
                limits=dict(self.state.limits),
                auto_mode=self.auto_mode(),
                shapes=dict(self.polls.shapes),
                bootstrap=dict(self.state.bootstrap),
                submit_times=bool(cfg.scale_up_delay),  # as polled (polling.scheduler)
            )
        view = breaker.refresh(self, cfg, view)  # a worker that joined or a pillar change ends a breaker
        retired.observe(self, cfg, view)  # what each retired resource has left, for the status
        self.check_ports(cfg, view)
        self.name_sync(self, cfg, view, now, wall)  # before acting: a REGISTER needs the name to resolve
        result = plan(view, cfg)
        events.worker_changes(self.view, view, self.config, self.fire, self.actuator.hook)
        self.view, self.plan = view, result
        commands.start_deferred(self)  # start events that came while the view could not tell
        self.actuator.run(cfg, result, {w.name: w for w in view.workers}, view.now)
        self.actuator.poll_requests(cfg)  # open spot requests: adopted, cancelled or replaced off the cycle
        self.sweep_keys(cfg, view)
        self.publish(cfg, view, result, wall)
        if self.ports.metrics is not None:
            try:
                self.ports.metrics(cfg, view, result, dict(self.state.counters), wall)
            except Exception:
                log.exception("dcluster: metrics failed")
        return {"ok": True, "workers": len(view.workers), "actions": [str(a) for a in result.actions]}

    def check_ports(self, cfg: Config, view: View) -> None:
        """The port config checker (:mod:`.port_checks`): a starting worker whose port answers is configured."""
        self.port_checks.check(cfg, view, self.ports.port_open, self.state.configured, self.mark_configured)

    def wants_cycle(self) -> bool:
        """Whether a cycle should come before its interval: a worker became configured since the last
        view, and only a cycle registers it (glue/engine_loop.py spaces such early cycles)."""
        return self._newly_configured

    def mark_configured(self, minion_id: str, ok: bool, detail: str = "") -> None:
        with self.state.lock:
            if ok:
                self._newly_configured = True
                self.state.configured.add(minion_id)
                self.state.config_failed.pop(minion_id, None)
            else:
                self.state.config_failed[minion_id] = detail[:500]
        self.save()  # a restart right after a highstate return must not forget it
        self.fire(f"worker/{'configured' if ok else 'config_failed'}", {"name": minion_id, "detail": detail[:500]})

    def sweep_keys(self, cfg: Config, view: View) -> None:
        """Delete accepted keys of our minion ids whose instance no longer exists (:mod:`.key_sweep`)."""
        self.key_sweep.sweep(cfg, view, self.ports, self.state, self.fire)

    def publish(self, cfg: Config, view: View, result: Plan, wall: float | None = None) -> None:
        """``wall``: the cycle's wall-clock time, stamped on the history and on what the runners read
        (their age of the view, the dashboard's graphs); the view's own times are monotonic."""
        wall = self.clock() if wall is None else wall
        # state_path is None once a test's master is "dead": it publishes nothing more
        busy = self.actuator.status().chains
        status.publish(cfg, view, result, wall, self.state, self.state_path, busy, self.meta, self.publisher.submit)

    def resources_summary(self, cfg: Config, view: View, wall: float | None = None) -> dict[str, Any]:
        """Per resource, what the runners and the dashboard show (:func:`.status.resources_summary`)."""
        return status.resources_summary(cfg, view, self.clock() if wall is None else wall)

    # ------------------------------------------------------------ helpers for commands
    def current(self, resource: str) -> int:
        """A resource's size now: the last view, plus launches answered or under way since."""
        if self.view is None:
            return 0
        seen = {w.name for w in self.view.workers}
        with self.state.lock:
            newer = sum(
                1 for mid, i in self.state.recent_launches.items() if i.resource == resource and mid not in seen
            )
            flying = self.state.in_flight.get(resource, 0)
        return self.view.current(resource) - self.view.in_flight.get(resource, 0) + flying + newer

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no action is running and the last cycle's files are written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.actuator.idle():
                return self.publisher.flush(max(0.0, deadline - time.monotonic()))
            time.sleep(0.05)
        return False

    def cloud_changed(self, resource: str) -> None:
        """We launched or destroyed something: list the resource again on the next cycle."""
        self.polls.dirty.add(resource)


__all__ = ["Controller", "Ports"]
