"""Operator commands (the runners' actions) and the refusal of pending keys under our ids.

They run in the controller's process, on its live state, so what an operator
does and what the loop does cannot race: the engine is the one actor.
Every command returns plain data with ``ok`` and a message an operator reads.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import identity, scrub
from ..model import WorkerState
from ..planner import Action, Kind
from ..planner.policy import limits_of
from ..reconcile import Limits
from . import breaker

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)

# not "dcluster...": never auto-removed.  Only characters every scheduler adapter accepts in a
# hold reason (schedulers._common.HOLD_REASON_RE): no parentheses.
OPERATOR_HOLD = "held by an operator: salt-run dcluster.hold"


def _fail(msg: str, **extra) -> dict[str, Any]:
    return {"ok": False, "message": msg, **extra}


def _ok(msg: str, **extra) -> dict[str, Any]:
    return {"ok": True, "message": msg, **extra}


def _worker(c: Controller, name: str):
    if c.view is None:
        return None
    for w in c.view.workers:
        if w.name == name:
            return w
    return None


def _need(c: Controller):
    if c.config is None or c.view is None:
        return _fail("the engine has not completed a cycle yet")
    return None


def run(c: Controller, cmd: str, **kw: Any) -> dict[str, Any]:
    handler = COMMANDS.get(cmd)
    if handler is None:
        return _fail(f"unknown command {cmd!r}; known: {', '.join(sorted(COMMANDS))}")
    try:
        result = handler(c, **kw)
    except TypeError as exc:
        return _fail(f"{cmd}: {exc}")
    except Exception as exc:  # noqa: BLE001 - an operator error must not end the engine
        log.exception("dcluster: command %s failed", cmd)
        return _fail(f"{cmd} failed: {scrub.text(exc)}")
    if result.get("ok"):
        c.fire(f"command/{cmd}", {"args": {k: v for k, v in kw.items()}, "message": result.get("message", "")})
    c.save()
    return scrub.data(result)  # it goes back to the runner: no credential in an operator's output


def launch(c: Controller, resource: str, count: int = 1) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    res = c.config.resources.get(resource)
    if res is None:
        return _fail(f"unknown resource {resource!r}; known: {', '.join(sorted(c.config.resources))}")
    count = int(count)
    if count < 1:
        return _fail("count must be at least 1")
    lim = limits_of(c.view, res)
    room = lim.max - c.current(resource)
    if count > room:
        return _fail(f"{resource}: {count} more would exceed max {lim.max} (room for {max(room, 0)})")
    ids = c.executor.launch(c.config, resource, count, "requested by an operator")
    return _ok(f"launching {count} x {resource}", minion_ids=ids)


def _scheduler_action(c: Controller, name: str, kind: Kind, reason: str, allow_physical: bool) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    w = _worker(c, name)
    if w is None or w.node is None:
        return _fail(f"{name} is not a node of the scheduler")
    if w.state == WorkerState.PHYSICAL and not allow_physical:
        return _fail(f"{name} was not launched by dcluster; refusing")
    action = Action(kind, w.resource, reason, target=name, jobs=tuple(w.jobs) if kind == Kind.REMOVE else ())
    c.executor.do(c.config, action, w)
    return _ok(f"{kind.value} {name}")


def hold(c: Controller, name: str) -> dict[str, Any]:
    w = _worker(c, name)
    if w is not None and w.state not in (WorkerState.IDLE, WorkerState.BUSY, WorkerState.PHYSICAL):
        return _fail(f"{name} is {w.state.value}; only idle or busy nodes can be held")
    return _scheduler_action(c, name, Kind.HOLD, OPERATOR_HOLD, allow_physical=True)


def release(c: Controller, name: str) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    w = _worker(c, name)
    if w is not None and w.state not in (WorkerState.HELD, WorkerState.DRAINING, WorkerState.PHYSICAL):
        return _fail(f"{name} is {w.state.value}, not held")
    if w is None or w.node is None:
        return _fail(f"{name} is not a node of the scheduler")
    # An operator's release lifts whatever hold the node has, as the original's unhold did: the
    # adapters release only dcluster's own holds unless forced, and this hold is the operator's.
    c.ports.scheduler(c.config).release(name, force=True)
    return _ok(f"release {name}")


def vacate(c: Controller, name: str) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    w = _worker(c, name)
    if w is None or w.node is None:
        return _fail(f"{name} is not a node of the scheduler")
    if not w.jobs:
        return _fail(f"{name} runs no jobs")
    out = c.ports.scheduler(c.config).vacate(name)
    return _ok(f"requeued/killed the jobs of {name}", jobs=list(w.jobs), detail=str(out))


def remove(c: Controller, name: str) -> dict[str, Any]:
    """Take one of our workers out of the scheduler and the cloud; refused while it runs jobs."""
    if (err := _need(c)) is not None:
        return err
    w = _worker(c, name)
    if w is None:
        return _fail(f"no worker {name}")
    if w.state == WorkerState.PHYSICAL:
        return _fail(f"{name} was not launched by dcluster; refusing")
    if w.jobs:
        return _fail(f"{name} runs jobs {', '.join(w.jobs)}; hold it and wait, or vacate it first")
    done = []
    if w.node is not None:
        c.executor.do(c.config, Action(Kind.REMOVE, w.resource, "removed by an operator", target=name), w)
        done.append("removed from the scheduler")
    if w.instance is not None:
        c.executor.destroy(c.config, w.resource, name, w.instance.id, w)
        done.append("instance destroyed")
    return _ok(f"{name}: {', '.join(done) or 'nothing to do'}")


def _limits(c: Controller, resource: str, make) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    res = c.config.resources.get(resource)
    if res is None:
        return _fail(f"unknown resource {resource!r}; known: {', '.join(sorted(c.config.resources))}")
    with c.state.lock:
        new = make(res)
        if new is None:
            c.state.limits.pop(resource, None)
        else:
            c.state.limits[resource] = new
    lim = c.state.limits.get(resource) or Limits(res.min, res.max)
    return _ok(f"{resource}: min {lim.min}, max {lim.max} ({lim.mode})", min=lim.min, max=lim.max, mode=lim.mode)


def freeze(c: Controller, resource: str) -> dict[str, Any]:
    """Keep the resource at its current size: min = max = current."""
    return _limits(c, resource, lambda res: Limits(c.current(resource), c.current(resource), "frozen"))


def drain(c: Controller, resource: str) -> dict[str, Any]:
    """Scale the resource to zero: hold every node, remove each once its jobs are done."""
    return _limits(c, resource, lambda res: Limits(0, 0, "draining"))


def restore(c: Controller, resource: str) -> dict[str, Any]:
    """Back to the pillar's min and max, and lift the bootstrap breaker (see ``bootstrap_failures``)."""
    out = _limits(c, resource, lambda res: None)
    if out["ok"] and breaker.reset(c, resource, "restored by an operator (salt-run dcluster.restore)"):
        out["message"] += "; bootstrap breaker lifted: it may launch again"
    return out


def auto(c: Controller, enable: Any = None) -> dict[str, Any]:
    if enable is not None:
        on = enable if isinstance(enable, bool) else str(enable).lower() in ("1", "true", "yes", "on")
        c.state.auto_mode = on
    return _ok(f"auto mode {'on' if c.auto_mode() else 'off'}", auto_mode=c.auto_mode())


def pending_key(c: Controller, minion_id: str) -> dict[str, Any]:
    """A key waits under ``minion_id`` (reactor/auth.sls): never accepted if the id is ours.

    Every worker's key is generated and accepted before its launch, so a worker never
    presents a pending key: one under a dcluster id is someone else's claim to be that
    worker, rejected and reported.  Ids that are not ours are the admin's business.
    """
    if not identity.well_formed(minion_id):
        return _fail("not a dcluster minion id; left for the admin")
    if c.config is None:
        return _fail("the engine has no configuration yet")
    if identity.parse(minion_id, c.config.secret, c.config.cluster_name) is None:
        return _fail("not a dcluster minion id; left for the admin")
    why = "a pending key under a dcluster minion id: workers' keys are accepted before launch"
    try:
        c.ports.reject_key(minion_id)
    except Exception as exc:  # noqa: BLE001 - still refused (never accepted) and reported
        why += f"; moving it to the rejected keys failed: {exc}"
    log.warning("dcluster: key of %s refused: %s", minion_id, why)
    c.fire("key/refused", {"name": minion_id, "reason": why})
    c.state.count("keys_refused")
    return _fail(why)


COMMANDS = {
    "launch": launch, "hold": hold, "release": release, "vacate": vacate, "remove": remove,
    "freeze": freeze, "drain": drain, "restore": restore, "auto": auto, "pending_key": pending_key,
}
# No "configured" command: whether a worker is configured comes from Salt's job cache for a
# highstate the engine started (highstate_jobs), never from what someone asks for.


def started(c: Controller, minion_id: str) -> dict[str, Any]:
    """A minion connected (reactor/start.sls): highstate it if it is one of our starting workers."""
    if not identity.well_formed(minion_id):
        return _fail("not a dcluster worker id; left alone")
    if c.config is None:
        return _fail("the engine has no configuration yet")
    if identity.parse(minion_id, c.config.secret, c.config.cluster_name) is None:
        return _fail(f"{minion_id} is not a dcluster worker; left alone")
    w = _worker(c, minion_id)
    if w is not None and w.state not in (WorkerState.STARTING,):
        return _fail(f"{minion_id} is {w.state.value}; no highstate")
    highstate = getattr(c.ports, "highstate", None)
    if highstate is None:
        return _fail("no highstate port")
    jid = highstate(minion_id)
    with c.state.lock:
        c.state.config_failed.pop(minion_id, None)
    return _ok(f"highstate of {minion_id} started", jid=jid)


COMMANDS["started"] = started
