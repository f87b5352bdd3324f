"""The thread pools the actuator's work runs on, so that one slow call never stalls the loop.

Actions run on a pool of ``worker_number`` threads; create calls on one of their own (a spot
request waiting for its fulfilment holds a thread of that one only); hooks, each bounded by
``hook_timeout``, on a third, so a hung hook holds no action thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

HOOK_THREADS = 16  # hooks running at once (post_add_node_command and the like)


class ActionPools:
    def __init__(self) -> None:
        self._act: ThreadPoolExecutor | None = None
        self._launch: ThreadPoolExecutor | None = None
        self._size = 0
        self._hook = ThreadPoolExecutor(max_workers=HOOK_THREADS, thread_name_prefix="dcluster-hook")

    def resize(self, size: int) -> ThreadPoolExecutor:
        """The action pool, made anew (with the launch pool) when ``size`` changed; the old ones
        finish what they hold."""
        if self._act is None or size != self._size:
            old, old_launch = self._act, self._launch
            self._act = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dcluster-act")
            self._launch = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dcluster-launch")
            self._size = size
            for p in (old, old_launch):
                if p is not None:
                    p.shutdown(wait=False)
        return self._act

    def submit_launch(self, size: int, fn: Callable[[], Any]) -> Future[Any]:
        self.resize(size)
        assert self._launch is not None  # made with the action pool
        return self._launch.submit(fn)

    def submit_hook(self, fn: Callable[[], Any]) -> Future[Any]:
        return self._hook.submit(fn)

    def shutdown(self) -> None:
        """Wait for what runs: launches first (a failed one may queue a chain), hooks before the
        actions they hand chains back to."""
        for p in (self._launch, self._hook, self._act):
            if p is not None:
                p.shutdown(wait=True)
