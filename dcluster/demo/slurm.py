"""A real Slurm 22.05 controller (Debian ``slurm-wlm``) on this host: for the demo and the daemon tests.

:class:`SlurmHead` writes its own slurm.conf (own ports, state under its
directory, ``SLURM_CONF`` for every command, so /etc/slurm is not touched)
with a NodeSet on the feature ``dcluster`` and a partition of it, starts
munged when none is running and slurmctld on a bridge's gateway address.
Workers join as dynamic nodes (``slurmd -Z``).  ``stop()`` stops what it
started by PID.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import Any

from ..local_command import local_command
from .procs import alive, read_pid, stop_pid, wait_for

MUNGE_PID = "/run/munge/munged.pid"
MUNGE_SOCKET = "/run/munge/munge.socket.2"

CONF = """\
ClusterName={cluster}
SlurmctldHost={host}({gateway})
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=2
Waittime=0
TreeWidth=65533
CommunicationParameters=NoAddrCache
MaxNodeCount=32
NodeSet=dcset Feature={feature}
PartitionName={partition} Nodes=dcset Default=YES MaxTime=INFINITE State=UP
{extra}"""


def installed() -> bool:
    return os.path.exists("/usr/sbin/slurmctld") and os.path.exists("/usr/sbin/munged")


class SlurmHead:
    """slurmctld (and munged if needed) for a cluster whose nodes live on ``gateway``'s bridge."""

    def __init__(
        self,
        directory: str,
        gateway: str,
        cluster: str = "dcsched",
        ctld_port: int = 16917,
        slurmd_port: int = 16918,
        feature: str = "dcluster",
        partition: str = "dyn",
        extra_conf: str = "",
        own_munge: bool = False,
    ):
        self.host = socket.gethostname()
        self.dir = directory
        self.gateway = gateway
        self.cluster = cluster
        self.ctld_port, self.slurmd_port = ctld_port, slurmd_port
        self.feature, self.partition = feature, partition
        self.extra_conf = extra_conf
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.env = {"SLURM_CONF": self.conf}
        self.run = local_command(timeout=30, env=self.env)
        self.munged_pid: int | None = None
        self.ctld_pid: int | None = None
        # own_munge: a munged of our own on a socket in our directory (AuthInfo=socket=...), so other
        # users of the machine's munged (tests running meanwhile) neither stop ours nor see it.
        self.munge_dir = os.path.join(self.dir, "munge") if own_munge else None
        if self.munge_dir:
            self.extra_conf = f"AuthInfo=socket={self.munge_dir}/munge.socket\n" + self.extra_conf

    def config(self) -> dict[str, Any]:
        """The ``dcluster:cluster`` pillar section for this controller (the master is the head node)."""
        return {
            "type": "slurm",
            "head_minion": "",
            "config": {
                "command_env": dict(self.env),
                "command_timeout": 30,
                "partition": self.partition,
                "node_feature": self.feature,
            },
        }

    def write_conf(self) -> None:
        for sub in ("state", "spool", "log", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(self.conf, "w") as fh:
            fh.write(
                CONF.format(
                    cluster=self.cluster,
                    host=self.host,
                    gateway=self.gateway,
                    ctld_port=self.ctld_port,
                    slurmd_port=self.slurmd_port,
                    d=self.dir,
                    feature=self.feature,
                    partition=self.partition,
                    extra=self.extra_conf,
                )
            )

    def start_munge(self) -> None:
        if self.munge_dir:
            os.makedirs(self.munge_dir, mode=0o755, exist_ok=True)
            shutil.chown(self.munge_dir, "munge", "munge")
            pidfile = os.path.join(self.munge_dir, "munged.pid")
            subprocess.run(
                [
                    "runuser",
                    "-u",
                    "munge",
                    "--",
                    "/usr/sbin/munged",
                    "--force",
                    f"--socket={self.munge_dir}/munge.socket",
                    f"--pid-file={pidfile}",
                    f"--log-file={self.munge_dir}/munged.log",
                    f"--seed-file={self.munge_dir}/munged.seed",
                ],
                check=True,
                timeout=30,
            )
            self.munged_pid = wait_for(lambda: read_pid(pidfile), 10, what="munged.pid")
            return
        os.makedirs("/run/munge", exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        if not os.path.exists(MUNGE_SOCKET) or not alive(read_pid(MUNGE_PID) or 0):
            subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"], check=True, timeout=30)
            self.munged_pid = wait_for(lambda: read_pid(MUNGE_PID), 10, what="munged.pid")

    def start(self) -> None:
        """Write slurm.conf, start munged (when none runs) and slurmctld; wait until it answers."""
        self.write_conf()
        self.start_munge()
        stale = os.path.join(self.dir, "run", "slurmctld.pid")
        if os.path.exists(stale):
            os.unlink(stale)
        full = dict(os.environ, **self.env)
        subprocess.run(
            ["/usr/sbin/slurmctld", "-i", "-f", self.conf],
            env=full,
            check=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ctld_pid = wait_for(
            lambda: read_pid(os.path.join(self.dir, "run", "slurmctld.pid")), 10, what="slurmctld.pid"
        )
        wait_for(lambda: "UP" in self.run(["scontrol", "ping"])[1], 20, 0.1, what="slurmctld to answer ping")

    def pids(self) -> dict[str, int]:
        """What this head started, by name (for pid files)."""
        out = {}
        if self.ctld_pid:
            out["slurmctld"] = self.ctld_pid
        if self.munged_pid:
            out["munged"] = self.munged_pid
        return out

    def slurmd_pids(self) -> dict[str, int]:
        """slurmd's started under this configuration (their pid files), by node name."""
        out = {}
        run = os.path.join(self.dir, "run")
        for name in sorted(os.listdir(run)) if os.path.isdir(run) else ():
            if name.startswith("slurmd-") and name.endswith(".pid"):
                pid = read_pid(os.path.join(run, name))
                if pid and alive(pid):
                    out[name[len("slurmd-") : -len(".pid")]] = pid
        return out

    def stop(self) -> None:
        for pid in self.slurmd_pids().values():
            stop_pid(pid, grace=5)
        stop_pid(self.ctld_pid, grace=10)
        if self.munged_pid:
            stop_pid(self.munged_pid, grace=5)
