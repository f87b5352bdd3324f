"""One action on one worker: what each kind asks of the scheduler and the cloud."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from ..config import Config
from ..model import InstanceState, Worker
from ..planner import Action, Kind
from .errors import ActionFailed
from .hooks import Hooks
from .ports import ActuatorPorts
from .records import Records

# Hooks a step leaves for later: (command, worker, what, args) each, run by Hooks.run.
Later = list[tuple[Any, Worker | None, str, tuple[str, ...] | None]]

log = logging.getLogger(__name__)


class Steps:
    def __init__(self, ports: ActuatorPorts, records: Records, hooks: Hooks):
        self.ports, self.records, self.hooks = ports, records, hooks

    def do(self, cfg: Config, action: Action, worker: Worker | None, hooks: Later | None = None) -> Any:
        """Carry out ``action``.  Its hooks run here, or, given a list ``hooks``, are added to it as
        (command, worker, what, args) for the caller to run after the step (on the hook pool)."""
        sched = self.ports.scheduler(cfg)
        kind = action.kind
        if kind == Kind.HOLD:
            return _plain(sched.hold(action.target, action.reason))
        if kind == Kind.RELEASE:
            # force: an operator's release lifts whatever hold the node has, an admin's too
            return _plain(sched.release(action.target, force=True) if action.force else sched.release(action.target))
        if kind == Kind.VACATE:
            return _plain(sched.vacate(action.target))
        if kind == Kind.REGISTER:
            return self._register(cfg, sched, action, worker, hooks)
        if kind == Kind.REMOVE:
            return self._remove(cfg, sched, action, worker, hooks)
        if kind == Kind.DESTROY:
            out = self.destroy(cfg, action.resource, action.target, action.instance_id, worker, hooks)
            if action.never_joined:
                self.ports.never_joined(cfg, action, worker)
            return out
        raise ActionFailed(f"unknown action {kind}")

    def _hook(
        self, hooks: Later | None, command: Any, worker: Worker | None, what: str, args: tuple[str, ...] | None = None
    ) -> None:
        if hooks is None:
            self.hooks.run(command, worker, what, sync=True, args=args)
        else:
            hooks.append((command, worker, what, args))

    def _register(self, cfg: Config, sched: Any, action: Action, worker: Worker | None, hooks: Later | None) -> Any:
        res = cfg.resources[action.resource]
        why = self.ports.name_not_ready(cfg, action.resource, action.target)
        if why:  # failed, so planned again next cycle
            raise ActionFailed(why)
        ip = worker.instance.ip if worker and worker.instance else None
        # every adapter takes the address; those with takes_address use it (Slurm's NodeAddr)
        out = sched.add_node(
            action.target,
            action.cores,
            mem_mb=action.mem_mb,
            reservation=res.reservation,
            properties=res.reservation.properties,
            address=ip,
        )
        with self.records.lock:
            # before the hook: a failed hook is not retried (as for a node we created), and add_node's
            # account reservation must not be created twice
            self.records.registered.add(action.target)
        hook = cfg.cluster.config.post_add_node_command
        if hook is not None:
            self._hook(hooks, hook, worker, "post_add_node_command", (action.target, ip or ""))
        return _plain(out)

    def _remove(self, cfg: Config, sched: Any, action: Action, worker: Worker | None, hooks: Later | None) -> Any:
        if action.jobs:
            sched.vacate(action.target)
        out = sched.remove(action.target)
        with self.records.lock:
            # retired: never registered again, even if its instance lingers until destroyed
            self.records.configured.discard(action.target)
            self.records.registered.discard(action.target)
        hook = cfg.cluster.config.post_remove_node_command
        if hook is not None:
            ip = worker.instance.ip if worker and worker.instance else ""
            self._hook(hooks, hook, worker, "post_remove_node_command", (action.target, ip))
        return _plain(out)

    def destroy(
        self,
        cfg: Config,
        resource: str,
        minion_id: str,
        instance_id: str,
        worker: Worker | None,
        hooks: Later | None = None,
    ) -> Any:
        res = cfg.resource(resource)  # a retired resource's instances are destroyed too
        if res is None:
            raise ActionFailed(f"resource {resource!r} is neither in the pillar's cloud nor retired_resources")
        drv = self.ports.driver(cfg, res)
        result = drv.destroy([instance_id])
        status = result.get(instance_id, "ok")
        if status not in ("ok", "gone"):
            raise ActionFailed(f"the cloud refused to delete {instance_id}: {status}")
        with self.records.lock:
            self.records.configured.discard(minion_id)
            self.records.registered.discard(minion_id)
            self.records.config_failed.pop(minion_id, None)
            self.records.requests.pop(instance_id, None)  # an open request cancelled: never replaced
            recent = self.records.recent_launches.pop(minion_id, None)
            if recent is not None and status == "ok":
                # No listing has shown it yet (they lag the create call): it exists, deleting, until the
                # cloud is done, and counts toward max until a listing shows it or listings agree it is
                # not there (the controller's _merge_recent).  Forgetting it would launch another above max.
                self.records.recent_launches[minion_id] = dataclasses.replace(recent, state=InstanceState.DELETING)
        self.ports.destroyed(minion_id)  # its absence from the next listings is expected
        self.ports.cloud_changed(resource)
        delete_key(self.ports, minion_id)
        if cfg.post_vm_destroy_command is not None and worker is not None:
            self._hook(hooks, cfg.post_vm_destroy_command, worker, "post_vm_destroy_command")
        return {"instance": instance_id, "status": status}


def delete_key(ports: ActuatorPorts, minion_id: str) -> None:
    try:
        ports.delete_key(minion_id)
    except Exception as exc:  # noqa: BLE001 - the key sweep retries
        log.warning("dcluster: could not delete the key of %s: %s", minion_id, exc)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return str(value)
