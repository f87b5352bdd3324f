"""Requests a create call leaves open (EC2 spot requests), polled by the loop until resolved.

A spot request may wait for capacity up to ``spot_timeout`` (300 s).  Waited
for inside the create call, it held a launch thread that long: a third
pending request delayed every other launch (issue 15).  Now the create call
only makes the requests (:meth:`Driver.start_launch`) and they are recorded
here, in the records the controller persists, so a restart loses none.  Each
cycle :meth:`OpenRequests.poll` asks the cloud about all open requests of a
resource in one call, on the launch pool, one poll per resource at a time:

- fulfilled: the instance is adopted (tagged as ours) and counts as launched;
- closed or failed without an instance: replaced by an on-demand launch;
- open at the deadline: cancelled, then looked at again; one fulfilled while
  being cancelled is adopted (a cancel does not end its instance), the rest
  are replaced by an on-demand launch of as many new ids (the fallback), or
  reported as a capacity error when ``spot_fallback_on_demand`` is off.

What a listing means (fulfilled, replaced, cancelled) is decided by the rules
of :mod:`dcluster.clouds.spot`, which a module's waiting launch follows too.

Until resolved, each request's worker counts toward max as a pending instance
(a placeholder in ``recent_launches``, as the cloud lists an open request).
The first poll of a spot resource after a start also looks for open or
fulfilled requests of ours by their tags that the records do not hold (a
master killed between the request and the save): they are tracked and
adopted like the others, never requested again.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from ..clouds import spot
from ..clouds.errors import CloudError, InsufficientCapacity
from ..config import Config
from ..config.clouds import AwsConfig
from ..model import Instance, InstanceState
from .ports import ActuatorPorts
from .records import Records
from .steps import delete_key

log = logging.getLogger(__name__)


def _spot_settings(res: Any) -> AwsConfig | None:
    """The spot settings of a resource (None: its cloud answers every create call with the instance)."""
    return res.config if res is not None and isinstance(res.config, AwsConfig) else None


def _timeout(res: Any) -> int:
    settings = _spot_settings(res)
    return settings.spot_timeout if settings is not None else AwsConfig.spot_timeout


class OpenRequests:
    def __init__(self, ports: ActuatorPorts, records: Records, launches: Any):
        self.ports, self.records, self.launches = ports, records, launches
        self._lock = threading.Lock()
        self._polling: set[str] = set()  # resources with a poll under way
        self._looked: set[str] = set()  # resources looked at by their tags since this start
        # cancelled requests one listing did not show: replaced only if the next one does not either
        self._absences = spot.Absences()

    # ------------------------------------------------------------ recording
    def opened(self, cfg: Config, resource: str, opened: dict[str, str]) -> None:
        """A create call left these requests (minion id -> request id) open.  Records' lock held."""
        if not opened:
            return
        res = cfg.resource(resource)
        timeout = float(_timeout(res))
        now = self.ports.monotonic()
        for mid, rid in opened.items():
            self._track(resource, rid, mid, now, now + timeout, res.cores if res else 0)

    def _track(self, resource: str, rid: str, mid: str, since: float, deadline: float, cores: int | None) -> None:
        self.records.requests[rid] = {
            "minion": mid,
            "resource": resource,
            "since": since,
            "deadline": deadline,
            "cancelled": False,
        }
        if mid not in self.records.recent_launches:
            # counted toward max as the pending instance the cloud lists for an open request
            self.records.recent_launches[mid] = Instance(
                id=rid,
                resource=resource,
                minion_id=mid,
                state=InstanceState.PENDING,
                launch_time=self.ports.clock(),
                name=mid,
                # a resource without configured cores learns them from the cloud: 0 (unknown, as an
                # Instance's default) until then, never None, which the status and metrics sums cannot add
                cores=cores or 0,
                spot=True,
            )

    def busy(self) -> bool:
        with self._lock:
            return bool(self._polling)

    # ------------------------------------------------------------ polling
    def poll(self, cfg: Config) -> None:
        """Start a poll of each resource with open requests (and, once after a start, of each spot
        resource, to find requests the records lost); returns at once."""
        with self.records.lock:
            due = {r["resource"] for r in self.records.requests.values()}
        due |= {
            name
            for name, res in cfg.resources.items()
            if (settings := _spot_settings(res)) is not None and settings.spot and name not in self._looked
        }
        submit = self.ports.submit_launch or self.ports.submit
        for name in sorted(due):
            with self._lock:
                if name in self._polling:
                    continue
                self._polling.add(name)
            try:
                submit(functools.partial(self._poll, cfg, name))
            except RuntimeError:  # the pool is shut down: the engine is stopping
                with self._lock:
                    self._polling.discard(name)

    def _poll(self, cfg: Config, resource: str) -> None:
        try:
            self._poll_one(cfg, resource)
        except Exception as exc:  # noqa: BLE001 - polled again next cycle
            log.warning("dcluster: polling the open requests of %s: %s", resource, exc)
            self.records.error(self.ports.clock(), f"requests:{resource}", str(exc))
        finally:
            with self._lock:
                self._polling.discard(resource)

    def _poll_one(self, cfg: Config, resource: str) -> None:
        res = cfg.resource(resource)
        if res is None:
            return
        drv = self.ports.driver(cfg, res)
        discover = resource in cfg.resources and resource not in self._looked
        with self.records.lock:
            mine = {rid: dict(r) for rid, r in self.records.requests.items() if r["resource"] == resource}
        seen = {r.id: r for r in drv.poll_requests(sorted(mine), discover=discover)}
        now = self.ports.monotonic()
        if discover:
            self._looked.add(resource)
            self._found_again(res, mine, seen, now)
            with self.records.lock:
                mine = {rid: dict(r) for rid, r in self.records.requests.items() if r["resource"] == resource}
        tracked = {rid: spot.Tracked(rec["deadline"], bool(rec["cancelled"])) for rid, rec in mine.items()}
        out = spot.sort(tracked, seen, now, self._absences)
        fulfilled, unfulfilled, cancel = out.fulfilled, out.unfulfilled, out.cancel
        if cancel:
            log.info(
                "dcluster: %d spot request(s) of %s unfulfilled at the deadline; cancelling", len(cancel), resource
            )
            self._mark_cancelled(cancel)
            # one still open after it: the cancel has not taken yet; looked at again next cycle
            spot.sort_cancelled(cancel, {r.id: r for r in drv.cancel_requests(cancel)}, self._absences, out)
            self.ports.save()  # a restart now must not take them for requests still to wait for
        if fulfilled:
            self._adopt(cfg, drv, resource, fulfilled, mine)
        if unfulfilled:
            self._replace(cfg, resource, unfulfilled, mine)
        if fulfilled or unfulfilled or cancel:
            self.ports.cloud_changed(resource)

    def _found_again(self, res: Any, mine: dict[str, dict[str, Any]], seen: dict[str, Any], now: float) -> None:
        """Requests of ours the records do not hold (killed between the request and the save)."""
        with self.records.lock:
            launching = {m for m, r in self.records.maybe_launched.items() if r.get("launching")}
            for rid, req in seen.items():
                if rid in self.records.requests or req.adopted or req.minion_id in launching:
                    continue
                if req.state not in ("open", "active"):
                    continue
                # no longer than spot_timeout, whatever ValidUntil the listing says: until then the
                # worker counts toward max (EC2's default ValidUntil is 7 days; a hostile answer, years)
                timeout = float(_timeout(res))
                left = min(req.valid_until - self.ports.clock(), timeout) if req.valid_until else timeout
                log.info("dcluster: found spot request %s of %s (%s) again", rid, res.name, req.minion_id)
                self._track(res.name, rid, req.minion_id, now, now + max(0.0, left), res.cores)
                self.records.maybe_launched.pop(req.minion_id, None)  # tracked: it counts as a request now
                mine[rid] = dict(self.records.requests[rid])

    def _adopt(
        self, cfg: Config, drv: Any, resource: str, fulfilled: dict[str, str], mine: dict[str, dict[str, Any]]
    ) -> None:
        result = drv.adopt({iid: mine[rid]["minion"] for iid, rid in fulfilled.items()}, fulfilled)
        by_minion = {i.minion_id: i for i in result.instances}
        adopted = []
        with self.records.lock:
            for rid in fulfilled.values():
                mid = mine[rid]["minion"]
                inst = by_minion.get(mid)
                if inst is None or rid not in self.records.requests:
                    continue  # not tagged yet (tried again next poll), or destroyed meanwhile
                del self.records.requests[rid]
                self.records.recent_launches[mid] = inst
                adopted.append(mid)
        if result.error is not None:
            self.records.error(self.ports.clock(), f"requests:{resource}", f"adopting spot instances: {result.error}")
        if result.refused:
            self._refused(cfg, drv, resource, {fulfilled[iid]: why for iid, why in result.refused.items()}, mine)
        if adopted:
            self.records.count("launched", len(adopted))
            self.ports.fire(
                "action/launch/fulfilled",
                {"kind": "launch", "resource": resource, "launched": len(adopted), "minion_ids": sorted(adopted)},
            )
            log.info("dcluster: %d spot request(s) of %s fulfilled", len(adopted), resource)

    def _refused(
        self, cfg: Config, drv: Any, resource: str, refused: dict[str, str], mine: dict[str, dict[str, Any]]
    ) -> None:
        """Requests whose listed instance adoption refused as not ours (not a spot instance of that
        request, or another worker's tags): never adopted, so at their deadline they are cancelled and
        replaced like an unfulfilled one; kept until then, they counted toward max for ever."""
        now = self.ports.monotonic()
        due = [rid for rid in refused if rid in mine and now >= mine[rid]["deadline"]]
        if not due:
            return
        for rid in due:
            log.warning(
                "dcluster: spot request %s of %s names an instance that is not ours (%s): cancelled and replaced",
                rid,
                resource,
                refused[rid],
            )
        self._mark_cancelled(due)
        drv.cancel_requests(due)  # so it launches nothing more; the instance it names is not ours to end
        self._replace(cfg, resource, due, mine)

    def _mark_cancelled(self, rids: list[str]) -> None:
        """Recorded before the cancel call: after a restart or a failed call, a cancelled request is
        replaced once listings agree it is gone, never waited for again."""
        with self.records.lock:
            for rid in rids:
                if rid in self.records.requests:
                    self.records.requests[rid]["cancelled"] = True

    def _replace(self, cfg: Config, resource: str, rids: list[str], mine: dict[str, dict[str, Any]]) -> None:
        """Forget requests that were not fulfilled; launch as many on demand (new ids, new keys)."""
        gone = []
        with self.records.lock:
            for rid in rids:
                if self.records.requests.pop(rid, None) is None:
                    continue  # destroyed meanwhile (its worker's chain cancelled it): nothing to replace
                mid = mine[rid]["minion"]
                placeholder = self.records.recent_launches.get(mid)
                if placeholder is not None and placeholder.id == rid:
                    del self.records.recent_launches[mid]
                gone.append(mid)
        if not gone:
            return
        for mid in gone:
            self.ports.destroyed(mid)  # its absence from the next listings is expected
            delete_key(self.ports, mid)
        res = cfg.resources.get(resource)
        if res is None:
            return  # retired: nothing is launched for it any more
        timeout = _timeout(res)
        settings = _spot_settings(res)
        if settings is None or settings.spot_fallback_on_demand:
            self.records.count("spot_fallback", len(gone))
            self.launches.launch(
                cfg,
                resource,
                len(gone),
                f"{len(gone)} spot request(s) not fulfilled within {timeout} s: on demand instead",
                on_demand=True,
            )
            return
        error = InsufficientCapacity(
            f"{len(gone)} spot request(s) not fulfilled within {timeout} s", cloud="aws", code="spot-timeout"
        )
        self._failed(cfg, resource, gone, error)

    def _failed(self, cfg: Config, resource: str, ids: list[str], error: CloudError) -> None:
        self.launches.failed(cfg, resource, error)
        self.ports.fire(
            "action/launch/failed",
            {
                "kind": "launch",
                "resource": resource,
                "requested": len(ids),
                "launched": 0,
                "minion_ids": [],
                "error": str(error)[:1000],
                "error_kind": error.kind,
            },
        )
