"""A throw-away head-node host on this machine, for applying the head formula for real.

:class:`HeadRoot` starts ``head_root_init.py`` under ``unshare`` (private PID, mount,
UTS and network namespaces, overlays over /etc /var /srv /opt: see that file) and runs
commands in it with ``nsenter``.  Its network namespace has only its own loopback, so
the daemons it starts (slurmctld, munged, carbon-cache) use their default ports without
meeting any other test's.  ``stop()`` kills its PID 1 by PID, which makes the kernel
kill every process inside; the overlays go with the mount namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "head_root_init.py")


def available() -> str | None:
    """Why a head root cannot be made here, or None."""
    if os.geteuid() != 0:
        return "the head-formula test needs root (namespaces, overlay mounts, packages)"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    with open("/proc/filesystems") as fh:
        if "overlay" not in fh.read():
            return "the kernel has no overlay filesystem"
    return None


class HeadRoot:
    def __init__(self, directory: str, hostname: str, address: str):
        self.dir = directory
        self.hostname = hostname
        self.address = address
        self.proc: subprocess.Popen | None = None
        self.log = os.path.join(directory, "init.log")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> None:
        os.makedirs(self.dir, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    "unshare",
                    "--fork",
                    "--pid",
                    "--mount-proc",
                    "--mount",
                    "--uts",
                    "--net",
                    "--propagation",
                    "private",
                    "--kill-child",
                    sys.executable,
                    INIT,
                    self.dir,
                    self.hostname,
                    self.address,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ready = os.path.join(self.dir, "ready")
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(self.log) as fh:
                    raise RuntimeError(f"head root did not start: {fh.read()[-2000:]}")
            time.sleep(0.1)
        with open(ready) as fh:
            self.inner_pid = int(fh.read())
        # unshare forks: PID 1 of the namespace is its child; nsenter targets that one.
        self.target = self._child_of(self.proc.pid)

    @staticmethod
    def _child_of(pid: int) -> int:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = fh.read().split()
        if len(children) != 1:
            raise RuntimeError(f"unshare (pid {pid}) has children {children}, expected one")
        return int(children[0])

    def upper(self, path: str) -> str:
        """Where a file the formula wrote under /etc, /var, /srv or /opt is, seen from outside."""
        top, _, rest = path.strip("/").partition("/")
        return os.path.join(self.dir, "overlay", top, "upper", rest)

    def run(
        self,
        argv: list[str],
        timeout: float = 300,
        input: bytes | None = None,  # noqa: A002 - subprocess.run's parameter name
        env: dict | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` inside every namespace of the head root."""
        return subprocess.run(
            ["nsenter", "--target", str(self.target), "--all", *argv],
            capture_output=True,
            timeout=timeout,
            input=input,
            env=env,
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            target = self._child_of(self.proc.pid)
        except (OSError, RuntimeError, ValueError):
            target = None
        for pid in (target, self.proc.pid):
            if pid:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
