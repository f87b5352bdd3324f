"""Run callables for the scheduler adapters: ``run(argv, stdin=None) -> (rc, stdout, stderr)``.

:func:`salt_runner` wraps Salt's ``cmd.run_all`` (always ``python_shell=False``);
:func:`local_runner` uses ``subprocess.run`` (tests, tools).  Neither ever uses
a shell: the argv goes to the program as it is.
"""

from __future__ import annotations

import locale
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcluster.schedulers.errors import SchedulerError


def salt_runner(
    cmd_run_all: Callable[..., Mapping[str, Any]], timeout: int = 60, env: Mapping[str, str] | None = None
) -> Callable[..., tuple[int, str, str]]:
    """A run callable over ``__salt__["cmd.run_all"]``."""

    def run(argv: Sequence[str], stdin: str | None = None) -> tuple[int, str, str]:
        kwargs: dict[str, Any] = {
            "python_shell": False,
            "timeout": timeout,
            "ignore_retcode": True,
            "output_loglevel": "quiet",  # outputs can be large; errors carry their head
            "rstrip": False,
        }
        if stdin is not None:
            kwargs["stdin"] = stdin
        if env:
            kwargs["env"] = dict(env)
        ret = cmd_run_all(list(argv), **kwargs)
        rc = ret.get("retcode")
        if rc is None:
            raise SchedulerError(argv, None, ret.get("stderr", ""), "returned no exit code")
        return int(rc), ret.get("stdout", "") or "", ret.get("stderr", "") or ""

    return run


def local_runner(timeout: int = 60, env: Mapping[str, str] | None = None) -> Callable[..., tuple[int, str, str]]:
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
    that holds no carriage return (an 89 MB ``qstat -x``: 0.1 s a poll; issue 15)."""
    out = data.decode(encoding)
    if "\r" in out:
        out = out.replace("\r\n", "\n").replace("\r", "\n")
    return out


def scheduler_adapter(
    kind: str, config_get: Callable[..., Any], cmd_run_all: Callable[..., Mapping[str, Any]], **kwargs: Any
):
    """The scheduler adapter a Salt module uses: settings from ``config.get``, commands through ``cmd.run_all``."""
    from dcluster.schedulers import make_adapter

    from .settings import cluster_settings

    cluster = cluster_settings(config_get, expect=kind)
    conf = cluster.config
    run = salt_runner(cmd_run_all, timeout=conf.command_timeout, env=conf.environment())
    return make_adapter(kind, conf, run, **kwargs)
