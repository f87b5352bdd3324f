"""Launches: keys accepted before the instance exists, batches, what a failed call may have made, backoff.

Launches are split into batches of ``launch_batch`` and counted as in flight
until the cloud answers, so the planner never launches twice for one job.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable

from .. import keypairs
from ..clouds import launch as cloud_launch
from ..clouds.errors import CloudError
from ..config import Config
from ..model import Instance
from ..planner import backoff as bo
from .ports import ActuatorPorts
from .records import Records
from .requests import OpenRequests
from .steps import delete_key

log = logging.getLogger(__name__)


class Launches:
    def __init__(self, ports: ActuatorPorts, records: Records):
        self.ports, self.records = ports, records
        self._lock = threading.Lock()
        # Backoff episodes: the launches of one plan (all their batches) get one number when they are
        # issued; a resource's backoff remembers the last number issued when it was recorded.  A batch
        # numbered up to that belongs to the same episode: its failure does not grow the backoff, its
        # success does not clear it.
        self._issued = 0
        self._backoff_at: dict[str, int] = {}
        self.requests = OpenRequests(ports, records, self)

    def episode(self) -> int:
        with self._lock:
            self._issued += 1
            return self._issued

    def launch(
        self, cfg: Config, resource: str, count: int, reason: str, episode: int | None = None, on_demand: bool = False
    ) -> list[str]:
        """Start ``count`` instances in batches; returns the minion ids requested.

        ``episode``: the number its batches share for the backoff (one per plan; a new one if None).
        ``on_demand``: leave no request open (the fallback of spot requests not fulfilled in time).
        """
        res = cfg.resources[resource]
        batch = episode or self.episode()
        ids_all = []
        left = count
        while left > 0:
            n = min(left, res.launch_batch)
            ids = [self.ports.new_id(cfg, resource) for _ in range(n)]
            ids_all += ids
            with self.records.lock:
                self.records.in_flight[resource] = self.records.in_flight.get(resource, 0) + n
            self.ports.fire(
                "action/launch/started",
                {"kind": "launch", "resource": resource, "count": n, "reason": reason, "minion_ids": ids},
            )
            submit = self.ports.submit_launch or self.ports.submit
            submit(functools.partial(self._launch, cfg, resource, n, ids, reason, batch, on_demand))
            left -= n
        return ids_all

    def _launch(
        self, cfg: Config, resource: str, n: int, ids: list[str], reason: str, batch: int, on_demand: bool = False
    ) -> None:
        res = cfg.resources[resource]
        now = self.ports.monotonic  # backoff and grace are intervals: the wall clock is for people only
        rec = self.records
        asked = False  # whether the cloud was asked at all (keys or user-data may fail before)
        error: Exception | None  # a CloudError, or an unknown error (backs off as transient)
        try:
            drv = self.ports.driver(cfg, res)
            keys = self._preaccept(ids)
            render = cloud_launch.renderer(
                drv,
                cfg,
                res,
                explicit_master=self.ports.master_address,
                default_master=self.ports.master_default,
                keys=keys,
            )
            asked = True
            self.ports.launching(ids)  # none of them can be older than this call
            with rec.lock:
                for mid in ids:
                    rec.maybe_launched[mid] = {"resource": resource, "since": now(), "launching": True}
            # Saved before the create calls: a master killed during them remembers these ids after its
            # restart (as maybe launched: counted toward max until listed or agreed absent).
            self.ports.save()
            # A spot request is only asked here: the loop polls it (actuator/requests.py).
            result = cloud_launch.create(drv, ids, render, "on_demand" if on_demand else "start")
            error = result.error
            instances = list(result.instances)
            opened = {mid: rid for mid, rid in result.requests.items() if mid in ids}
        except CloudError as exc:
            error, instances, opened = exc, [], {}
        except Exception as exc:  # noqa: BLE001 - unknown errors back off as transient
            error, instances, opened = exc, [], {}
        self._drop_unused_keys(ids, instances, error, keep=opened)
        with rec.lock:
            rec.in_flight[resource] = max(0, rec.in_flight.get(resource, 0) - n)
            for mid in ids:
                if rec.maybe_launched.get(mid, {}).get("launching"):
                    del rec.maybe_launched[mid]  # answered: what the answer says counts now
            for inst in instances:
                rec.recent_launches[inst.minion_id] = inst
            self.requests.opened(cfg, resource, opened)
            if asked and error is not None and getattr(error, "kind", "transient") == "transient":
                # The call may have made instances it did not report (created, then timed out):
                # they count toward max until a listing shows them or listings agree they are not there.
                made = {i.minion_id for i in instances} | set(opened)
                for mid in ids:
                    if mid not in made:
                        rec.maybe_launched[mid] = {"resource": resource, "since": now()}
            self._backoff(cfg, resource, batch, error, now())
        if opened:
            self.ports.save()  # open requests are polled after a restart too, never asked for again
        self.ports.cloud_changed(resource)
        rec.count("launched", len(instances))
        data = {
            "kind": "launch",
            "resource": resource,
            "requested": n,
            "launched": len(instances),
            "minion_ids": [i.minion_id for i in instances],
            "reason": reason,
            **({"requests_open": sorted(opened)} if opened else {}),
        }
        if error is None:
            self.ports.fire("action/launch/done", data)
            log.info(
                "dcluster: launched %d x %s%s: %s",
                len(instances),
                resource,
                f", {len(opened)} spot request(s) open" if opened else "",
                reason,
            )
        else:
            rec.count("launch_failed")
            kind = getattr(error, "kind", "transient")
            rec.error(self.ports.clock(), f"launch:{resource}", f"{kind}: {error}")
            self.ports.fire("action/launch/failed", {**data, "error": str(error)[:1000], "error_kind": kind})
            log.warning(
                "dcluster: launch of %d x %s: %d started; %s error: %s", n, resource, len(instances), kind, error
            )

    def failed(self, cfg: Config, resource: str, error: CloudError) -> None:
        """A launch failed after its create call answered (spot requests not fulfilled in time)."""
        rec = self.records
        rec.count("launch_failed")
        rec.error(self.ports.clock(), f"launch:{resource}", f"{error.kind}: {error}")
        with rec.lock:
            self._backoff(cfg, resource, self.episode(), error, self.ports.monotonic())
        log.warning("dcluster: launch of %s: %s error: %s", resource, error.kind, error)

    def _backoff(self, cfg: Config, resource: str, batch: int, error: BaseException | None, at: float) -> None:
        """Grow the backoff once per failure episode; only a batch issued after it began ends it.

        Batches of one launch (and launches issued while one is under way) fail
        together when the cloud is down or full: that is one episode, not one
        failure per batch.  Called with the records' lock held.
        """
        current = self.records.backoff.get(resource)
        same_episode = current is not None and batch <= self._backoff_at.get(resource, -1)
        if error is None:
            if current is not None and not same_episode:
                self.records.backoff.pop(resource, None)
                self._backoff_at.pop(resource, None)
            return
        if same_episode:
            return
        kind = getattr(error, "kind", "transient")
        self.records.backoff[resource] = bo.failure(
            current, kind, str(error), at, cfg.backoff, retry_after=getattr(error, "retry_after", 0.0)
        )
        self.records.count("backoff")  # one per failure episode (launch_failed counts each failed call)
        with self._lock:
            self._backoff_at[resource] = self._issued

    def _preaccept(self, ids: list[str]) -> dict[str, keypairs.KeyPair]:
        """A key pair per id, its public key accepted by the master before the instance exists.

        Salt's own convention (salt-cloud, ``salt.modules.seed``): the worker
        authenticates with a key the master already trusts, so no key is ever
        accepted because of what a client claims.  A failure accepts none.
        """
        keys = dict(zip(ids, self.ports.keys.take(len(ids)), strict=True))
        done: list[str] = []
        try:
            for mid, pair in keys.items():
                self.ports.preaccept_key(mid, pair.public_pem)
                done.append(mid)
        except Exception:
            for mid in done:
                delete_key(self.ports, mid)
            raise
        return keys

    def _drop_unused_keys(
        self, ids: list[str], instances: list[Instance], error: BaseException | None, keep: Iterable[str] = ()
    ) -> None:
        """Delete the keys of ids the cloud made no instance for, when it surely made none.

        After a refusal (quota, capacity, configuration, authentication) the
        ids without an instance will never exist.  After a transient error
        (a timeout) an instance may exist that the answer did not show: its
        key stays until the key sweep finds it unused across listings.
        """
        if error is not None and getattr(error, "kind", "transient") == "transient":
            return
        made = {i.minion_id for i in instances} | set(keep)  # an open request's instance will need its key
        for mid in ids:
            if mid not in made:
                delete_key(self.ports, mid)
