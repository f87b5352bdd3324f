"""What the controller remembers between cycles and across master restarts.

Everything about the cluster itself is derived again from the scheduler and
the cloud each cycle.  What cannot be derived is kept here and written
atomically to a JSON file in the master's cachedir: operator overrides
(freeze, drain, auto mode), launch backoff, which new workers finished their
configuration (and the highstate jobs still outstanding), launches whose
instances the cloud does not list yet.  It is written only when that changed
(:class:`StateFile`); what the runners read (the last view, the graphs'
history) is published beside it each cycle (controller/publish.py).  Losing
the file loses no instance: at worst a frozen resource thaws and a backoff restarts.

Times: in memory, the controller's own times (backoff ``until``, bootstrap
``since``, ``maybe_launched`` and deferred-start ``since``, highstate
``started``, when each launch was asked of the cloud) are on the monotonic clock, which does not carry over a reboot.
The file holds them as wall-clock times with ``saved_at``; on load each is put
back on the monotonic clock at the same distance from the save.  A backoff's
end is also moved closer by the time the engine was down by the wall clock
(never negative: a clock stepped back while it was down counts as no
downtime); when something began is not (its age is its age at the save: a
forward step while down must not make a starting worker look old), and never
lands in the future.  Outside data (instances' launch-time tags, error
timestamps) is stored as it is.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ..actuator.records import Records
from ..atomic_file import write_text
from ..model import MAX_NODES, Instance
from ..reconcile import BackoffState, BootstrapState, Limits
from ..wire import LARGEST, ModelError
from . import highstate_jobs

log = logging.getLogger(__name__)

HISTORY = 720  # samples kept for the dashboard's own graphs (2 h at 10 s)
DEFERRED_STARTS = 1000  # start events kept for a good view (commands.started); the oldest go first


@dataclass
class ControllerState(Records):
    """The actuator's :class:`~dcluster.actuator.Records` (backoff, configured, launches in flight and of
    unknown outcome, counters, errors) and the rest of the engine's memory."""

    auto_mode: bool | None = None  # None: the pillar's auto_mode
    limits: dict[str, Limits] = field(default_factory=dict)
    bootstrap: dict[str, BootstrapState] = field(default_factory=dict)  # the bootstrap breaker, per resource
    # minion id -> our instance as the last good listing of its resource showed it (launch-time tag as listed):
    # the stale listing of a resource whose poll fails (also after a restart), and an instance a later
    # listing misses still counts toward max until listings agree it is gone (controller/listed.py)
    listed: dict[str, Instance] = field(default_factory=dict)
    # minion id -> when we asked the cloud for it (monotonic): none of our instances is older than that,
    # whatever its launch-time tag says after a forward step of the wall clock (controller/timeline.py);
    # kept so that a restart after such a step does not take a starting worker for an old one
    launched: dict[str, float] = field(default_factory=dict)
    # "<jid>/<minion>" -> {"jid", "minion", "started"} of each minion's part of a highstate job the engine
    # started and has no result of yet (one job may highstate a burst's workers)
    highstate_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # minion id -> when its start event came during an unknown view (commands.started): highstated
    # on the next cycle whose view is good, if it is then one of our starting workers
    deferred_starts: dict[str, float] = field(default_factory=dict)
    # resource name -> {type, since (wall), settings, left, count, done} of each resource the pillar no
    # longer uses whose instances may run (controller/retired.py); never a setting nor a credential
    retired: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the runners read, published each cycle beside the state file (controller/publish.py), not in it:
    # the graphs' recent samples (read back from there at a start) and the last cycle's summary.
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    last: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ persistence
    def to_json(self, mono: float | None = None, wall: float | None = None) -> dict[str, Any]:
        """``mono``, ``wall``: both clocks now, to store the monotonic times as wall times (None: as they are)."""
        off = 0.0 if mono is None or wall is None else wall - mono
        with self.lock:
            return {
                "version": 1,
                "saved_at": wall,
                "auto_mode": self.auto_mode,
                "limits": {k: {"min": v.min, "max": v.max, "mode": v.mode} for k, v in self.limits.items()},
                "backoff": {
                    k: {"failures": b.failures, "until": b.until + off, "kind": b.kind, "last_error": b.last_error}
                    for k, b in self.backoff.items()
                },
                "bootstrap": {k: {**b.to_dict(), "since": b.since + off} for k, b in self.bootstrap.items()},
                "configured": sorted(self.configured),
                "registered": sorted(self.registered),
                "config_failed": dict(self.config_failed),
                "recent_launches": {k: v.to_dict() for k, v in self.recent_launches.items()},
                "listed": {k: v.to_dict() for k, v in self.listed.items()},
                "in_flight": dict(self.in_flight),
                "maybe_launched": {k: {**v, "since": v["since"] + off} for k, v in self.maybe_launched.items()},
                "requests": {
                    k: {**v, "since": v["since"] + off, "deadline": v["deadline"] + off}
                    for k, v in self.requests.items()
                },
                "launched": {k: t + off for k, t in self.launched.items()},
                "highstate_jobs": {k: {**v, "started": v["started"] + off} for k, v in self.highstate_jobs.items()},
                "deferred_starts": {k: t + off for k, t in self.deferred_starts.items()},
                "retired": {k: dict(v) for k, v in self.retired.items()},
                "counters": dict(self.counters),
                "errors": list(self.errors),
            }

    @classmethod
    def from_json(cls, data: dict[str, Any], mono: float | None = None, wall: float | None = None) -> ControllerState:
        """``mono``, ``wall``: both clocks now, to put the saved times back on the monotonic clock."""
        st = cls()
        st._load(data)
        if mono is not None and wall is not None:
            st._to_monotonic(data.get("saved_at"), mono, wall)
        return st

    def _to_monotonic(self, saved_at: Any, mono: float, wall: float) -> None:
        if not isinstance(saved_at, (int, float)) or isinstance(saved_at, bool) or saved_at != saved_at:
            saved_at = wall  # an older file: its times were wall times, and no downtime is known
        down = max(0.0, wall - saved_at)  # a clock stepped back while down is no downtime
        shift = mono - down - saved_at
        # When something of ours began is put back at its age at the save: the downtime by the wall
        # clock cannot be told from a forward step while down (a +600 s step during a 40 s restart made a
        # starting worker look 840 s old: destroyed as never joined, its deferred start dropped as too
        # old).  What these ages decide (destroying a worker that never joined, dropping a deferred start
        # or an outstanding highstate) may so come later by the downtime, never earlier.  A backoff's end
        # keeps the downtime: a step then only retries a launch sooner.
        begun: float = mono - saved_at

        def past(t: float) -> float:  # when something began: never in the future
            return min(t + begun, mono)

        self.backoff = {k: dataclasses.replace(b, until=b.until + shift) for k, b in self.backoff.items()}
        self.bootstrap = {k: dataclasses.replace(b, since=past(b.since)) for k, b in self.bootstrap.items()}
        self.maybe_launched = {k: {**v, "since": past(v["since"])} for k, v in self.maybe_launched.items()}
        # a request's deadline is the cloud's (ValidUntil): the downtime counts toward it
        self.requests = {
            k: {**v, "since": past(v["since"]), "deadline": v["deadline"] + shift} for k, v in self.requests.items()
        }
        self.launched = {k: past(t) for k, t in self.launched.items()}
        self.highstate_jobs = {k: {**v, "started": past(v["started"])} for k, v in self.highstate_jobs.items()}
        self.deferred_starts = {k: past(t) for k, t in self.deferred_starts.items()}

    def _load(self, data: dict[str, Any]) -> None:
        st = self
        st.auto_mode = data.get("auto_mode")
        st.limits = _limits(data.get("limits"))
        st.backoff = _backoff(data.get("backoff"))
        st.bootstrap = _bootstrap(data.get("bootstrap"))
        st.configured = set(data.get("configured") or ())
        # A file from before "registered" existed: the workers configured then were registered then (or
        # joined by themselves); registering them again would run post_add_node_command a second time.
        registered = data.get("registered") if "registered" in data else data.get("configured")
        st.registered = {r for r in (registered or ()) if isinstance(r, str)}
        st.config_failed = dict(data.get("config_failed") or {})
        st.recent_launches = _recent_launches(data.get("recent_launches"))
        st.listed = _listed(data.get("listed"))
        # Launches that were under way when the master stopped either reached the
        # cloud (and are listed by their tags) or did not: nothing is in flight now.
        st.in_flight = {}
        st.maybe_launched = _maybe_launched(data.get("maybe_launched"))
        st.requests = _requests(data.get("requests"))
        st.launched = _times(data.get("launched"))
        st.highstate_jobs = _highstate_jobs(data.get("highstate_jobs"))
        st.deferred_starts = _deferred_starts(data.get("deferred_starts"))
        st.retired = _retired(data.get("retired"))
        st.counters = dict(data.get("counters") or {})
        st.errors.extend(data.get("errors") or ())


def _highstate_jobs(data: Any) -> dict[str, dict[str, Any]]:
    """Outstanding highstates as saved, keyed ``<jid>/<minion>``; a file of the release before, keyed by
    the jid alone (one minion a job), reads the same.  Anything malformed is dropped (at worst, one
    more highstate)."""
    out = {}
    for k, job in (data if isinstance(data, dict) else {}).items():
        if not (
            isinstance(k, str)
            and isinstance(job, dict)
            and isinstance(job.get("minion"), str)
            and isinstance(job.get("started"), (int, float))
            and not isinstance(job.get("started"), bool)
            and math.isfinite(job["started"])  # a NaN never times out: the job cache read every cycle for ever
        ):
            continue
        jid = job.get("jid") if "/" in k else k
        if not isinstance(jid, str) or not jid or k not in (jid, highstate_jobs.key(jid, job["minion"])):
            continue
        out[highstate_jobs.key(jid, job["minion"])] = {
            "jid": jid,
            "minion": job["minion"],
            "started": float(job["started"]),
        }
    return out


def _maybe_launched(data: Any) -> dict[str, dict[str, Any]]:
    """Launches of unknown outcome as saved; anything malformed is dropped (the listing still shows
    what exists, and the key sweep keeps the key of an id until listings agree it is unused)."""
    out = {}
    for mid, rec in (data if isinstance(data, dict) else {}).items():
        if (
            isinstance(mid, str)
            and isinstance(rec, dict)
            and isinstance(rec.get("resource"), str)
            and isinstance(rec.get("since"), (int, float))
            and not isinstance(rec.get("since"), bool)
        ):
            out[mid] = {"resource": rec["resource"], "since": float(rec["since"])}
    return out


def _requests(data: Any) -> dict[str, dict[str, Any]]:
    """Open requests as saved; anything malformed is dropped (the first poll after the start finds
    our open requests again by their tags)."""
    out = {}
    for rid, rec in (data if isinstance(data, dict) else {}).items():
        if not (
            isinstance(rid, str)
            and isinstance(rec, dict)
            and isinstance(rec.get("minion"), str)
            and isinstance(rec.get("resource"), str)
        ):
            continue
        since, deadline = rec.get("since"), rec.get("deadline")
        if not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in (since, deadline)
        ):
            continue
        out[rid] = {
            "minion": rec["minion"],
            "resource": rec["resource"],
            "since": float(rec["since"]),  # both checked above
            "deadline": float(rec["deadline"]),
            "cancelled": rec.get("cancelled") is True,
        }
    return out


def _times(data: Any) -> dict[str, float]:
    """minion id -> time as saved; anything malformed is dropped (at worst a launch-time tag is believed)."""
    out = {}
    for mid, at in (data if isinstance(data, dict) else {}).items():
        if isinstance(mid, str) and isinstance(at, (int, float)) and not isinstance(at, bool) and at == at:
            out[mid] = float(at)
    return out


def _instance(what: str, mid: Any, rec: Any) -> Instance | None:
    """An instance as saved, or None (logged) when malformed.  Releases before 9aa1d13 saved an open spot
    request's placeholder with cores null: 0 (unknown), as it is made now, not an engine that will not
    start (the state file's instances are checked field by field: wire.from_dict)."""
    if isinstance(rec, dict) and "cores" in rec and rec["cores"] is None:
        rec = {**rec, "cores": 0}
    try:
        return Instance.from_dict(rec)
    except ModelError as exc:
        log.warning("dcluster: state file: %s entry %s dropped: %s", what, str(mid)[:80], exc)
        return None


def _recent_launches(data: Any) -> dict[str, Instance]:
    """Launches not listed yet as saved; a malformed entry is dropped (the listing shows what exists)."""
    out = {}
    for mid, rec in (data if isinstance(data, dict) else {}).items():
        inst = _instance("recent_launches", mid, rec)
        if isinstance(mid, str) and inst is not None:
            out[mid] = inst
    return out


def _listed(data: Any) -> dict[str, Instance]:
    """Instances as last listed; a malformed entry is dropped (the next good listing shows what exists)."""
    out = {}
    for mid, rec in (data if isinstance(data, dict) else {}).items():
        inst = _instance("listed", mid, rec)
        if inst is None:
            continue
        if (
            isinstance(mid, str)
            and inst.minion_id == mid
            and isinstance(inst.resource, str)
            and isinstance(inst.launch_time, (int, float))
            and not isinstance(inst.launch_time, bool)
        ):
            out[mid] = inst
    return out


_MODES = ("normal", "frozen", "draining")  # reconcile.Limits.mode


def _whole(v: Any, most: int) -> TypeGuard[int]:
    return type(v) is int and 0 <= v <= most


def _entries(data: Any, what: str, build: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Each resource's ``what`` as saved, ``build`` of its record (None: malformed, dropped and logged)."""
    out = {}
    for name, rec in (data if isinstance(data, dict) else {}).items():
        item = build(rec) if isinstance(name, str) and isinstance(rec, dict) else None
        if item is None:
            log.warning("dcluster: state file: %s of %s dropped: %s", what, str(name)[:80], str(rec)[:200])
        else:
            out[name] = item
    return out


def _limits(data: Any) -> dict[str, Limits]:
    """An operator's freeze or drain of each resource as saved.  A malformed entry is dropped, logged (the
    pillar's limits apply): a max of 1e999 had the planner launch without end, a min of "3" failed every
    cycle."""

    def build(rec: dict[str, Any]) -> Limits | None:
        low, high, mode = rec.get("min"), rec.get("max"), rec.get("mode", "normal")
        if _whole(low, MAX_NODES) and _whole(high, MAX_NODES) and low <= high and mode in _MODES:
            return Limits(low, high, mode)
        return None

    return _entries(data, "limits", build)


def _backoff(data: Any) -> dict[str, BackoffState]:
    """Each resource's launch backoff as saved; a malformed entry is dropped (launches are tried again)."""

    def build(rec: dict[str, Any]) -> BackoffState | None:
        failures, until = rec.get("failures", 0), rec.get("until", 0.0)
        kind, last = rec.get("kind", ""), rec.get("last_error", "")
        if (
            _whole(failures, LARGEST)
            and isinstance(until, (int, float))
            and not isinstance(until, bool)
            and math.isfinite(until)
            and isinstance(kind, str)
            and isinstance(last, str)
        ):
            return BackoffState(failures, float(until), kind, last)
        return None

    return _entries(data, "backoff", build)


def _bootstrap(data: Any) -> dict[str, BootstrapState]:
    """The bootstrap breakers as saved; a malformed entry is dropped (the breaker counts again)."""
    out = {}
    for name, rec in (data if isinstance(data, dict) else {}).items():
        try:
            failures, since = rec["failures"], rec["since"]
            if (
                not isinstance(name, str)
                or type(failures) is not int
                or failures < 0
                or not isinstance(since, (int, float))
                or isinstance(since, bool)
            ):
                continue
            last = tuple(str(m) for m in rec.get("last") or ())
            out[name] = BootstrapState(
                failures=failures,
                since=float(since),
                last=last,
                reason=str(rec.get("reason") or "")[:500],
                fingerprint=str(rec.get("fingerprint") or ""),
            )
        except (KeyError, TypeError, AttributeError):
            continue
    return out


def _retired(data: Any) -> dict[str, dict[str, Any]]:
    """Retired resources as saved: names and counts only; a malformed entry is dropped (the scheduler's
    signed node names bring a stranded resource back into the status)."""
    out = {}
    for name, rec in (data if isinstance(data, dict) else {}).items():
        if not isinstance(name, str) or not isinstance(rec, dict):
            continue
        left = rec.get("left")
        if not isinstance(left, list):
            left = []
        count, since = rec.get("count"), rec.get("since")
        out[name[:64]] = {
            "type": str(rec.get("type") or "")[:32],
            "since": float(since) if isinstance(since, (int, float)) and not isinstance(since, bool) else 0.0,
            "settings": str(rec.get("settings") or "missing")[:16],
            "left": [str(m)[:64] for m in left[:50]],
            "count": count if type(count) is int and count >= 0 else len(left),
            "done": rec.get("done") is True,
        }
    return out


def _deferred_starts(data: Any) -> dict[str, float]:
    """Deferred start events as saved; anything malformed is dropped (at worst a worker is not configured)."""
    out = {}
    for mid, at in (data if isinstance(data, dict) else {}).items():
        if isinstance(mid, str) and isinstance(at, (int, float)) and not isinstance(at, bool):
            out[mid] = float(at)
    return dict(sorted(out.items(), key=lambda kv: kv[1])[-DEFERRED_STARTS:])


def save(state: ControllerState, path: str, mono: float | None = None, wall: float | None = None) -> None:
    write_json(path, state.to_json(mono, wall))


def write_json(path: str, data: Any) -> None:
    """``data`` as JSON at ``path``, atomically (a reader never sees half a file), mode 0600."""
    write_text(path, json.dumps(data, default=str))


REFRESH = 60.0  # seconds (monotonic) after which an unchanged state is written again


class StateFile:
    """Writes the state only when it changed (issue 15: it was rewritten every cycle and after every
    command or highstate return, 60 MB at scale), one writer at a time.

    What is compared is the state on the monotonic clock with the offset between the two clocks
    in whole seconds: a wall-clock step (which moves the saved wall times) is a change.  An
    unchanged state is still written every :data:`REFRESH` seconds, so that ``saved_at`` stays
    recent: after a restart, the age of what began before the save (a starting worker, a launch of
    unknown outcome) is its age at the save, which an old ``saved_at`` would make too young.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._at = 0.0  # monotonic time of the last write

    def save(self, state: ControllerState, path: str, mono: float, wall: float) -> bool:
        """True if it wrote.

        The state is turned into text once: its monotonic times are put on the wall clock with the
        offset between the clocks in whole seconds, so an unchanged state gives the same text however
        the clocks drift by fractions, and that text, less ``saved_at``, is what is compared.  The
        wall times written are off by under half a second (they are for people); the ages a restart
        computes are exact, as ``saved_at`` carries the same offset.  (Issue 15: every start and
        every highstate return is saved at once; at 300 workers the two serialisations of each save
        were most of what the engine spent on an event.)"""
        off = float(round(wall - mono))
        with self._lock:
            raw = state.to_json(0.0, off)  # times + (off - 0.0)
            raw.pop("saved_at", None)
            raw["clock_offset"] = off  # a step of the wall clock is a change, whatever the state holds
            body = json.dumps(raw, default=str, sort_keys=True)
            if body == self._key and mono - self._at < REFRESH:
                return False
            write_text(path, f'{body[:-1]}, "saved_at": {json.dumps(mono + off)}}}')
            self._key, self._at = body, mono
            return True


def load(path: str, mono: float | None = None, wall: float | None = None) -> ControllerState:
    try:
        with open(path) as fh:
            return ControllerState.from_json(json.load(fh), mono, wall)
    except FileNotFoundError:
        return ControllerState()


def read(path: str) -> dict[str, Any]:
    """A JSON file of the engine's as plain data."""
    with open(path) as fh:
        data: dict[str, Any] = json.load(fh)
    return data
