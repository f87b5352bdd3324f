"""A worker's scheduler daemon: which argv starts it, whether it runs, starting it.

Used by the ``dcluster_worker`` state.  A worker runs its scheduler daemon on
its own host: on the local cloud that host is the network namespace the
salt-minion itself runs in, so "running here" means a process of that name
in this network namespace.  Nothing goes through a shell; daemons are
started in a new session with their output in a log file, so they outlive
the minion's job process and never hold its pipes.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence

from dcluster.schedulers import KINDS, adapter_class

_WORD = re.compile(r"^[A-Za-z0-9_.:-]+$")


class WorkerError(ValueError):
    pass


def daemon_argv(
    scheduler: str,
    name: str,
    cores: int | None = None,
    mem_mb: int | None = None,
    features: Iterable[str] = (),
    conf: str | None = None,
    sbin: str = "/usr/sbin",
    args: Sequence[str] = (),
) -> list[str]:
    """The argument list that starts ``scheduler``'s worker daemon for node ``name``."""
    try:
        adapter = adapter_class(scheduler)
    except ValueError:
        raise WorkerError(f"scheduler {scheduler!r}: not one of {', '.join(sorted(KINDS))}") from None
    if not _WORD.fullmatch(name or ""):
        raise WorkerError(f"node name {name!r}: letters, digits and _.:- only")
    try:
        own = adapter.worker_args(name, cores, mem_mb, [str(f) for f in features or ()], conf)
    except ValueError as exc:
        raise WorkerError(str(exc)) from None
    return [os.path.join(sbin, adapter.worker_daemon), *own, *(str(a) for a in args)]


def _netns_of(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def running(argv0: str, name: str | None = None) -> list[int]:
    """Pids of live processes named like ``argv0`` in this network namespace (for slurmd: of node ``name``)."""
    mine = _netns_of("self")
    base = os.path.basename(argv0)
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = [p.decode(errors="replace") for p in fh.read().split(b"\0") if p]
            with open(f"/proc/{entry}/stat") as fh:
                if fh.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if not cmd or os.path.basename(cmd[0]) != base or _netns_of(entry) != mine:
            continue
        if base == "slurmd" and name and "-N" in cmd and cmd[cmd.index("-N") + 1 : cmd.index("-N") + 2] != [name]:
            continue
        out.append(int(entry))
    return sorted(out)


def start(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    log_path: str | None = None,
    boottime_zero: bool = False,
    timeout: float = 30.0,
) -> list[int]:
    """Start a self-daemonizing daemon and wait until its process shows up; returns its pids.

    ``boottime_zero`` runs it in a new time namespace whose uptime is ~0
    (slurmctld accepts a slurmd only when it booted after being asked for;
    a namespace host shares this machine's boot time).
    """
    full = dict(os.environ)
    full.update({k: str(v) for k, v in (env or {}).items()})
    cmd = list(argv)
    if boottime_zero:
        with open("/proc/uptime") as fh:
            up = int(float(fh.read().split()[0]))
        cmd = ["unshare", "--time", f"--boottime={-up}", "--fork", *cmd]
    if log_path:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # handed to the child
    try:
        proc = subprocess.run(
            cmd,
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"{argv[0]} did not daemonize within {timeout:g} s") from exc
    except OSError as exc:
        raise WorkerError(f"{argv[0]} could not be started: {exc}") from exc
    finally:
        if not isinstance(out, int):  # our log file (DEVNULL is a constant, nothing to close)
            out.close()
    if proc.returncode != 0:
        raise WorkerError(f"{' '.join(cmd)} exited {proc.returncode}" + (f"; see {log_path}" if log_path else ""))
    deadline = time.monotonic() + timeout
    while True:
        pids = running(argv[0], _node_of(argv))
        if pids:
            return pids
        if time.monotonic() > deadline:
            raise WorkerError(f"{argv[0]} exited right after starting" + (f"; see {log_path}" if log_path else ""))
        time.sleep(0.1)


def _node_of(argv: Sequence[str]) -> str | None:
    argv = list(argv)
    return argv[argv.index("-N") + 1] if "-N" in argv and argv.index("-N") + 1 < len(argv) else None
