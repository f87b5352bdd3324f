#!py
"""Retired: renders no reaction.  Kept for one release only, for masters upgraded in place.

The engine takes ``salt/minion/<id>/start`` off the master's bus itself and highstates a
starting worker of ours after the same checks (dcluster/controller/start_events.py).  This
file used to call a runner (``dcluster_reactor.minion_started``) for every start event: about
115 ms of the master's CPU each, and a reactor thread held until the engine answered, which
capped a scale-out burst at 2-3 new workers a second (docs/performance.md).

A master whose reactor configuration still maps ``salt/minion/*/start`` to this file should
drop that mapping and restart (see README, "Upgrading").  Until it does, this empty reaction
costs one render per start and calls nothing: copying the new reactor files over the old
ones replaces the start.sls that called the runner (which would ask the engine a second time
for every start), and a mapping to a missing file would log an error for every event.
"""


def run():
    return {}
