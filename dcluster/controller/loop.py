"""One autoscaling cycle: observe -> reconcile -> plan -> act -> events.

Errors of a cycle are caught and logged; they never end the loop and never
turn into deletions (a failed poll becomes "unknown", on which the planner
does nothing destructive).  Actions run on a bounded thread pool, so one slow
cloud call does not stall the loop; one chain of actions per worker at a time.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from typing import Any

from .. import config as dconfig
from .. import gcpause, scrub
from ..actuator import Actuator, ActuatorPorts
from ..config import Config
from ..keypairs import KeyPool
from ..model import COUNTED_STATES, Instance, InstanceState, JobState, WorkerState
from ..planner import Plan, plan
from ..reconcile import View, reconcile
from ..worker_stats import WorkerStats
from . import breaker, commands, highstate_jobs, publish, retired
from . import state as st
from .listed import Listed
from .name_sync import NameSync
from .ports import Ports
from .timeline import Timeline
from .unlisted import Unlisted, listing_grace, maybe_launched_grace

log = logging.getLogger(__name__)

PORT_WAIT = 0.5  # seconds a cycle waits in all for the port checks it started (see check_ports)
HOOK_THREADS = 16  # hooks running at once (post_add_node_command and the like)
# worker states a history sample counts per resource (the graphs' nodes by resource): those that count
# toward its size, "unknown" (its cloud poll failed) included
_SAMPLED = frozenset(s.value for s in COUNTED_STATES)


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
            self.state.history.extend(publish.history(state_path))  # the graphs go on across a restart
        self._state_file = st.StateFile()  # written when it changed (issue 15)
        # when we asked the cloud for each launch: persisted, so it bounds their age after a restart too
        self.timeline = Timeline(clock, self.monotonic, launched=self.state.launched, lock=self.state.lock)
        self.config: Config | None = None
        self.view: View | None = None
        self.plan: Plan | None = None
        self._cloud_cache: dict[str, tuple[float, list[Instance] | None]] = {}
        self.listed = Listed(self.state)  # our instances as good listings showed them (persisted)
        self._maybe_absent = Unlisted()  # launches of unknown outcome that good listings do not show
        self._deleted_absent = Unlisted()  # instances we deleted before any listing showed them, not shown since
        self._cloud_dirty: set[str] = set()
        self._shapes: dict[str, tuple[int, int]] = {}
        self._keyless = Unlisted()  # our accepted keys with no instance -> first seen so
        self._pool: ThreadPoolExecutor | None = None
        self._launch_pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._poll_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dcluster-poll")
        # the scheduler's poll, while the cloud is listed (see _observe), and its nodes query beside
        # its jobs query where the adapter allows (see poll_scheduler)
        self._sched_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dcluster-sched")
        self._check_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dcluster-portcheck")
        # hooks (each bounded by hook_timeout): a hung one holds a thread of this pool, no action thread
        self._hook_pool = ThreadPoolExecutor(max_workers=HOOK_THREADS, thread_name_prefix="dcluster-hook")
        self._port_checks: dict[str, Future] = {}  # minion id -> its port check under way
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

    def pool(self) -> ThreadPoolExecutor:
        size = self.config.worker_number if self.config else 2
        if self._pool is None or size != self._pool_size:
            old, old_launch = self._pool, self._launch_pool
            self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dcluster-act")
            # create calls apart: a spot request waiting for its fulfilment holds a thread of this one only
            self._launch_pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dcluster-launch")
            self._pool_size = size
            for p in (old, old_launch):
                if p is not None:
                    p.shutdown(wait=False)
        return self._pool

    def fire(self, tag: str, data: dict) -> None:
        try:
            self.ports.fire(f"dcluster/{tag}", scrub.data(data))
        except Exception:  # events are best effort; the loop goes on
            log.exception("dcluster: could not fire event %s", tag)

    def auto_mode(self) -> bool:
        if self.state.auto_mode is not None:
            return self.state.auto_mode
        return self.config.auto_mode if self.config else True

    def shutdown(self) -> None:
        # launches first: a failed one may queue a chain; hooks before the actions they hand chains back to
        for p in (self._launch_pool, self._hook_pool, self._pool):
            if p is not None:
                p.shutdown(wait=True)
        self._poll_pool.shutdown(wait=False)
        self._sched_pool.shutdown(wait=False)
        self._check_pool.shutdown(wait=False)
        self.save()

    def save(self) -> None:
        if self.state_path:
            try:
                self._state_file.save(self.state, self.state_path, self.monotonic(), self.clock())
            except OSError:
                log.exception("dcluster: could not write %s", self.state_path)

    # ------------------------------------------------------------ observe
    def load_config(self) -> Config | None:
        """The pillar, validated; on errors keep the last good configuration."""
        try:
            data = self.ports.pillar()
        except Exception as exc:  # noqa: BLE001 - the last good configuration stays in force
            self.state.error(self.clock(), "pillar", f"could not read the dcluster pillar: {exc}")
            return self.config
        if not data:
            self.state.error(self.clock(), "pillar", "the dcluster pillar is empty")
            return self.config
        try:
            cfg = dconfig.load(data)
        except dconfig.ConfigError as exc:
            log.error("dcluster: %s", exc)
            self.state.error(self.clock(), "config", str(exc))
            self.fire("config/invalid", {"errors": exc.errors})
            return self.config
        cfg = retired.apply(self, cfg)  # resources the pillar dropped stay listed until empty
        scrub.REGISTRY.update(cfg)  # before anything of this config can reach a message
        self.config = cfg
        return cfg

    def poll_scheduler(self, cfg: Config):
        try:
            port = self.ports.scheduler(cfg)
            if getattr(port, "queries_in_parallel", False):
                nodes, jobs = self._nodes_beside_jobs(port)
            else:
                nodes = port.nodes()
                jobs = port.jobs()
            # the scheduler's timestamps onto the monotonic clock
            return self.timeline.nodes(nodes), self.timeline.jobs(jobs, submit_times=bool(cfg.scale_up_delay))
        except Exception as exc:  # noqa: BLE001 - a failed poll is data, not a crash
            log.warning("dcluster: scheduler poll failed: %s", exc)
            self.state.error(self.clock(), "scheduler", str(exc))
            self.fire("poll/failed", {"what": "scheduler", "error": str(exc)[:1000]})
            return None, None

    def _nodes_beside_jobs(self, port):
        """Both queries at once (each mostly waits for its command or is in libxml2: with 50,000 jobs the
        nodes' 0.2 s fit in the jobs' read).  Either failing fails the poll, with the nodes' error
        first, as when the nodes were asked first."""
        nodes = self._sched_pool.submit(port.nodes)
        try:
            jobs = port.jobs()
        except BaseException:
            nodes.result()  # waited for, never left running; its error, if it failed too
            raise
        return nodes.result(), jobs

    def poll_cloud(self, cfg: Config, now: float) -> dict[str, list[Instance] | None]:
        due = {}
        for name, res in {**cfg.resources, **cfg.retired}.items():
            at, cached = self._cloud_cache.get(name, (0.0, None))
            if name in self._cloud_dirty or cached is None or now - at >= cfg.cloud_poller_interval:
                due[name] = self._poll_pool.submit(self._list, cfg, res)
        timeout = max(5.0, min(60.0, cfg.cloud_poller_interval * 2.0))
        for name, fut in due.items():
            try:
                result = fut.result(timeout=timeout)
            except FutureTimeout:
                result = None
                self._failed_poll(name, f"no answer within {timeout:.0f} s")
            except Exception as exc:  # noqa: BLE001 - a failed poll is data, not a crash
                result = None
                self._failed_poll(name, str(exc))
            if result is not None:
                self.listed.saw(name, result, now, listing_grace(cfg))
            result = self.timeline.instances(result)  # launch-time tags onto the monotonic clock
            self._cloud_cache[name] = (now, result)
            self._cloud_dirty.discard(name)
        return {name: self._cloud_cache.get(name, (0, None))[1] for name in (*cfg.resources, *cfg.retired)}

    def _observe(self, cfg: Config, now: float):
        """The scheduler's poll and the cloud's listings, at the same time: they are independent
        observations, and most of the scheduler's is waiting for a command or in libxml2, which
        leaves the interpreter to the listings (issue 15: 0.3-0.5 s of a 50,000-job cycle).
        The cycle goes on only once both are done; a failed poll is still (None, None)."""
        sched = self._sched_pool.submit(self.poll_scheduler, cfg)
        try:
            listings = self.poll_cloud(cfg, now)
        except BaseException:
            wait_futures([sched])  # never two polls of the scheduler at once
            raise
        nodes, jobs = sched.result()
        return nodes, jobs, listings

    def _list(self, cfg: Config, res) -> list[Instance]:
        drv = self.ports.driver(cfg, res)
        if res.name not in self._shapes:
            try:
                self._shapes[res.name] = (res.cores or drv.cores(), res.mem_mb or drv.mem_mb())
            except Exception as exc:  # noqa: BLE001 - shape unknown: the planner says so
                log.warning("dcluster: cannot learn the node size of %s: %s", res.name, exc)
        return list(drv.instances())

    def _failed_poll(self, resource: str, message: str) -> None:
        log.warning("dcluster: cloud poll of %s failed: %s", resource, message)
        self.state.error(self.clock(), f"cloud:{resource}", message)
        self.fire("poll/failed", {"what": "cloud", "resource": resource, "error": message[:1000]})

    def _merge_recent(self, cfg: Config, insts: dict, now: float) -> dict:
        """Add launches the cloud does not list yet (eventual consistency), drop those it does.

        One we deleted before any listing showed it (the actuator keeps it, deleting) still exists
        until the cloud is done: it stays, counted toward max as deleting, until a listing shows it or
        good listings across :func:`~.unlisted.maybe_launched_grace` agree it is not there (a listing
        that lags its create call cannot tell that it is gone).
        """
        with self.state.lock:
            out = {}
            absent, unsure = set(), set()
            for name, items in insts.items():
                deleting = {
                    mid
                    for mid, i in self.state.recent_launches.items()
                    if i.resource == name and i.state == InstanceState.DELETING
                }
                if items is None:
                    out[name] = None
                    unsure |= deleting
                    continue
                listed = {i.minion_id for i in items}
                absent |= deleting - listed
                extra = []
                for mid, inst in list(self.state.recent_launches.items()):
                    if inst.resource != name:
                        continue
                    inst = self.timeline.instance(inst)
                    if mid in listed or now - inst.launch_time > cfg.max_launch_time + 2 * cfg.cloud_poller_interval:
                        del self.state.recent_launches[mid]
                    else:
                        extra.append(inst)
                out[name] = list(items) + extra
            self._deleted_absent.observe(absent, now, unsure=unsure)
            for mid in self._deleted_absent.confirmed(maybe_launched_grace(cfg), now):
                inst = self.state.recent_launches.pop(mid, None)
                if inst is not None and out.get(inst.resource) is not None:
                    out[inst.resource] = [i for i in out[inst.resource] if i.minion_id != mid]
            return out

    def _stale_listings(self, cfg: Config, insts: dict, now: float) -> dict[str, list[Instance]]:
        """For each resource whose listing failed: its last good listing plus our launches since.

        A failed listing must not make instances vanish: they still exist and are paid for,
        so they count toward max and their capacity toward pending jobs (else another resource
        launches for the same job).  reconcile marks them unknown: nothing destructive is ever
        based on them.
        """
        out = {}
        with self.state.lock:
            for name in cfg.resources:
                if insts.get(name) is not None:
                    continue
                # copies: reconcile reuses a worker whose snapshots are the very same objects, and a
                # worker kept from a stale listing must be judged afresh once the listing answers.
                # What good listings showed, also before a restart (controller/listed.py).
                items = [dataclasses.replace(self.timeline.instance(i)) for i in self.listed.of(name)]
                known = {i.minion_id for i in items}
                recent = [
                    self.timeline.instance(i)
                    for mid, i in self.state.recent_launches.items()
                    if i.resource == name and mid not in known
                ]
                items += [
                    i for i in recent if now - i.launch_time <= cfg.max_launch_time + 2 * cfg.cloud_poller_interval
                ]
                if items:
                    out[name] = items
        return out

    def _unlisted(self, cfg: Config, insts: dict) -> dict[str, list[Instance]]:
        """For each resource whose listing answered: instances an earlier good listing showed that this
        one misses and listings do not yet agree are gone (controller/listed.py).  reconcile keeps those
        that are no scheduler node as unknown workers: they count toward max, nothing is done to them."""
        out = {}
        for name in cfg.resources:
            if insts.get(name) is None:
                continue
            shown = {i.minion_id for i in insts[name]}
            items = [self.timeline.instance(i) for i in self.listed.missing(name) if i.minion_id not in shown]
            if items:
                out[name] = items
        return out

    def _maybe_launched(self, cfg: Config, insts: dict, now: float) -> dict[str, int]:
        """Per resource, ids asked of a create call that failed transiently and no listing shows yet.

        They count toward max (and as starting capacity) until a good listing shows them, or
        good listings across :func:`~.unlisted.maybe_launched_grace` agree they do not exist.
        """
        with self.state.lock:
            absent, unsure = set(), set()
            for mid, rec in list(self.state.maybe_launched.items()):
                if rec.get("launching"):
                    continue  # its create call is under way: in_flight counts it
                listed = insts.get(rec["resource"])
                if rec["resource"] not in cfg.resources or (
                    listed is not None and any(i.minion_id == mid for i in listed)
                ):
                    del self.state.maybe_launched[mid]  # listed: an instance like any other now
                elif listed is None:
                    unsure.add(mid)  # its listing failed: neither here nor gone
                else:
                    absent.add(mid)
            self._maybe_absent.observe(absent, now, unsure=unsure)
            for mid in self._maybe_absent.confirmed(maybe_launched_grace(cfg), now):
                self.state.maybe_launched.pop(mid, None)
            out: dict[str, int] = {}
            for rec in self.state.maybe_launched.values():
                if not rec.get("launching"):
                    out[rec["resource"]] = out.get(rec["resource"], 0) + 1
            return out

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
        self.pool()
        # Keys for one launch action of every resource are made ahead of time.
        self.keys.set_target(sum(min(r.launch_batch, r.max) for r in cfg.resources.values()))
        nodes, jobs, listings = self._observe(cfg, now)
        # What the actuator does, taken before the launches it answered are merged: a launch answered in
        # between is then counted twice for a cycle (in flight and merged), never not at all (above max).
        acts = self.actuator.status()
        insts = self._merge_recent(cfg, listings, now)
        stale = self._stale_listings(cfg, insts, now)
        unlisted = self._unlisted(cfg, insts)
        maybe = self._maybe_launched(cfg, insts, now)
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
                shapes=dict(self._shapes),
                bootstrap=dict(self.state.bootstrap),
            )
        view = breaker.refresh(self, cfg, view)  # a worker that joined or a pillar change ends a breaker
        retired.observe(self, cfg, view)  # what each retired resource has left, for the status
        self.check_ports(cfg, view)
        self.name_sync(self, cfg, view, now, wall)  # before acting: a REGISTER needs the name to resolve
        result = plan(view, cfg)
        self._changes(self.view, view)
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
        """The port config checker: a starting worker whose port answers is configured.

        Each check runs on a pool of its own, one per worker at a time; the cycle waits for them at
        most :data:`PORT_WAIT` seconds in all and takes the answers that came since (issue 15: 40
        starting workers checked in turn with a 2 s timeout stalled the loop for 80 s)."""
        port = (cfg.config_checker.get("port") or {}).get("number")
        if not port or self.ports.port_open is None:
            return
        starting = {
            w.name: w
            for w in view.workers
            if w.state == WorkerState.STARTING
            and w.instance is not None
            and w.instance.ip
            and w.name not in self.state.configured
        }
        for w in starting.values():
            if w.name not in self._port_checks:
                self._port_checks[w.name] = self._check_pool.submit(self.ports.port_open, w.instance.ip, port)
        wait_futures(list(self._port_checks.values()), timeout=PORT_WAIT)
        for name, fut in list(self._port_checks.items()):
            if not fut.done():
                continue
            del self._port_checks[name]
            try:
                ok = fut.result()
            except Exception:  # noqa: BLE001 - no answer: checked again next cycle
                ok = False
            if ok and name in starting:  # still starting: not gone, nor configured meanwhile
                self.mark_configured(name, True, f"port {port} answers")

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

    def _changes(self, before: View | None, after: View) -> None:
        old = {w.name: w for w in before.workers} if before else {}
        for w in after.workers:
            prev = old.get(w.name)
            if prev is None or prev.state != w.state:
                self.fire(
                    f"worker/{w.state.value}",
                    {
                        "name": w.name,
                        "resource": w.resource,
                        "from": prev.state.value if prev else None,
                        "to": w.state.value,
                        "reason": w.reason,
                    },
                )
            if (
                self.config
                and self.config.post_vm_provision_command
                and w.instance is not None
                and w.instance.state == InstanceState.RUNNING
                and prev is not None
                and prev.instance is not None
                and prev.instance.state != InstanceState.RUNNING
            ):
                self.actuator.hook(self.config.post_vm_provision_command, w, "post_vm_provision_command")
        for name in set(old) - {w.name for w in after.workers}:
            self.fire("worker/gone", {"name": name, "resource": old[name].resource, "from": old[name].state.value})

    def sweep_keys(self, cfg: Config, view: View) -> None:
        """Delete accepted keys of our minion ids whose instance no longer exists."""
        from .. import identity

        try:
            accepted = self.ports.accepted_keys()
        except Exception as exc:  # noqa: BLE001 - no sweep this cycle; tried again next cycle
            log.debug("dcluster: cannot list keys: %s", exc)
            return
        alive = {w.name for w in view.workers}
        # A key is pre-accepted before its instance exists, and a launch that timed out may have made an
        # instance no listing shows yet: a key is unused only when listings across ``grace`` seconds agree.
        grace = listing_grace(cfg)
        unused = set()
        for mid in accepted:
            ident = identity.parse(mid, cfg.secrets, cfg.cluster_name)
            if ident is None or mid in alive or not view.cloud_ok.get(ident.resource, False):
                continue
            if (
                mid in self.state.recent_launches
                or mid in self.state.maybe_launched
                or self.state.in_flight.get(ident.resource)
            ):
                continue
            unused.add(mid)
        self._keyless.observe(unused, view.now)
        for mid in sorted(self._keyless.confirmed(grace, view.now)):
            try:
                self.ports.delete_key(mid)
                self.fire("key/deleted", {"name": mid, "reason": "its instance no longer exists"})
            except Exception as exc:  # noqa: BLE001 - the next key is still tried; this one next cycle
                log.warning("dcluster: could not delete key %s: %s", mid, exc)

    def publish(self, cfg: Config, view: View, result: Plan, wall: float | None = None) -> None:
        """``wall``: the cycle's wall-clock time, stamped on the history and on what the runners read
        (their age of the view, the dashboard's graphs); the view's own times are monotonic."""
        wall = self.clock() if wall is None else wall
        counts = {s.value: 0 for s in WorkerState}
        cores = {s.value: 0 for s in WorkerState}
        # one pass over the workers and one over the jobs (these were 2 per resource and 2 over 50,000 jobs)
        by_resource = dict.fromkeys(cfg.resources, 0)
        cores_by_resource = dict.fromkeys(cfg.resources, 0)
        for w in view.workers:
            state, wc = w.state.value, w.cores
            counts[state] += 1
            cores[state] += wc
            if state in _SAMPLED and w.resource in by_resource:
                by_resource[w.resource] += 1
                cores_by_resource[w.resource] += wc
        pending_jobs = pending_cores = 0
        for j in view.jobs:
            if j.state == JobState.PENDING:
                pending_jobs += 1
                pending_cores += j.chunks * j.chunk_cores  # Job.cores
        sample = {
            "time": wall,
            "nodes": counts,
            "cores": cores,
            "pending_jobs": pending_jobs,
            "pending_cores": pending_cores,
            "by_resource": by_resource,
            "cores_by_resource": cores_by_resource,
        }
        last = {
            "time": wall,
            "view": publish.view_summary(view),  # jobs and workers: in files of their own (controller/publish.py)
            "plan": publish.plan_summary(result),
            "config": cfg.redacted(),
            "resources": self.resources_summary(cfg, view, wall),
            "busy_targets": sorted(self.actuator.status().chains),
            "meta": dict(self.meta),
        }
        with self.state.lock:
            self.state.history.append(sample)
            self.state.last = last
            summary = {
                "time": wall,
                "last": last,
                "history": list(self.state.history),
                "errors": list(self.state.errors),
                "counters": dict(self.state.counters),
                "config_failed": dict(self.state.config_failed),
                "auto_mode": self.state.auto_mode,
                "retired": {k: dict(v) for k, v in self.state.retired.items()},
            }
        path = self.state_path  # None once a test's master is "dead": it publishes nothing more
        if path:
            publish.write(path, summary, view)

    def resources_summary(self, cfg: Config, view: View, wall: float | None = None) -> dict[str, Any]:
        """Per resource, what the runners and the dashboard show; ``wall``: the view's time on the wall
        clock, to show when a backoff ends (the view's own times are monotonic)."""
        from ..planner.policy import limits_of, shape_of

        wall = self.clock() if wall is None else wall

        out = {}
        for name, res in cfg.resources.items():
            lim = limits_of(view, res)
            b = view.backoff.get(name)
            states = {}
            for w in view.workers:
                if w.resource == name:
                    states[w.state.value] = states.get(w.state.value, 0) + 1
            cores, mem = shape_of(view, res)
            out[name] = {
                "type": res.type,
                "priority": res.priority,
                "min": lim.min,
                "max": lim.max,
                "mode": lim.mode,
                "configured_min": res.min,
                "configured_max": res.max,
                "current": view.current(name),
                "in_flight": view.in_flight.get(name, 0),
                "states": states,
                "cores_per_node": cores,
                "mem_mb_per_node": mem,
                "reservation": {
                    "queue": res.reservation.queue,
                    "account": res.reservation.account,
                    "properties": list(res.reservation.properties) or None,
                },
                "cloud_ok": view.cloud_ok.get(name, False),
                "backoff": None
                if not b or not b.active(view.now)
                else {
                    "until": wall + (b.until - view.now),
                    "failures": b.failures,
                    "kind": b.kind,
                    "last_error": b.last_error,
                },
                "bootstrap": _bootstrap_summary(view, name, cfg.bootstrap_failures),
            }
        return out

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
        """Wait until no action is running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.actuator.idle():
                return True
            time.sleep(0.05)
        return False

    def cloud_changed(self, resource: str) -> None:
        """We launched or destroyed something: list the resource again on the next cycle."""
        self._cloud_dirty.add(resource)

    def submit(self, fn: Callable[[], Any]) -> Future:
        return self.pool().submit(fn)

    def submit_launch(self, fn: Callable[[], Any]) -> Future:
        self.pool()
        return self._launch_pool.submit(fn)

    def submit_hook(self, fn: Callable[[], Any]) -> Future:
        return self._hook_pool.submit(fn)


def _bootstrap_summary(view: View, resource: str, limit: int) -> dict[str, Any] | None:
    b = view.bootstrap.get(resource)
    if b is None:
        return None
    return {
        "failures": b.failures,
        "limit": limit,
        "protected": b.protected(limit),
        "last": list(b.last[-limit:]),
        "reason": b.reason,
    }


__all__ = ["Controller"]
