"""Process and host helpers shared by the demo stack and the daemon tests.

Editing /etc/hosts with a backup that is restored afterwards, stopping
processes by PID, pid files and polling.  No shell anywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

HOSTS = "/etc/hosts"


class HostsFile:
    """Puts lines at the top of /etc/hosts; ``restore()`` puts the backup back.

    ``drop_name`` is removed from every other line (SGE needs the host name to
    resolve to the bridge address only).  If someone else changed the file
    meanwhile, only our lines are taken out instead of restoring the backup.
    ``backup`` is kept on disk until ``restore()``, so a crashed run can be
    undone later (:func:`restore_backup`).
    """

    def __init__(self, path: str = HOSTS, backup: str | None = None):
        self.path = path
        self.backup = backup or f"{path}.dcsched-backup"
        self.written: str | None = None
        self.original: str | None = None

    def install(self, lines: list[str], drop_name: str | None = None) -> None:
        with open(self.path) as fh:
            self.original = fh.read()
        shutil.copy2(self.path, self.backup)
        kept = []
        for line in self.original.splitlines():
            fields = line.split("#", 1)[0].split()
            if drop_name and len(fields) >= 2 and drop_name in fields[1:]:
                rest = [f for f in fields[1:] if f != drop_name]
                if not rest:
                    continue
                line = " ".join([fields[0], *rest])
            kept.append(line)
        self.written = "\n".join([*lines, *kept]) + "\n"
        self._write(self.written)

    def add(self, line: str) -> None:
        with open(self.path) as fh:
            current = fh.read()
        if line in current.splitlines():
            return
        new = current.rstrip("\n") + "\n" + line + "\n"
        if self.written == current:
            self.written = new
        self._write(new)

    def _write(self, text: str) -> None:
        # /etc/hosts may be a bind mount: rewrite in place, never rename over it.
        with open(self.path, "w") as fh:
            fh.write(text)

    def restore(self) -> None:
        if self.original is None:
            return
        with open(self.path) as fh:
            current = fh.read()
        if current == self.written:
            self._write(self.original)
        else:  # someone else edited it too: take out only what we added
            ours = set(self.written.splitlines()) - set(self.original.splitlines()) if self.written else set()
            self._write("\n".join(line for line in current.splitlines() if line not in ours) + "\n")
        try:
            os.unlink(self.backup)
        except FileNotFoundError:
            pass
        self.original = None


def restore_backup(path: str, backup: str, ours: list[str]) -> bool:
    """After a crash: take the lines in ``ours`` out of ``path`` and drop the backup.

    Lines of others are kept; a host-name line we removed (``drop_name``) is
    put back from the backup.  Returns whether there was anything to undo.
    """
    if not os.path.exists(backup):
        return False
    with open(backup) as fh:
        original = fh.read()
    with open(path) as fh:
        current = fh.read()
    mine = set(ours) - set(original.splitlines())
    kept = [ln for ln in current.splitlines() if ln not in mine]
    for ln in original.splitlines():
        if ln not in kept:
            kept.append(ln)
    with open(path, "w") as fh:
        fh.write("\n".join(kept) + "\n")
    os.unlink(backup)
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [p.decode(errors="replace") for p in fh.read().split(b"\0") if p]
    except OSError:
        return []


def stop_pid(pid: int | None, grace: float = 10.0, group: bool = False) -> None:
    """TERM, wait up to ``grace`` seconds, then KILL.  ``group``: the process group ``pid`` leads too."""
    if not pid or pid <= 1:
        return

    def send(sig: signal.Signals) -> None:
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    if not alive(pid) and not group:
        _reap(pid)
        return
    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid) and (not group or not _group_alive(pid)):
            break
        time.sleep(0.05)
    else:
        send(signal.SIGKILL)
        time.sleep(0.1)
    _reap(pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[-1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
            except (OSError, ValueError, IndexError):
                continue
    return False


def _reap(pid: int) -> None:
    try:  # reap if it is our child
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def read_pid(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.2, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last = exc
        else:
            last = value
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
