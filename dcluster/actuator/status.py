"""What the actuator is doing, as one immutable value the controller folds into the view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Status:
    chains: frozenset[str] = frozenset()  # workers with a chain of actions under way
    ended: Mapping[str, float] = field(default_factory=_empty)  # worker -> when its last chain ended (monotonic)
    in_flight: Mapping[str, int] = field(default_factory=_empty)  # resource -> instances a create call is making

    def acting(self, observed: float) -> frozenset[str]:
        """Workers a view observed from ``observed`` on must not plan for.

        Those with a chain under way, and those whose chain ended while the view
        was being observed: it may show them half done (a destroyed instance still
        listed and its node gone looks "starting" and would be registered again).
        """
        return self.chains | frozenset(t for t, at in self.ended.items() if at >= observed)

    def to_dict(self) -> dict[str, Any]:
        return {"chains": sorted(self.chains), "in_flight": dict(self.in_flight)}
