"""Node-size choice (issue 17): KTH-SP2 and HPC2N replayed with resources of 1, 4 and 16 cores.

The planner's ``node_size_choice`` (waste, and priority: the expander's order) with each size allowed
the trace machine's cores, twice them and a third of them, against powersave on 4-core nodes and
dcluster on one-core nodes (the machine, twice it); boot 120 s, idle 300 s, the EASY scheduler, the
whole traces.  Cost is ``core_hours`` (each instance weighted by its cores: the same price per core) against
the jobs' work.  Replays run in 2 processes at most.  Rewrites the table between the markers of the
"Node-size choice (issue 17)" section of docs/performance.md (its prose is not regenerated) and prints
``node_size_over_work=<KTH>,<HPC2N>`` (waste, each size twice the machine) as its last line.
"""

from __future__ import annotations

import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dcluster.sim.simulation import simulate

DOC = os.path.join(ROOT, "docs", "performance.md")
BEGIN = "<!-- node-size table: bench/sim_node_sizes.py -->"
END = "<!-- end of node-size table -->"
COMMON = {"boot": 120, "idle": 300}
# trace -> (label, the machine's nodes at its own cores per node, its cores per node)
TRACES = {"kth": ("KTH-SP2", 100, 1), "hpc2n": ("HPC2N", 120, 2)}


def runs(trace):
    _, nodes, per = TRACES[trace]
    cores = nodes * per
    sizes = {"node_sizes": "1,4,16"}
    return [
        ("1/4/16 cores, waste", "the machine's cores", {**sizes}),
        ("1/4/16 cores, priority", "the machine's cores", {**sizes, "size_choice": "priority"}),
        ("1/4/16 cores, waste", "twice the machine's", {**sizes, "max_nodes": 2 * nodes}),
        ("1/4/16 cores, waste", "a third of the machine's", {**sizes, "max_nodes": -(-nodes // 3)}),
        (
            "powersave, 4-core nodes",
            "(the machine)",
            {"policy": "powersave", "cores_per_node": 4, "max_nodes": cores // 4},
        ),
        (
            "powersave, 4-core nodes",
            "(twice the machine)",
            {"policy": "powersave", "cores_per_node": 4, "max_nodes": 2 * cores // 4},
        ),
        ("dcluster, 1-core nodes", "(the machine)", {"cores_per_node": 1, "max_nodes": cores}),
        ("dcluster, 1-core nodes", "(twice the machine)", {"cores_per_node": 1, "max_nodes": 2 * cores}),
    ]


def run_one(args):
    trace, name, cap, opts = args
    t0 = time.perf_counter()
    out = simulate(trace, **COMMON, **opts)
    out["wall_s"] = time.perf_counter() - t0
    return trace, name, cap, out


def row(trace, name, cap, r):
    return (
        f"| {TRACES[trace][0]} | {name} | {cap} | {r['core_hours']:,.0f} | {r['core_over_work']:.3f} | "
        f"{r['mean_wait_s']:,.0f} | {r['p50_wait_s']:,.0f} | {r['p95_wait_s']:,.0f} | {r['max_wait_s']:,.0f} | "
        f"{r['wide_mean_wait_s']:,.0f} / {r['wide_max_wait_s']:,.0f} | {r['launches']:,} | {r['wall_s']:.0f} |"
    )


def write_table(lines):
    with open(DOC, encoding="utf-8") as fh:
        old = fh.read()
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    if not pattern.search(old):
        raise SystemExit(f"{DOC}: no node-size table between {BEGIN!r} and {END!r}")
    text = "\n".join([BEGIN, *lines, END])
    with open(DOC, "w", encoding="utf-8") as fh:
        fh.write(pattern.sub(lambda _m: text, old))


def main():
    jobs = [(t, name, cap, opts) for t in TRACES for name, cap, opts in runs(t)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_one, jobs))
    head = [
        "| trace | policy | each size may hold | core-hours | / work | mean wait s | p50 | p95 | max wait s "
        "| wide mean / max wait s | launches | replay s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    write_table(head + [row(*r) for r in results])
    twice = {
        t: r["core_over_work"] for t, name, cap, r in results if name.endswith("waste") and cap.startswith("twice")
    }
    print(f"node_size_over_work={twice['kth']:.3f},{twice['hpc2n']:.3f}")


if __name__ == "__main__":
    main()
