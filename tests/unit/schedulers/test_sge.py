"""Grid Engine parsers on outputs of a real SoGE 8.1.9 and public recordings; adapter command sequences."""

from __future__ import annotations

import time

import pytest

from dcluster.model import JobState, NodeState
from dcluster.schedulers import ParseError, RefusedError, sge
from tests.unit.schedulers.sched_helpers import cluster_config, data

RULES = {"mpi": "$round_robin", "smp": "$pe_slots", "four": "4", "fill": "$fill_up"}


def test_qstat_real_sge819_shapes_by_allocation_rule():
    jobs = {j.id: j for j in sge.parse_qstat(data("sge/dcsched-sge819-qstat-u-all-xml-r.xml"), RULES)}
    assert jobs["1"].state == JobState.RUNNING and jobs["1"].nodes == ("dcs1",) and jobs["1"].queue == "all.q"
    # JAT_start_time 2026-11-22T17:08:15, host local time; pending jobs have no start
    assert jobs["1"].start_time == time.mktime((2026, 11, 22, 17, 8, 15, 0, 0, -1))
    assert all(j.start_time == 0.0 for j in jobs.values() if j.state != JobState.RUNNING)
    mpi = jobs["3"]  # -pe mpi 8 ($round_robin), mem_free=1G per slot, h_rt=3600
    assert (mpi.chunks, mpi.chunk_cores, mpi.distinct, mpi.chunk_mem_mb, mpi.walltime_s) == (8, 1, False, 1024, 3600)
    four = jobs["5"]  # -pe four 8 (allocation_rule 4)
    assert (four.chunks, four.chunk_cores, four.distinct, four.queue) == (2, 4, True, "all.q")
    smp = jobs["4"]  # -pe smp 4 ($pe_slots)
    assert (smp.chunks, smp.chunk_cores) == (1, 4)
    assert jobs["6.4"].state == JobState.PENDING and jobs["6.5"].walltime_s == 600  # pending array tasks
    assert jobs["6.2"].state == JobState.RUNNING and jobs["6.2"].nodes == ("dcs1",)
    assert jobs["2"].state == JobState.HELD and jobs["7"].state == JobState.HELD  # -h and -hold_jid
    assert jobs["3"].priority == 0.75


def test_qstat_real_pcluster_merges_parallel_entries_and_states():
    jobs = {j.id: j for j in sge.parse_qstat(data("sge/pcluster-sge-qstat-xml-g-dt-u-all.xml"))}
    assert jobs["96"].state == JobState.RUNNING  # MASTER + SLAVE entries: one job
    assert jobs["73"].state == JobState.OTHER  # suspended
    assert jobs["97"].state == JobState.PENDING and jobs["72"].state == JobState.HELD


@pytest.mark.parametrize(
    "name", ["sge/dcsched-sge819-qstat-u-all-xml-r.xml", "sge/pcluster-sge-qstat-xml-g-dt-u-all.xml"]
)
def test_qstat_records_then_jobs_give_the_jobs_of_parse_qstat(name):
    # parse_qstat (and the adapter) build the jobs from tuples; the public record dicts must give the same jobs
    out = data(name)
    records = sge.parse_qstat_records(out)
    assert records and all(list(r) == list(sge.RECORD_KEYS) for r in records)
    jobs = [j.to_dict() for j in sge.parse_qstat(out, RULES)]
    assert [j.to_dict() for j in sge.jobs_from_records(records, RULES)] == jobs and len(jobs) >= len(records) // 2


def test_shape_rules():
    assert sge.shape_for(8, "$pe_slots") == {"chunks": 1, "chunk_cores": 8, "distinct": True}
    assert sge.shape_for(8, "4") == {"chunks": 2, "chunk_cores": 4, "distinct": True}
    assert sge.shape_for(6, "4") == {"chunks": 2, "chunk_cores": 4, "distinct": True}
    assert sge.shape_for(3, "$fill_up") == {"chunks": 3, "chunk_cores": 1, "distinct": False}
    assert sge.shape_for(3, None) == {"chunks": 1, "chunk_cores": 1, "distinct": True}
    assert sge.resolve_rule("mp*", {"mpi": "$round_robin"}) == "$round_robin"


def test_allocation_rule_from_real_and_recorded_pe_listings():
    assert sge.parse_allocation_rule(data("sge/dcsched-sge819-qconf-sp-mpi.txt")) == "$round_robin"
    assert sge.parse_allocation_rule(data("sge/dcsched-sge819-qconf-sp-four.txt")) == "4"
    assert sge.parse_allocation_rule(data("sge/cyclecloud-gridengine-pe-smpslots.txt")) == "$pe_slots"
    with pytest.raises(ParseError, match="allocation_rule"):
        sge.parse_allocation_rule("error: pe 'x' does not exist")


def test_qhost_real_sge819_and_hold_group():
    nodes = {n.name: n for n in sge.parse_qhost(data("sge/dcsched-sge819-qhost-q-j-xml.xml"), held=["dcs2"])}
    assert "global" not in nodes
    assert nodes["dcs1"].state == NodeState.BUSY and nodes["dcs1"].jobs == ("1", "6.2") and nodes["dcs1"].cores == 2
    assert nodes["dcs1"].mem_mb == 24064 and nodes["dcs1"].cores_used == 2
    assert nodes["dcs2"].state == NodeState.HELD and nodes["dcs2"].hold_reason.startswith("dcluster")
    admin = {n.name: n for n in sge.parse_qhost(data("sge/dcsched-sge819-qhost-q-j-xml.xml"))}["dcs2"]
    assert admin.state == NodeState.HELD and not admin.hold_reason.startswith("dcluster")


def test_qhost_real_plain_165_hosts_without_queues():
    nodes = sge.parse_qhost(data("sge/ghost-in-the-shell-ogs-qhost-xml.xml"))
    assert len(nodes) == 165 and nodes[0].name == "x1701" and nodes[0].cores == 32 and nodes[0].mem_mb == 95335


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "error: commlib error: got select error (Connection refused)",
        "<?xml version='1.0'?>\n<qhost><host name='a'>",
    ],
)
def test_garbage_raises(bad):
    with pytest.raises(ParseError):
        sge.parse_qhost(bad)
    with pytest.raises(ParseError):
        sge.parse_qstat(bad)


def test_hostgroup_listing():
    assert sge.parse_hostgroup(data("sge/dcsched-sge819-qconf-shgrp.txt")) == ["dcs1", "dcs2"]
    assert sge.parse_hostgroup("group_name @g\nhostlist a b \\\n         c\n") == ["a", "b", "c"]
    assert sge.parse_hostgroup("group_name @g\nhostlist NONE\n") == []


def adapter(rec, **conf):
    return sge.SgeAdapter(cluster_config("sge", **conf), rec, sleep=lambda s: None)


def test_jobs_asks_allocation_rules_of_requested_pes_only(rec):
    rec.on(r"qstat", data("sge/dcsched-sge819-qstat-u-all-xml-r.xml")).on(r"-spl", "fill\nfour\nmpi\nsmp\n")
    rec.on(r"-sp mpi", data("sge/dcsched-sge819-qconf-sp-mpi.txt")).on(
        r"-sp four", data("sge/dcsched-sge819-qconf-sp-four.txt")
    )
    rec.on(r"-sp smp", data("sge/cyclecloud-gridengine-pe-smpslots.txt"))
    jobs = {j.id: j for j in adapter(rec).jobs()}
    assert jobs["5"].chunks == 2 and jobs["3"].distinct is False
    rules = {"mpi": "$round_robin", "four": "4", "smp": "$pe_slots"}  # those of the listings above
    expected = sge.parse_qstat(data("sge/dcsched-sge819-qstat-u-all-xml-r.xml"), rules)
    assert [j.to_dict() for j in jobs.values()] == [j.to_dict() for j in expected]
    assert ["/usr/bin/qconf", "-sp", "fill"] not in rec.calls
    assert rec.calls[0] == ["/usr/bin/qstat", "-u", "*", "-xml", "-r"]


def test_add_node_sequence_uses_a_file_and_no_editor(rec):
    rec.on(r"-se dc-r1-aa", "", rc=1, stderr='"dc-r1-aa" is not an execution host')
    rec.on(r"-shgrp @physics", "group_name @physics\nhostlist NONE\n")
    out = adapter(rec).add_node("dc-r1-aa", 4, reservation={"account": "physics", "queue": "long.q"})
    lines = rec.lines()
    assert lines[0] == "/usr/bin/qconf -se dc-r1-aa"
    assert lines[1].startswith("/usr/bin/qconf -Ae /") and lines[1].endswith("/dc-r1-aa")
    (content,) = rec.files.values()
    assert content.startswith("hostname              dc-r1-aa\n")
    assert lines[2:] == [
        "/usr/bin/qconf -shgrp @physics",
        "/usr/bin/qconf -aattr hostgroup hostlist dc-r1-aa @physics",
        "/usr/bin/qconf -rattr queue slots 4 long.q@dc-r1-aa",
    ]
    assert out["hostgroup"] == "@physics"
    assert not any(a in ("-ae", "-me", "-aq") for c in rec.calls for a in c)


def test_add_node_defaults(rec):
    rec.on(r"-shgrp @allhosts", "group_name @allhosts\nhostlist dc-r1-aa\n")
    adapter(rec).add_node("dc-r1-aa", 2)
    assert rec.lines()[1].startswith("/usr/bin/qconf -Me /")  # it existed: modified from a file
    assert rec.lines()[-1] == "/usr/bin/qconf -rattr queue slots 2 all.q@dc-r1-aa"


def test_hold_creates_hold_group_when_missing_and_release_drops_it(rec):
    rec.on(r"-shgrp @dcluster_hold", "", rc=1, stderr='Host group "@dcluster_hold" does not exist')
    adapter(rec).hold("dc-r1-aa", "dcluster: idle")
    assert rec.lines()[0] == "/usr/bin/qmod -d *@dc-r1-aa"
    assert rec.lines()[-1].startswith("/usr/bin/qconf -Ahgrp /")
    assert list(rec.files.values()) == ["group_name @dcluster_hold\nhostlist dc-r1-aa\n"]


def test_release_refuses_admin_disable(rec):
    qhost = data("sge/dcsched-sge819-qhost-q-j-xml.xml")
    rec.on(r"qhost", qhost).on(r"-shgrp @dcluster_hold", "group_name @dcluster_hold\nhostlist NONE\n")
    with pytest.raises(RefusedError, match="someone else"):
        adapter(rec).release("dcs2")
    rec.on(r"-shgrp @dcluster_hold", "group_name @dcluster_hold\nhostlist dcs2\n")
    adapter(rec).release("dcs2")
    assert rec.lines()[-3] == "/usr/bin/qmod -e *@dcs2"
    assert rec.lines()[-1] == "/usr/bin/qconf -dattr hostgroup hostlist dcs2 @dcluster_hold"


NO_HOLD_GROUP = 'Host group "@dcluster_hold" does not exist'


def test_remove_refused_while_jobs_after_disabling(rec):
    rec.on(r"qhost", data("sge/dcsched-sge819-qhost-q-j-xml.xml")).on(r"-shgrp @dcluster_hold", "", 1, NO_HOLD_GROUP)
    with pytest.raises(RefusedError, match="still runs jobs 1, 6.2"):
        adapter(rec).remove("dcs1")
    assert "/usr/bin/qmod -d *@dcs1" in rec.lines()
    assert not any("-de" in c for c in rec.calls)


BUSY = "dc-r1-abc123-0123456789ab"


def busy_qhost(shown: str) -> str:
    return (
        f"<qhost><host name='{shown}'><hostvalue name='num_proc'>2</hostvalue><hostvalue name='load_avg'>0.5"
        "</hostvalue><queue name='all.q'><queuevalue qname='all.q' name='slots'>2</queuevalue><queuevalue "
        "qname='all.q' name='slots_used'>2</queuevalue><queuevalue qname='all.q' name='state_string'></queuevalue>"
        "</queue><job name='77'><jobvalue jobid='77' name='priority'>0.5</jobvalue></job></host></qhost>"
    )


@pytest.mark.parametrize("shown", [BUSY + ".cluster.internal", BUSY.upper()])
def test_remove_refused_while_jobs_on_the_host_listed_under_another_spelling(rec, shown):
    # Grid Engine prints its resolver's name for a host added by its short one (and compares names ignoring
    # case): the host is ours, its job counts, nothing is deleted
    rec.on(r"qhost", busy_qhost(shown)).on(r"-shgrp @dcluster_hold", "", 1, NO_HOLD_GROUP)
    with pytest.raises(RefusedError, match="still runs jobs 77"):
        adapter(rec).remove(BUSY)
    assert not any("-de" in c or "-ke" in c for c in rec.calls)


def test_remove_takes_a_host_out_of_its_groups_under_the_name_grid_engine_gives_it(rec):
    # the groups list the resolver's name: removing ours left the host there, and qconf -de refuses a host a
    # group still lists (red team); release() likewise left it in @dcluster_hold
    shown = BUSY + ".cluster.internal"
    idle = busy_qhost(shown).replace("<job name='77'><jobvalue jobid='77' name='priority'>0.5</jobvalue></job>", "")
    idle = idle.replace("name='slots_used'>2<", "name='slots_used'>0<")
    rec.on(r"qhost", idle).on(r"-shgrpl", "@allhosts\n@dcluster_hold\n")
    rec.on(r"-shgrp @allhosts", f"group_name @allhosts\nhostlist {shown}\n")
    rec.on(r"-shgrp @dcluster_hold", f"group_name @dcluster_hold\nhostlist {shown}\n")
    assert adapter(rec).remove(BUSY)["removed"] is True
    lines = rec.lines()
    assert f"/usr/bin/qconf -dattr hostgroup hostlist {shown} @allhosts" in lines
    assert f"/usr/bin/qconf -dattr hostgroup hostlist {shown} @dcluster_hold" in lines
    assert lines[-1] == f"/usr/bin/qconf -de {BUSY}"
    rec.calls.clear()
    adapter(rec).release(BUSY, force=True)
    assert rec.lines()[-1] == f"/usr/bin/qconf -dattr hostgroup hostlist {shown} @dcluster_hold"


def test_remove_fails_when_qhost_fails_whatever_its_words(rec):
    # a commlib refusal names "host" and says "not": it says nothing of whether the host has jobs
    commlib = (
        'error: commlib error: access denied (client IP resolved to host name "head". This is not identical '
        'to clients host name "head.cluster")'
    )
    rec.on(r"qhost", "", 1, commlib)
    with pytest.raises(sge.SchedulerError, match="commlib"):
        adapter(rec).remove(BUSY)
    assert not any("-de" in c or "-ke" in c for c in rec.calls)


def test_an_unresolvable_name_is_looked_up_in_the_whole_host_list(rec):
    # qhost -h exits 1 on a name its resolver does not know (SoGE 8.1.9); qmaster may still run jobs there
    rec.on(r"qhost", busy_qhost(BUSY)).on(r"qhost .*-h", "", 1, f'error: can\'t resolve hostname "{BUSY}"')
    rec.on(r"-shgrp @dcluster_hold", "", 1, NO_HOLD_GROUP)
    with pytest.raises(RefusedError, match="still runs jobs 77"):
        adapter(rec).remove(BUSY)
    rec.on(r"qhost", "<qhost></qhost>").on(r"qhost .*-h", "", 1, f'error: can\'t resolve hostname "{BUSY}"')
    rec.on(r"qconf -se", "", 1, f'can\'t resolve hostname "{BUSY}"')
    assert adapter(rec).remove(BUSY)["removed"] is False  # nowhere: not an exec host, nothing deleted
    assert not any("-de" in c for c in rec.calls)


def test_remove_refused_when_qconf_knows_a_host_qhost_does_not_list(rec):
    rec.on(r"qhost", "<qhost></qhost>").on(r"qconf -se", "hostname x\n")
    rec.on(r"-shgrp @dcluster_hold", "", 1, NO_HOLD_GROUP)
    with pytest.raises(RefusedError, match="qhost does not list it"):
        adapter(rec).remove(BUSY)
    assert not any("-de" in c for c in rec.calls)


def test_remove_order(rec):
    qhost = (
        "<qhost><host name='n1'><hostvalue name='num_proc'>2</hostvalue><queue name='all.q'>"
        "<queuevalue qname='all.q' name='slots'>2</queuevalue><queuevalue qname='all.q' name='state_string'>d"
        "</queuevalue></queue></host></qhost>"
    )
    rec.on(r"qhost", qhost).on(r"-shgrpl", "@allhosts\n@dcluster_hold\n")
    rec.on(r"-shgrp @allhosts", "group_name @allhosts\nhostlist n1 n2\n")
    rec.on(r"-shgrp @dcluster_hold", "group_name @dcluster_hold\nhostlist n1\n")
    adapter(rec).remove("n1")
    wanted = [
        "/usr/bin/qmod -d *@n1",
        "/usr/bin/qconf -dattr hostgroup hostlist n1 @allhosts",
        "/usr/bin/qconf -dattr hostgroup hostlist n1 @dcluster_hold",
        "/usr/bin/qconf -purge queue slots all.q@n1",
        "/usr/bin/qconf -ke n1",
        "/usr/bin/qconf -de n1",
    ]
    lines = rec.lines()
    assert [line for line in lines if line in wanted] == wanted


def test_vacate_force_deletes(rec):
    rec.on(r"qhost", data("sge/dcsched-sge819-qhost-q-j-xml.xml")).on(r"-shgrp @dcluster_hold", "", 1, NO_HOLD_GROUP)
    assert adapter(rec).vacate("dcs2") == ["6.1", "6.3"]
    assert rec.lines()[-2:] == ["/usr/bin/qdel -f 6.1", "/usr/bin/qdel -f 6.3"]


def test_commands_refuse_unsafe_names(rec):
    with pytest.raises(RefusedError):
        adapter(rec).hold("*")
    with pytest.raises(RefusedError):
        adapter(rec).add_node("n1", 2, reservation={"account": "a b;c"})
    assert rec.calls == []


def test_qstat_records_sharing_requests_and_array_tasks_keep_their_own_extra():
    doc = (
        "<job_info><queue_info/><job_info>"
        + "".join(
            f"<job_list state='pending'><JB_job_number>{n}</JB_job_number><state>qw</state>"
            "<JB_submission_time>2026-11-22T17:08:16</JB_submission_time><slots>8</slots>"
            "<requested_pe name='mpi'>8</requested_pe><tasks>1-2</tasks>"
            "<hard_request name='h_vmem'>2G</hard_request><hard_request name='h_rt'>60</hard_request>"
            "</job_list>"
            for n in (11, 12)
        )
        + "</job_info></job_info>"
    )
    jobs = {j.id: j for j in sge.parse_qstat(doc, RULES)}
    assert list(jobs) == ["11.1", "11.2", "12.1", "12.2"]
    assert all((j.chunk_mem_mb, j.walltime_s, j.chunks) == (2048, 60, 8) for j in jobs.values())
    assert jobs["11.1"].submit_time == jobs["12.2"].submit_time > 0
    jobs["11.1"].extra["mark"] = 1
    assert all("mark" not in j.extra for jid, j in jobs.items() if jid != "11.1")


QUEUE_REQUESTS = "sge/dcsched-sge819-qstat-queue-requests-xml-r.xml"  # real SoGE 8.1.9, see the data README


def test_queue_requests_of_real_qstat_every_queue_a_job_names_is_kept():
    jobs = {j.id: j for j in sge.parse_qstat(data(QUEUE_REQUESTS))}
    assert {jid: j.queue for jid, j in jobs.items()} == {
        "108": "",  # no -q
        "109": "all.q",
        "110": "b.q",
        "111": "all.q,b.q",  # -q all.q,b.q: two <hard_req_queue> elements (the parser kept only the last)
        "112": "*.q",
        "113": "b.q",  # -q b.q@dcs1: the queue instance's cluster queue
        "114": "all.q,b.q",  # -q all.q -q b.q
        "115": "b*",
    }
    assert all(j.state == JobState.PENDING for j in jobs.values())


@pytest.mark.parametrize(
    "monitored, counted",
    [
        (["b.q"], {"108", "110", "111", "112", "113", "114", "115"}),
        (["all.q"], {"108", "109", "111", "112", "114"}),
        (["other.q"], {"108", "112"}),  # no -q: any queue; *.q matches other.q too
        ([], {str(n) for n in range(108, 116)}),
    ],
)
def test_queue_to_monitor_counts_every_job_a_monitored_queue_may_run(rec, monitored, counted):
    """Grid Engine semantics: a job without -q may run in any queue, -q a,b in either, a pattern in any match."""
    rec.on(r"qstat", data(QUEUE_REQUESTS))
    assert {j.id for j in adapter(rec, queue_to_monitor=monitored).jobs()} == counted


@pytest.mark.parametrize("prio", ["nan", "inf", "-Infinity", "1e999"])
def test_a_priority_that_is_no_finite_number_is_0_and_the_job_crosses_the_wire(prio):
    """float() reads "nan" and "inf": such a JAT_prio went into the Job, and from a head minion
    (RemoteScheduler, Job.from_dict checks each field) it failed every poll while the job lived."""
    from dcluster.model import Job

    doc = (
        "<?xml version='1.0'?><job_info><queue_info/><job_info>"
        f"<job_list state='pending'><JB_job_number>7</JB_job_number><JAT_prio>{prio}</JAT_prio>"
        "<JB_name>x</JB_name><JB_owner>u</JB_owner><state>qw</state><slots>1</slots></job_list>"
        "</job_info></job_info>"
    )
    (job,) = sge.parse_qstat(doc)
    assert job.priority == 0.0
    assert Job.from_dict(job.to_dict()) == job
