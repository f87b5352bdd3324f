"""What the actuator records of the calls it made; the controller keeps it across restarts.

:class:`dcluster.controller.state.ControllerState` extends it with the rest of
the engine's memory and writes it to the state file; the simulator uses it
as it is.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .. import scrub
from ..model import Instance
from ..reconcile import BackoffState

ERRORS = 50


@dataclass
class Records:
    backoff: dict[str, BackoffState] = field(default_factory=dict)
    configured: set[str] = field(default_factory=set)
    # minion ids whose REGISTER was carried out (add_node with the resource's reservation, post_add_node_command),
    # whether the engine created the node or the node joined by itself (slurmd -Z): the planner registers a
    # configured worker's node that is not in here, once
    registered: set[str] = field(default_factory=set)
    config_failed: dict[str, str] = field(default_factory=dict)
    recent_launches: dict[str, Instance] = field(default_factory=dict)  # minion id -> instance we were told of
    in_flight: dict[str, int] = field(default_factory=dict)
    # minion id -> {"resource", "since"} of each id a create call was made for whose outcome is unknown
    # (it failed transiently: a timeout may come after the instance exists); counted toward max until a
    # listing shows it or listings across a grace agree it does not exist (see controller/unlisted.py).
    # Ids of a create call under way are here too, with "launching": True (in_flight counts them), and
    # saved before the call: a master killed during it remembers them as maybe launched after its restart.
    maybe_launched: dict[str, dict[str, Any]] = field(default_factory=dict)
    # request id -> {"minion", "resource", "since", "deadline", "cancelled"} of each request a create call
    # left open (an EC2 spot request), polled each cycle until adopted, cancelled or replaced
    # (actuator/requests.py); its worker counts toward max meanwhile (a placeholder in recent_launches)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ERRORS))
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + n

    def error(self, now: float, where: str, message: str) -> None:
        with self.lock:
            # cut before scrubbing (a secret cut off at the end is still masked), so a huge message costs little
            self.errors.append({"time": now, "where": where, "message": scrub.text(message[:2000])[:1000]})
