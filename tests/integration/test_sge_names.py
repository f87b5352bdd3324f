"""A real Son of Grid Engine 8.1.9 accepts a worker once dcluster published its name, and not before.

The worker is a namespace host whose host name is a dcluster minion id (as a cloud worker's is);
its name is put into the machine's /etc/hosts by the head node's path (``dcluster.glue.names``:
Salt's hosts module, loaded in this process as the engine loads it when the master is the head).
qmaster resolves exec hosts itself: ``qconf -Ae`` of a name it cannot resolve is refused.
The support's ``stop()`` restores /etc/hosts; the test withdraws its line itself as well.
"""

from __future__ import annotations

import pytest
import salt.config

from dcluster import identity, names, netns
from dcluster.config import load
from dcluster.glue import names as glue_names
from dcluster.schedulers import SchedulerError
from dcluster.schedulers.sge import SgeAdapter
from tests.support import sge as support

pytestmark = [pytest.mark.daemons]
SECRET = "zq5-sge-names-secret-0101"
HOSTS = "/etc/hosts"
ADDRESS = "127.200.0.61"  # of dcsched0's 127.200.0.48/28, clear of test_sge_daemons' .50 and .51


@pytest.fixture(scope="module")
def cluster(request):
    why = support.skip_reason()
    if why:
        pytest.skip(f"SGE daemon tests skipped: {why}")
    c = support.SgeCluster()
    request.addfinalizer(c.stop)  # runs even when start() or a test fails
    c.start()
    return c


def ours():
    with open(HOSTS) as fh:
        return names.HostsFile.parse(fh.read()).ours


def test_an_exec_host_is_refused_until_its_name_is_published_then_withdrawn(cluster):
    name = identity.make("dcn", "r1", SECRET)
    sched = SgeAdapter(load({"secret": SECRET, "cluster": cluster.config()}).cluster.config, cluster.run)
    netns.add_host(name, ADDRESS, support.BRIDGE, support.PREFIX)
    cluster.netns_hosts[name] = ADDRESS  # stopped and deleted by cluster.stop()
    opts = salt.config.minion_config(None)
    with open(HOSTS) as fh:
        foreign_before = [ln for ln in fh.read().splitlines() if not ln.rstrip().endswith("# dcluster")]
    try:
        with pytest.raises(SchedulerError, match="resolve|unknown|can't"):
            sched.add_node(name, 1)
        out = glue_names.in_process(opts, HOSTS, {name: ADDRESS})
        assert out["set"] == [[ADDRESS, name]] and ours() == {ADDRESS: [name]}
        sched.add_node(name, 1)
        cluster.start_execd(name)
        support.wait_host_up(cluster.run, name)
        cluster.stop_execd(name)
        cluster.qconf("-dattr", "hostgroup", "hostlist", name, "@allhosts", check=False)
        cluster.qconf("-purge", "queue", "slots", f"all.q@{name}", check=False)
        cluster.qconf("-de", name, check=False)
    finally:
        out = glue_names.in_process(opts, HOSTS, {})
    assert ours() == {}
    with open(HOSTS) as fh:
        assert fh.read().splitlines() == foreign_before  # every other line as it was
