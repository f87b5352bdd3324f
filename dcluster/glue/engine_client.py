"""How the ``dcluster`` runner reaches the engine: an event out, the answer on a reply tag.

The engine is the one actor; runners never compute a second view of the
cluster.  Read-only runners read what the engine publishes each cycle beside
``<cachedir>/dcluster/state.json`` (``controller/publish.py``), or, for a page of jobs
not published, ask the engine; actions go to the engine as events,
signed with the master-local command key (see ``command_auth``): a minion can
fire the same tag, but the engine obeys only what a runner in the master signed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

STALE_AFTER = 300  # seconds without a new cycle before the status says the engine looks stopped


class EngineUnavailable(RuntimeError):
    pass


def state_file(opts: Mapping[str, Any]) -> str:
    return os.path.join(opts["cachedir"], "dcluster", "state.json")


def _read(opts: Mapping[str, Any], which: str) -> dict[str, Any]:
    from ..controller import publish
    from ..controller import state as st

    path = publish.paths(state_file(opts))[which]
    try:
        data = st.read(path)
    except FileNotFoundError:
        raise EngineUnavailable(
            f"nothing published by the engine at {path}: is the dcluster engine configured (master 'engines:') "
            "and running?"
        ) from None
    return data if isinstance(data, dict) else {}


def published(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The summary the engine published after its last cycle (``controller/publish.py``), with its age."""
    data = _read(opts, "summary")
    last = data.get("last") or {}
    age = time.time() - float(last.get("time") or 0)
    data["engine_age_s"] = round(age, 1)
    data["engine_stale"] = age > STALE_AFTER
    return data


def workers(opts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every worker of the last cycle's view."""
    return list(_read(opts, "workers").get("workers") or [])


def jobs(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The first page of the last cycle's jobs, of all and of each state, and each state's count."""
    return _read(opts, "jobs")


TIMEOUT_OPTION = "dcluster_command_timeout"  # master config: seconds a runner waits for the engine's answer


def command_timeout(opts: Mapping[str, Any]) -> float:
    """The master's ``dcluster_command_timeout`` (default 60 s): how long a runner waits for the engine.
    A master whose engine cycles slowly (100,000 jobs) may need more; one that wants a missing engine
    reported sooner, less."""
    value = opts.get(TIMEOUT_OPTION, 60)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 3600:
        raise EngineUnavailable(
            f"master option {TIMEOUT_OPTION} is {str(value)[:40]!r}: it must be a number of seconds from 1 to 3600"
        )
    return float(value)


def call(
    opts: Mapping[str, Any], cmd: str, args: dict[str, Any] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """The engine's answer to ``cmd``, waited for ``timeout`` s (default: :func:`command_timeout`)."""
    import salt.utils.event

    from . import command_auth

    timeout = command_timeout(opts) if timeout is None else timeout
    key = command_auth.load_or_create_key(command_auth.key_path(opts["cachedir"]))
    reply = f"dcluster/reply/{uuid.uuid4().hex}"
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        bus.subscribe(reply)
        bus.fire_event(command_auth.sign(key, cmd, args or {}, reply), f"dcluster/cmd/{cmd}")
        deadline = time.monotonic() + timeout  # a wall-clock step back must not stretch the wait by its size
        while time.monotonic() < deadline:
            ev = bus.get_event(wait=min(1.0, deadline - time.monotonic()), tag=reply, full=True)
            if ev and ev.get("tag") == reply:
                return ev.get("data") or {}
    raise EngineUnavailable(f"the dcluster engine did not answer {cmd!r} within {timeout:.0f} s; is it running?")
