"""``dcluster-sim``: replay a job trace through a scaling policy and print what it cost.

    dcluster-sim TRACE [--policy dcluster|static|dc1|powersave] [--scheduler easy|slurm] [--cores-per-node N]
                 [--max-nodes N] [--boot SECONDS] [--boot-p95 SECONDS] [--idle SECONDS] [--json OUT.json]
                 [--plot OUT.png]
    dcluster-sim TRACE --sweep [--idles 0,60,300,600,1800] [--out DIR] [other options as above]
    (also: python -m dcluster.sim ...)

TRACE is an SWF file (plain or .gz) or a bundled trace name (kth, hpc2n).
A progress bar is drawn on stderr when stdout is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .policies import POLICIES
from .replay import SCHEDULERS
from .simulation import BUNDLED, simulate
from .slurm import SlurmParams
from .swf import SwfError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dcluster-sim", description=__doc__.split("\n\n")[0])
    p.add_argument("trace", help=f"SWF trace (plain or .gz), or a bundled one: {', '.join(BUNDLED)}")
    p.add_argument("--policy", choices=POLICIES, default="dcluster")
    p.add_argument("--cores-per-node", type=int, help="cores of each node (kth: 1, hpc2n: 2)")
    p.add_argument("--max-nodes", type=int, help="most nodes (kth: 100, hpc2n: 120)")
    p.add_argument("--min-nodes", type=int, help="nodes kept even when idle (default 0)")
    p.add_argument("--boot", type=float, help="seconds from launch until a node takes jobs (default 300)")
    p.add_argument("--idle", type=int, help="max_idle_time / SuspendTime in seconds (default 600)")
    p.add_argument(
        "--poll", type=int, help="seconds between scaling decisions, the engine's cluster_poller_interval (default 10)"
    )
    p.add_argument(
        "--delay",
        type=int,
        help="dcluster's scale_up_delay: seconds a job waits before it may cause a launch (default 0)",
    )
    p.add_argument(
        "--greedy",
        action="store_true",
        help="dcluster with respect_reservations false: launch for "
        "every job that fits, even one that would delay the job the scheduler reserves for",
    )
    p.add_argument(
        "--no-wide-protection",
        action="store_true",
        help="dcluster with protect_wide_jobs false: register each booted node at once, even one the "
        "blocked head job waits for",
    )
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        help="the simulated scheduler: easy (FCFS + EASY backfill, "
        "the default) or slurm (multifactor priority, main pass on events, backfill pass every bf-interval)",
    )
    d = SlurmParams()
    p.add_argument("--bf-interval", type=int, help=f"slurm: seconds between backfill passes (default {d.bf_interval})")
    p.add_argument(
        "--bf-window",
        type=int,
        help=f"slurm: seconds ahead the backfill pass reserves (default "
        f"{d.bf_window}; Slurm's bf_window is in minutes)",
    )
    p.add_argument(
        "--bf-max-job-test", type=int, help=f"slurm: jobs tested per backfill pass (default {d.bf_max_job_test})"
    )
    p.add_argument("--prio-age", type=float, help=f"slurm: PriorityWeightAge (default {d.prio_age:g})")
    p.add_argument("--prio-size", type=float, help=f"slurm: PriorityWeightJobSize (default {d.prio_size:g})")
    p.add_argument(
        "--reserve-future",
        action="store_true",
        default=None,
        help="slurm: reservations count booting "
        "instances at their ready time and nodes still to launch one boot from now, as Slurm counts "
        "power-saved nodes (default: for powersave only)",
    )
    p.add_argument(
        "--boot-p95",
        type=float,
        help="draw boot times from a lognormal with median --boot and this "
        "95th percentile (default: every boot takes --boot)",
    )
    p.add_argument("--launch-failure-rate", type=float, help="probability a launch request fails (transient)")
    p.add_argument("--capacity-refusal-rate", type=float, help="probability a launch request is refused (capacity)")
    p.add_argument("--seed", type=int, help="seed of the boot-time and failure draws (default 0)")
    p.add_argument(
        "--node-sizes",
        metavar="1,4,16",
        help="resources of these core counts at one priority, each able to hold max-nodes x cores-per-node "
        "cores alone (the planner chooses the size; cost: core_hours)",
    )
    p.add_argument(
        "--size-choice",
        choices=("waste", "priority"),
        help="dcluster's node_size_choice (default waste)",
    )
    p.add_argument(
        "--idle-policy",
        choices=("adaptive", "fixed"),
        help="dcluster's idle_policy (default adaptive: keep the idle nodes recent demand would take soon)",
    )
    p.add_argument("--keep-boots", type=float, help="dcluster's idle_keep_boots (default 2)")
    p.add_argument(
        "--wide-idle",
        choices=("release", "keep"),
        help="dcluster's wide_job_idle (default keep; release: a blocked wide job whose start is far keeps no "
        "idle node)",
    )
    p.add_argument("--kill-at-walltime", action="store_true", help="cut jobs at their requested time")
    p.add_argument("--limit", type=int, help="replay only the first N jobs")
    p.add_argument("--json", metavar="OUT.json", help="write the metrics here")
    p.add_argument("--plot", metavar="OUT.png", help="draw nodes and demand over time here")
    p.add_argument(
        "--sweep",
        action="store_true",
        help="replay dcluster, powersave and static over --idles and "
        "write each policy's node-hours / mean-wait frontier (sweep.png, sweep.md) to --out",
    )
    p.add_argument("--idles", default="0,60,300,600,1800", help="--sweep: idle timeouts, comma separated")
    p.add_argument("--out", default=".", help="--sweep: directory for sweep.png and sweep.md (default .)")
    return p


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Replay options from the parsed arguments (only those given, so each trace keeps its defaults)."""
    opts = {"policy": args.policy}
    for name in (
        "cores_per_node",
        "max_nodes",
        "min_nodes",
        "boot",
        "boot_p95",
        "idle",
        "poll",
        "delay",
        "scheduler",
        "seed",
        "node_sizes",
        "size_choice",
        "idle_policy",
        "keep_boots",
        "wide_idle",
    ):
        value = getattr(args, name)
        if value is not None:
            opts[name] = value
    if args.kill_at_walltime:
        opts["kill_at_walltime"] = True
    if args.greedy:
        opts["reservations"] = False
    if args.no_wide_protection:
        opts["wide_protection"] = False
    if args.reserve_future:
        opts["reserve_future"] = True
    slurm = {
        k: getattr(args, k)
        for k in ("bf_interval", "bf_window", "bf_max_job_test", "prio_age", "prio_size")
        if getattr(args, k) is not None
    }
    if slurm:
        opts["slurm"] = slurm
    faults = {
        k: v
        for k, v in (
            ("rate", args.launch_failure_rate),
            ("capacity_rate", args.capacity_refusal_rate),
            ("seed", args.seed),
        )
        if v is not None
    }
    if faults.keys() - {"seed"}:
        opts["faults"] = faults
    return opts


class Bar:
    """A hand-drawn progress bar on stderr; redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO | None = None, width: int = 40):
        self.stream = stream or sys.stderr
        self.width = width
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac * 100:5.1f}% {done}/{total} jobs {now - self.t0:5.1f} s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    opts = _options(args)
    progress = Bar() if sys.stdout.isatty() else None
    if args.sweep:
        return _sweep(args, opts, progress)
    try:
        out = simulate(args.trace, limit=args.limit, plot=args.plot, json=args.json, progress=progress, **opts)
    except (OSError, ValueError, SwfError) as exc:
        print(f"dcluster-sim: {exc}", file=sys.stderr)
        return 2
    shown = {k: v for k, v in out.items() if k not in ("action_errors",)}
    print(json.dumps(shown, indent=2, sort_keys=True))
    return 0


def _sweep(args: argparse.Namespace, opts: dict[str, Any], progress: Callable[[int, int], None] | None) -> int:
    from .sweep import sweep

    opts.pop("policy")
    try:
        idles = [int(x) for x in args.idles.split(",") if x.strip()]
    except ValueError:
        print(f"dcluster-sim: --idles {args.idles!r} is not a comma-separated list of seconds", file=sys.stderr)
        return 2
    try:
        out = sweep(args.trace, idles=idles, out_dir=args.out, limit=args.limit, progress=progress, **opts)
    except (OSError, ValueError, RuntimeError, SwfError) as exc:
        print(f"dcluster-sim: {exc}", file=sys.stderr)
        return 2
    print(out["markdown"])
    print(f"wrote {out['table']} and {out['plot']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
