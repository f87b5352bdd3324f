"""Torque/MAUI parsers on real recorded outputs (tests/data/scheduler-output/torque) and adapter command sequences."""

from __future__ import annotations

import pytest

from dcluster.model import JobState, NodeState
from dcluster.schedulers import ParseError, RefusedError, SchedulerError, maui, torque
from tests.unit.schedulers import maui_layouts as lay
from tests.unit.schedulers.sched_helpers import cluster_config, data

# MAUI reports laid out by MAUI 3.3.x's own format strings (no captured output exists: see maui.py).
DIAGNOSE_P = lay.diagnose_p(
    [("152", 1716, False), ("166[1]", 50, True)],
    header="   Cred( User:Class)  Serv(QTime)",
    weights="      1(    1:    1)     1(    1)",
    columns=["    0.0(  0.0:  0.0) 100.0(1716.)", "    0.0(  0.0:  0.0) 100.0(  50.)"],
    footer="    0.0(  0.0:  0.0) 100.0(100.0)",
)
SHOWRES_N = lay.showres_n(
    [
        (
            "dc-r1-aa",
            [
                ("Job", "149", "Running", "2", "-1:00:00", "1:00:00:00", "Fri Jul 13 09:00:00"),
                ("User", "dc-r1-aa.0", "N/A", "1", "-00:05:00", "INFINITE", "Fri Jul 13 09:55:00"),
            ],
        ),
        ("dc-r1-aab", [("User", "dc-r1-aab.0", "N/A", "1", "-00:05:00", "INFINITE", "Fri Jul 13 09:55:00")]),
        ("node7", [("User", "admin.1", "N/A", "1", "-00:05:00", "INFINITE", "Fri Jul 13 09:55:00")]),
    ],
    now="Fri Jul 13 10:00:00",
)
CHECKNODE = lay.checknode("dc-r1-aa", "Idle", "00:00:10")


def test_qstat_real_pcluster_array_jobs_and_shapes():
    jobs = {j.id: j for j in torque.parse_qstat(data("torque/pcluster-torque612-qstat-t-x.xml"))}
    assert list(jobs) == ["149", "150", "151", "152", "166[1]", "166[2]", "166[3]"]
    j149 = jobs["149"]  # nodes=1:ppn=2
    assert (j149.state, j149.chunks, j149.chunk_cores, j149.distinct) == (JobState.RUNNING, 1, 2, True)
    assert j149.nodes == ("ip-10-0-1-168",) and j149.walltime_s == 3600 and j149.queue == "batch"
    assert j149.owner == "centos" and j149.submit_time == 1562156185.0
    # a running job's start (the planner's estimate of when the scheduler frees its cores); none while queued
    assert j149.start_time == 1562156185.0 and jobs["150"].start_time == 1562156357.0
    assert all(j.start_time == 0.0 for j in jobs.values() if j.state != JobState.RUNNING)
    assert jobs["150"].chunks == 2 and jobs["150"].chunk_cores == 1  # nodes=2
    assert jobs["150"].nodes == ("ip-10-0-1-95", "ip-10-0-1-168")
    assert (jobs["151"].chunks, jobs["151"].chunk_cores) == (1, 2)  # ncpus=2 is 2 cores, not 1
    j152 = jobs["152"]  # nodes=1:ppn=2+2:ppn=3: shaped by its largest chunk, exact parts kept
    assert (j152.state, j152.chunks, j152.chunk_cores) == (JobState.PENDING, 3, 3)
    assert j152.extra["chunk_list"] == [[1, 2], [2, 3]]
    assert jobs["166[2]"].state == JobState.PENDING and jobs["166[2]"].nodes == ()


def test_qstat_real_single_job_without_resource_list_or_optional_fields():
    (job,) = torque.parse_qstat(data("torque/goove-farm.particle.cz-qstat-x-single-job.xml"))
    assert job.id == "1196870" and job.state == JobState.RUNNING and job.queue == "solid"
    assert (job.chunks, job.chunk_cores, job.chunk_mem_mb) == (1, 1, 0)
    assert job.nodes == ("golias119",) and job.extra["full_id"] == "1196870.torque.farm.particle.cz"


def test_qstat_synthetic_memory_properties_and_holds():
    doc = (
        "<Data>"
        "<Job><Job_Id>7.s</Job_Id><job_state>Q</job_state><queue>q</queue><Account_Name>acc</Account_Name>"
        "<Resource_List><nodes>2:ppn=4:bigmem</nodes><mem>16gb</mem></Resource_List></Job>"
        "<Job><Job_Id>8.s</Job_Id><job_state>H</job_state><Hold_Types>u</Hold_Types></Job>"
        "<Job><Job_Id>9.s</Job_Id><job_state>Q</job_state><Hold_Types>s</Hold_Types>"
        "<Resource_List><procs>3</procs><pmem>1gb</pmem></Resource_List></Job>"
        "<Job><Job_Id>10.s</Job_Id><job_state>C</job_state></Job>"
        "</Data>"
    )
    jobs = {j.id: j for j in torque.parse_qstat(doc)}
    j7 = jobs["7"]
    assert (j7.chunks, j7.chunk_cores, j7.chunk_mem_mb, j7.properties, j7.account) == (2, 4, 8192, ("bigmem",), "acc")
    assert jobs["8"].state == JobState.HELD and jobs["9"].state == JobState.HELD
    assert (jobs["9"].chunks, jobs["9"].chunk_cores, jobs["9"].distinct, jobs["9"].chunk_mem_mb) == (3, 1, False, 1024)
    assert jobs["10"].state == JobState.OTHER


def test_qstat_empty_output_is_no_jobs_but_garbage_is_an_error():
    assert torque.parse_qstat("") == []
    with pytest.raises(ParseError, match="qstat -x -t"):
        torque.parse_qstat(data("torque/pcluster-torque612-qstat-t-x.xml")[:3000])
    with pytest.raises(ParseError, match="without <Job_Id>"):
        torque.parse_qstat("<Data><Job><job_state>Q</job_state></Job></Data>")


def test_pbsnodes_real_pcluster():
    nodes = {n.name: n for n in torque.parse_pbsnodes(data("torque/pcluster-torque612-pbsnodes-x.xml"))}
    master = nodes["ip-10-0-0-196"]
    assert master.state == NodeState.HELD and master.hold_reason == "MasterServer" and master.cores == 1000
    free = nodes["ip-10-0-1-242"]
    assert free.state == NodeState.IDLE and free.cores == 4 and free.mem_mb == 7632 and free.jobs == ()
    busy = nodes["ip-10-0-1-237"]
    # "1/136...,2/137...,0,3/138...": Torque 6 lists a job's slots before it, commas and all (0,3/138), so
    # 4 of its 4 slots are used, as its job-exclusive state says (the "0" was dropped: 3)
    assert busy.state == NodeState.BUSY and busy.jobs == ("136", "137", "138") and busy.cores_used == 4
    assert "job-exclusive" in busy.extra["state_flags"]


def test_pbsnodes_real_64_nodes_with_gpus_and_combined_state():
    nodes = torque.parse_pbsnodes(data("torque/ctxswitch-qhost-output_04-pbsnodes-x.xml"))
    assert len(nodes) == 64
    n001 = nodes[0]
    assert n001.name == "n001" and n001.state == NodeState.HELD and n001.hold_reason == "offline"
    assert n001.properties == ("compute", "enc1") and n001.extra["gpus"] == "0"
    assert not n001.hold_reason.startswith("dcluster")  # an admin's hold
    (node,) = torque.parse_pbsnodes(data("torque/ctxswitch-qhost-output_05-pbsnodes-x.xml"))
    assert node.state == NodeState.HELD and node.cores_used == 32 and node.jobs == ("2081", "3069", "3584")


def test_pbsnodes_missing_optional_fields_tolerated_and_note_is_our_hold():
    doc = (
        "<Data><Node><name>dc-r1-aa</name><state>offline</state><np>2</np><note>dcluster: idle</note></Node>"
        "<Node><name>b</name><state>free</state></Node><Node><name>c</name><state>state-unknown</state></Node></Data>"
    )
    a, b, c = torque.parse_pbsnodes(doc)
    assert a.state == NodeState.HELD and a.hold_reason == "dcluster: idle"
    assert b.state == NodeState.IDLE and b.cores == 0
    assert c.state == NodeState.STARTING


@pytest.mark.parametrize("bad", ["", "pbsnodes: Server has no node list", "<Data><Node><name>a</name>"])
def test_pbsnodes_garbage_raises(bad):
    with pytest.raises(ParseError) as exc:
        torque.parse_pbsnodes(bad, "pbsnodes -x")
    assert "pbsnodes -x" in str(exc.value)


def test_maui_parsers_on_maui_source_layouts():
    assert maui.parse_diagnose_p(DIAGNOSE_P) == {"152": 1716.0, "166[1]": 50.0}
    res = maui.parse_showres_n(SHOWRES_N)
    assert [(r.node, r.type, r.id) for r in res] == [
        ("dc-r1-aa", "Job", "149"),
        ("dc-r1-aa", "User", "dc-r1-aa.0"),
        ("dc-r1-aab", "User", "dc-r1-aab.0"),
        ("node7", "User", "admin.1"),
    ]
    assert maui.parse_checknode(CHECKNODE) == "Idle"
    with pytest.raises(ParseError, match="does not know this node"):
        maui.parse_checknode("ERROR:  cannot locate node 'x'")


def adapter(rec, **conf):
    return torque.TorqueAdapter(cluster_config("torque", **conf), rec, sleep=lambda s: None, checknode_wait=0)


def test_jobs_uses_maui_priorities_and_keeps_jobs_missing_there(rec):
    rec.on(r"qstat", data("torque/pcluster-torque612-qstat-t-x.xml")).on(r"diagnose -p", DIAGNOSE_P)
    jobs = {j.id: j for j in adapter(rec).jobs()}
    assert jobs["152"].priority == 1716.0 and jobs["166[1]"].priority == 50.0
    assert jobs["166[2]"].priority == 0.0  # not in diagnose -p: kept, not dropped
    assert rec.calls == [["/usr/bin/qstat", "-x", "-t"], ["/usr/bin/diagnose", "-p"]]


def test_jobs_filter_queues(rec):
    rec.on(r"qstat", data("torque/pcluster-torque612-qstat-t-x.xml")).on(r"diagnose", DIAGNOSE_P)
    assert len(adapter(rec).jobs()) == 7
    assert adapter(rec, queue_to_monitor=["other"]).jobs() == []


@pytest.mark.parametrize("qstat", ["torque/pcluster-torque612-qstat-t-x.xml", None])
def test_maui_down_fails_the_poll_with_or_without_queued_jobs(rec, qstat):
    """pbs_server answers while MAUI, which starts the jobs, does not: the poll must not look fine (the
    planner would retire "idle" workers MAUI was about to use).  ``diagnose -p`` is the poll's check of MAUI,
    run once per poll, also with nothing queued."""
    rec.on(r"qstat", data(qstat) if qstat else "").on(
        r"diagnose", "", rc=1, stderr="ERROR:    cannot connect to 'head' port 42559"
    )
    with pytest.raises(SchedulerError, match="diagnose -p.*cannot connect to 'head'"):
        adapter(rec).jobs()
    rec.on(r"diagnose", "no idle jobs in queue\n")
    rec.calls.clear()
    assert len(adapter(rec).jobs()) == (7 if qstat else 0)
    assert [c[0] for c in rec.calls] == ["/usr/bin/qstat", "/usr/bin/diagnose"]


def test_failed_qstat_raises_never_empty(rec):
    rec.on(r"qstat", "", rc=1, stderr="qstat: cannot connect to server torque (errno=111)")
    with pytest.raises(SchedulerError, match="cannot connect to server"):
        adapter(rec).jobs()


def test_add_node_command_sequence(rec):
    rec.on(r"checknode", CHECKNODE)
    result = adapter(rec).add_node(
        "dc-r1-aa", 4, reservation={"queue": "batch", "account": "physics", "property": "cloud"}
    )
    assert rec.calls == [
        ["/usr/bin/qmgr", "-c", "create node dc-r1-aa"],
        ["/usr/bin/qmgr", "-c", "set node dc-r1-aa np = 4"],
        ["/usr/bin/qmgr", "-c", "set node dc-r1-aa properties = cloud"],
        ["/usr/bin/checknode", "dc-r1-aa"],
        ["/usr/bin/setres", "-q", "batch", "dc-r1-aa"],
        ["/usr/bin/setres", "-a", "physics", "dc-r1-aa"],
        ["/usr/bin/qmgr", "-c", "set node dc-r1-aa state = free"],
    ]
    assert result["cores"] == 4


def test_add_node_retries_create_and_fails_clearly(rec):
    rec.on(r"create node", "", rc=1, stderr="qmgr obj=x svr=default: Unauthorized Request")
    with pytest.raises(SchedulerError, match="failed 5 times.*Unauthorized"):
        adapter(rec).add_node("dc-r1-aa", 2)
    assert sum("create node" in line for line in rec.lines()) == 5


def test_add_node_refuses_injection(rec):
    with pytest.raises(RefusedError):
        adapter(rec).add_node("x; rm -rf /", 2)
    with pytest.raises(RefusedError):
        adapter(rec).add_node("dc-r1-aa", 2, reservation={"queue": "batch; reboot"})
    assert rec.calls == []


def test_hold_and_release_mark_ours(rec):
    a = adapter(rec)
    a.hold("dc-r1-aa", "dcluster: idle 600 s")
    assert rec.calls[-1] == ["/usr/bin/pbsnodes", "-o", "-N", "dcluster: idle 600 s", "dc-r1-aa"]
    rec.on(
        r"pbsnodes -x dc-r1-aa",
        "<Data><Node><name>dc-r1-aa</name><state>offline</state><note>dcluster: idle 600 s</note></Node></Data>",
    )
    a.release("dc-r1-aa")
    assert rec.calls[-1] == ["/usr/bin/pbsnodes", "-c", "-N", "", "dc-r1-aa"]


def test_release_refuses_an_admins_hold(rec):
    rec.on(r"pbsnodes -x n1", "<Data><Node><name>n1</name><state>offline</state><note>disk broken</note></Node></Data>")
    with pytest.raises(RefusedError, match="held by someone else"):
        adapter(rec).release("n1")
    assert not any("-c" in c for c in rec.calls)


def test_remove_releases_user_reservations_found_in_python(rec):
    rec.on(r"pbsnodes -x dc-r1-aa", "<Data><Node><name>dc-r1-aa</name><state>free</state><np>2</np></Node></Data>").on(
        r"showres", SHOWRES_N
    )
    out = adapter(rec).remove("dc-r1-aa")
    assert out["released_reservations"] == ["dc-r1-aa.0"]  # not dc-r1-aab.0, whose name only starts alike
    assert rec.calls[-3:] == [
        ["/usr/bin/releaseres", "dc-r1-aa.0"],
        ["/usr/bin/pbsnodes", "-o", "-N", "dcluster: held (removing)", "dc-r1-aa"],
        ["/usr/bin/qmgr", "-c", "delete node dc-r1-aa"],
    ]


def test_remove_refused_while_jobs_on_the_node_listed_under_its_domain_name(rec):
    # pbs_server may print the name its resolver gives for a node added by its short one (red team)
    listed = "<Data><Node><name>n.cluster.local</name><state>job-exclusive</state><jobs>0/5.s</jobs></Node></Data>"
    rec.on(r"pbsnodes -x n", listed)
    with pytest.raises(RefusedError, match="still runs jobs 5"):
        adapter(rec).remove("n")
    assert not any("-d" in c or "delete" in " ".join(c) for c in rec.calls)


def test_remove_refused_while_jobs(rec):
    rec.on(r"pbsnodes -x n", "<Data><Node><name>n</name><state>job-exclusive</state><jobs>0/5.s</jobs></Node></Data>")
    with pytest.raises(RefusedError, match="still runs jobs 5"):
        adapter(rec).remove("n")
    assert not any("delete" in line for line in rec.lines())


def test_vacate_signals_then_purges(rec):
    rec.on(
        r"pbsnodes -x n",
        "<Data><Node><name>n</name><state>job-exclusive</state><jobs>0/5.s,1/5.s,2/166[1].s</jobs></Node></Data>",
    )
    assert adapter(rec).vacate("n") == ["5", "166[1]"]
    assert rec.calls[1:] == [
        ["/usr/bin/qsig", "-s", "9", "5"],
        ["/usr/bin/qdel", "-p", "5"],
        ["/usr/bin/qsig", "-s", "9", "166[1]"],
        ["/usr/bin/qdel", "-p", "166[1]"],
    ]


def test_check_is_healthy_when_maui_has_no_idle_job_and_not_when_it_answers_garbage(rec):
    rec.on(r"pbsnodes", data("torque/pcluster-torque612-pbsnodes-x.xml")).on(r"diagnose", "no idle jobs in queue\n")
    assert adapter(rec).check() == {"healthy": True, "scheduler": "torque", "problems": []}
    rec.on(r"diagnose", "ERROR:    cannot connect to 'head' port 42559\n")
    out = adapter(rec).check()
    assert out["healthy"] is False and "diagnose -p" in out["problems"][0] and "cannot connect" in out["problems"][0]


def test_check_reports_each_component(rec):
    rec.on(r"pbsnodes", data("torque/pcluster-torque612-pbsnodes-x.xml")).on(r"diagnose", "", rc=1, stderr="no maui")
    out = adapter(rec).check()
    assert out["healthy"] is False and len(out["problems"]) == 1 and out["problems"][0].startswith("maui:")


def test_qstat_jobs_sharing_a_request_get_their_own_extra():
    # shapes are computed once per distinct <Resource_List>: the jobs must not share mutable parts
    rl = "<Resource_List><nodes>1:ppn=2+2:ppn=3</nodes><walltime>01:00:00</walltime></Resource_List>"
    doc = (
        "<Data>"
        + "".join(f"<Job><Job_Id>{i}.s</Job_Id><job_state>Q</job_state>{rl}</Job>" for i in (1, 2))
        + "<Job><Job_Id>3.s</Job_Id><job_state>Q</job_state><Resource_List><nodes>1:ppn=2+2:ppn=3</nodes>"
        "</Resource_List></Job></Data>"
    )
    a, b, c = torque.parse_qstat(doc)
    assert a.extra["chunk_list"] == b.extra["chunk_list"] == [[1, 2], [2, 3]]
    assert a.extra is not b.extra and a.extra["chunk_list"] is not b.extra["chunk_list"]
    a.extra["chunk_list"][0][0] = 99
    assert b.extra["chunk_list"] == [[1, 2], [2, 3]] and (a.extra["full_id"], b.extra["full_id"]) == ("1.s", "2.s")
    assert (a.walltime_s, b.walltime_s, c.walltime_s) == (3600, 3600, 0)  # same nodes, other request


def test_qstat_reads_direct_children_only_last_repeat_and_first_resource_list():
    doc = (
        "<Data><Job><Job_Id>5.s</Job_Id><resources_used><queue>no</queue><walltime>00:01:00</walltime>"
        "</resources_used><job_state>Q</job_state><queue>a</queue><queue>b</queue>"
        "<Resource_List><ncpus>4</ncpus></Resource_List><Resource_List><ncpus>8</ncpus></Resource_List>"
        "</Job></Data>"
    )
    (job,) = torque.parse_qstat(doc)
    assert (job.queue, job.chunk_cores, job.walltime_s) == ("b", 4, 0)


def test_qstat_bytes_and_str_give_the_same_jobs():
    text = data("torque/pcluster-torque612-qstat-t-x.xml")
    as_str, as_bytes = torque.parse_qstat(text), torque.parse_qstat(text.encode())
    assert [j.to_dict() for j in as_str] == [j.to_dict() for j in as_bytes] and len(as_str) == 7


def test_qstat_large_output_sliced_equals_streamed(monkeypatch):
    # over _FAST_MIN: parse_qstat takes the sliced path; the jobs must be those of the streaming path
    from dcluster.schedulers import xml_records as _common

    text = data("torque/pcluster-torque612-qstat-t-x.xml")
    head, _, rest = text.partition("<Job>")
    body, _, _ = ("<Job>" + rest).rpartition("</Data>")
    doc = head + body * (3 * _common.CHUNK // len(body)) + "</Data>\n"
    assert len(doc) > _common._FAST_MIN
    fast = [j.to_dict() for j in torque.parse_qstat(doc)]
    monkeypatch.setattr(_common, "_FAST_MIN", float("inf"))
    assert fast == [j.to_dict() for j in torque.parse_qstat(doc)] and len(fast) > 100


def test_qstat_a_job_waiting_for_its_execution_time_carries_it_as_its_begin_time():
    # Synthetic (no recorded qstat -x of a qsub -a job exists): Torque's XML gives Execution_Time in
    # seconds since the epoch, as it does ctime.  Only state W reads it; garbage or an infinity is no time.
    doc = (
        "<Data>"
        "<Job><Job_Id>11.s</Job_Id><job_state>W</job_state><Execution_Time>1700000600</Execution_Time></Job>"
        "<Job><Job_Id>12.s</Job_Id><job_state>Q</job_state><Execution_Time>1700000600</Execution_Time></Job>"
        "<Job><Job_Id>13.s</Job_Id><job_state>W</job_state><Execution_Time>inf</Execution_Time></Job>"
        "<Job><Job_Id>14.s</Job_Id><job_state>W</job_state><ctime>inf</ctime><Execution_Time>soon</Execution_Time>"
        "</Job>"
        "</Data>"
    )
    jobs = {j.id: j for j in torque.parse_qstat(doc)}
    assert (jobs["11"].state, jobs["11"].begin_time) == (JobState.HELD, 1700000600.0)
    assert (jobs["12"].state, jobs["12"].begin_time) == (JobState.PENDING, 0.0)
    assert jobs["13"].begin_time == 0.0 and jobs["14"].begin_time == 0.0 and jobs["14"].submit_time == 0.0


@pytest.mark.parametrize("field", ["ctime", "start_time", "Execution_Time"])
def test_a_time_beyond_a_float_is_unknown_not_a_failed_poll(field):
    """float(int("9" * 400)) raises OverflowError, which _epoch let through: the poll failed, bare, while
    the job lived (squeue's huge integers are no number either: slurm.num)."""
    state = "W" if field == "Execution_Time" else "R"
    doc = f"<Data><Job><Job_Id>1.s</Job_Id><job_state>{state}</job_state><{field}>{'9' * 400}</{field}></Job></Data>"
    (job,) = torque.parse_qstat(doc)
    assert (job.submit_time, job.start_time, job.begin_time) == (0.0, 0.0, 0.0)
