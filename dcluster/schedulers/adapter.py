"""The scheduler adapter interface: one signature per operation, capabilities as class attributes.

Every scheduler (Torque with MAUI, Grid Engine, Slurm) is a subclass of
:class:`Adapter`; callers (the Salt modules, the engine's ports, the
actuator, the planner) use these methods and attributes only, never the
scheduler's name.  An adapter holds the typed settings of its type
(:mod:`dcluster.config.schedulers`) and a ``run(argv, stdin=None) -> (rc,
stdout, stderr)`` callable that runs one argument list, no shell: in Salt it
wraps ``cmd.run_all``, in the engine ``subprocess.run``, in tests a recorder.
Nothing here imports Salt.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from dcluster.config import Command, CommandError
from dcluster.config.schedulers import SchedulerConfig, from_pillar
from dcluster.holds import DEFAULT_HOLD_REASON, is_our_hold
from dcluster.model import Job, Node, NodeState

from .errors import RefusedError, SchedulerError
from .validate import check_host, reservation_fields

log = logging.getLogger(__name__)

# run(argv, stdin=None) -> (rc, stdout, stderr)
Run = Callable[..., tuple[int, str, str]]


class Adapter(ABC):
    """One scheduler's queries and actions as sequences of commands."""

    kind: ClassVar[str]  # the pillar's cluster:type
    node_word: ClassVar[str] = "node"  # what the scheduler calls its nodes, for messages
    config_type: ClassVar[type[SchedulerConfig]]
    worker_daemon: ClassVar[str]  # the program a worker runs to join (dcluster.glue.worker)
    # Capabilities (what callers used to find out from the scheduler's name or a method's signature):
    # add_node uses the instance's address (Slurm's NodeAddr) instead of resolving the node's name
    takes_address: ClassVar[bool] = False
    keeps_cache: ClassVar[bool] = False  # takes cache_dir: what it learns is kept there from call to call
    # the scheduler reaches nodes by name: the head resolves a worker's name before add_node, and the
    # workers resolve each other's (dcluster.names publishes hosts lines to both)
    resolves_names: ClassVar[bool] = True
    # nodes() and jobs() are read-only commands sharing nothing here: the engine runs them at once
    # (controller/loop.py) when whoever gave ``run`` knows it thread-safe and sets this (subprocess is:
    # engine_ports.local_scheduler); a recorder or a simulation keeps its calls in order
    queries_in_parallel = False

    def __init__(
        self, config: SchedulerConfig | Mapping[str, Any], run: Run, sleep: Callable[[float], None] | None = None
    ) -> None:
        if not isinstance(config, SchedulerConfig):
            # a raw mapping (a caller that did not go through dcluster.config.load): validated here
            config = from_pillar(self.kind, config)
        if not isinstance(config, self.config_type):
            raise TypeError(f"{type(self).__name__} takes a {self.config_type.__name__}, not {type(config).__name__}")
        self.config = config
        self._run = run
        self.sleep = sleep or time.sleep

    # -- what every node of a resource offers, and how a worker joins (class-level: no adapter needed)
    @classmethod
    def offered(cls, config: SchedulerConfig, reservation: Any) -> frozenset[str]:
        """The properties every node add_node registers for ``reservation`` carries: its properties."""
        return frozenset(reservation_fields(reservation)[2])

    @classmethod
    def worker_args(
        cls, name: str, cores: int | None, mem_mb: int | None, features: Sequence[str], conf: str | None
    ) -> list[str]:
        """Arguments of :attr:`worker_daemon` for node ``name`` (raises ValueError on a bad value).

        Most daemons wait for the head to add their host and take none."""
        return []

    # -- helpers
    def cmd(self, key: str) -> Command:
        """The configured command ``key`` (a ``*_command`` setting of :attr:`config`)."""
        command = getattr(self.config, key, None)
        if not isinstance(command, Command):
            raise SchedulerError(key, None, "", f"command {key!r} is not configured")
        return command

    def argv(self, key: str, *values: object) -> list[str]:
        try:
            return self.cmd(key).render(*values)
        except CommandError as exc:
            raise RefusedError(key, str(exc)) from exc

    def call(
        self, argv: Sequence[str], stdin: str | None = None, ok: Sequence[int] = (0,), check: bool = True
    ) -> tuple[int, str, str]:
        argv = [str(a) for a in argv]
        log.debug("%s: running %s", self.kind, argv)
        try:
            rc, out, err = self._run(argv, stdin) if stdin is not None else self._run(argv)
        except SchedulerError:
            raise
        except Exception as exc:  # timeouts, missing binaries
            raise SchedulerError(argv, None, "", f"could not run ({exc})") from exc
        out = out or ""
        err = err or ""
        if check and rc not in ok:
            raise SchedulerError(argv, rc, (err + "\n" + out).strip() if err.strip() else out)
        return rc, out, err

    def output(self, argv: Sequence[str], stdin: str | None = None) -> str:
        return self.call(argv, stdin)[1]

    def filter_jobs(self, jobs: list[Job]) -> list[Job]:
        queues = self.config.queue_to_monitor
        if not queues:
            return jobs
        # a job counts when it may run in any monitored queue: one that names no queue (Grid Engine without
        # -q) may run in all of them; one that names several (-q a.q,b.q, -p a,b) or a pattern, in any match
        return [j for j in jobs if any(j.may_run_in(q) for q in queues)]

    def node(self, name: str) -> Node | None:
        """One node, or None when the scheduler does not know it."""
        check_host(name)
        for node in self.nodes():
            if node.name == name:
                return node
        return None

    def releasable(self, name: str, force: bool = False) -> Node:
        """The node ``name``, if we may release it: not held, held by us, or anyone's with ``force``."""
        node = self.node(name)
        if node is None:
            raise RefusedError("release", f"{name} is not a {self.node_word}")
        if node.state == NodeState.HELD and not is_our_hold(node.hold_reason) and not force:
            raise RefusedError("release", f"{name} is held by someone else ({node.hold_reason!r}); not releasing")
        return node

    def wait_for_jobs(self, name: str, node: Node | None, wait: float) -> Node | None:
        """``node`` as seen once it runs no job, or after ``wait`` seconds, whichever is first."""
        deadline = time.monotonic() + wait
        while node is not None and node.jobs and time.monotonic() < deadline:
            self.sleep(1.0)
            node = self.node(name)
        return node

    # -- the interface (one implementation per scheduler)
    @abstractmethod
    def jobs(self) -> list[Job]:
        """The jobs of the monitored queues (``queue_to_monitor``; all when empty)."""

    @abstractmethod
    def nodes(self) -> list[Node]:
        """Every node the scheduler knows."""

    @abstractmethod
    def check(self) -> dict[str, Any]:
        """``{"healthy": bool, "scheduler": kind, "problems": [text, ...]}``."""

    @abstractmethod
    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> dict[str, Any]:
        """Make ``name`` a node with ``cores`` (and ``mem_mb``), the reservation's queue, account and
        properties and ``properties``.  ``address`` (an IP literal) is used when :attr:`takes_address`;
        the others reach the node by its name."""

    @abstractmethod
    def set_reservation(
        self, name: str, queue: str | None = None, account: str | None = None, properties: Iterable[str] = ()
    ) -> Any:
        """Reserve node ``name`` for a queue and/or an account (and give it ``properties``, where the
        scheduler can add them to an existing node)."""

    @abstractmethod
    def hold(self, name: str, reason: str = DEFAULT_HOLD_REASON) -> None:
        """Stop new jobs from starting on ``name``; ``reason`` marks the hold as ours (dcluster.holds)."""

    @abstractmethod
    def release(self, name: str, force: bool = False) -> None:
        """Undo our hold of ``name``; another's hold is refused unless ``force``."""

    @abstractmethod
    def remove(self, name: str, wait: float = 0.0) -> dict[str, Any]:
        """Delete node ``name``, waiting up to ``wait`` seconds for its jobs to end; refused while any runs."""

    @abstractmethod
    def vacate(self, name: str) -> list[str]:
        """Requeue or kill the jobs of ``name``; their ids."""
