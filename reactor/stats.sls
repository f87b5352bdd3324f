#!py
"""Retired: renders no reaction.  Kept for one release only, for masters upgraded in place.

The workers' ``dcluster_stats`` beacon events reach Graphite through the engine, which
checks each one and lets at most ``stats_interval``'s rate of samples per worker through
(dcluster/controller/stats_intake.py).  This file used to start a runner job
(``dcluster_reactor.forward_stats``, now gone) for every such event, and anything that can
put events on the master's bus could make the master start one per event.

A master whose reactor configuration still maps ``salt/beacon/*/dcluster_stats/`` to this
file should drop that mapping and restart (see README, "Upgrading").  Until it does, this
empty reaction makes the old mapping cost one render per event and start nothing: copying
the new reactor files over the old ones replaces the stats.sls that called the runner, and
a mapping to a missing file would log an error for every event instead.
"""


def run():
    return {}
