#!py
"""salt/minion/<id>/start: highstate our new workers (the engine checks the id and state).

The id is taken from the tag and must equal the event's own id; no event value is
rendered as text (a #!py renderer, a fixed state id), and the runner validates the id
before anything else.
"""

PREFIX, SUFFIX = "salt/minion/", "/start"


def run():
    minion_id = data.get("id")  # noqa: F821 - the reactor's event data, set by Salt's py renderer
    if not (isinstance(tag, str) and tag.startswith(PREFIX) and tag.endswith(SUFFIX)):  # noqa: F821
        return {}
    from_tag = tag[len(PREFIX):-len(SUFFIX)]  # noqa: F821
    if not isinstance(minion_id, str) or not from_tag or minion_id != from_tag:
        return {}
    return {
        "dcluster_minion_started": {
            "runner.dcluster_reactor.minion_started": [{"args": [{"minion_id": minion_id}]}],
        },
    }
