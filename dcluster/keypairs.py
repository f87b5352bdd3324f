"""Salt minion key pairs made by the master, as salt-cloud and ``salt.modules.seed`` do.

The engine makes each worker's RSA key pair, pre-accepts the public key
under the worker's minion id before the launch, and hands the private key
to that one instance in its own user-data.  The master then never has to
decide whether a key presented under one of our ids is genuine: a worker
authenticates with a key the master already trusts, and any other key for
that id is refused by Salt itself (a pending or denied key).

An RSA-2048 key takes about 40 ms of one core to make, so a burst of 1,000
launches would wait 40 s for keys.  :class:`KeyPool` makes keys ahead of
time on a background thread, up to a target the engine derives from the
configuration, and makes the rest on demand.  Keys live in memory only:
a private key is never written to the state file or logged, and a restart
simply makes new ones.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

KEY_BITS = 2048  # Salt's own minimum and default (salt.wheel.key.gen)
POOL_LIMIT = 2000  # keys kept ready at most (each ~2.5 KB of memory)


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_pem: str
    public_pem: str

    def __repr__(self) -> str:  # a traceback or a debug print must not show the private key
        return "KeyPair(<private key>, public_pem=...)"


def generate(bits: int = KEY_BITS) -> KeyPair:
    """A fresh RSA key pair in the PEM forms a salt-minion reads (``minion.pem`` / ``minion.pub``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)


class KeyPool:
    """Key pairs made ahead of time; :meth:`take` never waits for more than the keys it is short of."""

    def __init__(self, target: int = 0, make: Callable[[], KeyPair] = generate):
        self._make = make
        self._ready: deque[KeyPair] = deque()
        self._target = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.set_target(target)

    @property
    def ready(self) -> int:
        return len(self._ready)

    def set_target(self, target: int) -> None:
        """Keep ``target`` keys ready (capped at :data:`POOL_LIMIT`); starts the filler when needed."""
        with self._lock:
            self._target = max(0, min(int(target), POOL_LIMIT))
            if self._target > len(self._ready) and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._fill, name="dcluster-keys", daemon=True)
                self._thread.start()
        self._wake.set()

    def take(self, n: int) -> list[KeyPair]:
        """``n`` unused key pairs: from the pool first, the rest made now.  Each pair is handed out once."""
        out: list[KeyPair] = []
        with self._lock:
            while len(out) < n and self._ready:
                out.append(self._ready.popleft())
        while len(out) < n:
            out.append(self._make())
        self._wake.set()
        return out

    def fill(self, timeout: float = 60.0) -> bool:
        """Wait until the pool holds its target (benchmarks, tests)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self._ready) >= self._target:
                return True
            time.sleep(0.02)
        return False

    def _fill(self) -> None:
        while True:
            self._wake.clear()  # before the check: a take() after it wakes the wait below at once
            with self._lock:
                short = self._target - len(self._ready)
            if short <= 0:
                self._wake.wait(timeout=60.0)
                continue
            try:
                pair = self._make()
            except Exception:  # the pool is an optimisation; take() makes keys itself
                log.exception("dcluster: could not make a key pair ahead of time")
                self._wake.wait(timeout=5.0)
                continue
            with self._lock:
                self._ready.append(pair)
