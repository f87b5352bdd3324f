"""A whole engine cycle at scale, then what the read-only runners and a dashboard refresh cost.

The cycle is ``Controller.cycle()`` through the real code, with the engine's own ports
(``dcluster.glue.engine_ports.local_scheduler``, ``clouds.registry.driver_for``):
- the Torque adapter runs fake commands (``/bin/cat`` of files built here):
  ``qstat -x`` is the 50,000-job document of ``bench/parse_scale.py`` (the 7 jobs of the
  Torque 6.1.2 recording, renumbered; 4 of 7 queued), ``pbsnodes -x`` 5,000 nodes built from
  the same recording's ``free`` and ``job-exclusive`` records under our signed minion ids;
- the ``local`` cloud driver lists 5,000 instances (250 in each of 20 resources), one
  JSON record each as the driver writes them.  They have no network namespace behind
  them, so ``netns.exists`` answers True here (else the driver reports them gone).
Every resource is at min = max = its size, so the plan launches and removes nothing: the
figure is the loop's own work, not the cloud's.

Stages (wall seconds): ``scheduler`` (both commands and their parse), ``cloud`` (20
listings), ``observe`` (both: the scheduler is polled while the cloud is listed),
``reconcile``, ``plan``, ``publish``, ``save`` (the state file), ``cycle`` (all of it,
with the rest: events of the first cycle, key sweep, ...), ``gc_after`` (a full collection
right after the cycle: the cycle pauses the collector).  Then each read: ``status``,
``workers``, ``jobs`` (first page) called as ``salt-run`` calls them (the runner module,
with ``__opts__``), and ``dashboard`` (one refresh of the dashboard: the runner calls
app.js makes, server_status, workers, jobs, status, resources, graphs, config).  ROUNDS
rounds in one process, each printed as ``stage=wall/cpu`` seconds (CPU: this process's, all
threads, while the stage ran: ``scheduler`` and ``cloud`` overlap and each includes the
other's share; on a shared machine the less disturbed figure, but the ``cat`` of the fake
commands is not in it); the last two lines are the best of each and the peak RSS.  Run:
``PYTHONPATH=. .venv/bin/python bench/engine_cycle.py``.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from parse_scale import DATA, torque_doc

from dcluster import identity, netns
from dcluster.clouds import local as local_cloud
from dcluster.clouds.base import tags_for
from dcluster.controller import Controller, Ports
from dcluster.controller import loop as loop_mod
from dcluster.glue.engine_ports import DriverCache, local_scheduler
from dcluster.keypairs import KeyPair, KeyPool

N_JOBS, N_NODES, N_RES = 50_000, 5_000, 20
ROUNDS = 3
SECRET = "bench-secret-0123456789"
CLUSTER = "dc"
CORES = (4, 8, 16, 32)


def pbsnodes_doc(names: list[str], cores: dict[str, int]) -> str:
    import re

    with open(os.path.join(DATA, "torque", "pcluster-torque612-pbsnodes-x.xml")) as fh:
        text = re.sub(r">\s+<", "><", fh.read())
    recs = re.findall(r"<Node>.*?</Node>", text, re.S)
    free = next(r for r in recs if "<state>free</state>" in r)
    busy = next(r for r in recs if "<state>job-exclusive</state>" in r)
    parts = []
    for i, name in enumerate(names):
        rec = busy if i % 5 < 3 else free
        rec = re.sub(r"<name>[^<]+", f"<name>{name}", rec, count=1)
        parts.append(re.sub(r"<np>\d+", f"<np>{cores[name]}", rec, count=1))
    return "<Data>" + "".join(parts) + "</Data>"


def diagnose_doc(qstat: str) -> str:
    """MAUI's ``diagnose -p`` of every queued job (the poll runs it: it is MAUI's health check too), laid out
    by MAUI 3.3's own format strings as tests/unit/schedulers/maui_layouts.py renders them."""
    from dcluster.model import JobState
    from dcluster.schedulers.torque import parse_qstat
    from tests.unit.schedulers.maui_layouts import diagnose_p

    queued = [j.id for j in parse_qstat(qstat) if j.state == JobState.PENDING]
    return diagnose_p(
        [(jid, 1000 + i % 997, False) for i, jid in enumerate(queued)],
        header="   Cred( User:Class)  Serv(QTime)",
        weights="      1(    1:    1)     1(    1)",
        columns=["    0.0(  0.0:  0.0) 100.0(1000.)"] * len(queued),
        footer="    0.0(  0.0:  0.0) 100.0(100.0)",
    )


def build(tmp: str) -> dict:
    now = time.time()
    cloud, names, cores = {}, [], {}
    for r in range(N_RES):
        res = f"res{r}"
        sdir = os.path.join(tmp, "cloud", res)
        os.makedirs(sdir)
        n = N_NODES // N_RES
        cloud[res] = {
            "type": "local",
            "cores": CORES[r % 4],
            "mem_mb": 64000,
            "priority": r % 4,
            "quantity": {"min": n, "max": n},
            "config": {"state_dir": sdir, "network": f"127.201.{r}.0/24", "gateway": f"127.201.{r}.1"},
        }
        for w in range(n):
            mid = identity.make(CLUSTER, res, SECRET, nonce=f"{r:02x}{w:04x}")
            names.append(mid)
            cores[mid] = CORES[r % 4]
            iid = f"local-{r:02x}{w:08x}"
            rec = {
                "id": iid,
                "namespace": "dcl-" + iid[6:],
                "address": f"127.201.{r}.{2 + w % 250}",
                "name": mid,
                "created": now - 3600,
                "boot_at": now - 3600,
                "bridge": "dcbench0",
                "tags": tags_for(CLUSTER, res, mid, now - 3600),
                "pid": None,
                "pgid": None,
                "dir": "",
            }
            with open(os.path.join(sdir, f"{iid}.json"), "w") as fh:
                json.dump(rec, fh, indent=1, sort_keys=True)
    qstat = torque_doc(N_JOBS)
    files = {"qstat.xml": qstat, "pbsnodes.xml": pbsnodes_doc(names, cores), "diagnose.txt": diagnose_doc(qstat)}
    for name, text in files.items():
        with open(os.path.join(tmp, name), "w") as fh:
            fh.write(text)
    # pbsnodes {0} {1}: only ``-x`` (query) is ever run here (nothing is held or removed)
    fake = os.path.join(tmp, "pbsnodes")
    with open(fake, "w") as fh:
        fh.write(f"#!/bin/sh\nexec /bin/cat {os.path.join(tmp, 'pbsnodes.xml')}\n")
    os.chmod(fake, 0o755)
    pillar = {
        "secret": SECRET,
        "cluster_name": CLUSTER,
        "cloud": cloud,
        "cluster": {
            "type": "torque",
            "config": {
                "qstat_command": f"/bin/cat {os.path.join(tmp, 'qstat.xml')}",
                "pbsnodes_command": f"{fake} {{0}} {{1}}",
                "diagnose_p_command": f"/bin/cat {os.path.join(tmp, 'diagnose.txt')}",
            },
        },
    }
    return pillar


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_stages(c: Controller, times: dict[str, float], cpu: dict[str, float]) -> None:
    """Wrap the controller's stages so each round records their wall and CPU time."""

    def wrap(name, fn):
        def inner(*a, **kw):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - t0
                cpu[name] = cpu.get(name, 0.0) + time.process_time() - c0

        return inner

    # The scheduler is polled on threads of its own while the cloud is listed: the CPU of each of the
    # two stages is the process's while it ran, the other's share included; ``observe`` is both.
    if hasattr(c, "_observe"):  # (the code before it ran them one after the other)
        c._observe = wrap("observe", c._observe)
    c.poll_scheduler = wrap("scheduler", c.poll_scheduler)
    c.poll_cloud = wrap("cloud", c.poll_cloud)
    c.publish = wrap("publish", c.publish)
    c.save = wrap("save", c.save)
    loop_mod.reconcile = wrap("reconcile", loop_mod.reconcile)
    loop_mod.plan = wrap("plan", loop_mod.plan)


def load_runner(cachedir: str):
    spec = importlib.util.spec_from_file_location(
        "dcluster_runner_bench", os.path.join(ROOT, "_runners", "dcluster_mod.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.__opts__ = {"cachedir": cachedir, "sock_dir": cachedir}
    return mod


def dashboard_refresh(run) -> None:
    """The runner calls of one refresh of every dashboard tab (dcluster/data/dashboard/app.js)."""
    run.server_status()
    run.workers()
    run.jobs()
    run.status()
    run.resources()
    run.graphs(minutes=120)
    run.config()


def main() -> None:
    netns.exists = lambda name: True  # the records have no namespace behind them (see the module doc)
    local_cloud.netns.exists = netns.exists
    with tempfile.TemporaryDirectory(prefix="dc-engine-bench-") as tmp:
        t0 = time.perf_counter()
        pillar = build(tmp)
        print(
            f"built in {time.perf_counter() - t0:.1f} s: {N_JOBS} jobs "
            f"({os.path.getsize(os.path.join(tmp, 'qstat.xml')) / 1e6:.1f} MB), {N_NODES} nodes "
            f"({os.path.getsize(os.path.join(tmp, 'pbsnodes.xml')) / 1e6:.1f} MB), {N_RES} resources; "
            f"peak RSS so far {peak_mb():.0f} MB",
            flush=True,
        )
        cachedir = os.path.join(tmp, "cache")
        state_path = os.path.join(cachedir, "dcluster", "state.json")
        drivers = DriverCache()
        ports = Ports(pillar=lambda: pillar, scheduler=local_scheduler, driver=drivers)
        # The engine makes the keys of one launch per resource ahead of time on a thread of its own: here
        # 20 x 50 = 1,000 RSA keys, 40 s of one core once at start.  Nothing is launched here, so none
        # is used; real ones would only add that thread's CPU to every stage's figure.
        c = Controller(ports, state_path=state_path, keys=KeyPool(make=lambda: KeyPair("unused", "unused")))
        run = load_runner(cachedir)
        stages = ("scheduler", "cloud", "observe", "reconcile", "plan", "publish", "save", "cycle", "gc_after")
        reads = ("status", "workers", "jobs", "dashboard")
        best: dict[str, float] = {}
        best_cpu: dict[str, float] = {}
        try:
            for rnd in range(1, ROUNDS + 1):
                if rnd == 1:
                    times, cpu = {}, {}
                    timed_stages(c, times, cpu)
                times.clear()  # the wrappers write into the dicts they were given
                cpu.clear()
                if c.config is not None:
                    c.polls.dirty.update(c.config.resources)  # list every resource each round
                t0, c0 = time.perf_counter(), time.process_time()
                out = c.cycle()
                times["cycle"], cpu["cycle"] = time.perf_counter() - t0, time.process_time() - c0
                assert out.get("ok"), out
                c.wait_idle(60)
                # The cycle pauses the cyclic garbage collector (dcluster/gcpause.py): the collection it
                # defers runs here, in full (an upper bound of what the engine's process does after it)
                t0, c0 = time.perf_counter(), time.process_time()
                gc.collect()
                times["gc_after"], cpu["gc_after"] = time.perf_counter() - t0, time.process_time() - c0
                for name, fn in (
                    ("status", run.status),
                    ("workers", run.workers),
                    ("jobs", run.jobs),
                    ("dashboard", lambda: dashboard_refresh(run)),
                ):
                    t0, c0 = time.perf_counter(), time.process_time()
                    res = fn()
                    times[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
                    if isinstance(res, dict) and res.get("ok") is False:
                        raise SystemExit(f"{name}: {res}")
                size = os.path.getsize(state_path) if os.path.exists(state_path) else 0
                line = " ".join(f"{k}={times.get(k, 0.0):.3f}/{cpu.get(k, 0.0):.3f}" for k in stages + reads)
                print(
                    f"round {rnd}: {line} workers={out['workers']} actions={len(out['actions'])} "
                    f"state_mb={size / 1e6:.1f} rss_mb={peak_mb():.0f}",
                    flush=True,
                )
                for k in stages + reads:
                    best[k] = min(best.get(k, float("inf")), times.get(k, 0.0))
                    best_cpu[k] = min(best_cpu.get(k, float("inf")), cpu.get(k, 0.0))
            view = c.view
            pending = sum(1 for j in view.jobs if j.state.value == "pending")
            print(
                f"view: {len(view.workers)} workers, {len(view.jobs)} jobs ({pending} pending); "
                f"published files: "
                + ", ".join(
                    f"{n} {os.path.getsize(os.path.join(cachedir, 'dcluster', n)) / 1e6:.2f} MB"
                    for n in sorted(os.listdir(os.path.join(cachedir, "dcluster")))
                    if os.path.isfile(os.path.join(cachedir, "dcluster", n))
                )
            )
        finally:
            c.shutdown()
        print("best wall " + " ".join(f"{k}_s={best[k]:.3f}" for k in stages + reads))
        print("best cpu " + " ".join(f"{k}_s={best_cpu[k]:.3f}" for k in stages + reads) + f" rss_mb={peak_mb():.0f}")


if __name__ == "__main__":
    main()
