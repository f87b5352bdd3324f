"""The Salt side of a scale-out burst: minion start events on a real master, to the engine's highstates.

A real ``salt-master`` (this checkout's engine; 127.0.0.1 on two free ports; a temp dir; stopped by
PID at the end) with a ``dcluster`` pillar: Torque answering an empty cluster (``/bin/cat`` of
``<Data></Data>``), one ``local`` resource (nothing launched).  The bench fires
``salt/minion/<id>/start`` events on the master's event bus, as the master fires them for a
connecting minion (``{"id": <id>, ...}``), for ids ``dcluster.identity.make`` signs under the
pillar's secret, at a set rate, and follows each one on the bus (a listener perturbs nothing):

* ``dcluster/command/started`` with the id: the engine handled the start (here: a real highstate
  publish, ``LocalClient.cmd_async``, to the id, whose key the bench accepted on the master, or the
  start deferred to the next good cycle: the answers are counted by kind).

Before issue 15's last round the path went through ``reactor/start.sls`` and a runner call; with
``--reactor`` the master maps ``salt/minion/*/start`` to a reactor file again (the old one, from an
older checkout, to compare), and the bench also follows ``salt/run/<jid>/new`` and ``/ret`` of
``runner.dcluster_reactor.minion_started`` (a reactor thread took the call; it returned) and
``dcluster/cmd/started`` (the runner fired the signed command).

Reported per round: start -> engine handled (p50, p95, max), the throughput, the master's CPU per
event (every process of the master, by Salt's process title) and the backlog (events fired but not
yet handled; the most at once).  The engine cycles every 10 s, as by default.

Needs root (the master runs as root) and salt on PATH beside this Python.  Run:
``PYTHONPATH=. .venv/bin/python bench/reactor_rate.py [--events 1000] [--over 60] [--threads 10]``
(``--over 0``: all at once; ``--rounds``: rounds in one master, fresh ids each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dcluster import identity

SECRET = "reactor-bench-secret-0123456789"
CLUSTER = "rb"
RESOURCE = "r1"
FUN = "runner.dcluster_reactor.minion_started"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp: str, threads: int, extra: dict, reactor: str | None = None) -> str:
    conf = os.path.join(tmp, "etc")
    os.makedirs(os.path.join(tmp, "pillar"))
    os.makedirs(conf)
    with open(os.path.join(tmp, "empty.xml"), "w") as fh:
        fh.write("<Data></Data>")
    empty = os.path.join(tmp, "empty.xml")
    with open(os.path.join(tmp, "diagnose.txt"), "w") as fh:  # MAUI's answer with no job queued
        fh.write("no idle jobs in queue\n")  # (an empty one fails the poll: every start was deferred)
    pbsnodes = os.path.join(tmp, "pbsnodes")  # `pbsnodes {0} {1}`: only the query is run (nothing is removed)
    with open(pbsnodes, "w") as fh:
        fh.write(f"#!/bin/sh\nexec /bin/cat {empty}\n")
    os.chmod(pbsnodes, 0o755)
    pillar = {
        "secret": SECRET,
        "cluster_name": CLUSTER,
        # the cloud is listed rarely: a key of an id with no instance is deleted only after 2 listings' time
        "cluster_poller_interval": 10,
        "cloud_poller_interval": 600,
        "cluster": {
            "type": "torque",
            "config": {
                "qstat_command": f"/bin/cat {empty}",
                "pbsnodes_command": f"{pbsnodes} {{0}} {{1}}",
                "diagnose_p_command": f"/bin/cat {os.path.join(tmp, 'diagnose.txt')}",
            },
        },
        "cloud": {
            RESOURCE: {
                "type": "local",
                "cores": 2,
                "quantity": {"min": 0, "max": 5000},
                "config": {"state_dir": os.path.join(tmp, "local-cloud")},
            }
        },
    }
    with open(os.path.join(tmp, "pillar", "top.sls"), "w") as fh:
        fh.write("base:\n  'reactor-bench':\n    - dcluster\n")
    with open(os.path.join(tmp, "pillar", "dcluster.sls"), "w") as fh:
        yaml.safe_dump({"dcluster": pillar}, fh)
    master = {
        "id": "reactor-bench",
        "user": "root",
        "root_dir": tmp,
        "interface": "127.0.0.1",
        "publish_port": free_port(),
        "ret_port": free_port(),
        "pki_dir": os.path.join(tmp, "pki"),
        "cachedir": os.path.join(tmp, "cache"),
        "sock_dir": os.path.join(tmp, "sock"),
        "pidfile": os.path.join(tmp, "master.pid"),
        "log_file": os.path.join(tmp, "master.log"),
        "log_level_logfile": "warning",
        "pillar_roots": {"base": [os.path.join(tmp, "pillar")]},
        "file_roots": {"base": [os.path.join(tmp, "states")]},
        "engines_dirs": [os.path.join(ROOT, "_engines")],
        "runner_dirs": [os.path.join(ROOT, "_runners")],
        "engines": [{"dcluster": {"master_address": "127.0.0.1"}}],
        "reactor": [{"salt/minion/*/start": [reactor]}] if reactor else [],
        "reactor_worker_threads": threads,
        **extra,
    }
    with open(os.path.join(conf, "master"), "w") as fh:
        yaml.safe_dump(master, fh)
    return conf


def tree_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds (user + system, with reaped children's) of ``root_pid`` and its descendants, by title."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, stat, title = {}, {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        parent[int(pid)] = int(fields[1])
        stat[int(pid)] = sum(int(x) for x in fields[11:15]) / tick
        title[int(pid)] = cmd
    out: dict[str, float] = {}
    for pid in stat:
        p = pid
        while p not in (0, 1, root_pid) and p in parent:
            p = parent[p]
        if p == root_pid:
            out[_kind(title[pid]) if pid != root_pid else "main"] = (
                out.get(_kind(title[pid]) if pid != root_pid else "main", 0.0) + stat[pid]
            )
    return out


KINDS = (
    "Reactor",
    "Engine(salt.loaded.ext.engines.dcluster",
    "MWorker",
    "EventPublisher",
    "EventMonitor",
    "Maintenance",
    "FileserverUpdate",
    "PubServerChannel",
    "ReqServer",
)


def _kind(title: str) -> str:
    """Which of the master's processes a process title names (Salt sets them: "... Reactor-5:1")."""
    for k in KINDS:
        if k in title:
            return "engine" if k.startswith("Engine(") else k
    return "other"


class Follow(threading.Thread):
    """The master's bus, read in a thread: when each id's runner started, fired, was answered, returned."""

    def __init__(self, opts):
        super().__init__(daemon=True)
        self.opts = opts
        self.lock = threading.Lock()
        self.reply_of: dict[str, str] = {}  # reply tag -> minion id
        self.jid_of: dict[str, str] = {}  # runner jid -> minion id
        self.t: dict[str, dict[str, float]] = {}  # minion id -> {"new", "cmd", "reply", "ret"}
        self.outcome: dict[str, str] = {}
        self.cycles: list[float] = []
        self.ready = threading.Event()
        self.stop = False

    def mark(self, mid, what, when):
        with self.lock:
            self.t.setdefault(mid, {}).setdefault(what, when)

    def run(self):
        import salt.utils.event

        with salt.utils.event.get_master_event(self.opts, self.opts["sock_dir"], listen=True) as bus:
            self.ready.set()
            while not self.stop:
                ev = bus.get_event(wait=0.2, full=True)
                if not ev:
                    continue
                now = time.monotonic()
                tag, data = ev.get("tag", ""), ev.get("data") or {}
                if tag == "dcluster/command/started":  # the engine handled a start (either path)
                    mid = (data.get("args") or {}).get("minion_id")
                    if mid:
                        self.mark(mid, "reply", now)
                        self.outcome.setdefault(mid, str(data.get("message", ""))[:60])
                elif tag == "dcluster/cmd/started":
                    mid = (data.get("args") or {}).get("minion_id")
                    self.reply_of[data.get("reply")] = mid
                    self.mark(mid, "cmd", now)
                elif tag.startswith("dcluster/reply/") and tag in self.reply_of:
                    mid = self.reply_of[tag]
                    self.mark(mid, "reply", now)
                    self.outcome[mid] = str(data.get("message", ""))[:60]
                elif tag == "dcluster/cycle":
                    self.cycles.append(now)
                elif tag.startswith("salt/run/") and data.get("fun") == FUN:
                    args = data.get("fun_args") or [{}]
                    mid = args[-1].get("minion_id") if isinstance(args[-1], dict) else None
                    jid = tag.split("/")[2]
                    if tag.endswith("/new") and mid:
                        self.jid_of[jid] = mid
                        self.mark(mid, "new", now)
                    elif tag.endswith("/ret") and jid in self.jid_of:
                        self.mark(self.jid_of[jid], "ret", now)


def accept_keys(opts, ids: list[str]) -> None:
    """The ids' keys accepted (one public key for all: only the file's presence matters to a publish)."""
    src = os.path.join(opts["pki_dir"], "master.pub")
    folder = os.path.join(opts["pki_dir"], "minions")
    for mid in ids:
        shutil.copyfile(src, os.path.join(folder, mid))


def refused(opts) -> int:
    """The engine's count of refused commands, as of its last cycle (a command that waited over
    command_auth.MAX_SKEW on the bus is refused as stale: a start lost)."""
    import json

    try:
        with open(os.path.join(opts["cachedir"], "dcluster", "published.json")) as fh:
            return int((json.load(fh).get("counters") or {}).get("commands_refused", 0))
    except (OSError, ValueError):
        return -1


def drain(follow: Follow, quiet: float = 10.0, limit: float = 900.0) -> None:
    """Wait until the master's reactor has run no start call for ``quiet`` s: rounds must not overlap."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with follow.lock:
            last = max((v for t in follow.t.values() for v in t.values()), default=0.0)
        if time.monotonic() - last > quiet:
            return
        time.sleep(1)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def one_round(opts, follow: Follow, pid: int, n: int, over: float, label: str, timeout: float) -> dict:
    import salt.utils.event

    # the engine's answer; through a reactor, the runner call's return too (its thread is free again)
    needed = {"reply", "ret"} if opts.get("reactor") else {"reply"}

    ids = [identity.make(CLUSTER, RESOURCE, SECRET) for _ in range(n)]
    accept_keys(opts, ids)
    fired: dict[str, float] = {}
    backlog: list[int] = []
    cpu0 = tree_cpu(pid)
    t0 = time.monotonic()
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False) as bus:
        for i, mid in enumerate(ids):
            due = t0 + over * i / n
            while time.monotonic() < due:
                time.sleep(min(0.01, due - time.monotonic()))
            # what the master fires for a minion's _minion_event "start" (salt/master.py AESFuncs)
            fired[mid] = time.monotonic()
            bus.fire_event(
                {
                    "id": mid,
                    "cmd": "_minion_event",
                    "pretag": None,
                    "data": f"Minion {mid} started at {time.ctime()}",
                    "tag": f"salt/minion/{mid}/start",
                },
                f"salt/minion/{mid}/start",
            )
            if i % 20 == 0:
                with follow.lock:
                    backlog.append(sum(1 for m in fired if "reply" not in follow.t.get(m, {})))
    fire_s = time.monotonic() - t0
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with follow.lock:
            left = sum(1 for m in ids if not needed <= set(follow.t.get(m, {})))
            backlog.append(sum(1 for m in ids if "reply" not in follow.t.get(m, {})))
        if not left:
            break
        time.sleep(0.25)
    wall = time.monotonic() - t0
    cpu1 = tree_cpu(pid)
    with follow.lock:
        t = {m: dict(follow.t.get(m, {})) for m in ids}
        outcomes = [follow.outcome.get(m, "") for m in ids]
    handled = sorted(t[m]["reply"] - fired[m] for m in ids if "reply" in t[m])
    waited = sorted(t[m]["new"] - fired[m] for m in ids if "new" in t[m])
    engine = sorted(t[m]["reply"] - t[m]["cmd"] for m in ids if "reply" in t[m] and "cmd" in t[m])
    held = sorted(t[m]["ret"] - t[m]["new"] for m in ids if "ret" in t[m] and "new" in t[m])
    last_reply = max((t[m]["reply"] for m in ids if "reply" in t[m]), default=t0)
    first_reply = min((t[m]["reply"] for m in ids if "reply" in t[m]), default=t0)
    cpu = {k: cpu1.get(k, 0.0) - cpu0.get(k, 0.0) for k in cpu1}
    total = sum(cpu.values())
    kinds: dict[str, int] = {}
    for o in outcomes:
        k = " ".join(w for w in o.split()[:4] if not w.startswith(CLUSTER + "-")) if o else "(no answer)"
        kinds[k] = kinds.get(k, 0) + 1
    print(
        f"\n== {label}: {n} start events over {over:.0f} s (fired in {fire_s:.1f} s), "
        f"reactor_worker_threads {opts['reactor_worker_threads']}"
    )
    print(
        f"  handled by the engine: {len(handled)}/{n}; runner calls returned: "
        f"{sum(1 for m in ids if 'ret' in t[m])}/{n}; answers: {kinds}"
    )
    if handled:
        print(
            f"  start -> engine handled: p50 {pct(handled, 0.5):.2f} s, p95 {pct(handled, 0.95):.2f} s, "
            f"max {handled[-1]:.2f} s"
        )
        if waited and engine and held:  # through a reactor (--reactor)
            print(
                f"  of which start -> a reactor thread took it: p50 {pct(waited, 0.5):.2f} s, max {waited[-1]:.2f} s; "
                f"command fired -> engine answered: p50 {pct(engine, 0.5):.3f} s, max {engine[-1]:.2f} s"
            )
            print(
                f"  a reactor thread held per call (runner new -> ret): p50 {pct(held, 0.5):.3f} s, "
                f"p95 {pct(held, 0.95):.3f} s"
            )
        span = last_reply - t0
        print(
            f"  throughput: {len(handled) / span:.1f} handled/s over the round ({span:.1f} s from the first "
            f"event to the last answer); {len(handled) / max(1e-3, last_reply - first_reply):.1f}/s between "
            f"the first and last answer"
        )
    print(
        f"  backlog (fired, not yet handled): most {max(backlog)}, at the end of firing "
        f"{backlog[min(len(backlog) - 1, n // 20)]}"
    )
    print(f"  commands the engine refused so far (published counter; stale ones among them): {refused(opts)}")
    print(
        f"  master CPU: {total:.1f} s in {wall:.1f} s, {total / n * 1000:.1f} ms per event; by process: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 0.05)
    )
    return {"handled": handled, "cpu_per_event": total / n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--over", type=float, nargs="+", default=[60.0, 0.0], help="seconds to fire them over")
    ap.add_argument("--threads", type=int, default=10, help="the master's reactor_worker_threads")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of each --over")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the answers after firing")
    ap.add_argument(
        "--reactor", help="map salt/minion/*/start to this reactor file (the old path: an older checkout's start.sls)"
    )
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("reactor_rate: skipped: the master runs as root here")
        return 0
    salt_master = os.path.join(os.path.dirname(sys.executable), "salt-master")
    tmp = tempfile.mkdtemp(prefix="dc-reactor-rate-")
    conf = write_config(tmp, a.threads, {}, a.reactor)
    env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout's dcluster, not an installed one
    proc = subprocess.Popen(
        [salt_master, "-c", conf, "-l", "quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import salt.config

        opts = salt.config.master_config(os.path.join(conf, "master"))
        deadline = time.monotonic() + 120
        published = os.path.join(opts["cachedir"], "dcluster", "published.json")
        while not (os.path.exists(published) and os.path.exists(os.path.join(opts["pki_dir"], "master.pub"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"reactor_rate: the master did not start (see {tmp}/master.log)")
                return 1
            time.sleep(0.5)
        follow = Follow(opts)
        follow.start()
        follow.ready.wait(30)
        print(f"salt-master pid {proc.pid}, {tmp}; engine cycling")
        # a reactor loads the runner modules at its first call (10-20 s here): not part of any round
        one_round(opts, follow, proc.pid, 1, 0.0, "warm-up", a.timeout)
        for over in a.over:
            for r in range(a.rounds):
                one_round(opts, follow, proc.pid, a.events, over, f"round {r + 1}", a.timeout)
                drain(follow)
                time.sleep(11)  # a cycle publishes the refusal counter
        print(f"commands the engine refused in all (as of its last cycle): {refused(opts)}")
        follow.stop = True
        return 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
