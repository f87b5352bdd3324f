"""Requests a cloud answers later (EC2 spot requests): what one listing of them means.

One set of rules, used by both callers: the engine's loop, which polls open
requests once a cycle (:mod:`dcluster.actuator.requests`), and a create call
that waits for them itself (:func:`wait`, the Salt module's launch).

- fulfilled (the listing names an instance): adopt it;
- closed, cancelled or failed without an instance: replace it;
- open, or not listed yet, at its deadline: cancel it, then look again
  (one fulfilled while being cancelled is adopted: a cancel does not end it);
- cancelled and missing from a listing: replaced only when the next listing
  misses it too.  EC2 lists a cancelled request for hours, with the instance
  it launched if it was fulfilled first; one listing that lags or errs must
  not, on its own, make that instance (untagged, so never listed as ours) a
  leak and launch a replacement besides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import InsufficientCapacity, Transient

if TYPE_CHECKING:
    from .base import Driver, LaunchResult, Request

log = logging.getLogger(__name__)

DONE = ("closed", "cancelled", "failed")  # a request in one of these states is fulfilled no more
AFTER_CANCEL_POLLS = 3  # listings a waiting create call makes after its cancel before it gives up on one


@dataclass(frozen=True)
class Tracked:
    """What the caller holds of one open request."""

    deadline: float
    cancelled: bool = False


@dataclass
class Outcome:
    """What one listing (and the cancel it led to) decided."""

    fulfilled: dict[str, str] = field(default_factory=dict)  # instance id -> request id
    unfulfilled: list[str] = field(default_factory=list)  # request ids to replace
    cancel: list[str] = field(default_factory=list)  # request ids open at their deadline


class Absences:
    """Which cancelled requests the last listing missed (a request is replaced after two)."""

    def __init__(self) -> None:
        self._missed: set[str] = set()

    def seen(self, rid: str) -> None:
        self._missed.discard(rid)

    def again(self, rid: str) -> bool:
        """Whether ``rid``, missing from this listing, was missing from the last one too."""
        if rid in self._missed:
            self._missed.discard(rid)
            return True
        self._missed.add(rid)
        return False


def sort(tracked: Mapping[str, Tracked], seen: Mapping[str, Request], now: float, absences: Absences) -> Outcome:
    """Sort the tracked requests by one listing (``seen``: request id -> as listed)."""
    out = Outcome()
    for rid, rec in tracked.items():
        req = seen.get(rid)
        if req is not None:
            absences.seen(rid)
        if req is not None and req.instance_id:
            out.fulfilled[req.instance_id] = rid
        elif req is not None and req.state in DONE:
            out.unfulfilled.append(rid)
        elif req is None and rec.cancelled:
            if absences.again(rid):
                out.unfulfilled.append(rid)  # cancelled and forgotten: nothing was fulfilled
        elif now >= rec.deadline:
            out.cancel.append(rid)  # open (or not known yet) at its deadline
    return out


def sort_cancelled(cancelled: Iterable[str], after: Mapping[str, Request], absences: Absences, out: Outcome) -> None:
    """Add to ``out`` what the listing right after a cancel says of the cancelled requests; one still
    open is left out (the cancel has not taken yet: looked at again by the next listing)."""
    for rid in cancelled:
        req = after.get(rid)
        if req is not None:
            absences.seen(rid)
        if req is not None and req.instance_id:
            out.fulfilled[req.instance_id] = rid  # fulfilled while being cancelled: ours all the same
        elif req is not None and req.state in DONE:
            out.unfulfilled.append(rid)
        elif req is None and absences.again(rid):
            out.unfulfilled.append(rid)


def wait(
    drv: Driver,
    result: LaunchResult,
    userdata_for: Callable[[str], str],
    *,
    timeout: float,
    fallback: bool,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    interval: float,
) -> None:
    """Wait in the call for the requests ``result.requests`` left open, by the rules above: adopt what is
    fulfilled, cancel what is open at ``timeout``, and launch the unfulfilled part on demand with the
    same ids (``fallback``) or report a capacity error.  A request whose cancel has not taken after
    ``AFTER_CANCEL_POLLS`` listings is neither: it stays in ``result.requests``, with an error."""
    deadline = clock() + timeout
    minion_of = {rid: mid for mid, rid in result.requests.items()}
    tracked = {rid: Tracked(deadline) for rid in minion_of}
    result.requests = {}
    absences = Absences()
    fulfilled: dict[str, str] = {}  # instance id -> request id
    left: list[str] = []  # request ids not fulfilled
    stuck: list[str] = []  # request ids still open after their cancel: fate unknown
    after_cancel = 0
    while tracked:
        seen = {r.id: r for r in drv.poll_requests(list(tracked))}
        out = sort(tracked, seen, clock(), absences)
        if out.cancel:
            log.info(
                "%s %s: %d spot request(s) unfulfilled after %d s; cancelling",
                drv.type,
                drv.resource.name,
                len(out.cancel),
                timeout,
            )
            for rid in out.cancel:
                tracked[rid] = Tracked(tracked[rid].deadline, cancelled=True)
            sort_cancelled(out.cancel, {r.id: r for r in drv.cancel_requests(out.cancel)}, absences, out)
        for rid in [*out.fulfilled.values(), *out.unfulfilled]:
            tracked.pop(rid, None)
        fulfilled.update(out.fulfilled)
        left += out.unfulfilled
        if tracked and all(t.cancelled for t in tracked.values()):
            after_cancel += 1
            if after_cancel >= AFTER_CANCEL_POLLS:
                # The cancel has not taken: such a request may still be fulfilled, with an instance
                # that boots as its minion id.  Not replaced (a replacement with the same id would be a
                # second minion of that name, one with a fresh id a launch beyond the asked count):
                # left open in the result, for the caller to track.
                stuck = list(tracked)
                break
        if tracked:
            sleep(min(interval, max(0.0, deadline - clock())) if clock() < deadline else interval)
    if fulfilled:
        adopted = drv.adopt({iid: minion_of[rid] for iid, rid in fulfilled.items()}, fulfilled)
        result.instances += adopted.instances
        result.error = result.error or adopted.error
        if adopted.refused:  # the listing named an instance that is not ours: cancelled, and replaced below
            gone = [fulfilled[iid] for iid in adopted.refused]
            drv.cancel_requests(gone)
            left += gone
    if stuck:
        result.requests = {minion_of[rid]: rid for rid in stuck}
        result.error = result.error or Transient(
            f"{len(stuck)} spot request(s) still open after their cancel, not replaced: {', '.join(sorted(stuck))}"
            " (cancel them, or the engine adopts or cancels them when it next starts)",
            cloud=drv.type,
            code="spot-cancel-pending",
        )
    if not left:
        return
    result.extra["spot_unfulfilled"] = len(left)
    if not fallback:
        result.error = result.error or InsufficientCapacity(
            f"{len(left)} spot request(s) not fulfilled within {timeout:g} s", cloud=drv.type, code="spot-timeout"
        )
        return
    result.extra["fallback_on_demand"] = result.extra.get("fallback_on_demand", 0) + len(left)
    ids = [minion_of[rid] for rid in left]
    more = drv.launch_on_demand(len(ids), ids, userdata_for)
    result.instances += more.instances
    result.error = more.error
