"""The demo stack: a salt-master with the dcluster engine and reactors, a batch
scheduler's controller on this host and the ``local`` cloud, as plain processes.

Everything lives in one state directory (``DEFAULT_DIR``): configuration,
logs, pid files, the local cloud's instances.  ``Stack.start()`` first cleans
whatever an earlier run left; ``clean(state_dir)`` stops everything from the
pid files and the cloud's records alone, so it works after a crash.  Daemons
are stopped by PID; namespaces, the bridge and /etc/hosts lines are removed.

Addresses: the bridge ``dcdemo0`` holds 127.200.0.209/28; workers get
127.200.0.210-222 (inside the 127.200.0.200-250 slice the demo keeps to).
No shell anywhere: every command is an argument list.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from .. import netns
from . import procs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DIR = "/var/tmp/dcdemo"
MASTER_ID = "dcdemo-master"
JOB_SCRIPT = """#!/usr/bin/python3
# A demo job: sleeps, then records where and when it ran.
import json, os, socket, sys, time
start = time.time()
time.sleep(float(sys.argv[1]))
job = os.environ.get("SLURM_JOB_ID") or os.environ.get("JOB_ID") or str(os.getpid())
rec = {"job": job, "host": socket.gethostname(), "start": start, "end": time.time()}
with open(os.path.join(sys.argv[2], job + ".json"), "w") as fh:
    json.dump(rec, fh)
"""


@dataclass
class Options:
    scheduler: str = "slurm"  # slurm or sge
    state_dir: str = DEFAULT_DIR
    bridge: str = "dcdemo0"
    network: str = "127.200.0.208/28"
    gateway: str = "127.200.0.209"
    publish_port: int = 24505
    ret_port: int = 24506
    cluster_name: str = "dc"  # short: minion ids are host names, and slurmd's socket paths hold them twice
    resource: str = "demo"
    min: int = 0
    max: int = 3
    cores: int = 2
    mem_mb: int = 1000
    max_idle_time: int = 20
    max_launch_time: int = 120
    cluster_poller_interval: int = 1
    cloud_poller_interval: int = 2
    preboot_lead: int = 0  # the pillar's (0: the slowest recent boot + a poll)
    # Further resources (name -> the resource's pillar), e.g. one whose minions never connect.
    extra_resources: dict[str, Any] = field(default_factory=dict)
    # Slurm ports (the daemon tests use 16917/16918); SGE ports (the tests use 16544/16545).
    slurmctld_port: int = 16927
    slurmd_port: int = 16928
    sge_qmaster_port: int = 16554
    sge_execd_port: int = 16555


def _python_bin(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class EventLog:
    """The master's event bus, recorded in a thread: (time, tag, data) of what the metrics need."""

    PREFIXES = ("dcluster/", "salt/auth", "salt/minion/", "salt/key")

    def __init__(self, opts: Mapping[str, Any]):
        self.opts = dict(opts)
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.error = ""
        self.ready = threading.Event()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dcdemo-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import salt.utils.event

        while not self._stop.is_set():
            try:
                with salt.utils.event.get_master_event(self.opts, self.opts["sock_dir"], listen=True) as bus:
                    while not self._stop.is_set():
                        ev = bus.get_event(wait=0.5, full=True)
                        if not ev:
                            continue
                        self.ready.set()  # subscribed: the engine's cycles arrive every second
                        tag = ev.get("tag", "")
                        if tag.startswith(self.PREFIXES) and not tag.startswith("dcluster/cycle"):
                            with self.lock:
                                self.events.append((time.time(), tag, dict(ev.get("data") or {})))
            except Exception as exc:  # noqa: BLE001 - the master restarts in a test: reconnect
                self.error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def matching(self, prefix: str) -> list[tuple[float, str, dict[str, Any]]]:
        with self.lock:
            return [e for e in self.events if e[1].startswith(prefix)]


class Stack:
    def __init__(self, options: Options | None = None, **kw: Any):
        self.o = options or Options(**kw)
        if self.o.scheduler not in ("slurm", "sge"):
            raise ValueError(f"scheduler {self.o.scheduler!r}: the demo runs slurm or sge")
        d = self.o.state_dir
        self.dir = d
        self.salt_dir = os.path.join(d, "salt")
        self.conf_dir = os.path.join(d, "salt", "etc")
        self.pillar_dir = os.path.join(d, "pillar")
        self.cloud_dir = os.path.join(d, "c")  # short: minion socket paths live below it
        self.pid_dir = os.path.join(d, "pids")
        self.jobs_dir = os.path.join(d, "jobs")
        self.sched_dir = os.path.join(d, "s")  # short: Unix socket paths (slurmd spool) have 108 bytes
        self.secret = secrets.token_hex(16)
        self.master_proc: subprocess.Popen[bytes] | None = None
        self.head: Any = None  # a SlurmHead or an SgeHead, once started
        self.events: EventLog | None = None
        self.submitted: dict[str, float] = {}  # job id -> submit time

    # ------------------------------------------------------------ paths and pid files
    def _pidfile(self, name: str) -> str:
        return os.path.join(self.pid_dir, f"{name}.pid")

    def _record_pid(self, name: str, pid: int) -> None:
        os.makedirs(self.pid_dir, exist_ok=True)
        with open(self._pidfile(name), "w") as fh:
            fh.write(f"{pid}\n")

    def _write_json(self, path: str, data: Any) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            json.dump(data, fh, indent=1, default=str)

    # ------------------------------------------------------------ configuration
    def resource_pillar(self, name: str | None = None, **over: Any) -> dict[str, Any]:
        o = self.o
        conf = {
            "bridge": o.bridge,
            "network": o.network,
            "gateway": o.gateway,
            "state_dir": self.cloud_dir,
            "cores": o.cores,
            "mem_mb": o.mem_mb,
            "userdata_vars": {"master_port": o.ret_port, "publish_port": o.publish_port, "acceptance_wait_time": 1},
        }
        if o.scheduler == "sge":
            conf["hosts_file"] = "/etc/hosts"  # qmaster must resolve its exec hosts
        conf.update(over.pop("config", {}))
        res = {
            "type": "local",
            "quantity": {"min": o.min, "max": o.max},
            "cores": o.cores,
            "mem_mb": o.mem_mb,
            "config": conf,
        }
        res.update(over)
        return res

    def dcluster_pillar(self) -> dict[str, Any]:
        o = self.o
        cloud = {o.resource: self.resource_pillar()}
        for name, res in o.extra_resources.items():
            cloud[name] = self.resource_pillar(**res)
        return {
            "cluster_name": o.cluster_name,
            "secret": self.secret,
            "max_idle_time": o.max_idle_time,
            "max_down_time": 60,
            "max_launch_time": o.max_launch_time,
            "cluster_poller_interval": o.cluster_poller_interval,
            "cloud_poller_interval": o.cloud_poller_interval,
            "preboot_lead": o.preboot_lead,
            "auto_provision_interval": 1,
            "worker_number": 4,
            "auto_mode": True,
            "config-checker": {"salt": {"timeout": 120}},
            "backoff": {"initial": 5, "factor": 2.0, "max": 30, "capacity_pause": 30},
            "cluster": self.head.config(),
            "cloud": cloud,
        }

    def worker_pillar(self) -> dict[str, Any]:
        o = self.o
        if o.scheduler == "slurm":
            return {
                "slurm": {
                    "install": False,
                    "conf": self.head.conf,
                    "cores": o.cores,
                    "mem_mb": o.mem_mb,
                    "features": [self.head.feature],
                    "boottime_zero": True,
                }
            }
        return {
            "sge": {
                "install": False,
                "sge_root": "/var/lib/gridengine",
                "cell": "default",
                "qmaster_port": o.sge_qmaster_port,
                "execd_port": o.sge_execd_port,
            }
        }

    def master_config(self) -> dict[str, Any]:
        o = self.o
        return {
            "id": MASTER_ID,
            "user": "root",
            "root_dir": self.salt_dir,
            "conf_file": os.path.join(self.conf_dir, "master"),
            "pki_dir": os.path.join(self.salt_dir, "pki"),
            "cachedir": os.path.join(self.salt_dir, "cache"),
            "sock_dir": os.path.join(self.salt_dir, "sock"),
            "pidfile": os.path.join(self.salt_dir, "master.pid"),
            "interface": o.gateway,
            "publish_port": o.publish_port,
            "ret_port": o.ret_port,
            "worker_threads": 4,
            "open_mode": False,
            "auto_accept": False,
            "file_roots": {"base": [os.path.join(REPO, "salt")]},
            "pillar_roots": {"base": [self.pillar_dir]},
            "engines": [{"dcluster": {"interval": o.cluster_poller_interval, "master_address": o.gateway}}],
            "reactor": [
                {"salt/auth": [os.path.join(REPO, "reactor", "auth.sls")]},
            ],
            "log_file": os.path.join(self.salt_dir, "master.log"),
            "log_level_logfile": "info",
            "key_logfile": os.path.join(self.salt_dir, "key.log"),
            "keep_jobs_seconds": 3600,
        }

    def write_salt_config(self) -> None:
        os.makedirs(self.conf_dir, exist_ok=True)
        os.makedirs(self.pillar_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, "master"), "w") as fh:
            yaml.safe_dump(self.master_config(), fh, default_flow_style=False)
        top = {"base": {MASTER_ID: ["dcluster"], f"{self.o.cluster_name}-*": ["worker"]}}
        for name, data in (
            ("top", top),
            ("dcluster", {"dcluster": self.dcluster_pillar()}),
            ("worker", {"dcluster_worker": self.worker_pillar()}),
        ):
            path = os.path.join(self.pillar_dir, f"{name}.sls")
            with open(path, "w") as fh:
                yaml.safe_dump(data, fh, default_flow_style=False)
            os.chmod(path, 0o600)  # the secret

    def master_opts(self) -> dict[str, Any]:
        import salt.config

        opts: dict[str, Any] = salt.config.master_config(os.path.join(self.conf_dir, "master"))
        return opts

    # ------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Clean what an earlier run left, then bring everything up."""
        clean(self.dir, quiet=True)
        for sub in ("salt", "s", "jobs"):
            shutil.rmtree(os.path.join(self.dir, sub), ignore_errors=True)
        for d in (self.dir, self.pid_dir, self.jobs_dir, self.sched_dir, self.cloud_dir):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.jobs_dir, 0o777)
        o = self.o
        self._write_json(os.path.join(self.dir, "stack.json"), {"options": asdict(o), "repo": REPO})
        netns.ensure_bridge(o.bridge, o.gateway, int(o.network.split("/")[1]))
        if o.scheduler == "slurm":
            from .slurm import SlurmHead

            self.head = SlurmHead(
                self.sched_dir,
                o.gateway,
                cluster="dcdemo",
                ctld_port=o.slurmctld_port,
                slurmd_port=o.slurmd_port,
                extra_conf="DefMemPerCPU=100\nSchedulerParameters=bf_interval=1\n",
                own_munge=True,
            )
        else:
            from .sge import SgeHead

            self.head = SgeHead(
                self.sched_dir,
                o.gateway,
                o.sge_qmaster_port,
                o.sge_execd_port,
                hosts_backup=os.path.join(self.dir, "hosts.backup"),
            )
        try:
            self.head.start()
        finally:
            for name, pid in self.head.pids().items():
                self._record_pid(name, pid)
            if o.scheduler == "sge":
                self._write_json(os.path.join(self.dir, "hosts.json"), {"lines": self.head.hosts_lines()})
        if o.scheduler == "sge":
            self._sge_forget_workers()
        with open(os.path.join(self.dir, "job.py"), "w") as fh:
            fh.write(JOB_SCRIPT)
        os.chmod(os.path.join(self.dir, "job.py"), 0o755)
        self.write_salt_config()
        self.start_master()

    def start_master(self, wait: bool = True) -> None:
        o = self.o
        for port in (o.publish_port, o.ret_port):
            procs.wait_for(functools.partial(port_free, o.gateway, port), 30, 0.2, what=f"port {port} to be free")
        log = open(os.path.join(self.salt_dir, "master.out"), "ab")  # handed to the child
        try:
            self.master_proc = subprocess.Popen(
                [_python_bin("salt-master"), "-c", self.conf_dir, "-l", "warning"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.dir,
            )
        finally:
            log.close()
        self._record_pid("salt-master", self.master_proc.pid)
        if wait:
            procs.wait_for(lambda: not port_free(o.gateway, o.ret_port), 60, 0.2, what="salt-master's ret port")
            procs.wait_for(
                lambda: os.path.exists(os.path.join(self.salt_dir, "cache", "dcluster", "state.json")),
                60,
                0.2,
                what="the dcluster engine's first cycle",
            )
        if self.events is None:
            self.events = EventLog(self.master_opts())
            self.events.start()
        if wait and not self.events.ready.wait(30):
            raise TimeoutError(f"no event from the master's bus within 30 s ({self.events.error or 'no error'})")

    def stop_master(self) -> None:
        """Stop the salt-master (and its engine, reactor, workers) by PID."""
        pid = self.master_proc.pid if self.master_proc else procs.read_pid(self._pidfile("salt-master"))
        procs.stop_pid(pid, grace=20, group=True)
        if self.master_proc is not None:
            self.master_proc.wait(timeout=5)
        self.master_proc = None
        try:
            os.unlink(self._pidfile("salt-master"))
        except FileNotFoundError:
            pass

    def stop(self) -> None:
        if self.events is not None:
            self.events.stop()
        if self.master_proc is not None:
            self.stop_master()
        clean(self.dir, quiet=True)

    def _sge_forget_workers(self) -> None:
        """Exec hosts an earlier run left in the cell (its spool survives qmaster)."""
        rc, out, _ = self.head.qconf("-sel", check=False)
        prefix = f"{self.o.cluster_name}-"
        for host in out.split() if rc == 0 else ():
            if host.startswith(prefix):
                self.head.qconf("-dattr", "hostgroup", "hostlist", host, "@allhosts", check=False)
                self.head.qconf("-purge", "queue", "slots", f"all.q@{host}", check=False)
                self.head.qconf("-de", host, check=False)

    # ------------------------------------------------------------ using it
    def salt_run(self, fun: str, *args: str, timeout: float = 60) -> Any:
        """``salt-run -c <conf> fun args --out=json``; the decoded return."""
        proc = subprocess.run(
            [_python_bin("salt-run"), "-c", self.conf_dir, fun, *args, "--out=json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        try:
            return json.loads(proc.stdout)
        except ValueError:
            return {"ok": False, "message": (proc.stdout + proc.stderr).strip()[-2000:]}

    def status_text(self) -> str:
        proc = subprocess.run(
            [_python_bin("salt-run"), "-c", self.conf_dir, "dcluster.status", "--out=yaml"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        return proc.stdout.strip() or proc.stderr.strip()[-2000:]

    def sched_run(self, argv: list[str]) -> tuple[int, str, str]:
        rc, out, err = self.head.run(argv)
        return rc, out, err

    def _sge_job_listed(self, jid: str, tries: int = 10) -> bool:
        # qstat -j has been seen to miss a job qsub had just reported (once, under load): ask again briefly
        for _ in range(tries):
            if self.sched_run(["qstat", "-j", jid])[0] == 0:
                return True
            time.sleep(0.3)
        return False

    def submit(self, count: int, seconds: float, begin: float | None = None) -> list[str]:
        """Submit ``count`` one-core jobs of ``seconds`` each, not to start before ``begin`` (seconds since
        the epoch: sbatch --begin, qsub -a) when given; returns their ids."""
        script = os.path.join(self.dir, "job.py")
        ids = []
        at = time.localtime(begin) if begin is not None else None
        for _ in range(count):
            t = time.time()
            if self.o.scheduler == "slurm":
                rc, out, err = self.sched_run(
                    [
                        "sbatch",
                        "--parsable",
                        *([time.strftime("--begin=%Y-%m-%dT%H:%M:%S", at)] if at else []),
                        "-c",
                        "1",
                        "-o",
                        "/dev/null",
                        "-D",
                        self.jobs_dir,
                        script,
                        str(seconds),
                        self.jobs_dir,
                    ]
                )
                jid = out.strip().split(";")[0]
            else:
                # -w n: a cluster scaled to zero has no queue instance yet, and qsub's default check
                # would refuse the very jobs that should make it grow (set it in sge_request on a site)
                rc, out, err = self.sched_run(
                    [
                        "qsub",
                        *(["-a", time.strftime("%Y%m%d%H%M.%S", at)] if at else []),
                        "-w",
                        "n",
                        "-terse",
                        "-b",
                        "y",
                        "-o",
                        "/dev/null",
                        "-e",
                        "/dev/null",
                        "-wd",
                        self.jobs_dir,
                        "/usr/bin/python3",
                        script,
                        str(seconds),
                        self.jobs_dir,
                    ]
                )
                jid = out.strip().split(".")[0]
                queued = re.search(r"Your job (\d+) .*has been submitted", err)
                if rc != 0 and queued and self._sge_job_listed(queued.group(1)):
                    # SoGE 8.1.9 with no exec host at all (a cluster scaled to zero) queues the job
                    # but exits 1 with "not allowed to run in any queue"; the job is there.
                    rc, jid = 0, queued.group(1)
            if rc != 0 or not jid:
                raise RuntimeError(f"job submission failed ({rc}): {err or out}")
            self.submitted[jid] = t
            ids.append(jid)
        return ids

    def queued(self) -> list[str]:
        """Job ids the scheduler still lists (pending or running)."""
        if self.o.scheduler == "slurm":
            rc, out, err = self.sched_run(["squeue", "-h", "-o", "%i"])
        else:
            rc, out, err = self.sched_run(["qstat", "-u", "*"])
            out = "\n".join(ln.split()[0] for ln in out.splitlines()[2:] if ln.split())
        if rc != 0:
            raise RuntimeError(f"scheduler query failed: {err or out}")
        return [ln.strip() for ln in out.splitlines() if ln.strip()]

    def finished(self) -> dict[str, dict[str, Any]]:
        """Job records written by the demo job (id -> host, start, end)."""
        out = {}
        for name in os.listdir(self.jobs_dir):
            if name.endswith(".json"):
                try:
                    with open(os.path.join(self.jobs_dir, name)) as fh:
                        rec = json.load(fh)
                except (OSError, ValueError):
                    continue
                out[str(rec["job"])] = rec
        return out

    def scheduler_nodes(self) -> list[str]:
        """Node / exec host names the scheduler knows."""
        if self.o.scheduler == "slurm":
            rc, out, _ = self.sched_run(["scontrol", "--future", "show", "node", "-o"])
            return [ln.split()[0].split("=", 1)[1] for ln in out.splitlines() if ln.startswith("NodeName=")]
        rc, out, _ = self.head.qconf("-sel", check=False)
        return out.split() if rc == 0 else []

    def our_scheduler_nodes(self) -> list[str]:
        """Scheduler nodes this run of the demo launched (signed with its secret); others are not ours to judge."""
        from .. import identity

        return [n for n in self.scheduler_nodes() if identity.parse(n, self.secret, self.o.cluster_name)]

    def instances(self) -> list[dict[str, Any]]:
        """The local cloud's instance records (all resources)."""
        return _records(self.cloud_dir)

    def accepted_keys(self) -> list[str]:
        d = os.path.join(self.salt_dir, "pki", "minions")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


# ---------------------------------------------------------------- cleaning up, even after a crash
def _records(cloud_dir: str) -> list[dict[str, Any]]:
    out = []
    try:
        names = sorted(os.listdir(cloud_dir))
    except FileNotFoundError:
        return []
    for name in names:
        if name.endswith(".json"):
            try:
                with open(os.path.join(cloud_dir, name)) as fh:
                    out.append(json.load(fh))
            except (OSError, ValueError):
                continue
    return out


def clean(state_dir: str = DEFAULT_DIR, quiet: bool = False) -> list[str]:
    """Stop everything a demo stack in ``state_dir`` started, from its pid files and records alone.

    Order: the salt-master first (so the engine launches nothing more), then
    every instance (its namespace's processes, the namespace, its hosts line),
    daemons by pid file, the bridge, /etc/hosts.  Returns what was done.
    """
    done: list[str] = []
    say: Callable[[str], None] = (lambda m: None) if quiet else (lambda m: print(f"demo-clean: {m}", flush=True))
    meta = {}
    try:
        with open(os.path.join(state_dir, "stack.json")) as fh:
            meta = json.load(fh).get("options", {})
    except (OSError, ValueError):
        pass
    pid_dir = os.path.join(state_dir, "pids")
    order = (
        ["salt-master"] + sorted(n[:-4] for n in os.listdir(pid_dir) if n.endswith(".pid") and n != "salt-master.pid")
        if os.path.isdir(pid_dir)
        else []
    )
    for name in order[:1]:
        pid = procs.read_pid(os.path.join(pid_dir, f"{name}.pid"))
        if pid and procs.alive(pid) and _is(pid, "salt-master"):
            procs.stop_pid(pid, grace=20, group=True)
            done.append(f"stopped salt-master (pid {pid})")
    cloud_dir = os.path.join(state_dir, "c")
    from ..clouds.local import HOSTS_MARK

    for rec in _records(cloud_dir):
        ns = rec.get("namespace", "")
        if ns.startswith("dcl-") and netns.exists(ns):
            netns.delete_host(ns)
            done.append(f"removed instance {rec.get('id')} (namespace {ns})")
        pgid = rec.get("pgid")
        if pgid and procs.alive(pgid):
            procs.stop_pid(pgid, grace=3, group=True)
        os.unlink(os.path.join(cloud_dir, f"{rec['id']}.json"))
    _drop_hosts_lines(lambda ln: HOSTS_MARK in ln and f" {meta.get('cluster_name', 'dc')}-" in ln, done)
    sched_dir = os.path.join(state_dir, "s")
    stray = []  # worker daemons whose namespace went missing (pid files of this stack only)
    run = os.path.join(sched_dir, "run")
    if os.path.isdir(run):
        stray += [os.path.join(run, n) for n in os.listdir(run) if n.startswith("slurmd-")]
    for path in stray:
        pid = procs.read_pid(path)
        if pid and procs.alive(pid) and _is(pid, "slurmd"):
            procs.stop_pid(pid, grace=5)
            done.append(f"stopped slurmd (pid {pid})")
    for name in order[1:]:
        path = os.path.join(pid_dir, f"{name}.pid")
        pid = procs.read_pid(path)
        if pid and procs.alive(pid) and _is(pid, name):
            if name == "sge_qmaster":
                _sge_qdel_all(meta)
            procs.stop_pid(pid, grace=20)
            done.append(f"stopped {name} (pid {pid})")
        os.unlink(path)
    if os.path.isdir(pid_dir):
        for n in os.listdir(pid_dir):
            os.unlink(os.path.join(pid_dir, n))
    bridge = meta.get("bridge")
    if bridge and subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode == 0:
        netns.delete_bridge(bridge)
        done.append(f"removed bridge {bridge}")
    backup = os.path.join(state_dir, "hosts.backup")
    lines = []
    try:
        with open(os.path.join(state_dir, "hosts.json")) as fh:
            lines = json.load(fh).get("lines", [])
    except (OSError, ValueError):
        pass
    if procs.restore_backup(procs.HOSTS, backup, lines):
        done.append("restored /etc/hosts")
    for sub in ("c", "pillar"):  # logs (salt/, s/) stay for a post-mortem until the next start
        shutil.rmtree(os.path.join(state_dir, sub), ignore_errors=True)
    for d in done:
        say(d)
    return done


def _is(pid: int, name: str) -> bool:
    """Whether ``pid`` still is the program we started (pids get reused)."""
    return name in " ".join(procs.cmdline(pid))  # salt-master retitles itself: one string


def _drop_hosts_lines(predicate: Callable[[str], bool], done: list[str]) -> None:
    try:
        with open(procs.HOSTS) as fh:
            lines = fh.read().splitlines()
    except OSError:
        return
    kept = [ln for ln in lines if not predicate(ln)]
    if kept != lines:
        with open(procs.HOSTS, "w") as fh:
            fh.write("\n".join(kept) + "\n")
        done.append(f"removed {len(lines) - len(kept)} instance line(s) from /etc/hosts")


def _sge_qdel_all(meta: Mapping[str, Any]) -> None:
    env = dict(
        os.environ,
        SGE_ROOT="/var/lib/gridengine",
        SGE_CELL="default",
        SGE_QMASTER_PORT=str(meta.get("sge_qmaster_port", 16554)),
        SGE_EXECD_PORT=str(meta.get("sge_execd_port", 16555)),
    )
    subprocess.run(["qdel", "-f", "-u", "*"], env=env, capture_output=True, timeout=30, check=False)
