"""When "not listed" means "does not exist": only after listings across a grace agree.

A cloud listing lags its create calls (eventual consistency) and one listing
may fail or miss something, so one answer without an instance proves nothing.
The key sweep (an accepted key with no instance) and launches whose outcome
is unknown (a create call that timed out) both wait until every good listing
over ``grace`` seconds agrees the instance is not there.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config import Config


def listing_grace(cfg: Config) -> float:
    """How long good listings must agree an instance is absent before we believe it."""
    return max(60.0, 2.0 * cfg.cloud_poller_interval)


# A create call that timed out may have made an instance that the cloud lists only
# minutes later (EC2's DescribeInstances lags RunInstances): wait at least this long.
MAYBE_LAUNCHED_GRACE = 180.0


def maybe_launched_grace(cfg: Config) -> float:
    return max(MAYBE_LAUNCHED_GRACE, listing_grace(cfg))


class Unlisted:
    """Since when each name has been absent from every good listing (in observation time)."""

    def __init__(self) -> None:
        self.since: dict[str, float] = {}

    def observe(self, absent: Iterable[str], now: float, unsure: Iterable[str] = ()) -> None:
        """``absent``: the names good listings do not show now; ``unsure``: names no good listing
        could tell about now (their count goes on); any other name starts over."""
        kept = {name: self.since[name] for name in unsure if name in self.since}
        self.since = {**kept, **{name: self.since.get(name, now) for name in absent}}

    def confirmed(self, grace: float, now: float) -> set[str]:
        """Names absent for at least ``grace`` seconds (a clock stepped back confirms nothing)."""
        return {name for name, since in self.since.items() if now - since >= grace}
