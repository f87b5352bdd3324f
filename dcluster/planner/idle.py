"""``idle_policy: adaptive``: how many unwanted idle workers of a resource recent demand would take.

The ski-rental trade-off: an idle worker kept costs its idle time; one released
costs, when demand comes back, a boot of node time and a boot of a job's wait.
With job starts taking ``rate`` nodes per second, the m-th idle worker is taken
about m / rate seconds from now, so the freshest ``rate x horizon`` of them are
worth keeping (``horizon`` = ``idle_keep_boots`` x the median boot time) and
the others are released at once.  For arrivals without memory this is the
optimum: keeping a worker pays exactly when its expected wait for demand is
shorter than what a release would cost.  Kept workers still go after
``max_idle_time``.  Nothing here ever touches a worker: the planner applies it
to idle workers that no pending job wants, above the resource's min.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config

if TYPE_CHECKING:
    from ..reconcile import View


@dataclass(frozen=True, slots=True)
class Keep:
    count: int  # the freshest this many unwanted idle workers are kept (up to max_idle_time)
    rate: float  # nodes per second taken by job starts, recently
    boot: float  # the median boot time, s
    horizon: float  # idle_keep_boots x boot, s
    first: float  # start time of the oldest start in the window (recheck)
    taken: int  # nodes taken by the window's later starts (recheck)

    def demand(self) -> str:
        return (
            f"recent demand ({self.rate * 3600:,.1f} nodes/h) would take {self.count} idle node(s) within "
            f"{self.horizon:.0f} s (idle_keep_boots x boot {self.boot:.0f} s)"
        )

    def recheck(self) -> float | None:
        """When, with no new start, the rate falls enough to keep one worker fewer (None: it keeps none)."""
        if self.count < 1:
            return None
        return self.first + self.taken * self.horizon / self.count


def keep_for_demand(view: View, config: Config, resource: str, now: float) -> Keep | None:
    """The adaptive decision for ``resource``, or None: the fixed max_idle_time applies (policy fixed, or
    too little seen yet: fewer than MIN_TAKES starts or no boot since the engine started)."""
    if config.idle_policy != "adaptive":
        return None
    seen = view.demand.get(resource)
    if seen is None:
        return None
    rate, boot = seen.rate(now), seen.boot()
    if rate is None or boot is None:
        return None
    horizon = config.idle_keep_boots * boot
    # at most a billion: a boot time near a double's limit made an infinity int() refuses, every plan
    count = int(min(rate * horizon + 1e-9, 1e9))
    return Keep(count, rate, boot, horizon, seen.takes[0][0], sum(n for _, n in seen.takes[1:]))
