"""The engine's one thread: a cycle every interval on the monotonic clock, the master's events in between.

``_engines/dcluster_mod.py`` gives it the master's event bus; ``bench/scale_out.py`` and the unit tests
give it a bus of their own, so what they measure and check is this loop, not a copy of it.

Events handled here: ``dcluster/cmd/<cmd>`` (obeyed and answered only when a runner of this master
signed it, see :mod:`.command_auth`), ``salt/minion/<id>/start`` (a new worker's highstate, with the
``started`` command's checks, see :mod:`dcluster.controller.start_events`), ``salt/job/<jid>/ret/<id>``
(a hint that a highstate the engine started may be in the job cache, see
:mod:`dcluster.controller.highstate_jobs`) and ``salt/beacon/<id>/dcluster_stats/`` (a worker's
statistics for its graphs, kept only if they pass every check, see
:mod:`dcluster.controller.stats_intake`).

A cycle comes early, :data:`EARLY_GAP` seconds after the last one ended at the soonest, when a worker
became configured since the last cycle: its REGISTER is decided by a cycle, and in a burst of
new workers waiting up to a whole interval for it is most of a worker's way from start to usable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..controller import Controller, highstate_jobs, start_events, stats_intake
from ..controller import commands as dc_commands
from . import command_auth, log_config

log = logging.getLogger("dcluster.engine")

EARLY_GAP = 2.0  # seconds between the end of a cycle and an early one
START_BATCH = 200  # minion starts highstated in one job at most
START_DRAIN = 0.5  # seconds of taking queued events at most before the starts taken are highstated
HINTS = 1000  # job returns waiting for the job cache at most (a forged flood must not grow it)


class EngineLoop:
    def __init__(
        self,
        controller: Controller,
        verifier: command_auth.Verifier,
        fire: Callable[[str, dict[str, Any]], Any],
        interval: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.controller, self.verifier, self.fire = controller, verifier, fire
        self.interval, self.monotonic = interval, monotonic
        self.next_cycle = 0.0
        self.cycle_ended = -float("inf")
        self.hinted: dict[str, float] = {}  # "<jid>/<minion>" -> when to look in the job cache again
        self.logged_by: dict[str, Any] | None = None  # the config whose logging: section is in force
        # one budget per kind, so a flood of forged commands cannot hide a forged highstate return
        self.refusals = {
            "command": command_auth.RateLimitedLog(log),
            "highstate return": command_auth.RateLimitedLog(log),
            "stats": command_auth.RateLimitedLog(log),
            "start": command_auth.RateLimitedLog(log),
        }

    def run(self, get_event: Callable[[float], dict[str, Any] | None]) -> None:
        """Forever: ``get_event(wait)`` is the bus's ``get_event(wait=..., full=True)``."""
        while True:
            self.step(get_event)

    def step(self, get_event: Callable[[float], dict[str, Any] | None]) -> None:
        """A cycle if one is due, the hints whose time came, then at most one event."""
        c = self.controller
        now = self.monotonic()  # a step of the wall clock must not stall (or hurry) the cycles
        if c.wants_cycle() and now - self.cycle_ended >= EARLY_GAP:
            self.next_cycle = min(self.next_cycle, now)
        if now >= self.next_cycle:
            self.cycle(now)
        for entry, when in list(self.hinted.items()):
            if self.monotonic() >= when:
                del self.hinted[entry]
                try:
                    highstate_jobs.settle(c, entry)
                except Exception:  # the cycle asks the job cache again
                    log.exception("dcluster engine: could not check job %s", entry)
        event = get_event(max(0.05, min(1.0, self.next_cycle - self.monotonic())))
        starts: list[str] = []
        until = self.monotonic() + START_DRAIN
        while event:
            # the starts of a burst go out as one highstate job: take what is queued behind a start
            # (handling everything else as it comes), then highstate them all at once
            self.handle(event, starts)
            if not starts or len(starts) >= START_BATCH or self.monotonic() >= until:
                break
            event = get_event(0.005)  # (0 would wait for ever)
        if starts:
            self.minion_starts(starts)

    def cycle(self, now: float) -> None:
        c = self.controller
        summary = c.cycle()
        if c.config is not None and dict(c.config.logging) != self.logged_by:
            self.logged_by = dict(c.config.logging)
            try:
                log_config.apply(self.logged_by)
            except OSError as exc:  # e.g. log_location's directory is missing: Salt's log still works
                log.error("dcluster engine: cannot apply dcluster:logging: %s", exc)
        self.fire("dcluster/cycle", {"ok": summary.get("ok"), "actions": summary.get("actions", [])[:50]})
        step = self.interval or (c.config.cluster_poller_interval if c.config else 10)
        self.next_cycle = now + float(step)
        self.cycle_ended = self.monotonic()

    def handle(self, event: Any, starts: list[str] | None = None) -> None:
        """One event.  A start of one of our ids is highstated at once, or, given ``starts``, added to
        them for :meth:`step` to highstate with the rest of a burst."""
        tag, data = (event.get("tag", ""), event.get("data", {})) if isinstance(event, dict) else ("", {})
        try:
            if not isinstance(tag, str):
                return
            if tag.startswith("dcluster/cmd/"):
                self.command(tag, data)
            elif start_events.is_start_tag(tag):
                mid = self.start_of(tag, data)
                if mid is None:
                    pass  # another minion's start, or a mismatch (counted and logged)
                elif starts is None:
                    self.minion_starts([mid])
                elif mid not in starts:
                    starts.append(mid)
            elif tag.startswith("salt/job/") and "/ret/" in tag:
                if highstate_jobs.already_due(self.controller, tag, self.hinted):
                    return  # a read of that jid is already due: a repeated (or forged) return adds no read
                parsed = highstate_jobs.parse_tag(tag)
                if self.highstate_return(tag, data) == "pending" and parsed and len(self.hinted) < HINTS:
                    self.hinted[highstate_jobs.key(*parsed)] = self.monotonic() + 0.5
            elif stats_intake.is_stats_tag(tag):
                self.stats(tag, data)
        except Exception:  # one bad event must not end the engine
            log.exception("dcluster engine: could not handle %.200r", tag)

    def command(self, tag: str, data: Any) -> dict[str, Any] | None:
        """A ``dcluster/cmd/<cmd>`` event: obeyed and answered only if a runner in this master signed it."""
        cmd = tag.split("/", 2)[2]
        try:
            args, reply = self.verifier.verify(cmd, data)
        except command_auth.Refused as exc:
            self._refused("commands_refused", "command", tag, str(exc))  # no reply: the sender learns nothing
            return None
        result = dc_commands.run(self.controller, cmd, **args)
        self.fire(reply, result)
        return result

    def start_of(self, tag: str, data: Any) -> str | None:
        """The worker id of a ``salt/minion/<id>/start`` event whose tag and data name it alike, else None
        (a mismatch is counted and logged; any other minion's start passes by)."""
        mid, why = start_events.minion_of(tag, data)
        if mid is None and why:
            self._refused("starts_refused", "start", tag, why)
        return mid

    def minion_starts(self, minion_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Our starting workers among ``minion_ids`` get their highstate, in one job (the ``started``
        command's checks).  What it did is a ``command/started`` event each and the state file, as
        when the runner asked; why it did nothing is logged."""
        c = self.controller
        try:
            results = dc_commands.started_many(c, minion_ids)
        except Exception:  # one bad batch must not end the engine; the minions' starts are lost
            log.exception("dcluster engine: could not handle the starts of %s", ", ".join(minion_ids))
            return {}
        for mid, result in results.items():
            if result.get("ok"):
                c.fire("command/started", {"args": {"minion_id": mid}, "message": result.get("message", "")})
            else:
                self.refusals["start"].warning("dcluster: start of %s: %.300s", mid, result.get("message", ""))
        # the highstates' jids (or the deferred starts) must survive a restart; nothing else changed
        # anything (a save serialises the whole state, 46 ms at 5,000 workers: any minion can fire starts)
        if any(r.get("ok") and not r.get("under_way") for r in results.values()):
            c.save()
        return results

    def highstate_return(self, tag: str, data: Any) -> str:
        """salt/job/<jid>/ret/<id>: if the engine started that job for that minion, read its result from the cache."""
        status, why = highstate_jobs.on_return(self.controller, tag, data)
        if status == "refused":
            self._refused("highstate_returns_refused", "highstate return", tag, why)
        return status

    def stats(self, tag: str, data: Any) -> str | None:
        """A ``dcluster_stats`` beacon event: kept for the worker graphs if it passes every check, else counted."""
        why = stats_intake.intake(self.controller, tag, data)
        # a minion that is not one of our workers, or a beacon faster than stats_interval, is expected: counted only
        if why is not None and why.split(":", 1)[0] not in ("tag", "unknown", "rate"):
            self.refusals["stats"].warning("dcluster: dropped stats event %.200r: %.300s", tag, why)
        return why

    def _refused(self, counter: str, what: str, tag: str, reason: str) -> None:
        """Log (rate-limited: a flood must not fill the log) and count one refused event."""
        self.controller.state.count(counter)
        self.refusals[what].warning("dcluster: refused %s %.200r: %s", what, tag, reason)


__all__ = ["EARLY_GAP", "EngineLoop"]
