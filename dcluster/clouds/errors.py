"""Classified cloud errors: the policy acts on ``kind``, people read ``message``.

Every driver turns what its SDK raises into one of these.  The message keeps
the cloud's own text (it is what an operator needs to fix a quota or a bad
image id) but goes through :func:`scrub` first, so no credential the driver
knows of, and nothing that looks like a token, key or password, can reach a
log line, a Salt return or an event through an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import scrub as _scrub

KINDS = ("quota", "capacity", "config", "auth", "transient", "notfound")

# The one scrubber lives in dcluster.scrub; this name stays for the drivers and the glue.
scrub = _scrub.text


class CloudError(Exception):
    """Base of the classified errors; ``kind`` is one of :data:`KINDS`."""

    kind = "transient"

    def __init__(
        self,
        message: str,
        *,
        cloud: str = "",
        code: str = "",
        secrets: Iterable[object] = (),
        kind: str | None = None,
        retry_after: float = 0.0,
    ) -> None:
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f"unknown cloud error kind {kind!r}")
            self.kind = kind
        self.cloud = cloud
        self.code = code
        # Seconds the cloud asked us to wait before the next call (a rate limit's Retry-After); 0: no hint.
        self.retry_after = max(0.0, float(retry_after or 0))
        self.message = scrub(message, secrets)
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.cloud} " if self.cloud else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.kind} error{code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "cloud": self.cloud, "code": self.code, "message": self.message}
        if self.retry_after:
            out["retry_after"] = self.retry_after
        return out


class QuotaExceeded(CloudError):
    kind = "quota"


class InsufficientCapacity(CloudError):
    kind = "capacity"


class InvalidConfig(CloudError):
    kind = "config"


class AuthFailure(CloudError):
    kind = "auth"


class Transient(CloudError):
    kind = "transient"


class NotFound(CloudError):
    kind = "notfound"


BY_KIND: dict[str, type[CloudError]] = {
    "quota": QuotaExceeded,
    "capacity": InsufficientCapacity,
    "config": InvalidConfig,
    "auth": AuthFailure,
    "transient": Transient,
    "notfound": NotFound,
}


def make(kind: str, message: str, **kw: Any) -> CloudError:
    """The error class of ``kind`` (used when an error crosses Salt's wire as plain data)."""
    return BY_KIND[kind](message, **kw)
