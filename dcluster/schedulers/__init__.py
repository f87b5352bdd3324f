"""Scheduler adapters: output parsers (pure functions) and command sequences per scheduler.

Each adapter takes the validated ``cluster.config`` mapping and a
``run(argv, stdin=None) -> (rc, stdout, stderr)`` callable and offers
``jobs() nodes() add_node() set_reservation() hold() release() remove()
vacate() check()``.  Nothing here imports Salt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import ParseError, RefusedError, SchedulerError

__all__ = ["ParseError", "RefusedError", "SchedulerError", "adapter_class", "make_adapter"]


def adapter_class(kind: str):
    if kind == "torque":
        from .torque import TorqueAdapter

        return TorqueAdapter
    if kind == "sge":
        from .sge import SgeAdapter

        return SgeAdapter
    if kind == "slurm":
        from .slurm import SlurmAdapter

        return SlurmAdapter
    raise ValueError(f"unknown scheduler type {kind!r} (torque, sge or slurm)")


def make_adapter(kind: str, config: Mapping[str, Any], run: Callable[..., tuple[int, str, str]], **kwargs):
    """The adapter of scheduler ``kind`` over ``config`` (``Config.cluster.config``) and ``run``."""
    return adapter_class(kind)(config, run, **kwargs)
