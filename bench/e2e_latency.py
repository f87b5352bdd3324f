"""End-to-end latencies on a real stack (docs/performance.md, "End-to-end latency").

Brings up the demo stack (salt-master + dcluster engine + reactors, the
scheduler's controller on this host, the local cloud), then runs
``--bursts`` rounds of: submit ``--jobs`` one-core jobs of ``--seconds``,
wait until they ran and the workers were destroyed again.  From the master's
events and the jobs' own records (dcluster.demo.metrics):

* job submit -> launch request (p50, p95): target < 2 s
* minion start -> node usable in the scheduler (p50, max): target < 15 s
* last job end -> instance destroyed (p50, max): target < max_idle_time + 30 s

Needs root (namespaces, daemons); prints "skipped: ..." otherwise.
Usage: .venv/bin/python bench/e2e_latency.py [--scheduler slurm|sge] [--bursts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dcluster.demo import metrics
from dcluster.demo.__main__ import preflight
from dcluster.demo.stack import Options, Stack


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.5)
    raise TimeoutError(what)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scheduler", choices=("slurm", "sge"), default="slurm")
    p.add_argument("--bursts", type=int, default=3)
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--idle", type=int, default=15)
    p.add_argument("--out", default="")
    a = p.parse_args()
    why = preflight(a.scheduler)
    if why:
        print(f"e2e_latency: skipped: {why}")
        return 0
    stack = Stack(Options(scheduler=a.scheduler, state_dir=f"/var/tmp/dcbench-{a.scheduler}", max_idle_time=a.idle))
    t0 = time.time()
    try:
        stack.start()
        for i in range(a.bursts):
            ids = stack.submit(a.jobs, a.seconds)
            wait(lambda ids=ids: set(ids) <= set(stack.finished()), 180, f"burst {i} to run")
            wait(lambda: not stack.instances(), a.idle + 120, f"burst {i} to scale down")
            time.sleep(3)  # the last destroy's event
        m = metrics.compute(stack.events.events, stack.submitted, stack.finished(), time.time())
    finally:
        stack.stop()
    out = a.out or os.path.join(stack.dir, "e2e_latency.json")
    with open(out, "w") as fh:
        json.dump({k: v for k, v in m.items() if k != "per_worker"}, fh, indent=1)
    for line in metrics.summary_lines(m, a.idle):
        print(line)
    s2l, s2u, e2d = m["submit_to_launch_s"], m["minion_start_to_usable_s"], m["last_job_end_to_destroyed_s"]
    print(
        f"e2e_latency {a.scheduler}: submit->launch p50 {s2l['p50']:.2f} s p95 {s2l['p95']:.2f} s; "
        f"minion start->usable p50 {s2u['p50']:.1f} s max {s2u['max']:.1f} s; last job end->destroyed "
        f"p50 {e2d['p50']:.1f} s max {e2d['max']:.1f} s (max_idle_time {a.idle}); {m['jobs_run']} jobs, "
        f"{m['workers']} workers, {time.time() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
