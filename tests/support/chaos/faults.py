"""Seeded, counted faults for the chaos harness.

Two families (issue 13):

* ``detectable``: scheduler commands that time out, exit non-zero or print
  garbled (truncated, byte-flipped) output that no longer parses; cloud 5xx,
  quota and capacity errors; launches that create the instance and then time
  out; instances vanishing; listings that lag (eventual consistency); minions
  that never join; the master killed mid-listing / mid-launch / mid-chain and
  restarted; clock steps; random operator commands.
* ``wrong``: all of the above plus answers that are valid but wrong: an
  ``sinfo`` missing one node, a cloud listing missing one live instance, byte
  flips that still parse.

Every decision comes from a seeded :class:`random.Random` (one per resource
for cloud listings, which the controller runs on its poll threads, so the
order threads run in does not change the draws).  Every fault injected is
counted in :attr:`Faults.counts`.

To add a fault: give it a probability in :data:`RATES` (and :data:`WRONG_RATES`
if it is a plausible-but-wrong answer), draw it with :meth:`Faults.roll` at the
point where it happens (a scheduler command: :meth:`wrap`; a cloud call:
:meth:`cloud_call` and friends; the world between cycles:
:meth:`tick_events`), and it is counted under its name.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from collections.abc import Callable

from dcluster.clouds.errors import InsufficientCapacity, QuotaExceeded, Transient
from dcluster.model import Instance, InstanceState

FAMILIES = ("detectable", "wrong")

# probability per opportunity (a command, a cloud call, a launch, a tick)
RATES = {
    "sched_timeout": 0.02,
    "sched_exit": 0.02,
    "sched_truncated": 0.015,
    "sched_flip_detectable": 0.01,
    "action_timeout_before": 0.02,
    "action_timeout_after": 0.02,
    "cloud_list_5xx": 0.03,
    "cloud_launch_5xx": 0.04,
    "cloud_quota": 0.03,
    "cloud_capacity": 0.03,
    "launch_created_then_timeout": 0.05,
    "cloud_destroy_5xx": 0.04,
    "listing_lag": 0.3,
    "never_joins": 0.08,
    "kill_mid_listing": 0.003,
    "kill_mid_launch": 0.02,
    "kill_mid_chain": 0.01,
    "restart": 0.004,
    "vanish": 0.003,
    "clock_step": 0.004,
    "operator": 0.02,
}
WRONG_RATES = {
    "sinfo_missing_node": 0.02,
    "listing_missing_instance": 0.02,
    "flip_still_parses": 0.01,
    # one node shown powering up (as after a restart of the controller) or down since long ago
    "sinfo_wrong_state": 0.01,
    # one live instance listed as terminated or in error (stopped)
    "listing_wrong_state": 0.01,
}
CLOCK_STEPS = (-600.0, -300.0, -120.0, 120.0, 300.0, 600.0)
LAG = (10.0, 90.0)
QUERIES = ("squeue", "sinfo")


class MasterKilled(BaseException):
    """The master process died here (a BaseException: nothing in the controller catches it)."""


class Faults:
    def __init__(self, seed: int, family: str, rates: dict[str, float] | None = None):
        if family not in FAMILIES:
            raise ValueError(f"family {family!r} is not one of {FAMILIES}")
        self.seed, self.family = seed, family
        self.rng = random.Random(f"faults-{seed}")
        self._rngs: dict[str, random.Random] = {}
        self.rates = dict(RATES)
        if family == "wrong":
            self.rates.update(WRONG_RATES)
        if rates is not None:
            self.rates.update(rates)
        self.active = True  # off while the cluster settles
        self.counts: dict[str, int] = {}
        self.forced: dict[str, int] = {}  # name -> how many of its next opportunities fire (scripted scenarios)
        self.kill: Callable[[str], None] = lambda where: None  # set by the harness: raises MasterKilled
        self._lock = threading.Lock()
        self.flip = _flip  # how flip_still_parses changes an answer; a scenario may aim it at one field
        # which wrong state sinfo_wrong_state ("powering_up", "down_long_ago") and listing_wrong_state (an
        # InstanceState) show; None: drawn.  Scenarios set them.
        self.wrong_node_state: str | None = None
        self.wrong_instance_state: InstanceState | None = None

    # ------------------------------------------------------------ drawing
    def rng_of(self, resource: str | None) -> random.Random:
        if resource is None:
            return self.rng
        if resource not in self._rngs:
            self._rngs[resource] = random.Random(f"faults-{self.seed}-{resource}")
        return self._rngs[resource]

    def force(self, name: str, times: int = 1) -> None:
        """Make the next ``times`` opportunities of fault ``name`` fire, whatever its rate (even when settling)."""
        self.forced[name] = self.forced.get(name, 0) + times

    def roll(self, name: str, resource: str | None = None) -> bool:
        if self.forced.get(name):
            with self._lock:
                self.forced[name] -= 1
                self.counts[name] = self.counts.get(name, 0) + 1
            return True
        rate = self.rates.get(name, 0.0)
        if not self.active or rate <= 0.0:
            return False
        if self.rng_of(resource).random() >= rate:
            return False
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
        return True

    # ------------------------------------------------------------ the scheduler's command line
    def wrap(self, run: Callable[..., tuple[int, str, str]]) -> Callable[..., tuple[int, str, str]]:
        def faulty(argv, stdin=None):
            prog = argv[0].rsplit("/", 1)[-1]
            if prog in QUERIES or argv[1:3] == ["--future", "show"]:
                return self._query(prog, run, argv)
            if argv[1:2] == ["ping"]:
                return run(argv)
            if self.roll("action_timeout_before"):
                raise TimeoutError("timed out after 30 s (simulated)")
            out = run(argv)
            if self.roll("action_timeout_after"):
                raise TimeoutError("timed out after 30 s, after the command ran (simulated)")
            if out[0] == 0 and self.roll("kill_mid_chain"):
                self.kill(f"after {' '.join(argv[1:3])}")
            return out

        return faulty

    def _query(self, prog: str, run, argv) -> tuple[int, str, str]:
        if self.roll("sched_timeout"):
            raise TimeoutError("timed out after 30 s (simulated)")
        if self.roll("sched_exit"):
            return 1, "", f"{prog}: error: Unable to contact slurm controller (connect failure)\n"
        rc, out, err = run(argv)
        if prog not in QUERIES:
            return rc, out, err
        if self.roll("sched_truncated"):
            return rc, out[: self.rng.randrange(0, max(1, len(out) - 2))], err
        if self.roll("sched_flip_detectable"):
            return rc, _flip(self.rng, out, parses=False), err
        if prog == "sinfo" and self.roll("sinfo_missing_node"):
            doc = json.loads(out)
            if doc["nodes"]:
                doc["nodes"].pop(self.rng.randrange(len(doc["nodes"])))
            return rc, json.dumps(doc), err
        if prog == "sinfo" and self.roll("sinfo_wrong_state"):
            doc = json.loads(out)
            if doc["nodes"]:
                n = doc["nodes"][self.rng.randrange(len(doc["nodes"]))]
                kind = self.wrong_node_state or self.rng.choice(("powering_up", "down_long_ago"))
                if kind == "powering_up":
                    n["state_flags"] = ["POWERING_UP", *n["state_flags"]]
                else:
                    n["state"], n["state_flags"] = "down", ["NOT_RESPONDING", *n["state_flags"]]
                    n["reason"], n["reason_changed_at"] = "Not responding", 1
            return rc, json.dumps(doc), err
        if self.roll("flip_still_parses"):
            return rc, self.flip(self.rng, out, parses=True), err
        return rc, out, err

    # ------------------------------------------------------------ the cloud
    def cloud_call(self, what: str, resource: str) -> None:
        """Raise what the cloud answers instead of doing ``what`` (list, launch, destroy), if anything."""
        rng_key = resource if what == "list" else None
        if what == "list":
            if self.roll("kill_mid_listing", rng_key):
                self.kill("mid-listing")
            if self.roll("cloud_list_5xx", rng_key):
                raise Transient("503 Service Unavailable (simulated)", cloud="chaos", code="503")
        elif what == "launch":
            if self.roll("cloud_quota"):
                raise QuotaExceeded("Quota exceeded for instances (simulated)", cloud="chaos", code="403")
            if self.roll("cloud_capacity"):
                raise InsufficientCapacity("No valid host was found (simulated)", cloud="chaos")
            if self.roll("cloud_launch_5xx"):
                raise Transient("500 Internal Server Error (simulated)", cloud="chaos", code="500")
        elif what == "destroy":
            if self.roll("cloud_destroy_5xx"):
                raise Transient("502 Bad Gateway (simulated)", cloud="chaos", code="502")

    def listing(self, resource: str, listed: list) -> list:
        live = [i for i in listed if i.alive()]
        if live and self.roll("listing_missing_instance", resource):
            gone = live[self.rng_of(resource).randrange(len(live))]
            return [i for i in listed if i is not gone]
        return listed

    def wrong_states(self, resource: str, snapshots: list[Instance]) -> list[Instance]:
        """``snapshots`` with one live instance shown terminated or in error, when listing_wrong_state fires."""
        live = [k for k, i in enumerate(snapshots) if i.state in (InstanceState.PENDING, InstanceState.RUNNING)]
        if live and self.roll("listing_wrong_state", resource):
            rng = self.rng_of(resource)
            k = live[rng.randrange(len(live))]
            snapshots = list(snapshots)
            wrong = self.wrong_instance_state or rng.choice((InstanceState.GONE, InstanceState.ERROR))
            snapshots[k] = dataclasses.replace(snapshots[k], state=wrong)
        return snapshots

    def listing_lag(self) -> float:
        return self.rng.uniform(*LAG) if self.roll("listing_lag") else 0.0

    def joins(self) -> bool:
        return not self.roll("never_joins")

    def after_create(self, resource: str) -> bool:
        if self.roll("kill_mid_launch"):
            self.kill("mid-launch")
        return self.roll("launch_created_then_timeout")

    def after_destroy(self, resource: str) -> None:
        if self.roll("kill_mid_chain"):
            self.kill("after destroy")

    # ------------------------------------------------------------ between cycles
    def tick_events(self) -> list[str]:
        """What happens to the world before this cycle: vanish, clock_step, operator, restart."""
        return [name for name in ("vanish", "clock_step", "operator", "restart") if self.roll(name)]

    def clock_step(self) -> float:
        return self.rng.choice(CLOCK_STEPS)


def _flip(rng: random.Random, text: str, parses: bool) -> str:
    """``text`` with one character changed; ``parses``: the result is still valid JSON (else: is not)."""
    for _ in range(40):
        i = rng.randrange(len(text))
        ch = text[i]
        if parses:
            if not ch.isalnum():
                continue
            new = rng.choice("0123456789") if ch.isdigit() else rng.choice("abcdefghijklmnopqrstuvwxyz")
        else:
            if ch not in '{}[]":,':
                continue
            new = rng.choice("#x!")
        if new == ch:
            continue
        out = text[:i] + new + text[i + 1 :]
        try:
            json.loads(out)
            ok = True
        except ValueError:
            ok = False
        if ok == parses:
            return out
    return text if parses else text[: len(text) // 2]
