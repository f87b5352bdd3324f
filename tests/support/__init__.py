"""Support code for the tests: daemon fixtures (slurm, sge), fake commands (fakecmd), shared helpers.

The helpers used by the daemon fixtures (editing /etc/hosts with a backup that
is restored at teardown, stopping processes by PID) live in
:mod:`dcluster.demo.procs`, shared with the demo; they are re-exported here.
"""

from __future__ import annotations

import os

# The helpers live in the package so the demo (run outside pytest) shares them.
from dcluster.demo.procs import HOSTS, HostsFile, alive, read_pid, stop_pid, wait_for

__all__ = ["HOSTS", "HostsFile", "alive", "read_pid", "root_skip_reason", "stop_pid", "wait_for"]


def root_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "daemon tests need root (they install packages, edit /etc/hosts and create network namespaces)"
    from dcluster import netns

    return netns.available()
