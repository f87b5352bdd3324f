"""The dry-run: what a plan does and why, per pending job and per worker, paged (``salt-run dcluster.plan``).

The reasons are the planner's own: while planning, ``policy.plan`` files every reason text
it writes under a code (``Plan.codes``, one entry per distinct text: texts are shared per job
class), where each placed job goes (``Plan.placed``) and why it leaves a worker as it is
(``Plan.kept``).  Nothing here decides anything: this module only pages what the plan
recorded and fills in, for workers the planner never considers (busy, held, physical, ...),
their state's own reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..model import JobState, Worker, WorkerState
from . import eligibility
from .actions import Action, Kind, Plan

if TYPE_CHECKING:
    from ..reconcile import View

JobRow = tuple[str, str, str]

# ---- why a pending job goes where it goes, or nowhere
EXISTING = "existing"  # fits on a running worker's free cores: the scheduler starts it
BOOTING = "booting"  # waits for a worker already starting, or a launch under way
RELEASE = "release"  # releases one of our draining workers
LAUNCH = "launch"  # a node this plan launches
AT_MAX = "at_max"  # every eligible resource is at its max
FROZEN = "frozen"  # ... frozen by an operator (salt-run dcluster.freeze)
DRAINED = "drained"  # ... drained by an operator (salt-run dcluster.drain)
BACKOFF = "backoff"  # ... backing off after a launch error
PROTECTED = "protected"  # ... its instances stopped joining (the bootstrap breaker)
CLOUD_FAILED = "cloud_failed"  # ... its last cloud listing failed
CORES_UNKNOWN = "cores_unknown"  # ... the shape of its nodes is unknown
SCALE_UP_DELAY = "scale_up_delay"  # pending for less than scale_up_delay
BEHIND_RESERVATION = "behind_reservation"  # EASY backfilling: it would delay the head job
RESERVATION = "reservation"  # no resource's reservation (queue, account, property) accepts it
SHAPE = "shape"  # no eligible resource's node (cores, memory) or max can hold it
AUTO_OFF = "auto_mode_off"  # auto mode would launch or release for it; it is off
NOT_MONITORED = "not_monitored"  # in no queue of queue_to_monitor: not demand
NO_PLAN = "no_plan"  # the scheduler poll failed: nothing was planned
WIDE_JOB = "wide_job"  # the scheduler's head waits for booting nodes; its others are kept out of the scheduler
BEGIN_TIME = "begin_time"  # held until its begin time, further than the preboot lead: not demand yet
# ---- why a worker is left as it is (or what is done to it: the action's kind)
BUSY = "busy"
MIN = "min"  # idle past max_idle_time, kept for the resource's min
IDLE_TIME = "idle_time"  # idle, within max_idle_time
DEMAND = "demand"  # idle, within max_idle_time, and recent demand would take it soon (idle_policy adaptive)
WANTED = "wanted"  # a pending job would run on it
HELD = "held"  # an admin's hold: never undone
DRAINING = "draining"  # our hold: waits for its jobs to end
PHYSICAL = "physical"  # not ours: never touched
ACTING = "acting"  # a chain of actions on it is under way
DELETING = "deleting"  # one listing says its instance is being deleted: removed once the next says so too
CONFIRMING = "confirming"  # one poll says it may go (drained and empty, instance in ERROR): gone if the next agrees

WORKER_CODES = (
    BUSY,
    MIN,
    IDLE_TIME,
    DEMAND,
    WANTED,
    HELD,
    DRAINING,
    PHYSICAL,
    ACTING,
    BOOTING,
    AUTO_OFF,
    NO_PLAN,
    WIDE_JOB,
    DELETING,
    CONFIRMING,
)
JOB_CODES = (
    EXISTING,
    BOOTING,
    RELEASE,
    LAUNCH,
    AT_MAX,
    FROZEN,
    DRAINED,
    BACKOFF,
    PROTECTED,
    CLOUD_FAILED,
    CORES_UNKNOWN,
    SCALE_UP_DELAY,
    BEHIND_RESERVATION,
    RESERVATION,
    SHAPE,
    AUTO_OFF,
    NOT_MONITORED,
    NO_PLAN,
    WIDE_JOB,
    BEGIN_TIME,
)
# every code a row may have: the above, an action's kind (what is done to a worker), a worker state's name
CODES = frozenset(JOB_CODES + WORKER_CODES + tuple(k.value for k in Kind) + tuple(s.value for s in WorkerState))

MAX_LIMIT = 1000  # rows of one page: the answer travels on the event bus

_STATE_REASON = {
    WorkerState.BUSY: BUSY,
    WorkerState.HELD: HELD,
    WorkerState.DRAINING: DRAINING,
    WorkerState.PHYSICAL: PHYSICAL,
    WorkerState.STARTING: BOOTING,
    WorkerState.IDLE: IDLE_TIME,
}


def _job_rows(plan: Plan, view: View) -> tuple[list[tuple[str, str, str]], set[str]]:
    """(job id, code, why) of every pending job the plan considered, in the planner's order per list."""
    codes = plan.codes
    rows: list[JobRow] = []
    auto_off = not view.auto_mode
    for jid, why in plan.placed:
        code = codes.get(why, EXISTING)
        if auto_off and code in (LAUNCH, RELEASE):  # the planner's choice with auto mode on; it is off
            rows.append((jid, AUTO_OFF, f"auto mode is off; with it on: {why}"))
        else:
            rows.append((jid, code, why))
    for jid, why in plan.waiting:
        rows.append((jid, codes.get(why, AT_MAX), why))
    for jid, why in plan.unplaceable:
        rows.append((jid, codes.get(why, SHAPE), why))
    return rows, {r[0] for r in rows}


def _all_job_rows(plan: Plan, view: View, monitored: tuple[str, ...]) -> list[tuple[str, str, str]]:
    rows, seen = _job_rows(plan, view)
    # (seen may also hold held jobs the plan counted as pending: preboot_begin_jobs)
    missing = [j.id for j in view.jobs if j.state == JobState.PENDING and j.id not in seen]
    if missing:
        if not view.scheduler_ok:
            code, why = NO_PLAN, "the scheduler poll failed: nothing is planned until it answers"
        else:
            code, why = NOT_MONITORED, f"in no queue of queue_to_monitor ({', '.join(monitored)}): not demand"
        rows += [(jid, code, why) for jid in missing]
    # held until a begin time the plan did not count as pending yet (those it did are in seen): listed, so
    # that the operator asking why nothing boots for a job submitted with sbatch --begin or qsub -a sees
    later = [
        (j.id, j.begin_time - view.now)
        for j in view.jobs
        if j.state == JobState.HELD and j.begin_time > 0 and j.id not in seen and eligibility.monitored(j, monitored)
    ]
    if not view.scheduler_ok:
        rows += [(jid, NO_PLAN, "the scheduler poll failed: nothing is planned until it answers") for jid, _ in later]
        return rows
    rows += [
        (
            jid,
            BEGIN_TIME,
            f"held until its begin time, {max(0.0, away):.0f} s from now: not demand until then, or until the "
            "preboot lead before it (preboot_begin_jobs)",
        )
        for jid, away in later
    ]
    return rows


def job_reasons(plan: Plan, view: View, monitored: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every pending job with its code and reason (the ones the plan did not consider say why)."""
    return [{"job": j, "reason": code, "why": why} for j, code, why in _all_job_rows(plan, view, monitored)]


def _actions_by_target(actions: tuple[Action, ...]) -> dict[str, list[Action]]:
    out: dict[str, list[Action]] = {}
    for a in actions:
        if a.target and a.kind != Kind.LAUNCH:
            out.setdefault(a.target, []).append(a)
    return out


ACTING_NOTE = ": a chain of actions on it is under way"  # after a worker's name: policy.leave_acting's note


def _acting_notes(plan: Plan) -> dict[str, str]:
    return {n.split(ACTING_NOTE, 1)[0]: n for n in plan.notes if ACTING_NOTE in n}


def worker_reason(
    w: Worker, plan: Plan, done: dict[str, list[Action]], held_back: dict[str, list[Action]], acting: dict[str, str]
) -> dict[str, Any]:
    row: dict[str, Any] = {"worker": w.name, "state": w.state.value, "resource": w.resource}
    if not plan.planned:
        row.update(reason=NO_PLAN, why=plan.notes[0] if plan.notes else "nothing planned", actions=[])
    elif w.name in done:
        acts = done[w.name]
        row.update(reason=acts[0].kind.value, why=acts[-1].reason, actions=[a.kind.value for a in acts])
    elif w.name in held_back:
        acts = held_back[w.name]
        row.update(
            reason=AUTO_OFF,
            why=f"auto mode is off; with it on: {' + '.join(a.kind.value for a in acts)} ({acts[-1].reason})",
            actions=[],
        )
    elif w.name in plan.kept:
        code, why = plan.kept[w.name]
        row.update(reason=code, why=why, actions=[])
    elif note := acting.get(w.name):
        row.update(reason=ACTING, why=note, actions=[])
    else:  # a state the planner leaves alone: its own reason
        code = _STATE_REASON.get(w.state, w.state.value)
        why = w.reason
        if w.state == WorkerState.BUSY and w.jobs:
            why = f"runs job(s) {', '.join(w.jobs[:5])}{' ...' if len(w.jobs) > 5 else ''}"
        elif w.state == WorkerState.HELD:
            why = f"held by an admin, never undone by dcluster ({w.reason})"
        row.update(reason=code, why=why, actions=[])
    return row


def worker_reasons(plan: Plan, view: View) -> list[dict[str, Any]]:
    done, held_back = _actions_by_target(plan.actions), _actions_by_target(plan.suppressed)
    acting = _acting_notes(plan)
    return [worker_reason(w, plan, done, held_back, acting) for w in view.workers]


def _page(
    rows: list[Any], key: Callable[[Any], str], offset: int, limit: int, only: str | None, reason: str | None
) -> dict[str, Any]:
    picked = [r for r in rows if (only is None or key(r) == only) and (reason is None or _code(r) == reason)]
    return {"total": len(picked), "offset": offset, "rows": picked[offset : offset + limit]}


def _code(row: JobRow | dict[str, Any]) -> str:
    return row[1] if isinstance(row, tuple) else str(row["reason"])


def dry_run(
    plan: Plan,
    view: View,
    monitored: tuple[str, ...] = (),
    offset: int = 0,
    limit: int = 50,
    job: str | None = None,
    worker: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The dry-run of ``plan`` on ``view``: counts per reason, the actions, a page of jobs and of workers."""
    jobs = _all_job_rows(plan, view, monitored)  # tuples: only the page becomes dicts (100,000 jobs)
    workers = worker_reasons(plan, view)
    page = _page(jobs, lambda r: r[0], offset, limit, job, reason)
    page["rows"] = [{"job": j, "reason": code, "why": why} for j, code, why in page["rows"]]
    return {
        "auto_mode": view.auto_mode,
        "scheduler_ok": view.scheduler_ok,
        "summary": {
            "jobs": dict(Counter(r[1] for r in jobs).most_common()),
            "workers": dict(Counter(r["reason"] for r in workers).most_common()),
        },
        "actions": [a.to_dict() for a in plan.actions[:MAX_LIMIT]],
        "actions_total": len(plan.actions),
        # what auto mode would do and does not, because it is off (empty with it on)
        "not_done": [a.to_dict() for a in plan.suppressed[:MAX_LIMIT]],
        "not_done_total": len(plan.suppressed),
        "notes": list(plan.notes[:MAX_LIMIT]),
        "jobs": page,
        "workers": _page(workers, lambda r: r["worker"], offset, limit, worker, reason),
    }


__all__ = ["CODES", "MAX_LIMIT", "dry_run", "job_reasons", "worker_reasons"]
