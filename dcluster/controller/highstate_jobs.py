"""Which new workers finished their highstate: only jobs the engine started, as Salt's job cache has them.

A ``salt/job/<jid>/ret/<id>`` event proves nothing: any minion can fire one
with any tag and data (``salt-call event.send``; Salt does not blacklist
``salt/job/*``).  So the engine records the jid of every highstate it starts
(``ControllerState.highstate_jobs``: jid and minion id -> their start time, kept
across restarts), takes a return event only as a hint for a jid it started for
exactly the tag's minion, and reads the result from the master's job cache,
which holds only what that minion itself returned over its authenticated
channel.  The channel authenticates only the sender, though: Salt files a
return under the load's ``resource_id`` unchecked, so a successful return
counts only with the minion's own signature over the jid and its id
(:func:`prove`, ``dcluster/highstate_proof.py``).  One publish may highstate
several new workers (a burst's starts go out as one job: one key listing and
job-cache write on the master instead of one per worker), so an entry is
keyed by ``<jid>/<minion>``.  The cache is written after the event is fired,
and a return may arrive while the master restarts, so the loop asks the cache
again for every outstanding jid each cycle; a jid with no return within
``config-checker:salt:timeout`` is forgotten and counts as a failed
configuration (``salt-run dcluster.status`` says so, naming the key; a later
return of that jid is refused; a new minion start may start a new highstate,
and ``max_launch_time`` still destroys a worker that never becomes usable).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import highstate_proof, identity
from ..highstate_proof import STATE_FUNS

if TYPE_CHECKING:
    from .loop import Controller

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 900.0


def timeout_of(c: Controller) -> float:
    cfg = c.config
    salt_checker = (cfg.config_checker.get("salt") if cfg is not None else None) or {}
    return float(salt_checker.get("timeout") or DEFAULT_TIMEOUT)


def key(jid: str, minion_id: str) -> str:
    """The entry of ``minion_id``'s part of job ``jid`` (a minion id never holds a "/")."""
    return f"{jid}/{minion_id}"


def record(c: Controller, jid: Any, minion_ids: Sequence[str]) -> None:
    if not isinstance(jid, str) or not jid:  # cmd_async returns 0 or "" when nothing was published
        return
    with c.state.lock:
        now = c.monotonic()
        for mid in minion_ids:
            c.state.highstate_jobs[key(jid, mid)] = {"jid": jid, "minion": mid, "started": now}


def forget(c: Controller, jid: str, minion_ids: Sequence[str]) -> None:
    with c.state.lock:
        for mid in minion_ids:
            c.state.highstate_jobs.pop(key(jid, mid), None)


def tracked(c: Controller, highstate: Callable[..., Any]) -> Callable[[list[str]], Any]:
    """The highstate port (one job for a list of minions), remembering the job's jid for each.

    With a ``new_jid`` port (the engine's: Salt's own jid format), the jid is made first, recorded
    and saved before the publish, so that an engine that dies right after publishing a burst's
    highstate still knows the job after its restart (up to ``START_BATCH`` workers would otherwise
    never be configured, and be destroyed after ``max_launch_time``).  A publish that raises is
    forgotten again (the caller defers those starts); one that Salt answered with another jid, or
    with none (nothing matched), is recorded as it answered."""

    def start(minion_ids: list[str]) -> Any:
        ids = list(minion_ids)
        new_jid = getattr(c.ports, "new_jid", None)
        jid = new_jid() if new_jid is not None else None
        if not jid:
            got = highstate(ids)
            record(c, got, ids)
            return got
        record(c, jid, ids)
        c.save()
        try:
            got = highstate(ids, jid)
        except BaseException:
            forget(c, jid, ids)
            raise
        if got != jid:
            forget(c, jid, ids)
            record(c, got, ids)
        return got

    return start


def parse_tag(tag: Any) -> tuple[str, str] | None:
    """``salt/job/<jid>/ret/<id>`` -> (jid, id); None for anything else."""
    if not isinstance(tag, str) or len(tag) > 512:
        return None
    parts = tag.split("/")
    if len(parts) != 5 or parts[:2] != ["salt", "job"] or parts[3] != "ret" or not parts[2] or not parts[4]:
        return None
    return parts[2], parts[4]


def already_due(c: Controller, tag: str, due: Mapping[str, float]) -> bool:
    """A return of the tag's minion for its part of a job whose job-cache read is already due (its
    key in ``due``).

    Any number of such events, which the worker itself can fire, then cost nothing; one naming
    another minion still goes through :func:`on_return` and is refused and counted."""
    parsed = parse_tag(tag)
    if parsed is None:
        return False
    k = key(*parsed)
    if k not in due:
        return False
    with c.state.lock:
        return k in c.state.highstate_jobs


def on_return(c: Controller, tag: str, data: Any) -> tuple[str, str]:
    """A job return event: ("ignored" | "refused" | "pending" | "settled", why); "pending" and
    "settled" come with the entry's key as :func:`key` makes it."""
    parsed = parse_tag(tag)
    if parsed is None:
        return "ignored", "not a job return tag"
    jid, minion = parsed
    claimed = data.get("id") if isinstance(data, Mapping) else None
    with c.state.lock:
        job = c.state.highstate_jobs.get(key(jid, minion))
    if job is None:
        return _not_started(c, jid, minion, data)
    if claimed != minion:
        return "refused", "the event's id is not the tag's minion"
    return settle(c, key(jid, minion)), "checked the job cache"


def _not_started(c: Controller, jid: str, minion: str, data: Any) -> tuple[str, str]:
    """A return for which the engine started nothing: refused if it passes for a highstate's, else ignored.

    Every other job's return passes by here (a hosts-file push to thousands of workers while as many
    highstates are outstanding), so the checks go by cost and only a forged one walks the outstanding
    highstates (a walk for every return cost 1.3 s a push to 5,000 workers)."""
    if not (isinstance(data, Mapping) and data.get("fun") in STATE_FUNS):
        return "ignored", "not a job the engine started"
    if _ours(c, minion):
        return "refused", "a state run of a dcluster worker that the engine did not start"
    if identity.well_formed(minion):  # our ids' shape but not signed by us: no real minion's
        with c.state.lock:
            if any(j["jid"] == jid for j in c.state.highstate_jobs.values()):
                return "refused", "the engine started this job for another minion"
    return "ignored", "not a job the engine started"


def settle(c: Controller, entry_key: str) -> str:
    """Mark the entry's minion configured or failed if the job cache has its return: "settled" or "pending"."""
    job_result = getattr(c.ports, "job_result", None)
    with c.state.lock:
        job = c.state.highstate_jobs.get(entry_key)
    if job is None or job_result is None:
        return "pending"
    jid, minion = job["jid"], job["minion"]
    try:
        entry = job_result(jid, minion)
    except Exception as exc:  # noqa: BLE001 - asked again next cycle
        log.warning("dcluster: cannot read the job cache for %s: %s", jid, exc)
        return "pending"
    if entry is None:
        return "pending"
    ok, detail = judge(entry)
    if ok:
        try:
            ok, detail = prove(c, jid, minion, entry)
        except Exception as exc:  # noqa: BLE001 - the master's key cache unreadable: asked again next cycle
            log.warning("dcluster: cannot read the accepted key of %s: %s", minion, exc)
            return "pending"
    with c.state.lock:
        c.state.highstate_jobs.pop(entry_key, None)
    c.mark_configured(minion, ok, detail)
    return "settled"


def prove(c: Controller, jid: str, minion: str, entry: Mapping[str, Any]) -> tuple[bool, str]:
    """A successful return is ``minion``'s only with its signature over (jid, minion) by the key the
    master accepted for it: Salt files a return under the load's ``resource_id`` without checking
    that the sender manages it, so a sibling can put a return under this minion's id in the cache.
    A failed return needs no proof: a forged failure can only delay a worker."""
    accepted_key = getattr(c.ports, "accepted_key", None)
    public_pem = accepted_key(minion) if accepted_key is not None else None
    try:
        highstate_proof.check(public_pem, jid, minion, entry.get("return"))
    except highstate_proof.ProofError as exc:
        c.state.count("highstate_proofs_refused")
        why = f"highstate result for {minion} carries no valid proof from {minion}'s own key: {exc}"
        log.warning("dcluster: %s (job %s)", why, jid)
        return False, why
    return True, "highstate succeeded (proven by the minion's own key)"


def recheck(c: Controller) -> None:
    """Each cycle: every outstanding entry once more; forget those older than the checker's timeout."""
    with c.state.lock:
        jobs = dict(c.state.highstate_jobs)
    now, limit = c.monotonic(), timeout_of(c)
    for entry_key, job in jobs.items():
        if settle(c, entry_key) == "pending" and now - job["started"] > limit:
            with c.state.lock:
                c.state.highstate_jobs.pop(entry_key, None)
            why = f"no highstate return (job {job['jid']}) within {limit:.0f} s (dcluster:config-checker:salt:timeout)"
            log.warning("dcluster: %s: %s", job["minion"], why)
            c.mark_configured(job["minion"], False, why)


def judge(entry: Any) -> tuple[bool, str]:
    """A job-cache entry ({return, retcode, success}) of a state run -> (ok, detail)."""
    if not isinstance(entry, Mapping):
        return False, "highstate failed: unreadable job cache entry"
    ret = entry.get("return")
    retcode = entry.get("retcode")
    ok = entry.get("success") is True and type(retcode) is int and retcode == 0
    failed: list[str] = []
    if isinstance(ret, Mapping):
        failed = [str(k) for k, v in ret.items() if isinstance(v, Mapping) and v.get("result") is False]
        ok = ok and not failed
    else:
        ok = False
    if ok:
        return True, "highstate succeeded"
    return False, f"highstate failed: {', '.join(failed)[:400] or str(ret)[:400]}"


def _ours(c: Controller, minion: str) -> bool:
    cfg = c.config
    return cfg is not None and identity.parse(minion, cfg.secrets, cfg.cluster_name) is not None
