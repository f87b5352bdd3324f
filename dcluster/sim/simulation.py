"""``simulate(trace, **opts) -> dict``: one replay, for the ``dcluster.simulate`` runner and the CLI.

``trace`` is a path to an SWF file (plain or .gz) or the name of a bundled
trace: ``kth`` (KTH-SP2, 100 one-core nodes) or ``hpc2n`` (HPC2N, 120
two-core nodes).  Options are the fields of :class:`dcluster.sim.replay.Settings`
(``policy``, ``cores_per_node``, ``max_nodes``, ``boot``, ``idle``, ``poll`` ...),
plus ``limit`` (replay only the first N jobs), ``plot`` (a PNG path),
``json`` (a path to write the metrics to) and ``node_sizes`` ("1,4,16": resources of these
core counts at one priority, each able to hold ``max_nodes`` x ``cores_per_node`` cores alone;
``size_choice`` is the planner's ``node_size_choice``).  Wide jobs (a quarter of the machine)
are judged against the trace machine (header ``MaxProcs``), whatever ``max_nodes``.
"""

from __future__ import annotations

import itertools
import json as _json
import os
from collections.abc import Callable
from dataclasses import fields
from importlib import resources
from typing import Any

from . import metrics, swf
from .cloud import Faults
from .replay import Settings, jobs_from_swf, replay
from .slurm import SlurmParams

BUNDLED = {
    "kth": ("KTH-SP2-1996-2.1-cln.swf.gz", {"cores_per_node": 1, "max_nodes": 100}),
    "hpc2n": ("hpc2n.swf.gz", {"cores_per_node": 2, "max_nodes": 120}),
}
_INT = {"cores_per_node", "max_nodes", "min_nodes", "idle", "poll", "mem_mb", "max_launch_time", "seed"}
_FLOAT = {"boot", "boot_p95", "keep_boots"}
_BOOL = {"kill_at_walltime", "backfill", "record", "reservations", "reserve_future", "wide_protection"}


def trace_path(trace: str) -> str:
    """A bundled trace's file, or ``trace`` itself if it is a file."""
    key = str(trace).lower()
    if key in BUNDLED:
        return str(resources.files("dcluster").joinpath("data", "traces", BUNDLED[key][0]))
    if not os.path.isfile(trace):
        raise FileNotFoundError(f"trace {trace!r}: no such file, and not a bundled trace ({', '.join(BUNDLED)})")
    return trace


def machine_cores(path: str) -> int | None:
    """The trace machine's processors (the SWF header's ``MaxProcs``), or None when the header has none."""
    value = swf.header(path).get("MaxProcs")
    if value is None:
        return None
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"trace {path}: header MaxProcs {value!r} is not a positive integer")
    return value


def settings_from(trace: str, opts: dict[str, Any]) -> Settings:
    """Settings from loosely typed options (strings from the Salt CLI are converted); unknown keys are errors."""
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = dict(BUNDLED.get(str(trace).lower(), (None, {}))[1])
    opts = dict(opts)
    sizes = _node_sizes(opts.pop("node_sizes")) if opts.get("node_sizes") is not None else None
    for key, value in opts.items():
        if key not in known:
            raise ValueError(f"unknown option {key!r}; known: {', '.join(sorted(known - {'extra_resources'}))}")
        try:
            if key in _INT:
                value = int(value)
            elif key in _FLOAT:
                value = float(value)
            elif key in _BOOL and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                value = value.lower() in ("true", "1", "yes")
            elif key == "faults" and isinstance(value, dict):
                value = Faults(**value)
            elif key == "slurm" and isinstance(value, dict):
                value = SlurmParams.from_options(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"option {key}={value!r}: {exc}") from None
        values[key] = value
    if sizes:
        # Resources of these core counts, one priority (the planner chooses the size), each able to hold
        # the cores of max_nodes x cores_per_node alone: the first is the replay's own resource.
        budget = int(values.get("max_nodes", 100)) * int(values.get("cores_per_node", 1))
        values["cores_per_node"], values["max_nodes"] = sizes[0], -(-budget // sizes[0])
        extra = dict(values.get("extra_resources") or {})
        for n in sizes[1:]:
            extra[f"c{n}"] = {"cores": n, "max": -(-budget // n), "priority": 1}
        values["extra_resources"] = extra
    s = Settings(**values)
    s.check()
    return s


def _node_sizes(value: Any) -> list[int]:
    """``node_sizes`` ("1,4,16" or a list) as distinct positive core counts, in the order given."""
    items = value.split(",") if isinstance(value, str) else value
    try:
        sizes = [int(x) for x in items]
    except (TypeError, ValueError):
        raise ValueError(f"option node_sizes={value!r}: not a comma-separated list of core counts") from None
    if not sizes or min(sizes) < 1 or len(set(sizes)) != len(sizes):
        raise ValueError(f"option node_sizes={value!r}: core counts must be distinct and at least 1")
    return sizes


def simulate(
    trace: str,
    limit: int | None = None,
    plot: str | None = None,
    json: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    **opts: Any,
) -> dict[str, Any]:
    """Replay ``trace`` under one policy and return the metrics (see :mod:`dcluster.sim.metrics`)."""
    path = trace_path(trace)
    s = settings_from(trace, opts)
    if plot:
        s.record = True
    records = swf.read(path)
    if limit is not None:
        limit = int(limit)
        records = itertools.islice(records, limit)
    jobs, skipped = jobs_from_swf(records, s.cores_per_node, s.kill_at_walltime)
    if not jobs:
        raise ValueError(f"trace {path}: no job to replay")
    result = replay(jobs, s, skipped, progress)
    out = metrics.summarise(result, machine_cores(path))
    out["trace"] = os.path.basename(path)
    if plot:
        from .plot import plot as draw

        draw(result, plot, out)
        out["plot"] = plot
    if json:
        with open(json, "w", encoding="utf-8") as fh:
            _json.dump(out, fh, indent=2, sort_keys=True)
            fh.write("\n")
        out["json"] = json
    return out
