"""Sending metrics to carbon's plaintext receiver (``path value timestamp\\n`` over TCP).

:class:`CarbonClient` connects lazily, reconnects after any socket error with a capped
exponential backoff, never raises into its caller (``send`` returns False and logs), and keeps
unsent lines in a bounded buffer (oldest dropped first, drops counted) so a dead carbon cannot
grow memory without bound; a socket error never ends the sender.  :class:`GraphiteSettings` are
the ``graphite`` plugin's arguments.
"""

from __future__ import annotations

import collections
import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Config
from .paths import Metric

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GraphiteSettings:
    hostname: str = "localhost"
    port: int = 2003
    prefix: str = "headnode.dynamiccluster"
    interval: int = 60
    timeout: float = 5.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GraphiteSettings:
        """From a plugin entry (``{class_name, arguments}``) or from its ``arguments`` alone."""
        args = data.get("arguments", data)
        d = cls()
        return cls(
            hostname=str(args.get("hostname", d.hostname)),
            port=int(args.get("port", d.port)),
            prefix=str(args.get("prefix", d.prefix)),
            interval=int(args.get("interval", d.interval)),
            timeout=float(args.get("timeout", d.timeout)),
        )


def graphite_settings(config: Config) -> GraphiteSettings | None:
    """The first ``plugins`` entry whose ``class_name`` names a Graphite reporter, or None."""
    for _name, plugin in sorted(dict(config.plugins).items()):
        if "graphite" in str(plugin.get("class_name", "")).lower():
            return GraphiteSettings.from_mapping(plugin)
    return None


# ------------------------------------------------------------------ client


def format_line(path: str, value: float, timestamp: int) -> str:
    """One plaintext line; whitespace and control characters in ``path`` become ``_``."""
    safe = re.sub(r"[\s\x00-\x1f\x7f]", "_", str(path)) or "_"
    text = repr(float(value)) if not float(value).is_integer() else str(int(value))
    return f"{safe} {text} {int(timestamp)}\n"


class CarbonClient:
    """Carbon plaintext sender; thread-safe, never raises from :meth:`send`.

    ``send(metrics)`` queues the lines and tries to flush the whole queue.
    On a socket error the connection is dropped, the lines stay queued and
    the next attempt waits ``backoff_initial * 2**(failures-1)`` seconds,
    capped at ``backoff_max``; ``send`` calls during the wait only queue.
    Lines already sent may be sent again after an error: carbon keeps the last
    value for a path and timestamp, so a resend is harmless.  Before each write
    the socket is polled: carbon never writes on this port, so a readable
    socket means the peer closed it (restart), and we reconnect instead of
    losing the next write to a dead connection.

    With ``background=True`` (the engine's), ``send`` only queues and returns at
    once: a thread of its own connects and writes, so a carbon that accepts no
    connection or stalls a write delays no caller, the engine's event thread
    included, by up to ``timeout`` (its return is then whether the last
    attempt succeeded).  ``connect`` is ``socket.create_connection``'s signature.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 5.0,
        max_buffer: int = 10_000,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
        connect: Callable[..., socket.socket] = socket.create_connection,
    ):
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self.backoff_initial, self.backoff_max, self.batch = backoff_initial, backoff_max, batch
        self.clock, self._connect = clock, connect
        self._buffer: collections.deque[str] = collections.deque(maxlen=max_buffer)
        self._sock: socket.socket | None = None
        # _lock guards the buffer and the counters and is held only for moments; _io_lock the
        # socket, held through a connect or a write, so a queueing caller never waits on carbon
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name=f"carbon {host}:{port}", daemon=True)
            self._thread.start()
        self._next_try = 0.0
        self.failures = 0  # consecutive failed attempts
        self.dropped = 0  # lines lost to the buffer bound
        self.sent = 0  # lines written to a socket
        self.connects = 0
        self.last_error = ""

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def send(self, metrics: Iterable[Metric]) -> bool:
        """Queue ``metrics`` and flush; True when the queue is empty afterwards.

        In the background mode only queue: True unless the last attempt failed."""
        try:
            lines = [format_line(*m) for m in metrics]
        except (TypeError, ValueError) as exc:
            log.error("carbon %s:%s: bad metric, nothing queued: %s", self.host, self.port, exc)
            return False
        with self._lock:
            for line in lines:
                if len(self._buffer) == self._buffer.maxlen:
                    self.dropped += 1  # deque drops the oldest on append
                self._buffer.append(line)
            if self._thread is not None:
                self._wake.set()
                return not self.failures
        return self.flush()

    def flush(self) -> bool:
        with self._io_lock:
            return self._flush_io()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            # a thread stuck in a connect ends by its timeout; the engine does not wait for it
            self._thread.join(timeout=0.5)
        with self._io_lock:
            self._disconnect()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                wait = None
                if self._buffer and self.failures:
                    wait = max(0.0, self._next_try - self.clock())
            self._wake.wait(wait)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the sender thread must outlive any surprise
                log.exception("carbon %s:%s: sender", self.host, self.port)

    def _take(self) -> list[str]:
        with self._lock:
            n = min(self.batch, len(self._buffer))
            return [self._buffer.popleft() for _ in range(n)]

    def _put_back(self, chunk: list[str]) -> None:
        """Unsent lines go back to the front; when newer ones filled the buffer meanwhile, the oldest go."""
        with self._lock:
            room = (self._buffer.maxlen or 0) - len(self._buffer)
            keep = chunk[len(chunk) - room :] if room < len(chunk) else chunk
            self.dropped += len(chunk) - len(keep)
            self._buffer.extendleft(reversed(keep))

    def _flush_io(self) -> bool:
        """Write the queue out (called with ``_io_lock`` held)."""
        now = self.clock()
        with self._lock:
            if not self._buffer:
                return True
            if now < self._next_try:
                return False
        chunk: list[str] = []
        try:
            if self._sock is not None and self._peer_closed():
                log.info("carbon %s:%s closed the connection; reconnecting", self.host, self.port)
                self._disconnect()
            if self._sock is None:
                self._sock = self._connect((self.host, self.port), timeout=self.timeout)
                with self._lock:
                    self.connects += 1
            while True:
                chunk = self._take()
                if not chunk:
                    break
                self._sock.sendall("".join(chunk).encode("utf-8"))
                with self._lock:
                    self.sent += len(chunk)
                chunk = []
        except Exception as exc:  # noqa: BLE001 - never raise into the engine or the reactor
            self._disconnect()
            if chunk:
                self._put_back(chunk)
            with self._lock:
                self.failures += 1
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (self.failures - 1))
                self._next_try = now + delay
                self.last_error = f"{type(exc).__name__}: {exc}"
                failures, kept = self.failures, len(self._buffer)
            level = logging.WARNING if failures == 1 else logging.DEBUG
            log.log(
                level,
                "carbon %s:%s: send failed (%s); %d line(s) kept, next try in %.0f s",
                self.host,
                self.port,
                self.last_error,
                kept,
                delay,
            )
            return False
        with self._lock:
            if self.failures:
                log.info("carbon %s:%s: sending again after %d failed attempt(s)", self.host, self.port, self.failures)
            self.failures = 0
            self._next_try = 0.0
            return not self._buffer

    def _peer_closed(self) -> bool:
        sock = self._sock
        if sock is None:
            return False  # not connected: nothing to close
        readable, _, errored = select.select([sock], [], [sock], 0)
        if errored:
            return True
        if not readable:
            return False
        try:
            return sock.recv(4096, socket.MSG_DONTWAIT) == b""  # EOF; data would be odd but harmless
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _disconnect(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
