"""The Grid Engine adapter against a real Son of Grid Engine 8.1.9 with exec hosts in network namespaces."""

from __future__ import annotations

import os
import time

import pytest
import salt.config
import salt.loader

from dcluster.config import load
from dcluster.model import JobState, NodeState
from dcluster.schedulers import RefusedError
from dcluster.schedulers.sge import SgeAdapter
from tests.support import sge as support
from tests.support import wait_for

pytestmark = [pytest.mark.daemons]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PE = (
    "pe_name {name}\nslots 999\nuser_lists NONE\nxuser_lists NONE\nstart_proc_args /bin/true\n"
    "stop_proc_args /bin/true\nallocation_rule {rule}\ncontrol_slaves FALSE\njob_is_first_task TRUE\n"
    "urgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n"
)


@pytest.fixture(scope="module")
def cluster(request):
    why = support.skip_reason()
    if why:
        pytest.skip(f"SGE daemon tests skipped: {why}")
    c = support.SgeCluster()
    request.addfinalizer(c.stop)  # runs even when start() or a test fails
    c.start(exec_hosts=("dcs1", "dcs2"))
    for name, rule in (("mpi", "$round_robin"), ("four", "4")):
        if c.qconf("-sp", name, check=False)[0] != 0:
            c.qconf("-Ap", c._file(name, PE.format(name=name, rule=rule)))
    c.qconf("-mattr", "queue", "pe_list", "mpi four", "all.q")
    for name in ("dcs1", "dcs2"):  # left over from an earlier run that was killed: start clean
        if c.qconf("-se", name, check=False)[0] == 0:
            c.qconf("-dattr", "hostgroup", "hostlist", name, "@allhosts", check=False)
            c.qconf("-de", name, check=False)
    return c


@pytest.fixture(scope="module")
def sched(cluster):
    conf = load({"secret": "0123456789abcdef", "cluster": cluster.config()}).cluster.config
    return SgeAdapter(conf, cluster.run)


def qsub(cluster, *args):
    rc, out, err = cluster.run(["qsub", "-terse", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", *args])
    assert rc == 0, err
    return out.strip().split(".")[0]


@pytest.fixture(scope="module")
def hosts_up(request, cluster, sched):
    def remove_hosts():  # the cell lives on disk: leave no exec host behind for the next user of it
        cluster.run(["qdel", "-f", "-u", "*"])
        for name in ("dcs1", "dcs2"):
            cluster.qconf("-ke", name, check=False)
            cluster.qconf("-dattr", "hostgroup", "hostlist", name, "@allhosts", check=False)
            cluster.qconf("-dattr", "hostgroup", "hostlist", name, "@dcluster_hold", check=False)
            cluster.qconf("-de", name, check=False)

    request.addfinalizer(remove_hosts)
    for name in ("dcs1", "dcs2"):
        out = sched.add_node(name, 2)
        assert out["hostgroup"] == "@allhosts" and out["queue"] == "all.q"
        cluster.start_execd(name)
    for name in ("dcs1", "dcs2"):
        support.wait_host_up(cluster.run, name)
    return ["dcs1", "dcs2"]


def test_added_hosts_report_idle(sched, hosts_up):
    nodes = {n.name: n for n in sched.nodes()}
    for name in hosts_up:
        assert nodes[name].state == NodeState.IDLE and nodes[name].cores == 2
        assert nodes[name].extra["queues"]["all.q"]["slots"] == 2
    assert sched.check()["healthy"] is True


def test_jobs_shapes_states_and_nodes(cluster, sched, hosts_up):
    run = qsub(cluster, "-N", "run1", "sleep", "300")
    held = qsub(cluster, "-h", "-N", "held1", "sleep", "1")
    mpi = qsub(cluster, "-pe", "mpi", "8", "-l", "h_rt=3600", "sleep", "1")
    four = qsub(cluster, "-pe", "four", "8", "sleep", "1")
    jobs = wait_for(
        lambda: (lambda js: js if js.get(run) and js[run].state == JobState.RUNNING else None)(
            {j.id: j for j in sched.jobs()}
        ),
        20,
        0.5,
        what="the sleep job to run",
    )
    assert jobs[run].nodes[0] in hosts_up
    assert jobs[held].state == JobState.HELD
    assert (jobs[mpi].state, jobs[mpi].chunks, jobs[mpi].chunk_cores, jobs[mpi].distinct) == (
        JobState.PENDING,
        8,
        1,
        False,
    )
    assert (jobs[four].chunks, jobs[four].chunk_cores, jobs[four].distinct) == (2, 4, True)
    assert jobs[mpi].walltime_s == 3600
    node = {n.name: n for n in sched.nodes()}[jobs[run].nodes[0]]
    assert node.state == NodeState.BUSY and run in node.jobs
    for jid in (held, mpi, four):
        cluster.run(["qdel", jid])


def test_a_job_submitted_with_a_start_time_is_held_until_then_and_says_when(cluster, sched, hosts_up):
    # qstat -xml -r shows it as plain qw: without qstat -j it would be demand (nodes idling until then).
    start = int(time.time()) + 900
    plain = qsub(cluster, "-pe", "mpi", "500", "sleep", "1")  # pending (wider than the hosts), no start time
    later = qsub(cluster, "-a", time.strftime("%Y%m%d%H%M.%S", time.localtime(start)), "sleep", "1")
    try:
        jobs = {j.id: j for j in sched.jobs()}
        assert (jobs[later].state, jobs[later].begin_time) == (JobState.HELD, float(start))
        assert (jobs[plain].state, jobs[plain].begin_time) == (JobState.PENDING, 0.0)
        sched.clock = lambda: start + 1.0  # the time has come: pending, demand as any (without a real wait)
        assert {j.id: j for j in sched.jobs()}[later].state == JobState.PENDING
    finally:
        sched.clock = time.time
        cluster.run(["qdel", plain, later])


def test_a_start_time_set_later_with_qalter_a_is_seen_and_a_qstat_j_answer_is_reused_meanwhile(
    cluster, sched, hosts_up
):
    # Asked once with no start time, a job whose user then runs qalter -a must not stay demand for good
    # (its nodes idling until that time): every answer is asked again once REASK_AFTER old.
    from dcluster.schedulers.sge_begin import REASK_AFTER

    jid = qsub(cluster, "-pe", "mpi", "500", "sleep", "1")  # pending (wider than the hosts)
    start = int(time.time()) + 900
    real_run, calls = sched._run, []
    try:
        now = time.time()
        sched.clock = lambda: now
        assert {j.id: j for j in sched.jobs()}[jid].state == JobState.PENDING
        rc, _out, err = cluster.run(["qalter", "-a", time.strftime("%Y%m%d%H%M.%S", time.localtime(start)), jid])
        assert rc == 0, err
        sched._run = lambda argv, stdin=None: (calls.append(argv), real_run(argv, stdin))[1]
        assert {j.id: j for j in sched.jobs()}[jid].state == JobState.PENDING  # its answer is fresh: not asked
        assert not [c for c in calls if "-j" in c]
        sched.clock = lambda: now + REASK_AFTER
        job = {j.id: j for j in sched.jobs()}[jid]
        assert (job.state, job.begin_time) == (JobState.HELD, float(start))
    finally:
        sched.clock, sched._run = time.time, real_run
        cluster.run(["qdel", jid])


def test_queue_to_monitor_counts_jobs_that_name_no_queue_or_a_list_with_it(cluster, sched, hosts_up):
    """Issue 16: with queue_to_monitor set, a pending job submitted without -q (it may run in any queue) counts."""
    import re

    from dcluster.planner import Kind, plan
    from tests.unit.builders import config, view

    conf = re.sub(
        r"(?m)^hostlist\s+.*$",
        f"hostlist {hosts_up[0]}",
        re.sub(r"(?m)^qname\s+.*$", "qname b.q", cluster.qconf("-sq", "all.q")[1]),
    )
    cluster.qconf("-dq", "b.q", check=False)  # left over from a killed run
    cluster.qconf("-Aq", cluster._file("b.q", conf))
    jids = []
    try:
        # 8 slots: more than the two 2-slot hosts have, so every one stays pending
        for args in ([], ["-q", "all.q"], ["-q", "b.q"], ["-q", "all.q,b.q"], ["-q", f"b.q@{hosts_up[0]}"]):
            jids.append(qsub(cluster, "-pe", "mpi", "8", *args, "sleep", "1"))
        any_q, all_q, b_q, both, instance = jids
        monitored = load(
            {
                "secret": "0123456789abcdef",
                "cluster": {**cluster.config(), "config": {**cluster.config()["config"], "queue_to_monitor": ["b.q"]}},
            }
        ).cluster.config
        jobs = {j.id: j for j in SgeAdapter(monitored, cluster.run).jobs() if j.id in jids}
        assert set(jobs) == {any_q, b_q, both, instance}, {j.id: j.queue for j in jobs.values()}
        assert all(j.state == JobState.PENDING for j in jobs.values())
        # and the planner launches for them, not for the all.q job
        cfg = config({"r1": {"cores": 8}}, cluster={"type": "sge", "config": {"queue_to_monitor": ["b.q"]}})
        everything = [j for j in sched.jobs() if j.id in jids]
        served = {jid for a in plan(view(cfg, jobs=everything), cfg).of(Kind.LAUNCH) for jid in a.jobs}
        assert served == {any_q, b_q, both, instance}
    finally:
        for jid in jids:
            cluster.run(["qdel", "-f", jid])
        cluster.qconf("-dq", "b.q", check=False)


def test_our_hold_and_an_admins_hold_are_told_apart(cluster, sched, hosts_up):
    # the earlier sleep job runs on one of the two hosts, whichever Grid Engine chose: use the other
    host = next(n.name for n in sched.nodes() if n.name.startswith("dcs") and not n.jobs)
    sched.hold(host, "dcluster: idle")
    node = {n.name: n for n in sched.nodes()}[host]
    assert node.state == NodeState.HELD and node.hold_reason.startswith("dcluster")
    sched.release(host)
    assert {n.name: n for n in sched.nodes()}[host].state == NodeState.IDLE
    assert host not in (sched.hostgroup("@dcluster_hold") or [])
    cluster.run(["qmod", "-d", f"*@{host}"])  # an admin's hold
    node = {n.name: n for n in sched.nodes()}[host]
    assert node.state == NodeState.HELD and not node.hold_reason.startswith("dcluster")
    with pytest.raises(RefusedError, match="someone else"):
        sched.release(host)
    sched.release(host, force=True)
    assert {n.name: n for n in sched.nodes()}[host].state == NodeState.IDLE


def test_remove_refused_while_jobs_then_vacate_and_remove(cluster, sched, hosts_up):
    busy = next(n for n in sched.nodes() if n.jobs)
    with pytest.raises(RefusedError, match="still runs jobs"):
        sched.remove(busy.name)
    assert {n.name: n for n in sched.nodes()}[busy.name].state == NodeState.HELD  # left disabled
    assert sched.vacate(busy.name) == list(busy.jobs)
    wait_for(lambda: not sched.node(busy.name).jobs, 20, 0.5, what="the jobs to go")
    out = sched.remove(busy.name)
    assert out["removed"] is True
    assert cluster.qconf("-se", busy.name, check=False)[0] != 0
    assert busy.name not in (sched.hostgroup("@allhosts") or [])
    assert busy.name not in {n.name for n in sched.nodes()}


def test_salt_module_with_real_cmd_run_all(cluster, hosts_up):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "module_dirs": [os.path.join(REPO, "_modules")],
            "grains": {},
            "pillar": {"dcluster": {"cluster": cluster.config()}},
        }
    )
    funcs = salt.loader.minion_mods(opts)
    names = {n["name"]: n for n in funcs["dcluster_sge.nodes"]()}
    assert set(names) & set(hosts_up)
    assert all(isinstance(n["state"], str) for n in names.values())
    assert funcs["dcluster_sge.check"]()["healthy"] is True
