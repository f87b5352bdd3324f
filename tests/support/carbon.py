"""A real carbon-cache (Debian ``graphite-carbon``) and a small line receiver, for the metrics tests.

``CarbonCache(tmpdir).start()`` writes a carbon.conf adapted from Debian's
graphite-carbon default (everything under ``tmpdir``,
receivers on 127.0.0.1 only, free ports, UDP off, ``10s:1d`` retention) and
runs ``/usr/bin/python3 /usr/bin/carbon-cache --nodaemon`` as our child, so
its PID is ours to stop; ``stop()`` stops it by that PID (pidfile in
``tmpdir/run``).  ``fetch(path)`` reads a whisper file back with Debian's
python3-whisper, through ``/usr/bin/python3`` (not the venv).

``LineServer`` is a plain TCP receiver on 127.0.0.1 that records the lines it
gets; ``stop()``/``start()`` close and reopen it on the same port to force
socket errors in a client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time

from . import alive, stop_pid, wait_for

PYTHON = "/usr/bin/python3"
CARBON = "/usr/bin/carbon-cache"

CONF = """\
[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {d}/storage/whisper/
WHITELISTS_DIR = {d}/storage/lists/
CONF_DIR = {d}/
LOG_DIR = {d}/log/
PID_DIR = {d}/run/
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 500
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
LOG_UPDATES = False
LOG_CACHE_HITS = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
WHISPER_FALLOCATE_CREATE = True
"""

SCHEMAS = """\
[default]
pattern = .*
retentions = 10s:1d
"""

FETCH = """\
import json, sys, whisper
path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
(first, last, step), values = whisper.fetch(path, start, end)
print(json.dumps([[first + i * step, v] for i, v in enumerate(values) if v is not None]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "carbon tests need root (scripts/install-system-deps.sh installs graphite-carbon)"
    if not os.path.exists(CARBON) or not os.path.exists(PYTHON):
        return f"{CARBON} missing: run `bash scripts/install-system-deps.sh` (Debian graphite-carbon)"
    probe = subprocess.run([PYTHON, "-c", "import whisper, carbon"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"python3-whisper/carbon not importable by {PYTHON}: {probe.stderr.strip()[-200:]}"
    return None


class CarbonCache:
    def __init__(self, directory: str):
        self.dir = str(directory)
        self.line_port = free_port()
        self.pickle_port = free_port()
        self.query_port = free_port()
        self.conf = os.path.join(self.dir, "carbon.conf")
        self.pidfile = os.path.join(self.dir, "run", "carbon-cache.pid")
        self.whisper_dir = os.path.join(self.dir, "storage", "whisper")
        self.proc: subprocess.Popen | None = None
        self.pids: list[int] = []  # every carbon we started, for the finalizer

    def write_config(self) -> None:
        for sub in ("storage/whisper", "storage/lists", "log", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(self.conf, "w") as fh:
            fh.write(CONF.format(d=self.dir, line=self.line_port, pickle=self.pickle_port, query=self.query_port))
        with open(os.path.join(self.dir, "storage-schemas.conf"), "w") as fh:
            fh.write(SCHEMAS)

    def start(self, timeout: float = 30.0) -> None:
        if not os.path.exists(self.conf):
            self.write_config()
        log = open(os.path.join(self.dir, "log", "console.log"), "ab")  # the child keeps its own copy
        try:
            self.proc = subprocess.Popen(
                [PYTHON, CARBON, f"--config={self.conf}", f"--pidfile={self.pidfile}", "--nodaemon", "start"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
            )
        finally:
            log.close()
        self.pids.append(self.proc.pid)
        try:
            wait_for(
                lambda: self.proc.poll() is not None or listening(self.line_port),
                timeout,
                0.1,
                f"carbon-cache listening on 127.0.0.1:{self.line_port}",
            )
        except TimeoutError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"carbon-cache exited with {self.proc.returncode}: {self.console_tail()}")

    def stop(self) -> None:
        for pid in self.pids:
            if alive(pid):
                stop_pid(pid, grace=15.0)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.pids = [p for p in self.pids if alive(p)]

    def restart(self) -> None:
        self.stop()
        wait_for(lambda: not listening(self.line_port), 10, 0.1, "carbon's port to close")
        self.start()

    def console_tail(self, n: int = 2000) -> str:
        try:
            with open(os.path.join(self.dir, "log", "console.log"), errors="replace") as fh:
                return fh.read()[-n:]
        except OSError:
            return ""

    def wsp(self, path: str) -> str:
        return os.path.join(self.whisper_dir, *path.split(".")) + ".wsp"

    def fetch(self, path: str, start: float, end: float | None = None) -> list[tuple[int, float]]:
        """[(timestamp, value)] of ``path`` between ``start`` and ``end`` (default now + 60)."""
        end = time.time() + 60 if end is None else end
        out = subprocess.run(
            [PYTHON, "-c", FETCH, self.wsp(path), str(int(start)), str(int(end))],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return [(int(t), float(v)) for t, v in json.loads(out.stdout)]

    def wait_value(self, path: str, timestamp: int, start: float, timeout: float = 30.0) -> float:
        """The value stored for ``timestamp``'s 10 s slot, waiting for carbon to write it."""
        slot = int(timestamp) - int(timestamp) % 10

        def found():
            if not os.path.exists(self.wsp(path)):
                return None
            values = dict(self.fetch(path, start))
            return (values[slot],) if slot in values else None

        return wait_for(found, timeout, 0.3, f"{path} @ {slot} in whisper")[0]


class LineServer:
    """A TCP line receiver on 127.0.0.1 that records what it gets."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.accepted = 0

    def start(self) -> LineServer:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self._listener = s
        t = threading.Thread(target=self._accept, args=(s,), daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            t = threading.Thread(target=self._read, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            *done, buf = buf.split(b"\n")
            with self._lock:
                self.lines.extend(d.decode() for d in done)

    def stop(self) -> None:
        """Close the listener and every connection (the client sees EOF, then refused)."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        for t in self._threads:
            t.join(timeout=2)
        self._threads = []

    def received(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_lines(self, n: int, timeout: float = 5.0) -> list[str]:
        wait_for(lambda: len(self.received()) >= n, timeout, 0.02, f"{n} line(s) at 127.0.0.1:{self.port}")
        return self.received()
