"""A real Son of Grid Engine 8.1.9 (Debian ``gridengine-*``) for the daemon tests.

``SgeCluster.start()`` installs the packages when missing (as root), puts the
host name on the test bridge's gateway address first in /etc/hosts (SGE's
commlib rejects clients whose address resolves to another name:
environment.md §4 caveat 1), starts sge_qmaster on non-default ports, allows
root jobs (``min_uid 0``), speeds up scheduling, and creates ``@allhosts`` and
``all.q``.  Exec hosts are network-namespace hosts (dcluster.netns) whose
execd runs with their own host name.  ``stop()`` stops every daemon by PID,
deletes the namespaces and the bridge and restores /etc/hosts; fixtures call
it in a finalizer, so it runs even when a test fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time

from dcluster import netns
from dcluster.glue.run import local_runner

from . import HostsFile, alive, read_pid, root_skip_reason, stop_pid, wait_for

SGE_ROOT = "/var/lib/gridengine"
CELL = "default"
SPOOL = "/var/spool/gridengine"
QMASTER_PORT = 16544
EXECD_PORT = 16545
BRIDGE = "dcsched0"
GATEWAY = "127.200.0.49"  # dcsched0 is 127.200.0.48/28: .49 gateway, .50-.62 hosts (clear of other tests)
PREFIX = 28
PACKAGES = ("gridengine-master", "gridengine-exec", "gridengine-client")


def skip_reason() -> str | None:
    why = root_skip_reason()
    if why:
        return why
    if not os.path.exists("/usr/sbin/sge_qmaster"):
        install()
        if not os.path.exists("/usr/sbin/sge_qmaster"):
            return "gridengine-master could not be installed (see scripts/install-system-deps.sh)"
    pid = read_pid(f"{SPOOL}/qmaster/qmaster.pid")
    if pid and alive(pid):
        return f"another sge_qmaster (pid {pid}) is running; the SGE daemon tests need the cell to themselves"
    return None


def install() -> None:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run(["bash", os.path.join(here, "scripts", "install-system-deps.sh")], check=False, timeout=600)


def env() -> dict[str, str]:
    return {"SGE_ROOT": SGE_ROOT, "SGE_CELL": CELL, "SGE_QMASTER_PORT": str(QMASTER_PORT),
            "SGE_EXECD_PORT": str(EXECD_PORT)}


class SgeCluster:
    def __init__(self):
        self.host = socket.gethostname()
        self.hosts = HostsFile()
        self.run = local_runner(timeout=30, env=env())
        self.netns_hosts: dict[str, str] = {}  # name -> address
        self.execd: dict[str, subprocess.Popen] = {}
        self.qmaster_pid: int | None = None
        self.tmp = tempfile.mkdtemp(prefix="dcsched-sge-")
        self.log = os.path.join(self.tmp, "log")
        os.makedirs(self.log, exist_ok=True)

    # ----------------------------------------------------------- helpers
    def qconf(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        rc, out, err = self.run(["qconf", *args])
        if check and rc != 0:
            raise RuntimeError(f"qconf {' '.join(args)} failed ({rc}): {err or out}")
        return rc, out, err

    def _file(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def config(self) -> dict:
        """The dcluster:cluster pillar section for this cluster."""
        return {"type": "sge", "config": {"command_env": env(), "command_timeout": 30}}

    # ----------------------------------------------------------- life cycle
    def start(self, exec_hosts: tuple[str, ...] = ()) -> None:
        """Start qmaster; ``exec_hosts`` get namespace hosts and /etc/hosts lines first (qmaster caches lookups)."""
        netns.ensure_bridge(BRIDGE, GATEWAY, PREFIX)
        lines = [f"{GATEWAY} {self.host}"]
        for i, name in enumerate(exec_hosts):
            lines.append(f"127.200.0.{50 + i} {name}")
        self.hosts.install(lines, drop_name=self.host)
        for i, name in enumerate(exec_hosts):
            self.add_netns_host(name, i)
        try:
            os.unlink(f"{SPOOL}/qmaster/qmaster.pid")  # a stale pid file would be read before qmaster writes its own
        except FileNotFoundError:
            pass
        with open(f"{SGE_ROOT}/{CELL}/common/act_qmaster", "w") as fh:
            fh.write(self.host + "\n")
        os.makedirs("/var/run/gridengine", exist_ok=True)
        subprocess.run(["chown", "sgeadmin:sgeadmin", "/var/run/gridengine"], check=True)
        full = dict(os.environ, **env())
        subprocess.run(["/usr/sbin/sge_qmaster"], env=full, check=True, timeout=30, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.qmaster_pid = wait_for(lambda: read_pid(f"{SPOOL}/qmaster/qmaster.pid"), 10, what="qmaster.pid")
        wait_for(lambda: self.run(["qstat"])[0] == 0, 20, what="sge_qmaster to answer qstat")
        self.run(["qdel", "-f", "-u", "*"])  # jobs left in the spool by an earlier, killed run
        self.qconf("-as", self.host, check=False)
        rc, sconf, _ = self.qconf("-ssconf")
        sconf = _set(sconf, {"schedule_interval": "0:0:1", "flush_submit_sec": "1", "flush_finish_sec": "1"})
        self.qconf("-Msconf", self._file("sconf", sconf))
        rc, conf, _ = self.qconf("-sconf")
        conf = _set(conf, {"load_report_time": "00:00:02", "max_unheard": "00:00:20", "min_uid": "0", "min_gid": "0"})
        os.makedirs(os.path.join(self.tmp, "conf"), exist_ok=True)
        path = os.path.join(self.tmp, "conf", "global")  # -Mconf takes the file name as the config name
        with open(path, "w") as fh:
            fh.write(conf)
        self.qconf("-Mconf", path)
        if self.qconf("-shgrp", "@allhosts", check=False)[0] != 0:
            self.qconf("-Ahgrp", self._file("hg", "group_name @allhosts\nhostlist NONE\n"))
        rc, q, _ = self.qconf("-sq", check=False)
        queue = _set(self.qconf("-sq")[1] if False else q,
                     {"qname": "all.q", "hostlist": "@allhosts", "pe_list": "NONE", "slots": "1", "shell": "/bin/sh"})
        if self.qconf("-sq", "all.q", check=False)[0] == 0:
            self.qconf("-Mq", self._file("all.q", queue))
        else:
            self.qconf("-Aq", self._file("all.q", queue))

    def add_netns_host(self, name: str, index: int) -> str:
        """A namespace host ``name`` at 127.200.0.(50+index), known to /etc/hosts."""
        address = f"127.200.0.{50 + index}"
        assert 50 + index <= 62
        if netns.exists(name):
            netns.delete_host(name)
        netns.add_host(name, address, BRIDGE, PREFIX)
        self.netns_hosts[name] = address
        self.hosts.add(f"{address} {name}")  # no-op when start() wrote it
        return address

    def start_execd(self, name: str) -> None:
        """Start sge_execd inside host ``name`` (the exec host must be configured first)."""
        spool = f"{SPOOL}/execd/{name}"
        if os.path.isdir(spool):
            subprocess.run(["rm", "-rf", spool], check=False)
        full = dict(os.environ, **env())
        proc = netns.spawn(name, name, ["/usr/sbin/sge_execd"], log_path=os.path.join(self.log, f"execd-{name}.log"),
                           env=full)
        proc.wait(timeout=30)  # execd daemonizes; its pid file says where it went
        wait_for(lambda: read_pid(f"{spool}/execd.pid"), 15, what=f"execd pid file of {name}")

    def stop_execd(self, name: str) -> None:
        stop_pid(read_pid(f"{SPOOL}/execd/{name}/execd.pid"), grace=5)

    def stop(self) -> None:
        errors = []
        try:
            self.run(["qdel", "-f", "-u", "*"])  # a qmaster without jobs shuts down faster
        except Exception:  # noqa: BLE001 - qmaster may be gone already
            pass
        for name in list(self.netns_hosts):
            try:
                self.stop_execd(name)
                netns.delete_host(name)
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                errors.append(exc)
        for pid in {self.qmaster_pid, read_pid(f"{SPOOL}/qmaster/qmaster.pid")}:
            stop_pid(pid, grace=15)
        try:
            self.hosts.restore()
        finally:
            netns.delete_bridge(BRIDGE)
        subprocess.run(["rm", "-rf", self.tmp], check=False)
        if errors:
            raise errors[0]


def _set(text: str, values: dict[str, str]) -> str:
    """Replace ``key value`` lines of a qconf listing."""
    out = []
    for line in text.splitlines():
        key = line.split(None, 1)[0] if line.strip() else ""
        if key in values:
            line = f"{key} {values[key]}"
        out.append(line)
    return "\n".join(out) + "\n"


def wait_host_up(run, name: str, timeout: float = 30) -> None:
    """Until qhost reports load values for ``name`` (its execd talks to qmaster)."""
    def up():
        rc, out, _ = run(["qhost", "-h", name])
        lines = [ln for ln in out.splitlines() if ln.split() and ln.split()[0] == name]
        return rc == 0 and lines and lines[0].split()[3] != "-"
    wait_for(up, timeout, 0.3, what=f"execd of {name} to report")


def since(t0: float) -> float:
    return round(time.monotonic() - t0, 2)
