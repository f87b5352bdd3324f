"""Writing what the runners read, off the cycle: a thread of its own that writes the newest cycle's files.

The cycle observes, decides and acts; the files it publishes are for readers (``salt-run``, the
dashboard), who read the previous cycle's until the new ones are in place (each is written
atomically).  Building them is most of a publish at scale: 5,000 workers and the first pages
of 50,000 jobs to dicts and JSON, about 0.2 s of a cycle (issue 15).  So the cycle hands the
writer its summary and its view, both never changed afterwards (the view's workers and jobs are
not modified after reconcile made them), and goes on.

When the writer falls behind, only the newest cycle's files are written: a reader wants the
latest state, not every one.  :meth:`flush` waits until what was handed over is on disk (tests,
shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..reconcile import View

log = logging.getLogger(__name__)

Write = Callable[[str, dict[str, Any], "View"], None]


class Publisher:
    def __init__(self, write: Write) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._next: tuple[str, dict[str, Any], View] | None = None
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def submit(self, state_path: str, summary: dict[str, Any], view: View) -> None:
        """Have these files written; replaces what was handed over and not written yet."""
        with self._cond:
            stopped = self._stopped
            if not stopped:
                self._next = (state_path, summary, view)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="dcluster-publish", daemon=True)
                    self._thread.start()
                self._cond.notify_all()
        if stopped:  # after shutdown: written here, as before there was a writer
            self._write(state_path, summary, view)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything handed over is written; False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is pending, then end the thread; later submits write at once."""
        self.flush(timeout)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._stopped:
                    self._cond.wait()
                if self._next is None:
                    return
                job, self._next, self._busy = self._next, None, True
            try:
                self._write(*job)
            except Exception:  # the writer must survive anything; publish.write logs its own OSErrors
                log.exception("dcluster: publishing failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


__all__ = ["Publisher"]
