"""``python -m dcluster.demo [--scheduler slurm|sge]`` runs the demo; ``--clean`` stops what a run left.

The demo submits a burst of jobs, then shows ``salt-run dcluster.status``
every few seconds while workers boot (namespaces running salt-minion with the
key pair the engine accepted before their launch), are highstated by the
worker formula, registered,
run the jobs, idle out and are destroyed; it ends with a summary and leaves
nothing running.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from .. import netns
from . import metrics
from .stack import DEFAULT_DIR, Options, Stack, clean


def _print(msg: str = "") -> None:
    print(msg, flush=True)


def preflight(scheduler: str) -> str | None:
    if os.geteuid() != 0:
        return "the demo needs root (namespaces, a bridge, daemons)"
    why = netns.available()
    if why:
        return f"the local cloud {why}"
    from . import sge, slurm

    ok = slurm.installed() if scheduler == "slurm" else sge.installed()
    if not ok:
        return f"{scheduler} is not installed: run `make system-deps` (scripts/install-system-deps.sh)"
    if scheduler == "sge" and sge.running_qmaster():
        return f"another sge_qmaster (pid {sge.running_qmaster()}) uses the Grid Engine cell; stop it first"
    return None


def leftovers(stack: Stack) -> list[str]:
    """What of the stack still exists (should be nothing after stop)."""
    out = []
    ns = [n for n in netns.list_hosts("dcl-")]
    mine = {r.get("namespace") for r in stack.instances()}
    out += [f"namespace {n}" for n in ns if n in mine]
    if subprocess.run(["ip", "link", "show", stack.o.bridge], capture_output=True).returncode == 0:
        out.append(f"bridge {stack.o.bridge}")
    for pat in (stack.conf_dir, stack.sched_dir, stack.cloud_dir):
        proc = subprocess.run(["pgrep", "-f", pat], capture_output=True, text=True)
        out += [f"process {p} ({pat})" for p in proc.stdout.split()]
    return out


def run(o: Options, jobs: int, seconds: float, every: float, timeout: float) -> int:
    why = preflight(o.scheduler)
    if why:
        _print(f"demo: cannot run: {why}")
        return 2
    stack = Stack(o)
    t0 = time.time()
    code = 1
    try:
        _print(
            f"demo: starting salt-master (engine + reactors), {o.scheduler} controller and the local cloud "
            f"in {o.state_dir} ..."
        )
        stack.start()
        _print(
            f"demo: up in {time.time() - t0:.1f} s; master on {o.gateway}:{o.ret_port}, workers "
            f"{o.network} (resource {o.resource}: min {o.min}, max {o.max}, {o.cores} cores, "
            f"max_idle_time {o.max_idle_time} s)"
        )
        ids = stack.submit(jobs, seconds)
        _print(f"demo: submitted {len(ids)} jobs of {seconds:g} s: {', '.join(ids)}")
        deadline = time.time() + timeout
        last_show = 0.0
        while time.time() < deadline:
            queued = stack.queued()
            alive = stack.instances()
            if time.time() - last_show >= every:
                last_show = time.time()
                _print(
                    f"\n--- t+{time.time() - t0:5.1f} s: {len(queued)} job(s) queued, {len(alive)} instance(s), "
                    f"{len(stack.finished())} job(s) done --- salt-run dcluster.status"
                )
                _print(stack.status_text())
            if not queued and not alive and len(stack.finished()) >= len(ids) and not stack.our_scheduler_nodes():
                break
            time.sleep(1)
        else:
            _print(f"demo: not finished within {timeout:.0f} s")
        t_end = time.time()
        m = metrics.compute(stack.events.events if stack.events else [], stack.submitted, stack.finished(), t_end)
        with open(os.path.join(o.state_dir, "metrics.json"), "w") as fh:
            json.dump(m, fh, indent=1)
        with open(os.path.join(o.state_dir, "events.json"), "w") as fh:
            json.dump(
                {
                    "submitted": stack.submitted,
                    "finished": stack.finished(),
                    "events": stack.events.events if stack.events else [],
                },
                fh,
                indent=1,
                default=str,
            )
        _print("\n=== summary ===")
        for line in metrics.summary_lines(m, o.max_idle_time):
            _print(line)
        _print(
            f"workers: {', '.join(sorted(m['per_worker'])) or 'none'}; events recorded: "
            f"{len(stack.events.events) if stack.events else 0} {stack.events.error if stack.events else ''}"
        )
        _print(
            f"scheduler nodes left: {stack.our_scheduler_nodes() or 'none'}; accepted keys left: "
            f"{stack.accepted_keys() or 'none'}"
        )
        ok = m["jobs_run"] == len(ids) and not stack.instances() and not stack.our_scheduler_nodes()
        code = 0 if ok else 1
    except KeyboardInterrupt:
        _print("demo: interrupted")
        code = 130
    finally:
        _print("demo: stopping everything ...")
        stack.stop()
        left = leftovers(stack)
        _print(
            f"demo: left running: {', '.join(left) if left else 'nothing'} "
            f"(ip netns list: {netns.list_hosts('dcl-') or 'no dcl- namespaces'})"
        )
        if left:
            code = code or 1
    _print(
        f"demo: {'done' if code == 0 else 'FAILED'} in {time.time() - t0:.0f} s; metrics in {o.state_dir}/metrics.json"
    )
    return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dcluster.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--scheduler", choices=("slurm", "sge"), default=os.environ.get("SCHEDULER") or "slurm")
    p.add_argument("--state-dir", default=DEFAULT_DIR)
    p.add_argument("--jobs", type=int, default=8, help="jobs in the burst (default 8)")
    p.add_argument("--seconds", type=float, default=12, help="run time of each job (default 12)")
    p.add_argument("--every", type=float, default=5, help="seconds between status screens")
    p.add_argument("--timeout", type=float, default=420, help="give up after this many seconds")
    p.add_argument("--clean", action="store_true", help="stop everything a demo run left and exit")
    a = p.parse_args(argv)
    if a.clean:
        done = clean(a.state_dir)
        print(f"demo-clean: {'nothing to do' if not done else 'done'}")
        return 0
    return run(Options(scheduler=a.scheduler, state_dir=a.state_dir), a.jobs, a.seconds, a.every, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
