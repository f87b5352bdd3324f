"""Unguessable minion ids for the instances we launch.

A minion id is ``<cluster>-<resource>-<nonce>-<mac>`` where ``mac`` is an
HMAC-SHA256 of the first three parts under the ``dcluster:secret`` pillar
value.  The id doubles as instance name tag and scheduler host name, so:

* the auth reactor can tell at once whether a key request could be ours
  (a forged id fails the HMAC; a guessed one is 2**-48 likely) and needs no
  database;
* a scheduler node whose instance vanished is still recognisable as ours;
* the id is a valid DNS label (lowercase, digits, dashes, <= 63 chars).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from .config.secret import Secret

# Matched with fullmatch: "$" alone also matches before a trailing newline (an id plus a newline is not ours).
_ID_RE = re.compile(r"([a-z][a-z0-9]{0,15})-([a-z][a-z0-9]{0,15})-([0-9a-f]{6})-([0-9a-f]{12})")
MAX_LEN = 63  # a DNS label


@dataclass(frozen=True, slots=True)
class Identity:
    cluster: str
    resource: str
    nonce: str

    @property
    def stem(self) -> str:
        return f"{self.cluster}-{self.resource}-{self.nonce}"


def _mac(secret: Secret | str, stem: str) -> str:
    key = secret.reveal() if isinstance(secret, Secret) else str(secret)
    return hmac.new(key.encode(), stem.encode(), hashlib.sha256).hexdigest()[:12]


def make(cluster: str, resource: str, secret: Secret | str, nonce: str | None = None) -> str:
    """A fresh minion id for an instance of ``resource``."""
    nonce = nonce or _secrets.token_hex(3)
    stem = f"{cluster}-{resource}-{nonce}"
    return f"{stem}-{_mac(secret, stem)}"


def well_formed(minion_id: object) -> TypeGuard[str]:
    """Whether ``minion_id`` has the shape of an id we make (a short str; no HMAC check).

    Checked before anything else touches an id taken from an event: type first,
    then length, so a 1 MB or non-str value is never matched against anything.
    """
    return isinstance(minion_id, str) and len(minion_id) <= MAX_LEN and _ID_RE.fullmatch(minion_id) is not None


def parse(minion_id: str, secret: Secret | str | Sequence[Secret | str], cluster: str | None = None) -> Identity | None:
    """The identity behind ``minion_id`` if it is one we could have made, else None.

    ``secret`` may be several (``Config.secrets``: the current one and ``previous_secrets``): an id
    signed under any of them is ours, so rotating the secret orphans nothing.
    """
    if not well_formed(minion_id):
        return None
    m = _ID_RE.fullmatch(minion_id)
    if not m:
        return None
    ident = Identity(m.group(1), m.group(2), m.group(3))
    if cluster is not None and ident.cluster != cluster:
        return None
    keys = secret if isinstance(secret, (list, tuple)) else (secret,)
    # every key is tried (no early exit), so the time taken does not tell which one signed the id
    matches = [hmac.compare_digest(_mac(key, ident.stem), m.group(4)) for key in keys]
    return ident if any(matches) else None
