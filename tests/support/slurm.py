"""A real Slurm 22.05 (Debian ``slurm-wlm``) for the daemon tests.

``SlurmCluster.start()`` installs the packages when missing (as root), starts
munged when none is running, writes its own slurm.conf (own ports, state under
a temp dir, ``SLURM_CONF`` for every command, so /etc/slurm is not touched)
with a NodeSet on the feature ``dcluster`` and a partition ``dyn`` of it, and
starts slurmctld on the test bridge's gateway.  slurmd's run in
network-namespace hosts (dcluster.netns: ``nsenter --net``, not ``ip netns
exec``, which hides the cgroup tree; environment.md §3) with their own host
name.  ``stop()`` stops every daemon it started by PID, deletes the
namespaces and the bridge; fixtures call it in a finalizer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile

from dcluster import netns
from dcluster.glue.run import local_runner

from . import alive, read_pid, root_skip_reason, stop_pid, wait_for

BRIDGE = "dcsched0"
GATEWAY = "127.200.0.49"  # dcsched0 is 127.200.0.48/28 (shared with the SGE tests, one module at a time)
PREFIX = 28
CTLD_PORT = 16917
SLURMD_PORT = 16918
FEATURE = "dcluster"
PARTITION = "dyn"

CONF = """\
ClusterName=dcsched
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
"""


def skip_reason() -> str | None:
    why = root_skip_reason()
    if why:
        return why
    if not os.path.exists("/usr/sbin/slurmctld"):
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        subprocess.run(["bash", os.path.join(here, "scripts", "install-system-deps.sh")], check=False, timeout=600)
        if not os.path.exists("/usr/sbin/slurmctld"):
            return "slurm-wlm could not be installed (see scripts/install-system-deps.sh)"
    return None


class SlurmCluster:
    def __init__(self):
        self.host = socket.gethostname()
        self.dir = tempfile.mkdtemp(prefix="dcsched-slurm-")
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.env = {"SLURM_CONF": self.conf}
        self.run = local_runner(timeout=30, env=self.env)
        self.munged_pid: int | None = None
        self.ctld_pid: int | None = None
        self.netns_hosts: dict[str, str] = {}
        self.slurmd: dict[str, int] = {}  # node name -> pid

    def config(self) -> dict:
        return {"type": "slurm", "config": {"command_env": self.env, "command_timeout": 30,
                                            "partition": PARTITION, "node_feature": FEATURE}}

    def start(self) -> None:
        for sub in ("state", "spool", "log", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(self.conf, "w") as fh:
            fh.write(CONF.format(host=self.host, gateway=GATEWAY, ctld_port=CTLD_PORT, slurmd_port=SLURMD_PORT,
                                 d=self.dir, feature=FEATURE, partition=PARTITION))
        netns.ensure_bridge(BRIDGE, GATEWAY, PREFIX)
        os.makedirs("/run/munge", exist_ok=True)
        subprocess.run(["chown", "munge:munge", "/run/munge"], check=True)
        if not os.path.exists("/run/munge/munge.socket.2") or not alive(read_pid("/run/munge/munged.pid") or 0):
            subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"], check=True, timeout=30)
            self.munged_pid = wait_for(lambda: read_pid("/run/munge/munged.pid"), 10, what="munged.pid")
        full = dict(os.environ, **self.env)
        subprocess.run(["/usr/sbin/slurmctld", "-i", "-f", self.conf], env=full, check=True, timeout=30,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ctld_pid = wait_for(lambda: read_pid(os.path.join(self.dir, "run", "slurmctld.pid")), 10,
                                 what="slurmctld.pid")
        wait_for(lambda: "UP" in self.run(["scontrol", "ping"])[1], 20, 0.1, what="slurmctld to answer ping")

    def add_netns_host(self, name: str, index: int) -> str:
        address = f"127.200.0.{56 + index}"
        assert 56 + index <= 62
        if netns.exists(name):
            netns.delete_host(name)
        netns.add_host(name, address, BRIDGE, PREFIX)
        self.netns_hosts[name] = address
        return address

    def start_slurmd(self, ns: str, node: str, dynamic_conf: str | None = None, boottime_zero: bool = True) -> int:
        """slurmd for ``node`` in host ``ns``; ``dynamic_conf`` registers it with ``-Z --conf``."""
        argv = ["/usr/sbin/slurmd", "-f", self.conf, "-N", node]
        if dynamic_conf is not None:
            argv += ["-Z", "--conf", dynamic_conf]
        os.makedirs(os.path.join(self.dir, "spool", node), exist_ok=True)
        proc = netns.spawn(ns, node, argv, log_path=os.path.join(self.dir, "log", f"slurmd-{node}.out"),
                           env=dict(os.environ, **self.env), boottime_zero=boottime_zero)
        proc.wait(timeout=30)  # slurmd daemonizes
        pid = wait_for(lambda: read_pid(os.path.join(self.dir, "run", f"slurmd-{node}.pid")), 15,
                       what=f"slurmd pid file of {node}")
        self.slurmd[node] = pid
        return pid

    def stop_slurmd(self, node: str) -> None:
        stop_pid(self.slurmd.pop(node, None), grace=5)

    def stop(self) -> None:
        errors = []
        for node in list(self.slurmd):
            self.stop_slurmd(node)
        for name in list(self.netns_hosts):
            try:
                netns.delete_host(name)
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                errors.append(exc)
        stop_pid(self.ctld_pid, grace=10)
        if self.munged_pid:
            stop_pid(self.munged_pid, grace=5)
        netns.delete_bridge(BRIDGE)
        subprocess.run(["rm", "-rf", self.dir], check=False)
        if errors:
            raise errors[0]
