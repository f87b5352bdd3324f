"""Chaos runs (issue 13): N seeded runs per fault family, counted by the oracle; the table goes to docs/reliability.md.

    .venv/bin/python bench/chaos.py --runs 1000 --family both --seed 0 [--jobs 2] [--code DIR]

Each run is the real Controller, executor, operator commands, state file,
Slurm adapter and parsers over a simulated Slurm and cloud
(tests/support/chaos).  ``--code DIR`` measures another tree's ``dcluster``
package (e.g. ``git archive <commit> dcluster | tar -x -C DIR``) with this
tree's harness.  Runs are spread over ``--jobs`` processes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOC = os.path.join(ROOT, "docs", "reliability.md")
MARK_BEGIN = "<!-- chaos:begin -->"
MARK_END = "<!-- chaos:end -->"


def _setup(code: str | None) -> None:
    import logging

    if code:
        sys.path.insert(0, os.path.abspath(code))
    if ROOT not in sys.path:
        sys.path.insert(1 if code else 0, ROOT)
    logging.disable(logging.CRITICAL)  # thousands of simulated failures, each logged as a warning


def _one(args: tuple[int, str, float, str | None]):
    seed, family, fault_time, code = args
    _setup(code)
    from tests.support.chaos.harness import one_run

    return one_run(seed, family, fault_time=fault_time).to_dict()


def run_family(family: str, runs: int, seed: int, jobs: int, fault_time: float, code: str | None):
    _setup(code)
    from tests.support.chaos import Counters

    total = Counters()
    worst: dict[str, list[int]] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        seeds = range(seed, seed + runs)
        results = pool.map(_one, [(s, family, fault_time, code) for s in seeds], chunksize=4)
        for s, result in zip(seeds, results, strict=True):
            c = Counters(**result)
            total.add(c)
            for name in c.broken():
                worst.setdefault(name, []).append(s)
    return total, worst


def table(results: dict[str, tuple], runs: int) -> str:
    from tests.support.chaos import ROWS

    fams = list(results)
    head = (
        "| after faults stop and the cluster settles | "
        + " | ".join({"detectable": "detectable faults", "wrong": "+ plausible-but-wrong"}[f] for f in fams)
        + " |"
    )
    lines = [head, "|---|" + "---|" * len(fams)]
    for name, words in ROWS:
        lines.append(f"| {words} | " + " | ".join(f"{getattr(results[f][0], name):,}" for f in fams) + " |")
    lines.append(
        "| (runs / cycles / master restarts / launches / jobs) | "
        + " | ".join(
            f"{runs:,} / {results[f][0].cycles:,} / {results[f][0].restarts:,} / {results[f][0].launches:,} / "
            f"{results[f][0].jobs:,}"
            for f in fams
        )
        + " |"
    )
    return "\n".join(lines)


def first_seeds(results: dict[str, tuple]) -> str:
    out = []
    for fam, (_total, worst) in results.items():
        for name, seeds in sorted(worst.items()):
            out.append(f"- {fam}: {name} in {len(seeds)} runs, first seeds {', '.join(map(str, seeds[:5]))}")
    return "\n".join(out) or "- none"


def commit(code: str | None) -> str:
    marker = os.path.join(code, "COMMIT") if code else None
    if marker and os.path.exists(marker):
        return open(marker).read().strip() + " (exported)"
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "dcluster"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return out.stdout.strip() + (" + uncommitted changes under dcluster/" if dirty else "")
    except OSError:
        return "unknown"


def write_doc(block: str) -> None:
    text = open(DOC).read() if os.path.exists(DOC) else f"# Reliability\n\n{MARK_BEGIN}\n{MARK_END}\n"
    if MARK_BEGIN not in text:
        text += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    before, rest = text.split(MARK_BEGIN, 1)
    _old, after = rest.split(MARK_END, 1)
    with open(DOC, "w") as fh:
        fh.write(f"{before}{MARK_BEGIN}\n{block}\n{MARK_END}{after}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="runs per family (default 1000)")
    ap.add_argument("--family", choices=("detectable", "wrong", "both"), default="both")
    ap.add_argument("--seed", type=int, default=0, help="first seed; run i uses seed+i")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    ap.add_argument("--fault-time", type=float, default=None, help="simulated seconds of faults per run")
    ap.add_argument("--code", default=None, help="directory holding the dcluster package to measure")
    ap.add_argument("--no-doc", action="store_true", help="print only; leave docs/reliability.md alone")
    args = ap.parse_args(argv)
    _setup(args.code)
    from tests.support.chaos.harness import FAULT_TIME

    fault_time = args.fault_time or FAULT_TIME
    fams = ("detectable", "wrong") if args.family == "both" else (args.family,)
    t0 = time.perf_counter()
    results = {}
    for fam in fams:
        t = time.perf_counter()
        results[fam] = run_family(fam, args.runs, args.seed, args.jobs, fault_time, args.code)
        print(f"{fam}: {args.runs} runs in {time.perf_counter() - t:.0f} s", flush=True)
    took = time.perf_counter() - t0
    cmd = "python bench/chaos.py " + " ".join(argv if argv is not None else sys.argv[1:])
    block = "\n".join(
        [
            f"Command: `{cmd}`  ",
            f"Date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; code measured: "
            f"{commit(args.code)}; {args.jobs} processes, {took:.0f} s wall-clock "
            f"({took / (args.runs * len(fams)):.2f} s a run); {fault_time:.0f} simulated seconds of faults a run.",
            "",
            table(results, args.runs),
            "",
            "Runs that broke each promise (seeds replay with `Run(seed, family).run()`):",
            "",
            first_seeds(results),
        ]
    )
    print(block)
    if not args.no_doc:
        write_doc(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
