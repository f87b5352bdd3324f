"""Slurm parsers on outputs of a real Slurm 22.05 and public 21.08/25.05 recordings; adapter command sequences."""

from __future__ import annotations

import json

import pytest

from dcluster.model import JobState, NodeState
from dcluster.schedulers import ParseError, RefusedError, slurm
from tests.unit.schedulers.sched_helpers import cluster_config, data


def test_squeue_real_2205():
    jobs = {j.id: j for j in slurm.parse_squeue(data("slurm/dcsched-slurm2205-squeue-all-json.json"))}
    assert jobs["1"].state == JobState.PENDING and jobs["1"].queue == "dyn"
    assert (jobs["2"].chunks, jobs["2"].chunk_cores, jobs["2"].distinct) == (3, 2, True)  # -N 2 -n 6 on 2-cpu nodes
    assert jobs["3"].state == JobState.HELD  # JobHeldUser
    assert jobs["4"].state == JobState.HELD  # Dependency: not demand
    assert jobs["5"].properties == ("big",) and jobs["5"].chunk_mem_mb == 300
    assert [j for j in jobs if j.startswith("6_")] == ["6_1", "6_2", "6_3"]


def test_squeue_real_2108_and_2505_shapes():
    jobs = {j.id: j for j in slurm.parse_squeue(data("slurm/rivos-squeue-json-21.08.json"))}
    run = jobs["26515966"]
    assert run.state == JobState.RUNNING and run.nodes == ("cs75",) and run.account == "account1"
    assert run.chunk_mem_mb == 64000 and run.walltime_s == 30240 * 60
    assert run.start_time == 1684114921.0
    assert all(j.start_time == 0.0 for j in jobs.values() if j.state != JobState.RUNNING)
    assert run.properties == ("a100-80gb", "preemptible", "gpu-1")
    new = slurm.parse_squeue(data("slurm/slurmweb-slurmrestd-25.05-v0.0.43-slurm-jobs.json"))
    assert len(new) == 19 and new[0].id == "2195" and new[0].state == JobState.OTHER and new[0].chunks == 4


@pytest.mark.parametrize(
    ("reason", "eligible", "begin"),
    [
        ("BeginTime", 1700000600, 1700000600.0),
        ("BeginTime", {"set": True, "infinite": False, "number": 1700000600}, 1700000600.0),  # 23.02+
        ("BeginTime", {"set": True, "infinite": True, "number": 0}, 0.0),
        ("BeginTime", "soon", 0.0),
        ("BeginTime", -5, 0.0),
        ("JobHeldUser", 1700000600, 0.0),  # held for another reason: no begin time
        pytest.param("BeginTime", 10**400, 0.0, id="BeginTime-int-beyond-a-float"),  # no time, no OverflowError
        ("BeginTime", "1700000600", 1700000600.0),
        ("Dependency", 1700000600, 0.0),  # its time passed, now held for a dependency: no begin time
    ],
)
def test_squeue_a_job_held_for_its_begin_time_carries_it(reason, eligible, begin):
    # The real 22.05 recording, its first job's reason and eligible_time set as sbatch --begin leaves them
    # (tests/integration/test_slurm_daemons.py reads a real --begin job off a real slurmctld).
    doc = json.loads(data("slurm/dcsched-slurm2205-squeue-all-json.json"))
    doc["jobs"][0].update(state_reason=reason, eligible_time=eligible)
    job = slurm.parse_squeue(json.dumps(doc))[0]
    assert (job.state, job.begin_time) == (JobState.HELD, begin)
    doc["jobs"][0]["eligible_time"] = float("nan")  # Python's json reads NaN and Infinity
    assert slurm.parse_squeue(json.dumps(doc))[0].begin_time == 0.0


def test_a_pending_job_whose_eligible_time_is_ahead_is_held_until_then_whatever_its_reason():
    # slurmctld lists a new --begin job with reason None until it has looked at it: seen end to end, the
    # engine launched a node for such a job at its submission, 75 s before its time (and again later).
    doc = json.loads(data("slurm/dcsched-slurm2205-squeue-all-json.json"))
    assert doc["jobs"][0]["job_state"] == "PENDING"
    now = 1_800_000_000.0
    for eligible, want in ((now + 600, (JobState.HELD, now + 600)), (now - 10, (JobState.PENDING, 0.0))):
        doc["jobs"][0].update(state_reason="None", eligible_time=int(eligible))
        job = slurm.parse_squeue(json.dumps(doc), now=now)[0]
        assert (job.state, job.begin_time) == want


@pytest.mark.parametrize("field", ["submit_time", "start_time", "priority", "time_limit", "cpus", "node_count"])
@pytest.mark.parametrize(
    "value",
    [10**400, float("inf"), float("nan"), "1" * 400, "1e999"],
    ids=["10**400", "inf", "nan", "400-ones", "1e999"],
)
def test_a_number_no_float_holds_is_no_number_and_fails_nothing(field, value):
    """A huge integer, Infinity or NaN (Python's json reads all three) in a time or count of one running
    job: that field is unknown (its default), the poll goes on (float(10**400) raised OverflowError and
    failed every poll while that job lived)."""
    doc = json.loads(data("slurm/dcsched-slurm2205-squeue-all-json.json"))
    rec = doc["jobs"][0]
    rec.update(job_state="RUNNING", nodes="cn1", time_limit=60, start_time=1_700_000_000, priority=5)
    rec[field] = value
    job = next(j for j in slurm.parse_squeue(json.dumps(doc)) if j.id == str(rec["job_id"]))
    assert job.state == JobState.RUNNING
    assert {"submit_time": job.submit_time, "start_time": job.start_time, "priority": job.priority}.get(field, 0) == 0
    assert job.walltime_s == 0 if field == "time_limit" else job.walltime_s > 0
    assert job.cores >= 1


def test_a_job_record_that_cannot_be_read_fails_the_poll_naming_the_job_and_the_command(monkeypatch):
    """Whatever a record holds that the parser did not foresee fails the poll as a ParseError naming the
    command, the job and the record, not as a bare exception with neither."""
    doc = json.loads(data("slurm/dcsched-slurm2205-squeue-all-json.json"))
    doc["jobs"][1]["features"] = "unforeseen"
    real = slurm._constraint

    def constraint(value):
        if value == "unforeseen":
            raise TypeError("an unforeseen shape")
        return real(value)

    monkeypatch.setattr(slurm, "_constraint", constraint)
    job_id = doc["jobs"][1]["job_id"]
    with pytest.raises(ParseError, match=rf"squeue --all --json.*job {job_id} \(record 2\): an unforeseen shape"):
        slurm.parse_squeue(json.dumps(doc))


def test_sinfo_real_2205_drain_reason_is_reported():
    nodes = {n.name: n for n in slurm.parse_sinfo(data("slurm/dcsched-slurm2205-sinfo-json.json"))}
    assert nodes["dcn1"].state == NodeState.IDLE and nodes["dcn1"].cores == 2 and nodes["dcn1"].mem_mb == 500
    assert nodes["dcn2"].state == NodeState.HELD and nodes["dcn2"].hold_reason == "dcluster: test"
    assert nodes["dcn2"].properties == ("dcluster", "big")


def test_sinfo_real_2108_and_2505():
    nodes = {n.name: n for n in slurm.parse_sinfo(data("slurm/rivos-sinfo-json-21.08.json"))}
    assert nodes["cs5.example.company.com"].state == NodeState.DOWN
    assert nodes["cs2.example.company.com"].state == NodeState.BUSY
    new = {n.name: n for n in slurm.parse_sinfo(data("slurm/slurmweb-slurmrestd-25.05-v0.0.43-slurm-nodes.json"))}
    assert new["cn3"].state == NodeState.HELD and new["cn3"].hold_reason == "ECC memory error"
    assert new["cn3"].state_since == 1763370757.0


def test_jobs_fill_node_job_lists():
    jobs = slurm.parse_squeue(data("slurm/rivos-squeue-json-21.08.json"))
    nodes = {n.name: n for n in slurm.parse_sinfo(data("slurm/rivos-sinfo-json-21.08.json"), jobs)}
    assert all(isinstance(n.jobs, tuple) for n in nodes.values())


@pytest.mark.parametrize("bad", ["", "{", '{"meta": {}}', "slurm_load_jobs error: Unable to contact slurm controller"])
def test_garbage_raises(bad):
    with pytest.raises(ParseError):
        slurm.parse_squeue(bad)
    with pytest.raises(ParseError):
        slurm.parse_sinfo(bad)


def test_hostlist():
    assert slurm.expand_hostlist("cn[1-3,07],gpu1,a[01-02]b") == ["cn1", "cn2", "cn3", "cn07", "gpu1", "a01b", "a02b"]
    assert slurm.expand_hostlist("") == []


def adapter(rec, **conf):
    return slurm.SlurmAdapter(cluster_config("slurm", **conf), rec, sleep=lambda s: None)


SINFO = data("slurm/dcsched-slurm2205-sinfo-json.json")
SQUEUE = data("slurm/dcsched-slurm2205-squeue-all-json.json")


def test_add_node_creates_future_node_with_feature(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    out = adapter(rec, node_feature="dcluster").add_node(
        "dc-r1-aa", 4, 1000, {"property": "big"}, address="127.200.0.60"
    )
    assert rec.calls[-1] == [
        "/usr/bin/scontrol",
        "create",
        "nodename=dc-r1-aa",
        "cpus=4",
        "features=dcluster,big",
        "realmemory=1000",
        "nodeaddr=127.200.0.60",
        "nodehostname=dc-r1-aa",
        "state=future",
    ]
    assert out["created"] is True


def test_add_node_takes_an_ipv6_address_and_refuses_anything_but_an_ip_literal(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    adapter(rec).add_node("dc-r1-ab", 4, address="FD00:0::60")
    assert rec.calls[-1][-3:] == ["nodeaddr=fd00::60", "nodehostname=dc-r1-ab", "state=future"]
    for bad in ("10.0.0.5 state=idle", "head.example", "fe80::1%eth0", "0.0.0.0"):
        with pytest.raises(RefusedError, match="add_node dc-r1-ac: address"):
            adapter(rec).add_node("dc-r1-ac", 4, address=bad)
        assert not any("nodename=dc-r1-ac" in c for c in rec.calls)


def test_add_node_of_a_registered_node_only_adds_features(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    out = adapter(rec).add_node("dcn1", 2, properties=["gpu"])
    assert rec.calls[-1] == [
        "/usr/bin/scontrol",
        "update",
        "nodename=dcn1",
        "availablefeatures=dcluster,gpu",
        "activefeatures=dcluster,gpu",
    ]
    assert out["created"] is False


def test_hold_release(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    a = adapter(rec)
    a.hold("dcn1", "dcluster: idle")
    assert rec.calls[-1] == ["/usr/bin/scontrol", "update", "nodename=dcn1", "state=drain", "reason=dcluster: idle"]
    a.release("dcn2")  # drained with "dcluster: test"
    assert rec.calls[-1] == ["/usr/bin/scontrol", "update", "nodename=dcn2", "state=resume"]


def test_release_refuses_admin_drain(rec):
    rec.on(r"sinfo", SINFO.replace("dcluster: test", "bad dimm")).on(r"squeue", SQUEUE)
    with pytest.raises(RefusedError, match="bad dimm"):
        adapter(rec).release("dcn2")


def _running_on(node: str) -> str:
    """The recorded squeue with its first job running on ``node``."""
    import json

    sq = json.loads(SQUEUE)
    sq["jobs"][0].update(job_state="RUNNING", nodes=node)
    return json.dumps(sq)


def test_remove_refused_while_jobs_and_vacate_requeues(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", _running_on("dcn1"))
    with pytest.raises(RefusedError, match="still runs jobs 1"):
        adapter(rec).remove("dcn1")
    assert not any("delete" in c for c in rec.calls)
    rec.on(r"requeue", "", rc=1, stderr="Requeue of JobId=1 not allowed")
    assert adapter(rec).vacate("dcn1") == ["1"]
    assert rec.calls[-2:] == [["/usr/bin/scontrol", "requeue", "1"], ["/usr/bin/scancel", "1"]]


def test_remove_refused_for_a_node_sinfo_hides_while_squeue_shows_its_job(rec):
    # sinfo without --all hides nodes of hidden partitions (or one answer leaves a node out): "not a node"
    # let the chain destroy the machine while its job ran (red team)
    rec.on(r"sinfo", SINFO).on(r"squeue", _running_on("dcn9"))
    with pytest.raises(RefusedError, match="squeue shows jobs 1"):
        adapter(rec).remove("dcn9")
    assert not any("delete" in c for c in rec.calls)
    rec.on(r"squeue", SQUEUE)
    assert adapter(rec).remove("dcn9") == {"name": "dcn9", "removed": False, "reason": "not a node"}
    assert adapter(rec).config.sinfo_command.argv[1:] == ("--all", "--json")


def test_remove_deletes_dynamic_node(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    assert adapter(rec).remove("dcn1") == {"name": "dcn1", "removed": True}
    assert rec.calls[-1] == ["/usr/bin/scontrol", "delete", "nodename=dcn1"]


def test_check(rec):
    rec.on(r"ping", "Slurmctld(primary) at vm is UP\n")
    assert adapter(rec).check()["healthy"] is True
    rec.on(r"ping", "Slurmctld(primary) at vm is DOWN\n", rc=1)
    assert adapter(rec).check()["healthy"] is False


@pytest.mark.parametrize(
    "nodes", ["n[0-999999999]", "n[0-99999,0-99999]", "a[0-999]b[0-999]", "n[0-" + "1" * 5000 + "]"]
)
def test_a_running_jobs_absurd_node_list_is_a_parse_error_naming_the_job(nodes):
    """squeue's node list of a running job is input: a range of a billion names was expanded name by name
    (the master's memory, then the poll, gone), one of 5,000 digits raised from int()."""
    text = json.dumps({"jobs": [{"job_id": 7, "job_state": "RUNNING", "nodes": nodes}]})
    with pytest.raises(ParseError, match="job 7 .*(names|digits)"):
        slurm.parse_squeue(text, now=1.7e9)
