"""A scale-out burst in real time: 1,000 single-node jobs on an empty cluster, to 1,000 registered workers.

What runs for real: the engine's ``Controller`` (pillar validation, reconcile, plan, the actuator
and its pools, the state file, published files), the key pool making a real RSA-2048 pair for every
worker, each worker's user-data rendered with its key, the minion start events as the engine reads
them off the bus (``salt/minion/<id>/start``: the checks of ``started``, a burst's starts highstated as
one job through the engine's ``highstate_jobs`` bookkeeping) and the highstate
return path (``highstate_jobs.on_return`` -> job cache -> ``mark_configured``), then REGISTER on the
action pool.  The bench drives them as ``_engines/dcluster_mod.py`` does: one thread, a cycle every
``INTERVAL`` seconds, events handled in between.

What is simulated, with a fixed cost per call (the ``*_S`` constants below, the figures measured
on this machine or cloud APIs' typical answers): the cloud (a create call answers after
``CREATE_S``; the instance boots in ``BOOT_S``, then its minion's start event arrives), Salt (the
highstate publish costs ``PUBLISH_S``; the minion's state run lasts ``HIGHSTATE_S``, then its return
event comes and the job cache holds a success) and the scheduler (``scontrol`` for a node costs
``SCHED_S``).  The master's side of a start (its bus, the highstate publish's own cost) is
``bench/reactor_rate.py``'s subject (docs/performance.md).

Reported: launch requests planned in the first cycle, when the last create call was answered and
why (key making), when every worker was registered, each cycle's length, and how late events were
handled (an event waits while a cycle runs: the loop is behind when that grows).  Run:
``PYTHONPATH=. .venv/bin/python bench/scale_out.py [--workers 1000] [--interval 10]``.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import random
import resource
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from dcluster import highstate_proof, keypairs
from dcluster.clouds.base import LaunchResult
from dcluster.controller import Controller, Ports, highstate_jobs
from dcluster.glue.engine_loop import EngineLoop
from dcluster.model import Instance, InstanceState, Job, JobState, Node, NodeState

SECRET = "bench-secret-0123456789"
CREATE_S = 0.05  # one create call (EC2 RunInstances of one instance: 50-300 ms)
BOOT_S = (30.0, 60.0)  # create answered -> the minion's start event
PUBLISH_S = 0.005  # LocalClient.cmd_async of a highstate (one job, for one minion or a burst's list)
HIGHSTATE_S = (20.0, 40.0)  # the worker's own state run
SCHED_S = 0.03  # one scontrol call


class Cloud:
    """Create calls that take CREATE_S; instances listed at once; each boots in BOOT_S."""

    def __init__(self, on_booted):
        self.lock = threading.Lock()
        self.instances_: dict[str, Instance] = {}
        self.create_calls = 0
        self.answered_at: list[float] = []
        self.on_booted = on_booted

    def instances(self):
        with self.lock:
            return list(self.instances_.values())

    def launch(self, count, minion_ids, userdata_for):
        out = []
        for mid in minion_ids:
            userdata_for(mid)  # the real rendering, with this worker's own key
            time.sleep(CREATE_S)
            inst = Instance(
                id=f"i-{mid[-10:]}",
                resource="r1",
                minion_id=mid,
                state=InstanceState.RUNNING,
                launch_time=time.time(),
                cores=4,
                ip="127.200.0.250",
            )
            with self.lock:
                self.instances_[mid] = inst
                self.create_calls += 1
                self.answered_at.append(time.monotonic())
            self.on_booted(mid, random.uniform(*BOOT_S))
            out.append(inst)
        return LaunchResult(out, count)

    def destroy(self, ids):
        with self.lock:
            gone = {i.id: mid for mid, i in self.instances_.items() if i.id in ids}
            for mid in gone.values():
                del self.instances_[mid]
        return {i: "ok" if i in gone else "gone" for i in ids}

    def cores(self):
        return 4

    def mem_mb(self):
        return 0


class Scheduler:
    def __init__(self, jobs):
        self.lock = threading.Lock()
        self.nodes_: dict[str, Node] = {}
        self.jobs_ = jobs
        self.registered_at: dict[str, float] = {}

    def jobs(self):
        return list(self.jobs_)

    def nodes(self):
        with self.lock:
            return list(self.nodes_.values())

    def add_node(self, name, cores, mem_mb=0, reservation=None, properties=(), address=None):
        time.sleep(SCHED_S)
        with self.lock:
            self.nodes_[name] = Node(name, NodeState.IDLE, cores=cores)
            self.registered_at[name] = time.monotonic()

    def hold(self, name, reason="dcluster"):
        time.sleep(SCHED_S)

    def release(self, name, force=False):
        time.sleep(SCHED_S)

    def remove(self, name):
        time.sleep(SCHED_S)
        with self.lock:
            self.nodes_.pop(name, None)

    def vacate(self, name):
        time.sleep(SCHED_S)

    def check(self):
        return {"ok": True}


class Events:
    """The master's event bus as the engine sees it: (due time, tag, data), in order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.heap: list[tuple[float, int, str, dict]] = []
        self.seq = itertools.count()

    def put(self, due, tag, data):
        with self.lock:
            heapq.heappush(self.heap, (due, next(self.seq), tag, data))

    def due(self, now):
        with self.lock:
            if self.heap and self.heap[0][0] <= now:
                return heapq.heappop(self.heap)
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=10.0, help="cluster_poller_interval, s")
    ap.add_argument("--threads", type=int, default=8, help="worker_number")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    n = args.workers
    bus = Events()
    job_cache: dict[tuple[str, str], dict] = {}
    publishes: list[int] = []  # minions per highstate job
    started_at: dict[str, float] = {}
    jids = itertools.count(20261205000000000000)

    # a minion's start event, as the master fires it: the engine reads it off the bus
    cloud = Cloud(lambda mid, boot: bus.put(time.monotonic() + boot, f"salt/minion/{mid}/start", {"id": mid}))
    sched = Scheduler([Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(n)])

    # The workers' key: one pair for all (the engine verifies each proof with the key accepted for
    # its minion, here always this one); signing (~0.3 ms) is the minion's work, done here in the engine's thread.
    proof_pair = keypairs.generate()
    proof_key = highstate_proof.private_key(proof_pair.private_pem)

    def highstate(mids):
        time.sleep(PUBLISH_S)
        jid = str(next(jids))
        publishes.append(len(mids))
        for mid in mids:
            done = time.monotonic() + random.uniform(*HIGHSTATE_S)
            signature = highstate_proof.sign(proof_key, jid, mid)
            ret = {highstate_proof.STATE_KEY: {"result": True, "changes": {"proof": {"signature": signature}}}}
            # the job cache has the return when its event comes (the engine checks again if not)
            bus.put(
                done,
                f"salt/job/{jid}/ret/{mid}",
                {"id": mid, "fun": "state.apply", "jid": jid, "_cache": {"return": ret, "retcode": 0, "success": True}},
            )
        return jid

    pillar = {
        "secret": SECRET,
        "cluster": {"type": "slurm"},
        "worker_number": args.threads,
        "cluster_poller_interval": int(args.interval),
        "cloud_poller_interval": int(args.interval),
        "cloud": {"r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": n}}},
    }
    keys: set[str] = set()
    ports = Ports(
        pillar=lambda: pillar,
        scheduler=lambda cfg: sched,
        driver=lambda cfg, res: cloud,
        preaccept_key=lambda mid, pem: keys.add(mid),
        delete_key=keys.discard,
        accepted_keys=lambda: set(keys),
        key_states=lambda mid: {"accepted"} if mid in keys else set(),
        master_address="127.200.0.1",
    )
    ports.job_result = lambda jid, mid: job_cache.get((jid, mid))
    ports.accepted_key = lambda mid: proof_pair.public_pem if mid in keys else None
    with tempfile.TemporaryDirectory(prefix="dc-scale-out-") as tmp:
        c = Controller(ports, state_path=os.path.join(tmp, "state.json"))
        ports.highstate = highstate_jobs.tracked(c, highstate)
        loop = EngineLoop(c, None, lambda tag, data: None)
        t0 = time.monotonic()
        cycles: list[tuple[float, float]] = []
        lags: list[float] = []
        handled: dict[str, list[float]] = {"start": [], "return": []}
        first_actions: list[str] = []
        real_cycle = c.cycle

        def cycle():
            at = time.monotonic()
            out = real_cycle()
            cycles.append((at - t0, time.monotonic() - at))
            if len(cycles) == 1:
                first_actions.extend(out.get("actions", []))
            with sched.lock:
                done = len(sched.registered_at)
            print(
                f"t={at - t0:6.1f} s cycle {cycles[-1][1]:.2f} s: created {cloud.create_calls}, "
                f"started {len(started_at)}, configured {len(c.state.configured)}, registered {done}",
                flush=True,
            )
            return out

        c.cycle = cycle

        def get_event(wait):
            """The bus: the next due event, else wait (up to ``wait``) for one."""
            end = time.monotonic() + wait
            while True:
                ev = bus.due(time.monotonic())
                if ev is not None:
                    due, _, tag, data = ev
                    lags.append(time.monotonic() - due)
                    if "/ret/" in tag:
                        job_cache[(data["jid"], data["id"])] = data.pop("_cache")
                    else:
                        started_at[data["id"]] = due
                    return {"tag": tag, "data": data}
                if time.monotonic() >= end:
                    return None
                time.sleep(min(0.01, max(0.0, end - time.monotonic())))

        def handle(event, starts=None, real=loop.handle):
            h0 = time.monotonic()
            real(event, starts)
            if "/ret/" in event["tag"]:  # a start is only taken here: minion_starts handles it
                handled["return"].append(time.monotonic() - h0)

        def minion_starts(mids, real=loop.minion_starts):
            h0 = time.monotonic()
            out = real(mids)
            handled["start"].append((time.monotonic() - h0) / len(mids))  # per start of the batch
            return out

        loop.handle = handle
        loop.minion_starts = minion_starts
        try:
            while time.monotonic() < t0 + 600:
                loop.step(get_event)
                with sched.lock:
                    if len(sched.registered_at) >= n:
                        break
        finally:
            c.shutdown()
    reg = sched.registered_at
    launches = sum(int(a.split()[1]) if a.split()[1].isdigit() else 1 for a in first_actions if a.startswith("launch"))
    print(f"first cycle: {len(first_actions)} actions, {launches} instances asked for: {first_actions[:3]}")
    if cloud.answered_at:
        print(
            f"create calls: {cloud.create_calls}, the last answered {max(cloud.answered_at) - t0:.1f} s after the start"
        )
    if reg:
        per = sorted(reg[m] - started_at[m] for m in reg if m in started_at)
        print(
            f"registered {len(reg)}/{n}; the last {max(reg.values()) - t0:.1f} s after the start; minion start "
            f"-> registered p50 {per[len(per) // 2]:.1f} s, max {per[-1]:.1f} s (the highstate alone: "
            f"{HIGHSTATE_S[0]:.0f}-{HIGHSTATE_S[1]:.0f} s)"
        )
        first, last = min(started_at.values()), max(started_at.values())
        print(f"minion starts: {len(started_at)} within {last - first:.1f} s")
    if publishes:
        print(f"highstate jobs: {len(publishes)} for {sum(publishes)} minions (the most in one: {max(publishes)})")
    print(
        f"cycles: {len(cycles)}, longest {max(d for _, d in cycles):.2f} s; event lag p50 "
        f"{sorted(lags)[len(lags) // 2]:.3f} s, max {max(lags):.2f} s; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    for kind, took in handled.items():
        if took:
            took.sort()
            print(
                f"handling a {kind} event: p50 {took[len(took) // 2] * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms, "
                f"{sum(took):.1f} s in all"
            )


if __name__ == "__main__":
    main()
