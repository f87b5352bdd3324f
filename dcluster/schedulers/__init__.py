"""Scheduler adapters: output parsers (pure functions) and command sequences per scheduler.

Every adapter implements :class:`.adapter.Adapter` (``jobs() nodes() add_node()
set_reservation() hold() release() remove() vacate() check()`` and the
capabilities callers need, as class attributes).  This registry is the one
place that maps the pillar's ``cluster:type`` to an adapter; nothing else
looks at the scheduler's name.  Nothing here imports Salt.

Adding a scheduler: its settings' schema in :mod:`dcluster.config.keys`
(``CLUSTER_CONFIGS``) and their typed class in :mod:`dcluster.config.schedulers`
(``CONFIG_TYPES``), a module here with its parsers and an :class:`.adapter.Adapter`
subclass, and one line in ``_ADAPTERS`` below; ``tests/unit/schedulers/test_interface.py``
then checks its signatures against the interface.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ParseError, RefusedError, SchedulerError

if TYPE_CHECKING:
    from dcluster.config.schedulers import SchedulerConfig

    from .adapter import Adapter

__all__ = ["KINDS", "ParseError", "RefusedError", "SchedulerError", "adapter_class", "make_adapter"]

# cluster:type -> (module, class); imported when first asked for (each pulls in its parsers)
_ADAPTERS = {"torque": ("torque", "TorqueAdapter"), "sge": ("sge", "SgeAdapter"), "slurm": ("slurm", "SlurmAdapter")}
KINDS = tuple(_ADAPTERS)
_CLASSES: dict[str, type[Adapter]] = {}  # the planner asks once per job and resource


def adapter_class(kind: str) -> type[Adapter]:
    """The adapter class of scheduler ``kind``; ValueError for an unknown one."""
    cls = _CLASSES.get(kind)
    if cls is None:
        if kind not in _ADAPTERS:
            raise ValueError(f"unknown scheduler type {kind!r} (torque, sge or slurm)")
        module, name = _ADAPTERS[kind]
        cls = _CLASSES[kind] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return cls


def make_adapter(
    kind: str,
    config: SchedulerConfig | Mapping[str, Any],
    run: Callable[..., tuple[int, str, str]],
    **kwargs: Any,
) -> Adapter:
    """The adapter of scheduler ``kind`` over ``config`` (``Config.cluster.config``) and ``run``."""
    return adapter_class(kind)(config, run, **kwargs)
