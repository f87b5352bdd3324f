"""What the planner asks for.  Every action says why, in words an admin reads."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Kind(enum.StrEnum):
    LAUNCH = "launch"  # start `count` instances of `resource`
    REGISTER = "register"  # add a configured worker to the scheduler
    HOLD = "hold"  # drain/offline a worker (ours) so it takes no new jobs
    RELEASE = "release"  # undo our hold: demand came back
    REMOVE = "remove"  # delete the node from the scheduler (the adapter refuses if jobs run)
    DESTROY = "destroy"  # delete the instance in the cloud
    VACATE = "vacate"  # requeue or kill a worker's jobs: an operator's command only, never planned


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    resource: str
    reason: str
    target: str = ""  # worker / minion id; "" for launches
    count: int = 0  # launches only
    instance_id: str = ""  # destroy only
    jobs: tuple[str, ...] = ()  # the jobs that motivated a launch (first few)
    cores: int = 0  # register only
    mem_mb: int = 0
    never_joined: bool = False  # destroy only: launched, never configured nor registered (the bootstrap breaker)
    force: bool = False  # release only: lift any hold, not only dcluster's (an operator's release)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "resource": self.resource, "reason": self.reason}
        for key in ("target", "count", "instance_id", "cores", "mem_mb"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.jobs:
            out["jobs"] = list(self.jobs)
        if self.never_joined:
            out["never_joined"] = True
        if self.force:
            out["force"] = True
        return out

    def __str__(self) -> str:
        what = f"{self.count} x {self.resource}" if self.kind == Kind.LAUNCH else self.target
        return f"{self.kind.value} {what}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Plan:
    """The planner's answer.

    ``actions`` are ordered; actions on the same worker must be carried out in
    order, and a worker's chain stops at its first failure (never destroy an
    instance whose node could not be removed).  ``unplaceable`` lists jobs no
    resource can ever run, ``waiting`` jobs that could run but get no capacity
    now (resources at max or backing off), ``notes`` things an admin should see.

    For the dry-run (``explain.py``): ``placed`` says where each job that got
    capacity goes, ``kept`` why a worker is left as it is (worker -> (code, why)),
    ``codes`` files every reason text above under its code (one entry per distinct
    text), ``suppressed`` holds what auto mode would do while it is off.
    """

    actions: tuple[Action, ...] = ()
    unplaceable: tuple[tuple[str, str], ...] = ()
    waiting: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())
    placed: tuple[tuple[str, str], ...] = ()
    kept: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    codes: Mapping[str, str] = field(default_factory=dict)
    suppressed: tuple[Action, ...] = ()
    planned: bool = True  # False: the scheduler poll failed and nothing was planned
    # when, with nothing else changing, a decision of this plan changes by the clock alone (a blocked wide
    # job's start comes within the lead: wide_job_idle; a held job's begin time comes within the preboot
    # lead; a backfill window closes on a job; a running job passes its wall time; a job ages past
    # scale_up_delay; a booted node is held back no longer; a node reaches max_launch_time or
    # max_down_time); the engine plans every poll anyway, the replay wakes then (a time equal to the
    # plan's own: the next cycle)
    recheck: float | None = None

    def of(self, kind: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    def launches(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.of(Kind.LAUNCH):
            out[a.resource] = out.get(a.resource, 0) + a.count
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "unplaceable": [{"job": j, "reason": r} for j, r in self.unplaceable],
            "waiting": [{"job": j, "reason": r} for j, r in self.waiting],
            "notes": list(self.notes),
        }
