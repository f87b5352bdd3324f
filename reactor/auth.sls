#!py
"""salt/auth: a pending or denied key under one of dcluster's minion ids is refused.

dcluster accepts each worker's key before it launches the worker, so a worker never
presents a pending key: the runner asks the engine, which rejects such a key and
reports it (dcluster/key/refused).  Keys under other ids are left for the admin.

A salt/auth event is fired for any client that sends a key to the master's port, and
Salt accepts ids with newlines, colons, quotes and braces.  So this reactor renders no
event value as text: it is a #!py renderer returning data under a fixed state id, and
the id travels as one string argument that the runner validates before anything else.
"""

ACTS = ("pend", "denied")  # "accept", "reject", "full", "error": nothing for dcluster to do


def run():
    act = data.get("act")  # noqa: F821 - the reactor's event data, set by Salt's py renderer
    minion_id = data.get("id")  # noqa: F821
    if act not in ACTS or not isinstance(minion_id, str):
        return {}
    act = ACTS[ACTS.index(act)]  # our own constant, not the event's object
    return {
        "dcluster_pending_key": {
            "runner.dcluster_reactor.pending_key": [
                {"args": [{"minion_id": minion_id}, {"act": act}]},
            ],
        },
    }
