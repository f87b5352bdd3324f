"""An upgraded master that still maps the retired stats reactor is told so by the engine (README, "Upgrading")."""

import pytest

from dcluster.glue.reactor_config import retired_mappings


def test_the_head_formulas_old_mapping_is_found():
    reactor = [
        {"salt/auth": ["/srv/reactor/dcluster/auth.sls"]},
        {"salt/minion/*/start": ["/srv/reactor/dcluster/start.sls"]},
        {"salt/beacon/*/dcluster_stats/": ["/srv/reactor/dcluster/stats.sls"]},
    ]
    assert retired_mappings(reactor) == [
        "salt/minion/*/start -> /srv/reactor/dcluster/start.sls: "
        "the engine highstates new workers on their start event itself now",
        "salt/beacon/*/dcluster_stats/ -> /srv/reactor/dcluster/stats.sls: the engine forwards worker stats itself now",
    ]


def test_a_single_file_string_is_found_too():
    assert retired_mappings([{"salt/beacon/*/dcluster_stats/": "salt://reactor/stats.sls"}]) == [
        "salt/beacon/*/dcluster_stats/ -> salt://reactor/stats.sls: the engine forwards worker stats itself now"
    ]


@pytest.mark.parametrize(
    "reactor",
    [
        None,
        "not a list",
        [],
        [{"salt/auth": ["/srv/reactor/dcluster/auth.sls"]}],
        [{"salt/beacon/*/dcluster_stats/": ["/srv/site/graphs.sls"]}],  # a site's own reaction: not ours
        [{"salt/beacon/*/diskusage/": ["/srv/reactor/stats.sls"]}],  # another beacon's stats.sls
        [{"salt/minion/*/start": ["/srv/site/inventory.sls"]}],  # a site's own start reaction
        ["garbage", {1: 2}, {"salt/beacon/*/dcluster_stats/": [None, 3]}],
    ],
)
def test_nothing_else_is_reported(reactor):
    assert retired_mappings(reactor) == []
