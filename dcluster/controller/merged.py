"""What the cycle counts besides the good listings: our own launches and what listings miss.

A listing lags the create calls (eventual consistency), may fail, and may leave out a live
instance.  None of these makes an instance go away: it still exists and is paid for, so it is
counted toward max (as starting, deleting or unknown) until listings agree it is not there.
Only counting depends on this; no action is ever based on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..config import Config
from ..model import Instance, InstanceState
from .listed import Listed
from .state import ControllerState
from .timeline import Timeline
from .unlisted import Unlisted, listing_grace, maybe_launched_grace

Listings = Mapping[str, list[Instance] | None]


class Merged:
    """The launches and deletions good listings do not show yet, and how long they have not."""

    def __init__(self, state: ControllerState, timeline: Timeline, listed: Listed) -> None:
        self.state = state
        self.timeline = timeline
        self.listed = listed
        self._maybe_absent = Unlisted()  # launches of unknown outcome that good listings do not show
        self._deleted_absent = Unlisted()  # instances we deleted before any listing showed them, not shown since
        self._shown_gone = Unlisted()  # our recent launches good listings show terminated, since when

    def recent(self, cfg: Config, insts: Listings, now: float) -> dict[str, list[Instance] | None]:
        """Add launches the cloud does not list yet (eventual consistency), drop those it does.

        One we deleted before any listing showed it (the actuator keeps it, deleting) still exists
        until the cloud is done: it stays, counted toward max as deleting, until a listing shows it or
        good listings across :func:`~.unlisted.maybe_launched_grace` agree it is not there (a listing
        that lags its create call cannot tell that it is gone).
        """
        with self.state.lock:
            out: dict[str, list[Instance] | None] = {}
            absent: set[str] = set()
            unsure: set[str] = set()
            shown_gone: set[str] = set()
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
                listed = {i.minion_id for i in items if i.state != InstanceState.GONE}
                # one listing showing a launch of ours terminated is no proof either (a wrong answer made it
                # vanish, and another was launched for its job): it counts until listings agree
                terminated = {i.minion_id for i in items if i.state == InstanceState.GONE} - listed
                shown_gone |= terminated & set(self.state.recent_launches)
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
                out[name] = [i for i in items if i.minion_id not in terminated] + extra
            self._deleted_absent.observe(absent, now, unsure=unsure)
            self._shown_gone.observe(shown_gone, now)
            gone_for_good = self._shown_gone.confirmed(listing_grace(cfg), now)
            for mid in gone_for_good | self._deleted_absent.confirmed(maybe_launched_grace(cfg), now):
                gone = self.state.recent_launches.pop(mid, None)
                kept = out.get(gone.resource) if gone is not None else None
                if gone is not None and kept is not None:
                    out[gone.resource] = [i for i in kept if i.minion_id != mid]
            return out

    def stale(self, cfg: Config, insts: Listings, now: float) -> dict[str, list[Instance]]:
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

    def unlisted(self, cfg: Config, insts: Listings) -> dict[str, list[Instance]]:
        """For each resource whose listing answered: instances an earlier good listing showed that this
        one misses and listings do not yet agree are gone (controller/listed.py).  reconcile keeps those
        that are no scheduler node as unknown workers: they count toward max, nothing is done to them."""
        out = {}
        for name in cfg.resources:
            listing = insts.get(name)
            if listing is None:
                continue
            # an instance shown terminated, once, is as missing as one left out (a wrong GONE let a second
            # launch go over max): counted until listings agree
            shown = {i.minion_id for i in listing if i.state != InstanceState.GONE}
            items = [self.timeline.instance(i) for i in self.listed.missing(name) if i.minion_id not in shown]
            if items:
                out[name] = items
        return out

    def maybe_launched(self, cfg: Config, insts: Listings, now: float) -> dict[str, int]:
        """Per resource, ids asked of a create call that failed transiently and no listing shows yet.

        They count toward max (and as starting capacity) until a good listing shows them, or
        good listings across :func:`~.unlisted.maybe_launched_grace` agree they do not exist.
        """
        with self.state.lock:
            absent: set[str] = set()
            unsure: set[str] = set()
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
