"""Minion start events, taken off the master's bus by the engine itself: a new worker's highstate.

``salt/minion/<id>/start`` used to go through ``reactor/start.sls`` and a runner call
(``dcluster_reactor.minion_started``), which signed a ``started`` command for the engine.
That hop cost the master about 115 ms of CPU per start in the Reactor (Salt's runner
machinery: a job id, its events, a job-cache write that lists every accepted key) and held
a reactor thread until the engine answered: 1.6-3.5 starts a second on two cores, below
Slurm's ``ResumeRate`` default of 300 nodes a minute (issue 15, docs/performance.md).

Who can make the engine highstate a worker is unchanged.  The reactor ran for every
``salt/minion/<id>/start`` on the bus, and any minion can put one there with any id in its
tag and data (Salt fires each event of a ``_minion_event`` load as given; see
tests/unit/test_redteam_12.py): the runner's signature proved only that the reactor saw such
an event.  The engine applies the same checks here as start.sls did (the tag's id, equal to
the event's own ``id``) and then the ``started`` command's own (an id of ours under the
pillar's secret, a starting worker, no highstate of it under way): see
:func:`dcluster.controller.commands.started`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import identity

PREFIX, SUFFIX = "salt/minion/", "/start"


def is_start_tag(tag: Any) -> bool:
    """Whether this is a minion start event (any minion's: most are not ours)."""
    return isinstance(tag, str) and tag.startswith(PREFIX) and tag.endswith(SUFFIX)


def minion_of(tag: str, data: Any) -> tuple[str | None, str]:
    """(the id, "") when the event names one of our ids' shape in its tag and its data alike; else
    (None, why).  Why is "" for a minion that is not a dcluster worker (every other start passes here)."""
    if len(tag) > len(PREFIX) + identity.MAX_LEN + len(SUFFIX):
        return None, ""  # no id of ours is that long (and no longer tag is copied)
    from_tag = tag[len(PREFIX) : -len(SUFFIX)]
    if not identity.well_formed(from_tag):
        return None, ""
    claimed = data.get("id") if isinstance(data, Mapping) else None
    if claimed != from_tag:
        return None, "the event's id is not the tag's minion"
    return from_tag, ""


__all__ = ["PREFIX", "SUFFIX", "is_start_tag", "minion_of"]
