"""The planning policy: ``plan(view, config, now) -> Plan``, with packing, eligibility and backoff kept apart."""

from .actions import Action, Kind, Plan
from .policy import plan

__all__ = ["Action", "Kind", "Plan", "plan"]
