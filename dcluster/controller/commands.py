"""Operator commands (the runners' actions) and the refusal of pending keys under our ids.

They run in the controller's process, on its live state, so what an operator
does and what the loop does cannot race: the engine is the one actor.
Every command returns plain data with ``ok`` and a message an operator reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import identity, scrub
from ..actuator import Busy
from ..config import Config, Resource
from ..model import JobState, Worker, WorkerState
from ..planner import Action, Kind
from ..planner.policy import limits_of
from ..reconcile import Limits, View
from . import breaker, queries
from .state import DEFERRED_STARTS

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)

# not "dcluster...": never auto-removed.  Only characters every scheduler adapter accepts in a
# hold reason (schedulers.validate.HOLD_REASON_RE): no parentheses.
OPERATOR_HOLD = "held by an operator: salt-run dcluster.hold"


def _fail(msg: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "message": msg, **extra}


def _ok(msg: str, **extra: Any) -> dict[str, Any]:
    return {"ok": True, "message": msg, **extra}


def _worker(c: Controller, name: str) -> Worker | None:
    if c.view is None:
        return None
    for w in c.view.workers:
        if w.name == name:
            return w
    return None


def _need(c: Controller) -> dict[str, Any] | None:
    if c.config is None or c.view is None:
        return _fail("the engine has not completed a cycle yet")
    return None


def _ready(c: Controller) -> tuple[Config, View]:
    """The config and view of a command that :func:`_need` (or its own check) let through."""
    # The first cycle sets both and nothing unsets them: past that check they stay set.
    assert c.config is not None and c.view is not None, "a command acted before the engine's first cycle"
    return c.config, c.view


# A view older than this many cluster_poller_intervals is stale: the engine is not cycling as it should.
STALE_CYCLES = 3


def _stale(c: Controller) -> str | None:
    """Why the whole view cannot be trusted (None: it can)."""
    cfg, view = _ready(c)
    age = c.monotonic() - view.now  # view.now is monotonic: a wall-clock step makes no view stale
    if age > STALE_CYCLES * cfg.cluster_poller_interval:
        return f"the engine's view is {age:.0f} s old (it cycles every {cfg.cluster_poller_interval} s)"
    return None


def _unsure(c: Controller, name: str, w: Worker | None) -> str | None:
    """Why the view cannot be trusted about worker ``name`` (None: it can).

    A failed poll does not show an empty cluster: a node missing from a failed ``sinfo`` may be
    running jobs.  So a command that destroys or requeues refuses instead of guessing.
    """
    cfg, view = _ready(c)
    if not view.scheduler_ok:
        return "the last scheduler poll failed"
    if (why := _stale(c)) is not None:
        return why
    if w is not None and w.state == WorkerState.UNKNOWN:
        return f"{name} is in state unknown ({w.reason})"
    resource = w.resource if w is not None else None
    if not resource:  # not in the view at all: perhaps only because its resource's listing failed
        ident = identity.parse(name, cfg.secrets, cfg.cluster_name)
        resource = ident.resource if ident is not None else None
    if resource and not view.cloud_ok.get(resource, False):
        return f"the last cloud listing of {resource} failed"
    return None


def _acted_on(c: Controller, name: str) -> str | None:
    """Why the view may not show worker ``name`` as it is now: an action of ours on it is under way
    or ended after the view was taken (a cycle's view comes before its actions: one that registered
    a starting worker leaves it "starting, no scheduler node" while jobs already start on the node)."""
    status = c.actuator.status()
    if name in status.chains:
        return "an action on it is under way"
    if name in status.acting(_ready(c)[1].now):
        return "an action on it ended after this view was taken"
    return None


def _refuse(name: str, why: str) -> dict[str, Any]:
    return _fail(
        f"{name}: {why}; refusing to act on a view that may be wrong. "
        "Wait for the next cycle with good polls (salt-run dcluster.status) and retry",
        stale=True,
    )


def _running_on(c: Controller, name: str, w: Worker | None) -> list[str]:
    """Jobs any source shows on ``name``: the node's own list and the job list's running jobs."""
    jobs = list(w.jobs) if w is not None else []
    for job in _ready(c)[1].jobs:
        if job.state == JobState.RUNNING and name in job.nodes and job.id not in jobs:
            jobs.append(job.id)
    return jobs


def _scrubbed(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = scrub.data(result)  # the same shape, every string scrubbed
    return out


def run(c: Controller, cmd: str, **kw: Any) -> dict[str, Any]:
    if cmd in queries.QUERIES:  # read-only: no event, no write
        try:
            return _scrubbed(queries.QUERIES[cmd](c, **kw))
        except TypeError as exc:
            return _fail(f"{cmd}: {exc}")
        except Exception as exc:  # answered, so the runner fails at once instead of timing out
            log.exception("dcluster: query %s failed", cmd)
            return _fail(f"{cmd} failed: {scrub.text(exc)}")
    handler = COMMANDS.get(cmd)
    if handler is None:
        return _fail(f"unknown command {cmd!r}; known: {', '.join(sorted(COMMANDS))}")
    try:
        result = handler(c, **kw)
    except TypeError as exc:
        return _fail(f"{cmd}: {exc}")
    except Exception as exc:  # an operator error must not end the engine
        log.exception("dcluster: command %s failed", cmd)
        return _fail(f"{cmd} failed: {scrub.text(exc)}")
    if result.get("ok"):
        c.fire(f"command/{cmd}", {"args": {k: v for k, v in kw.items()}, "message": result.get("message", "")})
        c.save()  # a refusal changed nothing worth a write: anyone reaching port 4506 can cause refusals
    return _scrubbed(result)  # it goes back to the runner: no credential in an operator's output


def launch(c: Controller, resource: str, count: int = 1) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    cfg, view = _ready(c)
    res = cfg.resources.get(resource)
    if res is None:
        return _fail(f"unknown resource {resource!r}; known: {', '.join(sorted(cfg.resources))}")
    count = int(count)
    if count < 1:
        return _fail("count must be at least 1")
    # The room is counted from the view: a failed listing hides starting instances (above max).
    why = _stale(c) or (None if view.cloud_ok.get(resource, False) else "its last cloud listing failed")
    if why is not None:
        return _refuse(resource, why)
    lim = limits_of(view, res)
    room = lim.max - c.current(resource)
    if count > room:
        return _fail(f"{resource}: {count} more would exceed max {lim.max} (room for {max(room, 0)})")
    ids = c.actuator.launch(cfg, resource, count, "requested by an operator")
    return _ok(f"launching {count} x {resource}", minion_ids=ids)


def _scheduler_action(c: Controller, name: str, kind: Kind, reason: str, allow_physical: bool) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    if not _ready(c)[1].scheduler_ok:  # the node is missing from the view, not from the scheduler
        return _refuse(name, "the last scheduler poll failed")
    w = _worker(c, name)
    if w is None or w.node is None:
        return _fail(f"{name} is not a node of the scheduler")
    if w.state == WorkerState.PHYSICAL and not allow_physical:
        return _fail(f"{name} was not launched by dcluster; refusing")
    return _perform(c, w, [Action(kind, w.resource, reason, target=name)], f"{kind.value} {name}")


def _perform(
    c: Controller, w: Worker, actions: list[Action], message: str, detail: bool = False, **extra: Any
) -> dict[str, Any]:
    """One chain through the actuator: refused while a chain on that worker is under way.
    ``detail``: the reply carries what the scheduler answered to the first action."""
    try:
        details = c.actuator.perform(_ready(c)[0], actions, w)
    except Busy as exc:
        return _fail(str(exc), busy=True)
    if detail and details:
        extra["detail"] = str(details[0])
    return _ok(message, **extra)


def hold(c: Controller, name: str) -> dict[str, Any]:
    # hold and release are undone by each other and destroy nothing (the actuator's own chain
    # re-checks a node before removing it): only a failed scheduler poll, which hides the node, refuses.
    w = _worker(c, name)
    if w is not None and w.state not in (WorkerState.IDLE, WorkerState.BUSY, WorkerState.PHYSICAL):
        return _fail(f"{name} is {w.state.value}; only idle or busy nodes can be held")
    return _scheduler_action(c, name, Kind.HOLD, OPERATOR_HOLD, allow_physical=True)


def release(c: Controller, name: str) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    if not _ready(c)[1].scheduler_ok:
        return _refuse(name, "the last scheduler poll failed")
    w = _worker(c, name)
    if w is not None and w.state not in (WorkerState.HELD, WorkerState.DRAINING, WorkerState.PHYSICAL):
        return _fail(f"{name} is {w.state.value}, not held")
    if w is None or w.node is None:
        return _fail(f"{name} is not a node of the scheduler")
    # An operator's release lifts whatever hold the node has: the adapters release only
    # dcluster's own holds unless forced, and this hold is the operator's to lift.
    return _perform(
        c, w, [Action(Kind.RELEASE, w.resource, "released by an operator", target=name, force=True)], f"release {name}"
    )


def vacate(c: Controller, name: str) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    w = _worker(c, name)
    if (why := _unsure(c, name, w)) is not None:
        return _refuse(name, why)
    if w is None or w.node is None:
        return _fail(f"{name} is not a node of the scheduler")
    if not w.jobs:
        return _fail(f"{name} runs no jobs")
    return _perform(
        c,
        w,
        [Action(Kind.VACATE, w.resource, "vacated by an operator", target=name, jobs=tuple(w.jobs))],
        f"requeued/killed the jobs of {name}",
        jobs=list(w.jobs),
        detail=True,
    )


def remove(c: Controller, name: str) -> dict[str, Any]:
    """Take one of our workers out of the scheduler and the cloud; refused while it runs jobs,
    and while the view may be wrong about it (a failed or old poll, an unknown worker)."""
    if (err := _need(c)) is not None:
        return err
    w = _worker(c, name)
    if (why := _unsure(c, name, w) or _acted_on(c, name)) is not None:
        return _refuse(name, why)
    if w is None:
        return _fail(f"no worker {name}")
    if w.state == WorkerState.PHYSICAL:
        return _fail(f"{name} was not launched by dcluster; refusing")
    if jobs := _running_on(c, name, w):
        return _fail(f"{name} runs jobs {', '.join(jobs)}; hold it and wait, or vacate it first")
    actions, done = [], []
    if w.node is not None:
        actions.append(Action(Kind.REMOVE, w.resource, "removed by an operator", target=name))
        done.append("removed from the scheduler")
    if w.instance is not None:
        actions.append(
            Action(Kind.DESTROY, w.resource, "removed by an operator", target=name, instance_id=w.instance.id)
        )
        done.append("instance destroyed")
    if not actions:
        return _ok(f"{name}: nothing to do")
    return _perform(c, w, actions, f"{name}: {', '.join(done)}")


def _limits(c: Controller, resource: str, make: Callable[[Resource], Limits | None]) -> dict[str, Any]:
    if (err := _need(c)) is not None:
        return err
    cfg = _ready(c)[0]
    res = cfg.resources.get(resource)
    if res is None:
        return _fail(f"unknown resource {resource!r}; known: {', '.join(sorted(cfg.resources))}")
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
    if identity.parse(minion_id, c.config.secrets, c.config.cluster_name) is None:
        return _fail("not a dcluster minion id; left for the admin")
    # A worker can fire salt/auth itself (an events load): believe only the master's key cache.
    states = c.ports.key_states(minion_id) if c.ports.key_states is not None else None
    if states is not None and not states & {"pending", "denied"}:
        c.state.count("auth_events_ignored")
        return _fail("no pending or denied key under this id: a salt/auth event the master did not fire; ignored")
    why = "a pending key under a dcluster minion id: workers' keys are accepted before launch"
    try:
        c.ports.reject_key(minion_id)
    except Exception as exc:  # noqa: BLE001 - still refused (never accepted) and reported
        why += f"; moving it to the rejected keys failed: {exc}"
    log.warning("dcluster: key of %s refused: %s", minion_id, why)
    c.fire("key/refused", {"name": minion_id, "reason": why})
    c.state.count("keys_refused")
    return _fail(why)


COMMANDS: dict[str, Callable[..., dict[str, Any]]] = {
    "launch": launch,
    "hold": hold,
    "release": release,
    "vacate": vacate,
    "remove": remove,
    "freeze": freeze,
    "drain": drain,
    "restore": restore,
    "auto": auto,
    "pending_key": pending_key,
}
# No "configured" command: whether a worker is configured comes from Salt's job cache for a
# highstate the engine started (highstate_jobs), never from what someone asks for.


REPUBLISH_AFTER = 300.0  # seconds after which a start event may highstate a worker again


def started(c: Controller, minion_id: str) -> dict[str, Any]:
    """A minion connected: highstate it if it is one of our starting workers (:func:`started_many`)."""
    return started_many(c, [minion_id])[minion_id]


def started_many(c: Controller, minion_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Minions connected (their start events, as the engine reads them off the bus; or an operator's
    ``salt-run dcluster_reactor.minion_started``): highstate those that are our starting workers, all
    in one job (on the master, one key listing and job-cache write for a burst, not one per worker).
    An answer for each id.

    The start event comes once.  If the view cannot say what the worker is (no cycle yet, a
    failed or old poll, the worker unknown), refusing would waste the worker (never configured,
    destroyed after max_launch_time): the start is deferred to the next good cycle instead
    (:func:`start_deferred`), and so it is when the highstate's publish fails.
    """
    out: dict[str, dict[str, Any]] = {}
    due: list[str] = []
    for mid in dict.fromkeys(minion_ids):
        verdict = _judge_start(c, mid)
        if verdict is None:
            due.append(mid)
        else:
            out[mid] = verdict
    if due:
        try:
            jid = _highstate(c, due)
        except Exception as exc:  # noqa: BLE001 - the starts are kept for the next good cycle
            why = f"the highstate's publish failed: {scrub.text(exc)}"
            log.warning("dcluster: %s", why)
            out.update((mid, _defer(c, mid, why)) for mid in due)
        else:
            out.update((mid, _ok(f"highstate of {mid} started", jid=jid)) for mid in due)
    return {mid: out[mid] for mid in minion_ids}


def _judge_start(c: Controller, minion_id: str) -> dict[str, Any] | None:
    """The answer to a start event of ``minion_id``, or None when it is to be highstated."""
    if not identity.well_formed(minion_id):
        return _fail("not a dcluster worker id; left alone")
    if c.config is None:
        return _fail("the engine has no configuration yet")
    if identity.parse(minion_id, c.config.secrets, c.config.cluster_name) is None:
        return _fail(f"{minion_id} is not a dcluster worker; left alone")
    w = _worker(c, minion_id)
    why = "the engine has not completed a cycle yet" if c.view is None else _unsure(c, minion_id, w)
    if why is not None:
        return _defer(c, minion_id, why)
    if w is not None and w.state not in (WorkerState.STARTING,):
        return _fail(f"{minion_id} is {w.state.value}; no highstate")
    # One highstate at a time: a worker can fire salt/minion/<another>/start itself, and each would
    # start another state run (a second one fails while the first runs) and clear its recorded failure.
    # A run older than REPUBLISH_AFTER may have died with a restarted minion: then a start counts again.
    with c.state.lock:
        under_way = [
            job["jid"]
            for job in c.state.highstate_jobs.values()
            if job.get("minion") == minion_id and c.monotonic() - float(job.get("started") or 0) < REPUBLISH_AFTER
        ]
    if under_way:
        msg = f"a highstate of {minion_id} is under way (jid {under_way[0]}); not started again"
        return _ok(msg, jid=under_way[0], under_way=True)
    if getattr(c.ports, "highstate", None) is None:
        return _fail("no highstate port")
    return None


def _highstate(c: Controller, minion_ids: list[str]) -> Any:
    """One highstate job for ``minion_ids`` (the port records its jid for each); raises when it fails."""
    highstate = c.ports.highstate
    if highstate is None:  # _judge_start let nothing through then
        raise RuntimeError("no highstate port")
    jid = highstate(minion_ids)
    with c.state.lock:
        for mid in minion_ids:
            c.state.config_failed.pop(mid, None)
    return jid


def _defer(c: Controller, minion_id: str, why: str) -> dict[str, Any]:
    """Remember a start event (persisted, bounded) until a cycle's view is good."""
    with c.state.lock:
        pending = c.state.deferred_starts
        pending.pop(minion_id, None)
        while len(pending) >= DEFERRED_STARTS:  # ids are HMAC-signed ours: only a huge burst fills it
            pending.pop(min(pending, key=pending.__getitem__))
        pending[minion_id] = c.monotonic()  # compared with view.now
    log.info("dcluster: start of %s deferred: %s", minion_id, why)
    return _ok(f"start of {minion_id} deferred to the next good cycle: {why}", deferred=True)


def start_deferred(c: Controller) -> None:
    """Each cycle, on the view just made: highstate the deferred starts the view can now judge.

    One that is then a starting worker of ours is highstated (all of them in one job); one the view
    still cannot judge waits, and so does one the view does not show while its id may be an instance
    no listing shows yet (its create call is under way or timed out, or the cloud answered and
    listings lag), and so do all when the highstate's publish fails; anything else (gone,
    registered, no longer ours, older than max_launch_time) is dropped.
    """
    with c.state.lock:
        pending = dict(c.state.deferred_starts)
    if not pending or c.config is None or c.view is None:
        return
    outcomes: dict[str, str] = {}
    due: list[str] = []
    for mid, since in pending.items():
        w = _worker(c, mid)
        if abs(c.view.now - since) > c.config.max_launch_time:
            outcomes[mid] = "dropped: older than max_launch_time"
        elif identity.parse(mid, c.config.secrets, c.config.cluster_name) is None:
            outcomes[mid] = "dropped: not a dcluster worker under the current pillar"
        elif _unsure(c, mid, w) is not None:
            continue  # still cannot tell: wait for a good cycle
        elif w is None and _may_be_unlisted(c, mid):
            continue  # its minion started, so its instance exists: wait until a listing shows it
        elif w is None or w.state != WorkerState.STARTING:
            outcomes[mid] = f"dropped: {'not in the view' if w is None else w.state.value}"
        elif mid in c.state.configured:
            outcomes[mid] = "dropped: already configured"
        else:
            verdict = _judge_start(c, mid)
            if verdict is None:
                due.append(mid)
            elif not verdict.get("deferred"):
                outcomes[mid] = verdict["message"]
    if due:
        try:
            _highstate(c, due)
        except Exception as exc:  # noqa: BLE001 - must not end the cycle; retried on the next one
            log.warning("dcluster: deferred highstate of %s failed: %s", ", ".join(due), scrub.text(exc))
        else:
            outcomes.update((mid, f"highstate of {mid} started") for mid in due)
    for mid, outcome in outcomes.items():
        with c.state.lock:
            c.state.deferred_starts.pop(mid, None)
        log.info("dcluster: deferred start of %s: %s", mid, outcome)
        c.fire("worker/start_deferred", {"name": mid, "outcome": outcome})


def _may_be_unlisted(c: Controller, minion_id: str) -> bool:
    """Whether ``minion_id`` is one of our launches that listings may not show yet."""
    with c.state.lock:
        return minion_id in c.state.maybe_launched or minion_id in c.state.recent_launches


COMMANDS["started"] = started
