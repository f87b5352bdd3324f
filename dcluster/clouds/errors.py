"""Classified cloud errors: the policy acts on ``kind``, people read ``message``.

Every driver turns what its SDK raises into one of these.  The message keeps
the cloud's own text (it is what an operator needs to fix a quota or a bad
image id) but goes through :func:`scrub` first, so no credential the driver
knows of, and nothing that looks like a token, key or password, can reach a
log line, a Salt return or an event through an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..config.secret import REDACTED, Secret

KINDS = ("quota", "capacity", "config", "auth", "transient", "notfound")

# Things that look like credentials in SDK/HTTP error texts.
_PATTERNS = [
    re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{12,}\b"),  # AWS access key ids
    re.compile(r"(?i)(x-(?:auth|subject)-token['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"(?i)((?:password|passwd|secret|secret_access_key|aws_secret_access_key|token|signature|"
               r"credential|authorization)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]+"),
    re.compile(r"(?i)(\bBearer\s+)[^\s'\",]+"),
]


def scrub(text: str, secrets: Iterable[Secret | str | None] = ()) -> str:
    """``text`` with every known secret value and every credential-looking token masked."""
    text = str(text)
    values = []
    for s in secrets:
        if s is None:
            continue
        v = s.reveal() if isinstance(s, Secret) else str(s)
        if len(v) >= 4:  # masking "ab" everywhere would garble the message and reveal nothing
            values.append(v)
    for v in sorted(values, key=len, reverse=True):
        text = text.replace(v, REDACTED)
    for pat in _PATTERNS:
        text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


class CloudError(Exception):
    """Base of the classified errors; ``kind`` is one of :data:`KINDS`."""

    kind = "transient"

    def __init__(self, message: str, *, cloud: str = "", code: str = "", secrets: Iterable = (), kind: str | None = None):
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f"unknown cloud error kind {kind!r}")
            self.kind = kind
        self.cloud = cloud
        self.code = code
        self.message = scrub(message, secrets)
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.cloud} " if self.cloud else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.kind} error{code}: {self.message}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "cloud": self.cloud, "code": self.code, "message": self.message}


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


def make(kind: str, message: str, **kw) -> CloudError:
    """The error class of ``kind`` (used when an error crosses Salt's wire as plain data)."""
    return BY_KIND[kind](message, **kw)
