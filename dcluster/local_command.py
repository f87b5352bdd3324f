"""A run callable over ``subprocess.run``, without Salt: ``run(argv, stdin=None) -> (rc, stdout, stderr)``.

What the scheduler adapters call where no Salt minion runs the commands: the engine on a master
that is the head node, the scheduler heads of the demo and the tests, tools.  Never a shell: the
argv goes to the program as it is.  :func:`dcluster.glue.salt_command.salt_command` is the same
through Salt's ``cmd.run_all``.
"""

from __future__ import annotations

import locale
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence

from .schedulers.errors import SchedulerError


def local_command(timeout: int = 60, env: Mapping[str, str] | None = None) -> Callable[..., tuple[int, str, str]]:
    """A run callable over ``subprocess.run`` (no shell)."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update({k: str(v) for k, v in env.items()})

    def run(argv: Sequence[str], stdin: str | None = None) -> tuple[int, str, str]:
        encoding = locale.getpreferredencoding(False)  # what text=True would use
        try:
            proc = subprocess.run(
                list(argv),
                input=None if stdin is None else stdin.encode(encoding),
                capture_output=True,
                timeout=timeout,
                env=full_env,
                stdin=None if stdin is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise SchedulerError(argv, None, exc.stdout or "", f"timed out after {timeout} s") from exc
        except OSError as exc:
            raise SchedulerError(argv, None, "", f"could not start ({exc})") from exc
        return proc.returncode, _text(proc.stdout, encoding), _text(proc.stderr, encoding)

    return run


def _text(data: bytes, encoding: str) -> str:
    """``data`` as ``text=True`` gives it (universal newlines), without its two passes over an output
    that holds no carriage return (an 89 MB ``qstat -x``: 0.1 s a poll; issue 15).  A byte that does not
    decode is replaced, as Salt's ``cmd.run_all`` does on the head minion's path: any user can name a job
    with one (``sbatch -J $'\xff'``), and failing the whole poll on it stopped all scaling."""
    out = data.decode(encoding, errors="replace")
    if "\r" in out:
        out = out.replace("\r\n", "\n").replace("\r", "\n")
    return out
