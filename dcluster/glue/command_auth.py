"""Only the master's own runners command the engine: a MAC under a key only the master can read.

Any minion can put an event with a tag of its choosing on the master's bus
(``salt-call event.send dcluster/cmd/launch ...``), so the tag says nothing
about who sent it.  Runners, though, run inside the master, as its user
(``salt-run``, salt-api's runner client within its ACL, the reactor), and
minions cannot read the master's files.  So the runner signs each command with
a key in ``<cachedir>/dcluster/command.key`` (32 random bytes, mode 0600) and
the engine obeys only commands whose HMAC-SHA256 verifies, that were issued
within ``MAX_SKEW`` seconds and whose nonce it has not seen before.

Pure: no Salt import, testable on its own.  The key is never logged and never
part of an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

KEY_BYTES = 32
MAX_SKEW = 60.0  # seconds an issued time may be off (stale or in the future)
MAX_PAYLOAD = 64 * 1024  # bytes of JSON: a command is a few hundred
NONCE_CACHE = 4096  # commands within 2 * MAX_SKEW; more is a flood of *valid* commands: refused
CMD_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
REPLY_RE = re.compile(r"^dcluster/reply/[0-9a-f]{32}$")
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
MAC_RE = re.compile(r"^[0-9a-f]{64}$")
SIGNED = ("args", "reply", "issued", "nonce", "mac")


class CommandKeyError(RuntimeError):
    """The key file is missing and cannot be made, or is not one we trust."""


class Refused(ValueError):
    """A command that is not obeyed; the message says why (never a secret)."""


def key_path(cachedir: str) -> str:
    return os.path.join(cachedir, "dcluster", "command.key")


def load_or_create_key(path: str) -> bytes:
    """The key at ``path``, made atomically (temp file + link) by whoever needs it first."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = os.path.join(folder, f".command.key.{os.getpid()}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process made it first: then theirs is the key
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return _read_key(path)


def _read_key(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CommandKeyError(f"{path} is not a regular file")
        if st.st_mode & 0o077:
            raise CommandKeyError(
                f"{path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); delete it and a new key is made"
            )
        key = fh.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise CommandKeyError(f"{path} does not hold a {KEY_BYTES}-byte key; delete it and a new key is made")
    return key


def canonical(cmd: str, args: Any, reply: Any, issued: Any, nonce: Any) -> bytes:
    """One byte string per command: sorted keys, no whitespace, ASCII only."""
    return json.dumps(
        {"cmd": cmd, "args": args, "reply": reply, "issued": issued, "nonce": nonce},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode()


def mac(key: bytes, cmd: str, args: Any, reply: Any, issued: Any, nonce: Any) -> str:
    return hmac.new(key, canonical(cmd, args, reply, issued, nonce), hashlib.sha256).hexdigest()


def sign(
    key: bytes, cmd: str, args: dict[str, Any], reply: str, now: float | None = None, nonce: str | None = None
) -> dict[str, Any]:
    """The event data of one signed command (its tag is ``dcluster/cmd/<cmd>``)."""
    issued = round(time.time() if now is None else now, 3)
    nonce = nonce or secrets.token_hex(16)
    # the same JSON round trip the bus does to types (tuples become lists), so both sides encode alike
    args = json.loads(json.dumps(args or {}, allow_nan=False))
    return {
        "args": args,
        "reply": reply,
        "issued": issued,
        "nonce": nonce,
        "mac": mac(key, cmd, args, reply, issued, nonce),
    }


class Verifier:
    """Checks the commands the engine receives; ``verify`` returns (args, reply) or raises Refused."""

    def __init__(
        self,
        key: Callable[[], bytes],
        clock: Callable[[], float] = time.time,
        max_skew: float = MAX_SKEW,
        cache_size: int = NONCE_CACHE,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.key, self.clock, self.max_skew, self.cache_size = key, clock, max_skew, cache_size
        self.monotonic = monotonic
        # nonce -> when it arrived, on the monotonic clock, oldest first.  Forgotten by that clock, not by
        # its issued time: a wall clock stepped forward and back again made a command seen minutes ago new.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, cmd: str, data: Any) -> tuple[dict[str, Any], str]:
        if not isinstance(cmd, str) or not CMD_RE.fullmatch(cmd):
            raise Refused("not a command name")
        if not isinstance(data, dict):
            raise Refused(f"event data is {type(data).__name__}, not a mapping")
        try:
            size = len(json.dumps({k: data.get(k) for k in SIGNED}, default=repr))
        except (TypeError, ValueError, RecursionError):
            raise Refused("event data cannot be encoded") from None
        if size > MAX_PAYLOAD:
            raise Refused(f"payload of {size} bytes is over {MAX_PAYLOAD}")
        args, reply, issued, nonce, given = (data.get(k) for k in SIGNED)
        if not isinstance(given, str) or not MAC_RE.fullmatch(given):
            raise Refused("no MAC")
        if not isinstance(nonce, str) or not NONCE_RE.fullmatch(nonce):
            raise Refused("no nonce")
        if not isinstance(reply, str) or not REPLY_RE.fullmatch(reply):
            raise Refused("no valid reply tag")
        if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
            raise Refused("args is not a mapping of names")
        if isinstance(issued, bool) or not isinstance(issued, (int, float)) or not math.isfinite(issued):
            raise Refused("no issued time")
        try:
            key = self.key()
        except (OSError, CommandKeyError) as exc:
            raise Refused(f"no command key: {type(exc).__name__}") from None
        try:
            expected = mac(key, cmd, args, reply, issued, nonce)
        except (TypeError, ValueError, RecursionError):
            raise Refused("args cannot be encoded") from None
        if not hmac.compare_digest(expected, given):
            raise Refused("bad MAC")
        now = self.clock()
        if issued < now - self.max_skew:
            raise Refused(f"stale: issued {now - issued:.0f} s ago")
        if issued > now + self.max_skew:
            raise Refused(f"issued {issued - now:.0f} s in the future")
        with self._lock:
            arrived = self.monotonic()
            self._forget(arrived)
            if nonce in self._seen:
                raise Refused("replayed nonce")
            if len(self._seen) >= self.cache_size:
                raise Refused("too many commands in the replay window")
            self._seen[nonce] = arrived
        return args, reply

    def _forget(self, arrived: float) -> None:
        """Drop nonces that arrived longer ago than the window of issued times a command is accepted in (twice
        max_skew): a replay of one is stale by its issued time unless the wall clock went back that far."""
        cutoff = arrived - 2 * self.max_skew
        while self._seen and next(iter(self._seen.values())) < cutoff:
            self._seen.popitem(last=False)


class FileKey:
    """The key file, read again only when it changed (deleted and remade by a runner)."""

    def __init__(self, path: str):
        self.path = path
        self._key: bytes | None = None
        self._stamp: tuple[int, int, int] | None = None

    def __call__(self) -> bytes:
        st = os.stat(self.path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._key is None or stamp != self._stamp:
            self._key, self._stamp = _read_key(self.path), stamp
        return self._key


class RateLimitedLog:
    """At most ``burst`` warnings per ``period`` seconds, then one line counting those left out."""

    def __init__(
        self, logger: logging.Logger, burst: int = 10, period: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.logger, self.burst, self.period, self.clock = logger, burst, period, clock
        self._start, self._n, self._dropped = -math.inf, 0, 0

    def warning(self, msg: str, *args: Any) -> bool:
        now = self.clock()
        if now - self._start >= self.period:
            if self._dropped:
                self.logger.warning(
                    "dcluster: %d more refusals were not logged in the last %.0f s", self._dropped, self.period
                )
            self._start, self._n, self._dropped = now, 0, 0
        if self._n >= self.burst:
            self._dropped += 1
            return False
        self._n += 1
        self.logger.warning(msg, *args)
        return True
