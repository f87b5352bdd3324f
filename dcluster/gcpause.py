"""Pausing Python's cyclic garbage collector while tens of thousands of objects that live on are made.

Otherwise every few hundred allocations a collection rescans the young objects, and the
full ones the whole heap (a Salt master's is large): a fifth of a 50,000-job parse, and
about 0.45 s of CPU of a whole engine cycle at that scale (issue 15; docs/performance.md).
Nothing here makes reference cycles on purpose, and what the rare ones hold is freed by the
first collection after the pause.

Pauses nest and may overlap across threads (the engine's cycle, the scheduler's parse on
its poll thread, a parse on an action thread): the collector is off while any pause is
held and is switched back on when the last one ends, if it was on when the first began.
A plain ``disable(); ...; enable()`` per user would let one thread's end switch it on
under another's pause, or, ending first, leave it off for good.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_held = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off inside; restored (even on an error) when the last overlapping pause ends."""
    global _held, _was_enabled
    with _lock:
        if _held == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _held += 1
    try:
        yield
    finally:
        with _lock:
            _held -= 1
            if _held == 0 and _was_enabled:
                gc.enable()


__all__ = ["paused"]
