"""What the controller needs from the outside world, as small protocols.

The Salt engine implements these with Salt (LocalClient to the head minion,
WheelClient for keys, the master event bus); tests and the demo implement
them with the same adapters directly.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..actuator.ports import SchedulerPort
from ..config import Config, Resource

log = logging.getLogger(__name__)


def run_hook(argv: Sequence[str], timeout: float) -> tuple[int, str]:
    """Run a hook as an argument list (no shell), with a timeout; returns (rc, output)."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s"
    except OSError as exc:
        return -1, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr)[-4000:]


def _nothing(*_a: Any, **_k: Any) -> None:
    return None


@dataclass
class Ports:
    pillar: Callable[[], Mapping[str, Any] | None]  # the `dcluster` pillar
    scheduler: Callable[[Config], SchedulerPort]
    driver: Callable[[Config, Resource], Any]  # -> dcluster.clouds.base.Driver
    fire: Callable[[str, dict[str, Any]], None] = _nothing  # (tag, data) onto the event bus
    preaccept_key: Callable[[str, str], Any] = _nothing  # (minion id, public key PEM): accepted before the launch
    delete_key: Callable[[str], Any] = _nothing
    reject_key: Callable[[str], Any] = _nothing  # a pending key under one of our ids: never accepted
    # the states the master holds keys of an id in ("accepted", "pending", "rejected", "denied"); None: unknown.
    # A salt/auth event can be forged by a worker: a refusal is reported only for a key that exists.
    key_states: Callable[[str], set[str]] | None = None
    accepted_keys: Callable[[], set[str]] = field(default=lambda: set())
    hook: Callable[[Sequence[str], float], tuple[int, str]] = run_hook
    master_address: str | None = None  # given explicitly (the engine's master_address); None: worked out
    master_default: str = "salt"  # the master's own address (dcluster.clouds.base.own_address)
    port_open: Callable[[str, int], bool] | None = None  # for the port config checker
    metrics: Callable[..., Any] | None = None  # (config, view, plan, counters, now) once per cycle
    # (config, minion id, beacon data) for each worker stats sample the engine accepted (stats_intake.py)
    worker_metrics: Callable[[Config, str, Mapping[str, Any]], Any] | None = None
    # (config, {name: address}, withdraw) -> what changed: publishes worker names (dcluster.names); None: never
    names: Callable[[Config, dict[str, str], bool], Any] | None = None
    # minion ids -> the jid of the one state.apply job started on them (0 or "": nothing published);
    # None: no highstates
    # (a second argument, when ``new_jid`` is set: the jid to publish under)
    highstate: Callable[..., Any] | None = None
    # a new jid in Salt's format, made before a highstate's publish so it is recorded first; None: the
    # publish's own jid is recorded after it
    new_jid: Callable[[], str] | None = None
    # (jid, minion id) -> what that minion returned, from Salt's job cache (None until it returned)
    job_result: Callable[[str, str], dict[str, Any] | None] | None = None
    # minion id -> the public key (PEM) the master accepted for it, None if none: verifies the proof a
    # successful highstate carries (highstate_proof.py); None: no successful highstate can be proven
    accepted_key: Callable[[str], str | None] | None = None
