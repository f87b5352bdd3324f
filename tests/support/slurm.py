"""A real Slurm 22.05 (Debian ``slurm-wlm``) for the daemon tests.

``SlurmCluster.start()`` (over :class:`dcluster.demo.slurm.SlurmHead`, shared
with the demo) installs the packages when missing (as root), starts
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
import subprocess
import tempfile

from dcluster import netns
from dcluster.demo.slurm import SlurmHead

from . import read_pid, root_skip_reason, stop_pid, wait_for

BRIDGE = "dcsched0"
GATEWAY = "127.200.0.49"  # dcsched0 is 127.200.0.48/28 (shared with the SGE tests, one module at a time)
PREFIX = 28
CTLD_PORT = 16917
SLURMD_PORT = 16918
FEATURE = "dcluster"
PARTITION = "dyn"


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


class SlurmCluster(SlurmHead):
    """The shared :class:`dcluster.demo.slurm.SlurmHead` plus slurmd's in namespace hosts on ``dcsched0``."""

    def __init__(self):
        super().__init__(
            tempfile.mkdtemp(prefix="dcsched-slurm-"),
            GATEWAY,
            cluster="dcsched",
            ctld_port=CTLD_PORT,
            slurmd_port=SLURMD_PORT,
            feature=FEATURE,
            partition=PARTITION,
        )
        self.netns_hosts: dict[str, str] = {}
        self.slurmd: dict[str, int] = {}  # node name -> pid

    def config(self) -> dict:
        return {
            "type": "slurm",
            "config": {"command_env": self.env, "command_timeout": 30, "partition": PARTITION, "node_feature": FEATURE},
        }

    def start(self) -> None:
        netns.ensure_bridge(BRIDGE, GATEWAY, PREFIX)
        super().start()

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
        proc = netns.spawn(
            ns,
            node,
            argv,
            log_path=os.path.join(self.dir, "log", f"slurmd-{node}.out"),
            env=dict(os.environ, **self.env),
            boottime_zero=boottime_zero,
        )
        proc.wait(timeout=30)  # slurmd daemonizes
        pid = wait_for(
            lambda: read_pid(os.path.join(self.dir, "run", f"slurmd-{node}.pid")), 15, what=f"slurmd pid file of {node}"
        )
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
        super().stop()
        netns.delete_bridge(BRIDGE)
        subprocess.run(["rm", "-rf", self.dir], check=False)
        if errors:
            raise errors[0]
