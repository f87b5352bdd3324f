"""Which scheduler holds are dcluster's own: the one definition every part uses.

A hold (Slurm drain, Torque offline note, Grid Engine disable) is ours when
its reason starts with "dcluster:" (leading blanks aside; case counts, so an
admin's "DCluster node: bad disk" or "dclusterfs broken" stays the admin's).
Every reason dcluster writes starts so; reconcile tells our draining workers
from an admin's held ones by it, and a release leaves any other hold alone
unless forced.  Grid Engine keeps no reason: its adapter reports one of ours
for hosts in its hold hostgroup.
"""

from __future__ import annotations

import re

OUR_HOLD_PREFIX = "dcluster:"
DEFAULT_HOLD_REASON = "dcluster: held"  # what a hold without a reason of its own says


def is_our_hold(reason: str | None) -> bool:
    """True when a hold with this reason is dcluster's."""
    return bool(reason) and str(reason).lstrip().startswith(OUR_HOLD_PREFIX)


# What every adapter takes in a hold reason (schedulers/validate.py builds HOLD_REASON_RE from these): Slurm's
# drain reason, Torque's note and our Grid Engine record all pass through the same check.
REASON_CHARS = "A-Za-z0-9_.@:%=,+/ -"  # a regex character class's inside
REASON_MAX = 200
_NOT_IN_A_REASON = re.compile(f"[^{REASON_CHARS}]+")


def hold_text(reason: str) -> str:
    """``reason`` as a hold reason every adapter accepts: ";" and " (" a comma, other brackets dropped
    ("node(s)" -> "nodes"), any other character outside the accepted set a blank, blanks collapsed, at most
    REASON_MAX characters.  The planner's own reasons carry figures in brackets; an adapter refused
    such a hold, so the worker was never held, removed or destroyed."""
    text = reason.replace(";", ",").replace(" (", ", ").replace("(", "").replace(")", "")
    text = " ".join(_NOT_IN_A_REASON.sub(" ", text).split())
    return text[:REASON_MAX].rstrip() or DEFAULT_HOLD_REASON
