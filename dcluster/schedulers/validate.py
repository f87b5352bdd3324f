"""Checks of every value an adapter puts into a scheduler command (host names, job ids, groups, hold reasons)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..holds import REASON_CHARS, REASON_MAX
from .errors import RefusedError

# Host names: DNS labels, optionally dotted.  Job ids: Torque "123", "123[4]", "123.server",
# SGE "12", "12.3" (array task), Slurm "45", "45_7".
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$")
JOBID_RE = re.compile(r"^[0-9]+(\[[0-9]*\])?([._][A-Za-z0-9-]+)*$")
GROUP_RE = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
HOLD_REASON_RE = re.compile(f"^[{REASON_CHARS}]{{1,{REASON_MAX}}}$")  # holds.hold_text makes any text one


def check_host(name: str) -> str:
    if not isinstance(name, str) or not HOST_RE.fullmatch(name):
        raise RefusedError("(validation)", f"refusing invalid host name {name!r}")
    return name


def check_jobid(job: str) -> str:
    if not isinstance(job, str) or not JOBID_RE.fullmatch(job):
        raise RefusedError("(validation)", f"refusing invalid job id {job!r}")
    return job


def check_group(name: str) -> str:
    if not isinstance(name, str) or not GROUP_RE.fullmatch(name):
        raise RefusedError("(validation)", f"refusing invalid queue/group/account name {name!r}")
    return name


def check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not HOLD_REASON_RE.fullmatch(reason):
        raise RefusedError(
            "(validation)", f"refusing hold reason {reason!r}: letters, digits, spaces and _.@:%=,+/- only"
        )
    return reason


def reservation_fields(reservation: Any) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(queue, account, properties) of a Reservation, a mapping or None.

    A mapping (from the Salt modules' arguments) may give ``properties`` as a
    list or a comma-separated string, and the older singular ``property``.
    """
    if reservation is None:
        return None, None, ()

    def get(key: str) -> Any:
        return reservation.get(key) if isinstance(reservation, Mapping) else getattr(reservation, key, None)

    props = get("properties") or ()
    if isinstance(props, str):
        props = props.split(",")
    props = [*props, get("property")] if get("property") else list(props)
    return (
        get("queue") or None,
        get("account") or None,
        tuple(dict.fromkeys(str(p).strip() for p in props if p and str(p).strip())),
    )
