"""A real Son of Grid Engine 8.1.9 qmaster (Debian ``gridengine-*``) on this host: for the demo and the tests.

:class:`SgeHead` puts the host name on the bridge's gateway address first in
/etc/hosts (SGE's commlib rejects clients whose address resolves to another
name: environment.md §4 caveat 1), starts sge_qmaster on its own ports, allows
root jobs (``min_uid 0``), speeds up scheduling, and creates ``@allhosts``
and ``all.q``.  ``stop()`` stops qmaster by PID and restores /etc/hosts.
The cell (/var/lib/gridengine/default) is the Debian package's: one qmaster
at a time on a machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Sequence
from typing import Any

from ..local_command import local_command
from .procs import HostsFile, alive, read_pid, stop_pid, wait_for

SGE_ROOT = "/var/lib/gridengine"
CELL = "default"
SPOOL = "/var/spool/gridengine"
QMASTER_PID = f"{SPOOL}/qmaster/qmaster.pid"


def installed() -> bool:
    return os.path.exists("/usr/sbin/sge_qmaster") and os.path.exists("/usr/sbin/sge_execd")


def running_qmaster() -> int | None:
    pid = read_pid(QMASTER_PID)
    return pid if pid and alive(pid) else None


class SgeHead:
    """sge_qmaster for exec hosts on ``gateway``'s bridge."""

    def __init__(
        self,
        directory: str,
        gateway: str,
        qmaster_port: int = 16544,
        execd_port: int = 16545,
        hosts_backup: str | None = None,
    ):
        self.host = socket.gethostname()
        self.gateway = gateway
        self.qmaster_port, self.execd_port = qmaster_port, execd_port
        self.hosts = HostsFile(backup=hosts_backup)
        self.run = local_command(timeout=30, env=self.env())
        self.qmaster_pid: int | None = None
        self.tmp = directory
        self.log = os.path.join(self.tmp, "log")
        os.makedirs(self.log, exist_ok=True)

    def env(self) -> dict[str, str]:
        return {
            "SGE_ROOT": SGE_ROOT,
            "SGE_CELL": CELL,
            "SGE_QMASTER_PORT": str(self.qmaster_port),
            "SGE_EXECD_PORT": str(self.execd_port),
        }

    def config(self) -> dict[str, Any]:
        """The ``dcluster:cluster`` pillar section for this qmaster (the master is the head node)."""
        return {"type": "sge", "head_minion": "", "config": {"command_env": self.env(), "command_timeout": 30}}

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

    def hosts_lines(self, extra: Sequence[str] = ()) -> list[str]:
        return [f"{self.gateway} {self.host}", *extra]

    # ----------------------------------------------------------- life cycle
    def start(self, host_lines: Sequence[str] = ()) -> None:
        """Start qmaster; ``host_lines`` (exec hosts) go into /etc/hosts first (qmaster caches lookups)."""
        self.hosts.install(self.hosts_lines(list(host_lines)), drop_name=self.host)
        try:
            os.unlink(QMASTER_PID)  # a stale pid file would be read before qmaster writes its own
        except FileNotFoundError:
            pass
        with open(f"{SGE_ROOT}/{CELL}/common/act_qmaster", "w") as fh:
            fh.write(self.host + "\n")
        os.makedirs("/var/run/gridengine", exist_ok=True)
        shutil.chown("/var/run/gridengine", "sgeadmin", "sgeadmin")
        full = dict(os.environ, **self.env())
        subprocess.run(
            ["/usr/sbin/sge_qmaster"],
            env=full,
            check=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.qmaster_pid = wait_for(lambda: read_pid(QMASTER_PID), 10, what="qmaster.pid")
        wait_for(lambda: self.run(["qstat"])[0] == 0, 20, what="sge_qmaster to answer qstat")
        self.run(["qdel", "-f", "-u", "*"])  # jobs left in the spool by an earlier, killed run
        self.qconf("-as", self.host, check=False)
        rc, sconf, _ = self.qconf("-ssconf")
        sconf = set_values(
            sconf,
            {"schedule_interval": "0:0:1", "flush_submit_sec": "1", "flush_finish_sec": "1", "schedd_job_info": "true"},
        )
        self.qconf("-Msconf", self._file("sconf", sconf))
        rc, conf, _ = self.qconf("-sconf")
        conf = set_values(
            conf, {"load_report_time": "00:00:02", "max_unheard": "00:00:20", "min_uid": "0", "min_gid": "0"}
        )
        os.makedirs(os.path.join(self.tmp, "conf"), exist_ok=True)
        path = os.path.join(self.tmp, "conf", "global")  # -Mconf takes the file name as the config name
        with open(path, "w") as fh:
            fh.write(conf)
        self.qconf("-Mconf", path)
        if self.qconf("-shgrp", "@allhosts", check=False)[0] != 0:
            self.qconf("-Ahgrp", self._file("hg", "group_name @allhosts\nhostlist NONE\n"))
        rc, q, _ = self.qconf("-sq", check=False)
        # load_thresholds NONE: every exec host here is a namespace on this one machine and reports its
        # load; the template's np_load_avg=1.75 put all.q in alarm (no dispatch) whenever it was busy.
        queue = set_values(
            q,
            {
                "qname": "all.q",
                "hostlist": "@allhosts",
                "pe_list": "NONE",
                "slots": "1",
                "shell": "/bin/sh",
                "load_thresholds": "NONE",
            },
        )
        if self.qconf("-sq", "all.q", check=False)[0] == 0:
            self.qconf("-Mq", self._file("all.q", queue))
        else:
            self.qconf("-Aq", self._file("all.q", queue))

    def pids(self) -> dict[str, int]:
        return {"sge_qmaster": self.qmaster_pid} if self.qmaster_pid else {}

    def stop(self) -> None:
        try:
            self.run(["qdel", "-f", "-u", "*"])  # a qmaster without jobs shuts down faster
        except Exception:  # noqa: BLE001 - qmaster may be gone already
            pass
        for pid in {self.qmaster_pid, read_pid(QMASTER_PID)}:
            stop_pid(pid, grace=15)
        self.hosts.restore()


def set_values(text: str, values: dict[str, str]) -> str:
    """Replace ``key value`` lines of a qconf listing."""
    out = []
    for line in text.splitlines():
        key = line.split(None, 1)[0] if line.strip() else ""
        if key in values:
            line = f"{key} {values[key]}"
        out.append(line)
    return "\n".join(out) + "\n"
