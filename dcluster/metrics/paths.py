"""Graphite paths: every component built from outside data made safe.

Resource, host and mount names and the configured prefix go through :func:`component`: anything
but letters, digits, ``_`` and ``-`` becomes ``_``, so a dot cannot add a level and a space or
newline cannot inject a second line into carbon's line protocol.
"""

from __future__ import annotations

import math
import re
from typing import Any

Metric = tuple[str, float, int]

PHYSICAL = "_physical"  # resource component of nodes not launched by us ("_" cannot start a resource name)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def component(text: Any) -> str:
    """One safe path component: ``[A-Za-z0-9_-]+`` (anything else becomes ``_``)."""
    out = _UNSAFE.sub("_", str(text))
    return out or "_"


def prefix_path(prefix: str) -> str:
    """The configured prefix, each dot-separated level made safe; empty levels dropped."""
    return ".".join(component(p) for p in str(prefix or "").split(".") if p.strip())


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def mount_component(mount: str) -> str:
    """A mount point as one component: ``/`` -> ``root``, ``/var/lib`` -> ``var_lib``."""
    stripped = str(mount).strip("/")
    return component(stripped.replace("/", "_")) if stripped else "root"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None
