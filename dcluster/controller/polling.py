"""Observing the world: the scheduler's poll and each resource's cloud listing.

A failed poll is data, not a crash: the scheduler's becomes ``(None, None)`` and a cloud's
``None`` (recorded, logged and fired), on which nothing destructive is planned.  Listings are
cached per resource for ``cloud_poller_interval`` seconds unless the resource changed since.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..actuator.ports import SchedulerPort
from ..clouds.base import plausible_size
from ..config import Config, Resource
from ..model import MAX_NODE_CORES, Instance, Job, Node
from ..wire import LARGEST
from .listed import Listed
from .ports import Ports
from .state import ControllerState
from .timeline import Timeline
from .unlisted import listing_grace

log = logging.getLogger(__name__)

SchedulerPoll = tuple[list[Node] | None, list[Job] | None]


class Polls:
    """The polls' pools, the listings' cache and each resource's node shape (cores, memory)."""

    def __init__(
        self,
        ports: Ports,
        state: ControllerState,
        timeline: Timeline,
        listed: Listed,
        fire: Callable[[str, dict[str, Any]], None],
        clock: Callable[[], float],
    ) -> None:
        self.ports = ports
        self.state = state
        self.timeline = timeline
        self.listed = listed
        self.fire = fire
        self.clock = clock
        self.cache: dict[str, tuple[float, list[Instance] | None]] = {}
        self.dirty: set[str] = set()  # resources we launched in or destroyed from: listed on the next cycle
        self.shapes: dict[str, tuple[int, int]] = {}
        self.cloud_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dcluster-poll")
        # the scheduler's poll, while the cloud is listed (Controller._observe), and its nodes query
        # beside its jobs query where the adapter allows (see scheduler)
        self.sched_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dcluster-sched")

    def shutdown(self) -> None:
        self.cloud_pool.shutdown(wait=False)
        self.sched_pool.shutdown(wait=False)

    def scheduler(self, cfg: Config) -> SchedulerPoll:
        try:
            port = self.ports.scheduler(cfg)
            if getattr(port, "queries_in_parallel", False):
                nodes, jobs = self._nodes_beside_jobs(port)
            else:
                nodes = port.nodes()
                jobs = port.jobs()
            # the scheduler's timestamps onto the monotonic clock
            return self.timeline.nodes(nodes), self.timeline.jobs(jobs, submit_times=bool(cfg.scale_up_delay))
        except Exception as exc:  # noqa: BLE001 - a failed poll is data, not a crash
            log.warning("dcluster: scheduler poll failed: %s", exc)
            self.state.error(self.clock(), "scheduler", str(exc))
            self.fire("poll/failed", {"what": "scheduler", "error": str(exc)[:1000]})
            return None, None

    def _nodes_beside_jobs(self, port: SchedulerPort) -> tuple[list[Node], list[Job]]:
        """Both queries at once (each mostly waits for its command or is in libxml2: with 50,000 jobs the
        nodes' 0.2 s fit in the jobs' read).  Either failing fails the poll, with the nodes' error
        first, as when the nodes were asked first."""
        nodes = self.sched_pool.submit(port.nodes)
        try:
            jobs = port.jobs()
        except BaseException:
            nodes.result()  # waited for, never left running; its error, if it failed too
            raise
        return nodes.result(), jobs

    def clouds(self, cfg: Config, now: float) -> dict[str, list[Instance] | None]:
        due: dict[str, Future[list[Instance]]] = {}
        for name, res in {**cfg.resources, **cfg.retired}.items():
            at, cached = self.cache.get(name, (0.0, None))
            if name in self.dirty or cached is None or now - at >= cfg.cloud_poller_interval:
                due[name] = self.cloud_pool.submit(self._list, cfg, res)
        timeout = max(5.0, min(60.0, cfg.cloud_poller_interval * 2.0))
        for name, fut in due.items():
            result: list[Instance] | None
            try:
                result = fut.result(timeout=timeout)
            except FutureTimeout:
                result = None
                self._failed(name, f"no answer within {timeout:.0f} s")
            except Exception as exc:  # noqa: BLE001
                result = None
                self._failed(name, str(exc))
            if result is not None:
                self.listed.saw(name, result, now, listing_grace(cfg))
            result = self.timeline.instances(result)  # launch-time tags onto the monotonic clock
            self.cache[name] = (now, result)
            self.dirty.discard(name)
        return {name: self.cache.get(name, (0.0, None))[1] for name in (*cfg.resources, *cfg.retired)}

    def _list(self, cfg: Config, res: Resource) -> list[Instance]:
        drv = self.ports.driver(cfg, res)
        if res.name not in self.shapes:
            try:
                self.shapes[res.name] = _shape(res.cores or drv.cores(), res.mem_mb or drv.mem_mb(), res.name)
            except Exception as exc:  # noqa: BLE001 - shape unknown: the planner says so
                log.warning("dcluster: cannot learn the node size of %s: %s", res.name, exc)
        return list(drv.instances())

    def _failed(self, resource: str, message: str) -> None:
        log.warning("dcluster: cloud poll of %s failed: %s", resource, message)
        self.state.error(self.clock(), f"cloud:{resource}", message)
        self.fire("poll/failed", {"what": "cloud", "resource": resource, "error": message[:1000]})


def _shape(cores: Any, mem_mb: Any, resource: str) -> tuple[int, int]:
    """A new node's (cores, MB) as the cloud tells them: a count the model cannot hold is unknown (0), logged
    once with the pillar key that replaces it (the shape is kept, not asked again every poll)."""
    return (
        plausible_size(cores, 1, MAX_NODE_CORES, resource, "cores"),
        plausible_size(mem_mb, 0, LARGEST, resource, "mem_mb"),
    )
