"""Carries out a plan's actions on the controller's thread pool.

Actions on one worker form a chain run in order in one task; a chain stops at
its first failure, so an instance is never destroyed after its node could not
be removed.  While a worker's chain runs, later plans' actions on it are
skipped (one task per worker, as the original kept one per instance).
Launches are split into batches of ``launch_batch`` and counted as in flight
until the cloud answers, so the planner never launches twice for one job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import identity, keypairs
from ..clouds import userdata
from ..clouds.errors import CloudError
from ..config import Command, Config
from ..model import Worker
from ..planner import Action, Kind, Plan
from ..planner import backoff as bo
from ..reconcile import View
from . import breaker

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)


class ActionFailed(RuntimeError):
    pass


class Executor:
    def __init__(self, controller: Controller):
        self.c = controller
        self.busy: set[str] = set()
        self.finished: dict[str, float] = {}  # worker -> when its last chain ended (monotonic, as view.now)
        self._lock = threading.Lock()
        # Backoff episodes: the launches of one plan (all their batches) get one number when they are
        # issued; a resource's backoff remembers the last number issued when it was recorded.  A batch
        # numbered up to that belongs to the same episode: its failure does not grow the backoff, its
        # success does not clear it.
        self._batches = 0
        self._backoff_at: dict[str, int] = {}

    # ------------------------------------------------------------ dispatch
    def run(self, cfg: Config, result: Plan, view: View) -> None:
        chains: dict[str, list[Action]] = {}
        order: list[str] = []
        episode = self._issue() if any(a.kind == Kind.LAUNCH for a in result.actions) else 0
        for action in result.actions:
            if action.kind == Kind.LAUNCH:
                self.launch(cfg, action.resource, action.count, action.reason, episode=episode)
                continue
            if action.target not in chains:
                chains[action.target] = []
                order.append(action.target)
            chains[action.target].append(action)
        workers = {w.name: w for w in view.workers}
        with self._lock:  # a chain that ended before this view was observed cannot make it stale
            self.finished = {t: at for t, at in self.finished.items() if at >= view.now}
        for target in order:
            with self._lock:
                if target in self.busy:
                    continue  # its previous chain is still running; the next plan will see
                if target in self.finished:
                    # Its last chain ended while this view was being observed, which may show it half
                    # done: a destroyed instance still listed and its node gone looks "starting" and
                    # would be registered again.  The next plan will see.
                    continue
                self.busy.add(target)
            self.c.submit(lambda t=target: self._chain(cfg, chains[t], workers.get(t)))

    def _chain(self, cfg: Config, actions: list[Action], worker: Worker | None) -> None:
        try:
            for action in actions:
                self.c.fire(f"action/{action.kind.value}/started", action.to_dict())
                try:
                    detail = self.do(cfg, action, worker)
                except Exception as exc:  # noqa: BLE001 - recorded, fired, chain stops
                    msg = f"{action.kind.value} {action.target}: {exc}"
                    log.warning("dcluster: %s", msg)
                    self.c.state.error(self.c.clock(), "action", msg)
                    self.c.state.count(f"{action.kind.value}_failed")
                    self.c.fire(f"action/{action.kind.value}/failed", {**action.to_dict(), "error": str(exc)[:1000]})
                    return
                self.c.state.count(action.kind.value)
                log.info("dcluster: %s", action)
                self.c.fire(f"action/{action.kind.value}/done", {**action.to_dict(), "detail": detail})
        finally:
            with self._lock:
                self.busy.discard(actions[0].target)
                self.finished[actions[0].target] = self.c.monotonic()

    def do(self, cfg: Config, action: Action, worker: Worker | None) -> Any:
        sched = self.c.ports.scheduler(cfg)
        kind = action.kind
        if kind == Kind.HOLD:
            return _plain(sched.hold(action.target, action.reason))
        if kind == Kind.RELEASE:
            return _plain(sched.release(action.target))
        if kind == Kind.REGISTER:
            res = cfg.resources[action.resource]
            ip = worker.instance.ip if worker and worker.instance else None
            props = (res.reservation.property,) if res.reservation.property else ()
            kwargs = {"mem_mb": action.mem_mb, "reservation": res.reservation, "properties": props}
            if ip and _accepts(sched.add_node, "address"):  # only Slurm's dynamic nodes take an address
                kwargs["address"] = ip
            out = sched.add_node(action.target, action.cores, **kwargs)
            hook = cfg.cluster.config.get("post_add_node_command")
            if hook is not None:
                self.hook(hook, worker, "post_add_node_command", sync=True, args=(action.target, ip or ""))
            return _plain(out)
        if kind == Kind.REMOVE:
            if action.jobs:
                sched.vacate(action.target)
            out = sched.remove(action.target)
            with self.c.state.lock:
                # retired: never registered again, even if its instance lingers until destroyed
                self.c.state.configured.discard(action.target)
            hook = cfg.cluster.config.get("post_remove_node_command")
            if hook is not None:
                ip = worker.instance.ip if worker and worker.instance else ""
                self.hook(hook, worker, "post_remove_node_command", sync=True, args=(action.target, ip))
            return _plain(out)
        if kind == Kind.DESTROY:
            out = self.destroy(cfg, action.resource, action.target, action.instance_id, worker)
            if action.never_joined:
                breaker.never_joined(self.c, cfg, action, worker)
            return out
        raise ActionFailed(f"unknown action {kind}")

    # ------------------------------------------------------------ cloud
    def destroy(self, cfg: Config, resource: str, minion_id: str, instance_id: str, worker: Worker | None) -> Any:
        res = cfg.resource(resource)  # a retired resource's instances are destroyed too
        if res is None:
            raise ActionFailed(f"resource {resource!r} is neither in the pillar's cloud nor retired_resources")
        drv = self.c.ports.driver(cfg, res)
        result = drv.destroy([instance_id])
        status = result.get(instance_id, "ok")
        if status not in ("ok", "gone"):
            raise ActionFailed(f"the cloud refused to delete {instance_id}: {status}")
        with self.c.state.lock:
            self.c.state.configured.discard(minion_id)
            self.c.state.config_failed.pop(minion_id, None)
            self.c.state.recent_launches.pop(minion_id, None)
        self.c.listed.forget(minion_id)  # its absence from the next listings is expected
        self.c.cloud_changed(resource)
        self._delete_key(minion_id)
        if cfg.post_vm_destroy_command is not None and worker is not None:
            self.hook(cfg.post_vm_destroy_command, worker, "post_vm_destroy_command", sync=True)
        return {"instance": instance_id, "status": status}

    def _issue(self) -> int:
        with self.c.state.lock:
            self._batches += 1
            return self._batches

    def launch(self, cfg: Config, resource: str, count: int, reason: str, episode: int | None = None) -> list[str]:
        """Start ``count`` instances in batches; returns the minion ids requested.

        ``episode``: the number its batches share for the backoff (one per plan; a new one if None).
        """
        res = cfg.resources[resource]
        batch = episode or self._issue()
        ids_all = []
        left = count
        while left > 0:
            n = min(left, res.launch_batch)
            ids = [identity.make(cfg.cluster_name, resource, cfg.secret) for _ in range(n)]
            ids_all += ids
            with self.c.state.lock:
                self.c.state.in_flight[resource] = self.c.state.in_flight.get(resource, 0) + n
            self.c.fire("action/launch/started", {"kind": "launch", "resource": resource, "count": n,
                                                  "reason": reason, "minion_ids": ids})
            self.c.submit(lambda ids=ids, n=n, batch=batch: self._launch(cfg, resource, n, ids, reason, batch))
            left -= n
        return ids_all

    def _launch(self, cfg: Config, resource: str, n: int, ids: list[str], reason: str, batch: int = 0) -> None:
        res = cfg.resources[resource]
        now = self.c.monotonic  # backoff and grace are intervals: the wall clock is for people only
        asked = False  # whether the cloud was asked at all (keys or user-data may fail before)
        try:
            drv = self.c.ports.driver(cfg, res)
            keys = self._preaccept(ids)
            # The local cloud gives each instance a private directory (the template's instance_dir).
            render = userdata.renderer(res.config.get("userdata_file") or None, master=self.c.ports.master_address,
                                       resource=resource, scheduler=cfg.cluster.type, cluster=cfg.cluster_name,
                                       resource_type=res.type,
                                       instance_dir_for=getattr(drv, "instance_root", None),
                                       extra=res.config.get("userdata_vars"), keys=keys)
            asked = True
            self.c.timeline.launching(ids)  # none of them can be older than this call
            with self.c.state.lock:
                for mid in ids:
                    self.c.state.maybe_launched[mid] = {"resource": resource, "since": now(), "launching": True}
            # Saved before the create calls: a master killed during them remembers these ids after its
            # restart (as maybe launched: counted toward max until listed or agreed absent).
            self.c.save()
            result = drv.launch(n, ids, render)
            error = result.error
            instances = list(result.instances)
        except CloudError as exc:
            error, instances = exc, []
        except Exception as exc:  # noqa: BLE001 - unknown errors back off as transient
            error, instances = exc, []
        self._drop_unused_keys(ids, instances, error)
        with self.c.state.lock:
            self.c.state.in_flight[resource] = max(0, self.c.state.in_flight.get(resource, 0) - n)
            for mid in ids:
                if self.c.state.maybe_launched.get(mid, {}).get("launching"):
                    del self.c.state.maybe_launched[mid]  # answered: what the answer says counts now
            for inst in instances:
                self.c.state.recent_launches[inst.minion_id] = inst
            if asked and error is not None and getattr(error, "kind", "transient") == "transient":
                # The call may have made instances it did not report (created, then timed out):
                # they count toward max until a listing shows them or listings agree they are not there.
                made = {i.minion_id for i in instances}
                for mid in ids:
                    if mid not in made:
                        self.c.state.maybe_launched[mid] = {"resource": resource, "since": now()}
            self._backoff(cfg, resource, batch, error, now())
        self.c.cloud_changed(resource)
        self.c.state.count("launched", len(instances))
        data = {"kind": "launch", "resource": resource, "requested": n, "launched": len(instances),
                "minion_ids": [i.minion_id for i in instances], "reason": reason}
        if error is None:
            self.c.fire("action/launch/done", data)
            log.info("dcluster: launched %d x %s: %s", len(instances), resource, reason)
        else:
            self.c.state.count("launch_failed")
            kind = getattr(error, "kind", "transient")
            self.c.state.error(self.c.clock(), f"launch:{resource}", f"{kind}: {error}")
            self.c.fire("action/launch/failed", {**data, "error": str(error)[:1000], "error_kind": kind})
            log.warning("dcluster: launch of %d x %s: %d started; %s error: %s", n, resource, len(instances), kind,
                        error)

    def _backoff(self, cfg: Config, resource: str, batch: int, error: BaseException | None, at: float) -> None:
        """Grow the backoff once per failure episode; only a batch issued after it began ends it.

        Batches of one launch (and launches issued while one is under way) fail
        together when the cloud is down or full: that is one episode, not one
        failure per batch.  Called with the state lock held.
        """
        current = self.c.state.backoff.get(resource)
        same_episode = current is not None and batch <= self._backoff_at.get(resource, -1)
        if error is None:
            if current is not None and not same_episode:
                self.c.state.backoff.pop(resource, None)
                self._backoff_at.pop(resource, None)
            return
        if same_episode:
            return
        kind = getattr(error, "kind", "transient")
        self.c.state.backoff[resource] = bo.failure(current, kind, str(error), at, cfg.backoff)
        self._backoff_at[resource] = self._batches

    def _preaccept(self, ids: list[str]) -> dict[str, keypairs.KeyPair]:
        """A key pair per id, its public key accepted by the master before the instance exists.

        Salt's own convention (salt-cloud, ``salt.modules.seed``): the worker
        authenticates with a key the master already trusts, so no key is ever
        accepted because of what a client claims.  A failure accepts none.
        """
        keys = dict(zip(ids, self.c.keys.take(len(ids)), strict=True))
        done: list[str] = []
        try:
            for mid, pair in keys.items():
                self.c.ports.preaccept_key(mid, pair.public_pem)
                done.append(mid)
        except Exception:
            for mid in done:
                self._delete_key(mid)
            raise
        return keys

    def _drop_unused_keys(self, ids: list[str], instances: list, error: BaseException | None) -> None:
        """Delete the keys of ids the cloud made no instance for, when it surely made none.

        After a refusal (quota, capacity, configuration, authentication) the
        ids without an instance will never exist.  After a transient error
        (a timeout) an instance may exist that the answer did not show: its
        key stays until the key sweep finds it unused across listings.
        """
        if error is not None and getattr(error, "kind", "transient") == "transient":
            return
        made = {i.minion_id for i in instances}
        for mid in ids:
            if mid not in made:
                self._delete_key(mid)

    def _delete_key(self, minion_id: str) -> None:
        try:
            self.c.ports.delete_key(minion_id)
        except Exception as exc:  # noqa: BLE001 - the key sweep retries
            log.warning("dcluster: could not delete the key of %s: %s", minion_id, exc)

    # ------------------------------------------------------------ hooks
    def hook(self, command: Command, worker: Worker | None, what: str, sync: bool = False,
             args: Sequence[str] | None = None) -> None:
        """Run a hook without a shell, with a timeout, off the loop; log its output."""
        if args is None:
            inst = worker.instance if worker else None
            args = (worker.name if worker else "", inst.ip if inst else "", inst.name if inst else "",
                    worker.resource if worker else "")
        timeout = self.c.config.hook_timeout if self.c.config else 120

        def run() -> None:
            try:
                argv = command.render(*args, keep_empty=True)  # positions are the hook's interface
            except Exception as exc:  # noqa: BLE001
                log.warning("dcluster: %s not run: %s", what, exc)
                return
            rc, out = self.c.ports.hook(argv, timeout)
            level = logging.INFO if rc == 0 else logging.WARNING
            log.log(level, "dcluster: %s %s exited %s: %s", what, argv, rc, out.strip()[:2000])
            self.c.fire(f"hook/{what}", {"argv": argv, "rc": rc, "output": out[-2000:]})

        if sync:
            run()
        else:
            self.c.submit(run)


def _accepts(fn: Any, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return str(value)
