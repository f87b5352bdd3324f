"""Scheduler commands through Salt: a run callable over ``cmd.run_all``, and the adapter built on it.

A run callable is ``run(argv, stdin=None) -> (rc, stdout, stderr)``, what the scheduler adapters
call.  :func:`salt_command` wraps Salt's ``cmd.run_all`` (always ``python_shell=False``: the argv
goes to the program as it is); :func:`dcluster.local_command.local_command` is the same over
``subprocess.run``, without Salt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dcluster.schedulers.errors import SchedulerError

if TYPE_CHECKING:
    from dcluster.schedulers.adapter import Adapter


def salt_command(
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


def scheduler_adapter(
    kind: str, config_get: Callable[..., Any], cmd_run_all: Callable[..., Mapping[str, Any]], **kwargs: Any
) -> Adapter:
    """The scheduler adapter a Salt module uses: settings from ``config.get``, commands through ``cmd.run_all``."""
    from dcluster.schedulers import make_adapter

    from .settings import cluster_settings

    cluster = cluster_settings(config_get, expect=kind)
    conf = cluster.config
    run = salt_command(cmd_run_all, timeout=conf.command_timeout, env=conf.environment())
    return make_adapter(kind, conf, run, **kwargs)
