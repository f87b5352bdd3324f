"""Job properties as each adapter reads them, and every reservation property given to a registered node.

Recorded real outputs used where they show any: the rivos Slurm 21.08 squeue
(a job with ``a100-80gb&preemptible&gpu-1``) and our Slurm 22.05 ones (``big``;
``[a|b]``, ``a&b``, ``[a*1&b*1]``);
the Slurm 25.05 (slurmweb) jobs all have an empty ``features``; none of the
Torque qstat recordings has a node property or ``feature`` in a job's
Resource_List (their pbsnodes have node properties: test_torque); of the
Grid Engine qstat recordings only ours of issue 16 has a boolean request
(``-l bm -l ssd=TRUE``, with its ``qconf -sc``); the public ones and our
earlier ones have ``h_rt`` and ``mem_free`` only.
"""

from __future__ import annotations

import pytest

from dcluster.config import Reservation
from dcluster.constraint import evaluate, parse_slurm
from dcluster.schedulers import ParseError, sge, slurm, torque
from tests.unit.schedulers.sched_helpers import cluster_config, data

SINFO = data("slurm/dcsched-slurm2205-sinfo-json.json")
SQUEUE = data("slurm/dcsched-slurm2205-squeue-all-json.json")


# ---------------------------------------------------------------- Slurm
def test_slurm_jobs_keep_the_constraint_of_recorded_real_output():
    rivos = {j.id: j for j in slurm.parse_squeue(data("slurm/rivos-squeue-json-21.08.json"))}
    run = rivos["26515966"]
    assert run.constraint == "a100-80gb&preemptible&gpu-1"
    assert run.properties == ("a100-80gb", "preemptible", "gpu-1")
    assert evaluate(parse_slurm(run.constraint), frozenset({"a100-80gb", "preemptible"})) is False
    assert evaluate(parse_slurm(run.constraint), frozenset({"a100-80gb", "preemptible", "gpu-1"})) is True
    ours = {j.id: j for j in slurm.parse_squeue(SQUEUE)}
    assert ours["5"].constraint == "big" and ours["1"].constraint == ""
    assert all(
        j.constraint == "" for j in slurm.parse_squeue(data("slurm/slurmweb-slurmrestd-25.05-v0.0.43-slurm-jobs.json"))
    )


def test_slurm_constraints_of_our_real_22_05_recording_are_read_as_slurm_reads_them():
    jobs = slurm.parse_squeue(data("slurm/dcsched-slurm2205-squeue-constraints-json.json"))
    assert [(j.constraint, j.chunks) for j in jobs] == [("[a|b]", 1), ("a&b", 1), ("[a*1&b*1]", 2)]
    only_a = frozenset({"a"})
    assert [evaluate(parse_slurm(j.constraint), only_a) for j in jobs] == [True, False, False]
    assert all(evaluate(parse_slurm(j.constraint), frozenset({"a", "b"})) for j in jobs)


def test_slurm_constraint_forms_in_squeue_json():
    doc = (
        '{"jobs": [{"job_id": 1, "job_state": "PENDING", "features": "[rack1|rack2]"},'
        ' {"job_id": 2, "job_state": "PENDING", "features": "[knl*2&haswell*1]"},'
        ' {"job_id": 3, "job_state": "PENDING", "features": ["a", "b"]}]}'
    )
    jobs = {j.id: j for j in slurm.parse_squeue(doc)}
    assert (jobs["1"].constraint, jobs["1"].properties) == ("[rack1|rack2]", ("rack1", "rack2"))
    assert (jobs["2"].constraint, jobs["2"].properties) == ("[knl*2&haswell*1]", ("knl", "haswell"))
    assert jobs["3"].constraint == "a&b"  # a list of names: all of them


def slurm_adapter(rec, **conf):
    return slurm.SlurmAdapter(cluster_config("slurm", **conf), rec, sleep=lambda s: None)


def test_slurm_new_node_gets_every_property_as_a_feature(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    res = Reservation(queue=None, properties=("bigmem", "ssd"))
    out = slurm_adapter(rec, node_feature="dcluster").add_node("dc-r1-aa", 4, 1000, res, properties=res.properties)
    assert rec.calls[-1] == [
        "/usr/bin/scontrol",
        "create",
        "nodename=dc-r1-aa",
        "cpus=4",
        "features=dcluster,bigmem,ssd",
        "realmemory=1000",
        "state=future",
    ]
    assert out["features"] == ["dcluster", "bigmem", "ssd"]


def test_slurm_self_registered_node_gets_the_missing_properties(rec):
    rec.on(r"sinfo", SINFO).on(r"squeue", SQUEUE)
    slurm_adapter(rec).add_node("dcn1", 2, reservation={"properties": "gpu,ssd"})  # the Salt module's string form
    assert rec.calls[-1] == [
        "/usr/bin/scontrol",
        "update",
        "nodename=dcn1",
        "availablefeatures=dcluster,gpu,ssd",
        "activefeatures=dcluster,gpu,ssd",
    ]


# ---------------------------------------------------------------- Torque
def test_torque_job_properties_from_the_nodespec_and_feature():
    doc = (
        "<Data>"
        "<Job><Job_Id>1.s</Job_Id><job_state>Q</job_state>"
        "<Resource_List><nodes>2:ppn=4:bigmem:ssd</nodes></Resource_List></Job>"
        "<Job><Job_Id>2.s</Job_Id><job_state>Q</job_state>"
        "<Resource_List><procs>4</procs><feature>bigmem:ssd</feature></Resource_List></Job>"
        "<Job><Job_Id>3.s</Job_Id><job_state>Q</job_state>"
        "<Resource_List><nodes>1:ppn=2:bigmem+1:ppn=1:gpu</nodes><feature>ssd</feature></Resource_List></Job>"
        "</Data>"
    )
    jobs = {j.id: j for j in torque.parse_qstat(doc)}
    assert jobs["1"].properties == ("bigmem", "ssd") and jobs["1"].chunks == 2
    assert jobs["2"].properties == ("bigmem", "ssd") and jobs["2"].chunks == 4
    assert jobs["3"].properties == ("bigmem", "gpu", "ssd")  # every part's: one resource serves them all
    assert all(j.constraint == "" for j in jobs.values())


def test_torque_node_gets_every_property(rec):
    rec.on(r"checknode", "checking node dc-r1-aa\n\nState:      Idle  (in current state for 00:00:10)\n")
    adapter = torque.TorqueAdapter(cluster_config("torque"), rec, sleep=lambda s: None, checknode_wait=0)
    out = adapter.add_node(
        "dc-r1-aa", 4, reservation=Reservation(properties=("bigmem", "ssd")), properties=("bigmem", "ssd")
    )
    assert ["/usr/bin/qmgr", "-c", "set node dc-r1-aa properties = bigmem,ssd"] in rec.calls
    assert out["properties"] == ["bigmem", "ssd"]


# ---------------------------------------------------------------- Grid Engine
QCONF_SC = """#name               shortcut   type        relop requestable consumable default  urgency
#--------------------------------------------------------------------------------------------
arch                a          RESTRING    ==    YES         NO         NONE     0
bigmem              bm         BOOL        ==    YES         NO         0        0
h_rt                h_rt       TIME        <=    YES         NO         0:0:0    0
ssd                 ssd        BOOL        ==    YES         NO         FALSE    0
slots               s          INT         <=    YES         YES        1        1000
# >#< starts a comment but comments are not saved across edits --------
"""


def test_grid_engine_boolean_complexes_of_qconf_sc():
    assert sge.parse_booleans(QCONF_SC) == {"bigmem": "bigmem", "bm": "bigmem", "ssd": "ssd"}
    real = sge.parse_booleans(data("sge/dcsched-sge819-qconf-sc-bool.txt"))
    # SoGE's own BOOLs (display_win_gui, rerun) and the two the recording added
    assert {real[k] for k in ("bm", "ssd", "dwg", "re")} == {"bigmem", "ssd", "display_win_gui", "rerun"}
    assert "h_rt" not in real and "arch" not in real and "slots" not in real


def test_grid_engine_properties_of_recorded_real_output(rec):
    rec.on(r"qstat", data("sge/dcsched-sge819-qstat-u-all-xml-r-bool.xml"))
    rec.on(r"-sc", data("sge/dcsched-sge819-qconf-sc-bool.txt"))
    (job,) = sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None).jobs()
    assert (job.properties, job.walltime_s) == (("bigmem", "ssd"), 600)
    assert ["/usr/bin/qconf", "-sc"] in rec.calls
    # without the complex list, a request is no property: the name alone does not say it is a boolean
    (job,) = sge.parse_qstat(data("sge/dcsched-sge819-qstat-u-all-xml-r-bool.xml"))
    assert job.properties == ()


def qstat_with(requests: str) -> str:
    return (
        "<?xml version='1.0'?><job_info><queue_info/><job_info>"
        "<job_list state='pending'><JB_job_number>7</JB_job_number><JAT_prio>0.5</JAT_prio>"
        "<JB_name>x</JB_name><JB_owner>u</JB_owner><state>qw</state>"
        "<JB_submission_time>2024-01-01T00:00:00</JB_submission_time><slots>1</slots>"
        f"{requests}</job_list></job_info></job_info>"
    )


def test_grid_engine_jobs_ask_properties_with_boolean_requests(rec):
    rec.on(
        r"qstat",
        qstat_with(
            '<hard_request name="bm" resource_contribution="0">TRUE</hard_request>'
            '<hard_request name="ssd" resource_contribution="0">1</hard_request>'
            '<hard_request name="h_rt" resource_contribution="0">600</hard_request>'
        ),
    )
    rec.on(r"-sc", QCONF_SC)
    (job,) = sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None).jobs()
    assert job.properties == ("bigmem", "ssd") and job.walltime_s == 600
    # a boolean asked false, or a request that is no boolean, is no property
    records = sge.parse_qstat_records(
        qstat_with('<hard_request name="bigmem">FALSE</hard_request><hard_request name="arch">lx-amd64</hard_request>')
    )
    (job,) = sge.jobs_from_records(records, booleans=sge.parse_booleans(QCONF_SC))
    assert job.properties == ()


def test_grid_engine_asks_for_the_complexes_only_when_a_request_may_be_one(rec):
    rec.on(r"qstat", qstat_with('<hard_request name="h_rt">600</hard_request>'))
    sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None).jobs()
    assert not any("-sc" in c for c in rec.calls)


def test_grid_engine_host_gets_every_property_as_a_true_complex(rec):
    rec.on(r"-se dc-r1-aa", "", rc=1, stderr='"dc-r1-aa" is not an execution host')
    rec.on(r"-shgrp @allhosts", "group_name @allhosts\nhostlist NONE\n")
    out = sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None).add_node(
        "dc-r1-aa", 4, reservation=Reservation(properties=("bigmem", "ssd")), properties=("bigmem", "ssd")
    )
    (content,) = rec.files.values()
    assert "complex_values        bigmem=TRUE,ssd=TRUE\n" in content
    assert out["properties"] == ["bigmem", "ssd"]
    rec2 = type(rec)()
    rec2.on(r"-se dc-r1-aa", "", rc=1).on(r"-shgrp @allhosts", "group_name @allhosts\nhostlist NONE\n")
    sge.SgeAdapter(cluster_config("sge"), rec2, sleep=lambda s: None).add_node("dc-r1-aa", 4)
    (content,) = rec2.files.values()
    assert "complex_values        NONE\n" in content


def test_a_garbled_complex_list_fails_the_poll_never_drops_the_properties(rec):
    rec.on(r"qstat", data("sge/dcsched-sge819-qstat-u-all-xml-r-bool.xml"))
    rec.on(r"-sc", "error: commlib error: got select error (Connection refused)\n")
    with pytest.raises(ParseError, match="qconf -sc.*no complex listing"):
        sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None).jobs()
