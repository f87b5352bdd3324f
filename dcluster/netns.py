"""Network-namespace "hosts" on a loopback bridge: the ground of the local cloud and of the daemon tests.

Each host is a network namespace with one veth leg on a bridge whose
addresses lie in 127.0.0.0/8 (by default 127.200.0.0/24), so no packet can
leave the machine.  Processes run in the namespace through ``nsenter --net``
(not ``ip netns exec``, which remounts /sys and hides the cgroup tree that
slurmd needs) plus ``unshare --uts`` for a host name of their own.

Every command here is an argument list; nothing goes through a shell.  Needs
root and iproute2/util-linux.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

NETNS_DIR = "/run/netns"


class NetnsError(RuntimeError):
    pass


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return proc


def check_loopback(address: str) -> None:
    """Refuse any address outside 127.0.0.0/8: test traffic must never leave this machine."""
    net = ipaddress.ip_network(address, strict=False)
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
        raise NetnsError(f"{address} is not inside 127.0.0.0/8; namespace hosts use loopback addresses only")


def _veth(name: str) -> str:
    # Interface names are at most 15 bytes; host names (minion ids) are longer.
    return "vh" + hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:10]


def available() -> str | None:
    """None when namespace hosts can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "nsenter", "unshare"):
        if not any(
            os.access(os.path.join(d, tool), os.X_OK)
            for d in os.environ.get("PATH", "/usr/sbin:/usr/bin").split(":") + ["/usr/sbin", "/sbin", "/usr/bin"]
        ):
            return f"needs {tool}"
    return None


def ensure_bridge(bridge: str, gateway: str = "127.200.0.1", prefix: int = 24) -> None:
    """Create the bridge with the gateway address (idempotent)."""
    check_loopback(f"{gateway}/{prefix}")
    if _run(["ip", "link", "show", bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", bridge, "type", "bridge"])
    addrs = _run(["ip", "-o", "-4", "addr", "show", "dev", bridge]).stdout
    if f" {gateway}/" not in addrs:
        _run(["ip", "addr", "add", f"{gateway}/{prefix}", "dev", bridge])
    _run(["ip", "link", "set", bridge, "up"])
    # 127/8 on a device other than lo is "martian" unless route_localnet is on.
    _run(["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", f"net.ipv4.conf.{bridge}.route_localnet=1"])


def delete_bridge(bridge: str) -> None:
    _run(["ip", "link", "del", bridge], check=False)


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def add_host(name: str, address: str, bridge: str, prefix: int = 24) -> None:
    """Create namespace ``name`` with ``address`` on ``bridge``."""
    check_loopback(f"{address}/{prefix}")
    if exists(name):
        raise NetnsError(f"namespace {name} exists already")
    veth, peer = _veth(name), "vn" + _veth(name)[2:]
    _run(["ip", "netns", "add", name])
    try:
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", peer])
        _run(["ip", "link", "set", peer, "netns", name])
        _run(["ip", "link", "set", veth, "master", bridge])
        _run(["ip", "link", "set", veth, "up"])
        _run(["ip", "-n", name, "addr", "add", f"{address}/{prefix}", "dev", peer])
        _run(["ip", "-n", name, "link", "set", peer, "up"])
        _run(["ip", "-n", name, "link", "set", "lo", "up"])
        _run(
            [
                "nsenter",
                f"--net={NETNS_DIR}/{name}",
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.route_localnet=1",
                f"net.ipv4.conf.{peer}.route_localnet=1",
            ]
        )
    except Exception:
        delete_host(name)
        raise


def pids(name: str) -> list[int]:
    out = _run(["ip", "netns", "pids", name], check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def delete_host(name: str, grace: float = 3.0) -> None:
    """Stop every process in the namespace (TERM, then KILL) and remove it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        victims = pids(name) if exists(name) else []
        for pid in victims:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 1.0)
        while victims and time.monotonic() < deadline:
            victims = [p for p in victims if _alive(p)]
            time.sleep(0.05)
    _run(["ip", "link", "del", _veth(name)], check=False)
    if exists(name):
        _run(["ip", "netns", "del", name], check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie we are the parent of counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def command(name: str, hostname: str, argv: Sequence[str], boottime_zero: bool = False) -> list[str]:
    """The argv that runs ``argv`` inside host ``name`` with its own host name.

    ``boottime_zero`` starts a time namespace whose uptime is ~0, which
    slurmctld needs to accept a node as freshly booted.
    """
    out = ["nsenter", f"--net={NETNS_DIR}/{name}", "unshare", "--uts", "--fork"]
    if boottime_zero:
        with open("/proc/uptime") as fh:
            up = int(float(fh.read().split()[0]))
        out += ["--time", f"--boottime={-up}"]
    # hostname is set by a tiny python, not a shell: sethostname then exec.
    out += [
        "python3",
        "-c",
        "import os,socket,sys; socket.sethostname(sys.argv[1]); os.execvp(sys.argv[2], sys.argv[2:])",
        hostname,
        *argv,
    ]
    return out


# Forks; the parent exits at once, so the child is nobody's descendant (argv follows).
_DETACH = "import os, sys\nif os.fork():\n    os._exit(0)\nos.execvp(sys.argv[1], sys.argv[1:])"


def spawn(
    name: str,
    hostname: str,
    argv: Sequence[str],
    log_path: str | None = None,
    env: dict[str, str] | None = None,
    boottime_zero: bool = False,
    detach: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` inside host ``name``; output goes to ``log_path`` (or is discarded).

    ``detach``: the process is re-parented away from the caller (the returned
    Popen is an intermediate that exits at once), as a machine's processes are
    no one's children.  The local cloud needs it: Salt's process manager kills
    every descendant of the master when it stops, which would kill the
    instances the engine launched.  The process group (the Popen's pid, a new
    session) still holds the instance's processes.
    """
    cmd = command(name, hostname, argv, boottime_zero)
    if detach:
        cmd = [sys.executable, "-c", _DETACH, *cmd]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # handed to the child
    try:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    finally:
        if not isinstance(out, int):
            out.close()


def list_hosts(prefix: str = "") -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []
