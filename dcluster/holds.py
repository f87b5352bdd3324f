"""Which scheduler holds are dcluster's own: the one definition every part uses.

A hold (Slurm drain, Torque offline note, Grid Engine disable) is ours when
its reason starts with "dcluster" (case and surrounding blanks aside): the
adapters mark their holds so, reconcile tells our draining workers from an
admin's held ones by it, and a release leaves any other hold alone unless
forced.  Grid Engine keeps no reason: its adapter reports one of ours for
hosts in its hold hostgroup.
"""

from __future__ import annotations

OUR_HOLD_PREFIX = "dcluster"
DEFAULT_HOLD_REASON = "dcluster: held"  # what a hold without a reason of its own says


def is_our_hold(reason: str | None) -> bool:
    """True when a hold with this reason is dcluster's."""
    return bool(reason) and str(reason).strip().lower().startswith(OUR_HOLD_PREFIX)
