"""Reservation properties on a real Son of Grid Engine 8.1.9 (issue 16).

The properties are boolean complexes (``qconf -sc`` type BOOL, made here):
a host registered for a resource with ``properties: [bigmem, ssd]`` gets
``complex_values bigmem=TRUE,ssd=TRUE``; a job asking ``-l bm -l ssd=TRUE``
(a shortcut and a full name) is read with those properties, placed by the
planner's eligibility only on that resource, and Grid Engine runs it there.
With ``RECORD_TO=<dir>`` set, the qstat and qconf -sc outputs are saved
(how tests/data/scheduler-output/sge/dcsched-sge819-*-bool* were recorded).
"""

from __future__ import annotations

import os

import pytest

from dcluster.config import load
from dcluster.model import JobState
from dcluster.planner import eligibility
from dcluster.schedulers.sge import SgeAdapter, parse_booleans
from tests.support import sge as support
from tests.support import wait_for

pytestmark = [pytest.mark.daemons]
HOST = "dcs1"
COMPLEXES = (
    "bigmem                bm         BOOL        ==    YES         NO         FALSE    0\n"
    "ssd                   ssd        BOOL        ==    YES         NO         FALSE    0\n"
)


@pytest.fixture(scope="module")
def cluster(request):
    why = support.skip_reason()
    if why:
        pytest.skip(f"SGE daemon tests skipped: {why}")
    c = support.SgeCluster()
    request.addfinalizer(c.stop)  # runs even when start() or a test fails
    c.start(exec_hosts=(HOST,))
    if c.qconf("-se", HOST, check=False)[0] == 0:  # left over from an earlier run that was killed
        c.qconf("-dattr", "hostgroup", "hostlist", HOST, "@allhosts", check=False)
        c.qconf("-de", HOST, check=False)
    original = c.qconf("-sc")[1]

    def restore():  # the cell lives on disk: leave no host, job or complex of ours behind
        c.run(["qdel", "-f", "-u", "*"])
        c.qconf("-ke", HOST, check=False)
        c.qconf("-dattr", "hostgroup", "hostlist", HOST, "@allhosts", check=False)
        c.qconf("-de", HOST, check=False)
        c.qconf("-Mc", c._file("complexes", original), check=False)

    request.addfinalizer(restore)
    kept = "".join(ln + "\n" for ln in original.splitlines() if ln.split()[:1] not in (["bigmem"], ["ssd"]))
    c.qconf("-Mc", c._file("complexes", kept + COMPLEXES))
    return c


def qsub(cluster, *args):
    rc, out, err = cluster.run(["qsub", "-terse", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", *args])
    assert rc == 0, err
    return out.strip().split(".")[0]


def record(name, text):
    where = os.environ.get("RECORD_TO")
    if where:
        with open(os.path.join(where, name), "w") as fh:
            fh.write(text)


def test_a_job_asking_boolean_properties_goes_to_the_resource_that_has_them_and_runs_there(cluster):
    cfg = load(
        {
            "secret": "0123456789abcdef",
            "cluster": cluster.config(),
            "cloud": {
                "both": {"type": "local", "reservation": {"properties": ["bigmem", "ssd"]}},
                "big": {"type": "local", "reservation": {"property": "bigmem"}},
                "plain": {"type": "local"},
            },
        }
    )
    sched = SgeAdapter(cfg.cluster.config, cluster.run)
    sc = cluster.qconf("-sc")[1]
    record("dcsched-sge819-qconf-sc-bool.txt", sc)
    assert parse_booleans(sc)["bm"] == "bigmem"

    res = cfg.resources["both"].reservation
    out = sched.add_node(HOST, 2, reservation=res, properties=res.properties)
    assert out["properties"] == ["bigmem", "ssd"]
    assert "bigmem=TRUE,ssd=TRUE" in cluster.qconf("-se", HOST)[1].replace(" ", "")

    want = qsub(cluster, "-l", "bm", "-l", "ssd=TRUE", "-l", "h_rt=600", "sleep", "300")
    rc, text, err = cluster.run(["qstat", "-u", "*", "-xml", "-r"])
    assert rc == 0, err
    record("dcsched-sge819-qstat-u-all-xml-r-bool.xml", text)
    job = {j.id: j for j in sched.jobs()}[want]
    assert (job.state, job.properties, job.walltime_s) == (JobState.PENDING, ("bigmem", "ssd"), 600)
    assert [r.name for r in eligibility.order(job, list(cfg.resources.values()), {})] == ["both"]

    cluster.start_execd(HOST)
    support.wait_host_up(cluster.run, HOST)
    running = wait_for(
        lambda: (lambda j: j if j and j.state == JobState.RUNNING else None)({j.id: j for j in sched.jobs()}.get(want)),
        60,
        0.5,
        what="the job to run on the host with the properties",
    )
    assert running.nodes == (HOST,)
    cluster.run(["qdel", want])
