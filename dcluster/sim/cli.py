"""``dcluster-sim``: replay a job trace through a scaling policy and print what it cost.

    dcluster-sim TRACE [--policy dcluster|static|dc1|powersave] [--cores-per-node N]
                 [--max-nodes N] [--boot SECONDS] [--idle SECONDS] [--json OUT.json] [--plot OUT.png]

TRACE is an SWF file (plain or .gz) or a bundled trace name (kth, hpc2n).
A progress bar is drawn on stderr when stdout is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .policies import POLICIES
from .runner import BUNDLED, simulate
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
    p.add_argument("--poll", type=int, help="seconds between scaling decisions, the engine's cluster_poller_interval (default 10)")
    p.add_argument("--delay", type=int, help="dcluster's scale_up_delay: seconds a job waits before it may cause a "
                   "launch (default 0)")
    p.add_argument("--greedy", action="store_true", help="dcluster with respect_reservations false: launch for "
                   "every job that fits, even one that would delay the job the scheduler reserves for")
    p.add_argument("--kill-at-walltime", action="store_true", help="cut jobs at their requested time")
    p.add_argument("--limit", type=int, help="replay only the first N jobs")
    p.add_argument("--json", metavar="OUT.json", help="write the metrics here")
    p.add_argument("--plot", metavar="OUT.png", help="draw nodes and demand over time here")
    return p


class Bar:
    """A hand-drawn progress bar on stderr; redrawn at most 10 times a second."""

    def __init__(self, stream=None, width: int = 40):
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
    opts = {"policy": args.policy}
    for name in ("cores_per_node", "max_nodes", "min_nodes", "boot", "idle", "poll", "delay"):
        value = getattr(args, name)
        if value is not None:
            opts[name] = value
    if args.kill_at_walltime:
        opts["kill_at_walltime"] = True
    if args.greedy:
        opts["reservations"] = False
    progress = Bar() if sys.stdout.isatty() else None
    try:
        out = simulate(args.trace, limit=args.limit, plot=args.plot, json=args.json, progress=progress, **opts)
    except (OSError, ValueError, SwfError) as exc:
        print(f"dcluster-sim: {exc}", file=sys.stderr)
        return 2
    shown = {k: v for k, v in out.items() if k not in ("action_errors",)}
    print(json.dumps(shown, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
