"""A real Son of Grid Engine 8.1.9 (Debian ``gridengine-*``) for the daemon tests.

``SgeCluster.start()`` (over :class:`dcluster.demo.sge.SgeHead`, shared with
the demo) installs the packages when missing (as root), puts the
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
import subprocess
import tempfile
import time

from dcluster import netns
from dcluster.demo.sge import CELL, SGE_ROOT, SPOOL, SgeHead
from dcluster.demo.sge import set_values as _set  # noqa: F401

from . import alive, read_pid, root_skip_reason, stop_pid, wait_for

QMASTER_PORT = 16544
EXECD_PORT = 16545
BRIDGE = "dcsched0"
GATEWAY = "127.200.0.49"  # dcsched0 is 127.200.0.48/28: .49 gateway, .50-.62 hosts (clear of other tests)
PREFIX = 28
PACKAGES = ("gridengine-master", "gridengine-exec", "gridengine-client")


def execd_pid(host: str) -> int | None:
    """The pid of the exec host's running execd (the demo runs none: its workers' own states do)."""
    pid = read_pid(f"{SPOOL}/execd/{host}/execd.pid")
    return pid if pid and alive(pid) else None


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
    return {
        "SGE_ROOT": SGE_ROOT,
        "SGE_CELL": CELL,
        "SGE_QMASTER_PORT": str(QMASTER_PORT),
        "SGE_EXECD_PORT": str(EXECD_PORT),
    }


class SgeCluster(SgeHead):
    """The shared :class:`dcluster.demo.sge.SgeHead` plus exec hosts in namespace hosts on ``dcsched0``."""

    def __init__(self):
        super().__init__(tempfile.mkdtemp(prefix="dcsched-sge-"), GATEWAY, QMASTER_PORT, EXECD_PORT)
        self.netns_hosts: dict[str, str] = {}  # name -> address

    def config(self) -> dict:
        """The dcluster:cluster pillar section for this cluster."""
        return {"type": "sge", "config": {"command_env": env(), "command_timeout": 30}}

    # ----------------------------------------------------------- life cycle
    def start(self, exec_hosts: tuple[str, ...] = ()) -> None:
        """Start qmaster; ``exec_hosts`` get namespace hosts and /etc/hosts lines first (qmaster caches lookups)."""
        netns.ensure_bridge(BRIDGE, GATEWAY, PREFIX)
        super().start([f"127.200.0.{50 + i} {name}" for i, name in enumerate(exec_hosts)])
        for i, name in enumerate(exec_hosts):
            self.add_netns_host(name, i)

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
        proc = netns.spawn(
            name, name, ["/usr/sbin/sge_execd"], log_path=os.path.join(self.log, f"execd-{name}.log"), env=full
        )
        proc.wait(timeout=30)  # execd daemonizes; its pid file says where it went
        wait_for(lambda: read_pid(f"{spool}/execd.pid"), 15, what=f"execd pid file of {name}")

    def stop_execd(self, name: str) -> None:
        stop_pid(execd_pid(name), grace=5)

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
        try:
            super().stop()
        finally:
            netns.delete_bridge(BRIDGE)
        subprocess.run(["rm", "-rf", self.tmp], check=False)
        if errors:
            raise errors[0]


def wait_host_up(run, name: str, timeout: float = 30) -> None:
    """Until qhost reports load values for ``name`` (its execd talks to qmaster)."""

    def up():
        rc, out, _ = run(["qhost", "-h", name])
        lines = [ln for ln in out.splitlines() if ln.split() and ln.split()[0] == name]
        return rc == 0 and lines and lines[0].split()[3] != "-"

    wait_for(up, timeout, 0.3, what=f"execd of {name} to report")


def since(t0: float) -> float:
    return round(time.monotonic() - t0, 2)
