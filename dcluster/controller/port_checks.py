"""The port config checker: a starting worker whose configured port answers is configured.

Each check runs on a pool of its own, one per worker at a time; a cycle waits for them at most
:data:`PORT_WAIT` seconds in all and takes the answers that came since (40 starting workers checked
in turn with a 2 s timeout stalled the loop for 80 s).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from ..config import Config
from ..model import WorkerState
from ..reconcile import View

PORT_WAIT = 0.5  # seconds a cycle waits in all for the port checks it started


class PortChecks:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dcluster-portcheck")
        self._checks: dict[str, Future[bool]] = {}  # minion id -> its port check under way

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)

    def check(
        self,
        cfg: Config,
        view: View,
        port_open: Callable[[str, int], bool] | None,
        configured: Collection[str],
        mark_configured: Callable[[str, bool, str], None],
    ) -> None:
        """Start a check of each starting worker not checked yet; mark those whose port answered."""
        port = (cfg.config_checker.get("port") or {}).get("number")
        if not port or port_open is None:
            return
        starting = {
            w.name: w.instance.ip
            for w in view.workers
            if w.state == WorkerState.STARTING and w.instance is not None and w.instance.ip and w.name not in configured
        }
        for name, ip in starting.items():
            if name not in self._checks:
                self._checks[name] = self._pool.submit(port_open, ip, port)
        wait_futures(list(self._checks.values()), timeout=PORT_WAIT)
        for name, fut in list(self._checks.items()):
            if not fut.done():
                continue
            del self._checks[name]
            try:
                ok = fut.result()
            except Exception:  # noqa: BLE001 - no answer: checked again next cycle
                ok = False
            if ok and name in starting:  # still starting: not gone, nor configured meanwhile
                mark_configured(name, True, f"port {port} answers")
