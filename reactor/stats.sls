#!py
"""A worker's dcluster_stats beacon event -> Graphite (salt-run dcluster_reactor.forward_stats).

Master configuration:

    reactor:
      - 'salt/beacon/*/dcluster_stats/':
        - /srv/reactor/dcluster/stats.sls

The beacon's event data is the dict the beacon returned plus Salt's 'id' (the
minion id) and '_stamp'.  The id is taken from the tag and must equal data['id'].
Nothing is rendered as YAML or Jinja text (a #!py renderer, a fixed state id), so no
value can be retyped (a minion id "1e3" or "yes" stays a string) or add a reaction;
the runner drops the stats of any id that is not a well-formed dcluster id.
"""

PREFIX, SUFFIX = "salt/beacon/", "/dcluster_stats/"


def run():
    minion_id = data.get("id")  # noqa: F821 - the reactor's event data, set by Salt's py renderer
    if not (isinstance(tag, str) and tag.startswith(PREFIX) and tag.endswith(SUFFIX)):  # noqa: F821
        return {}
    from_tag = tag[len(PREFIX):-len(SUFFIX)]  # noqa: F821
    if not isinstance(minion_id, str) or not from_tag or minion_id != from_tag:
        return {}
    return {
        "dcluster_forward_stats": {
            "runner.dcluster_reactor.forward_stats": [{"args": [{"minion_id": minion_id}, {"data": dict(data)}]}],  # noqa: F821
        },
    }
