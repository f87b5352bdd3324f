"""Sizes and numbers beyond any real node's, from every source that gives one: a node's record (a worker
may register itself with any CPU count: Slurm's dynamic nodes), a cloud's flavor, the pillar, a head
minion's answer.  The planner packs by free-core count, so a node claiming 2**64 cores took memory and
time in proportion (a plan never ended); an integer beyond a double made the planner's time arithmetic
raise OverflowError every cycle.  Each is now bounded where it enters, or counted as the most a node
can have (model.MAX_NODE_CORES)."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
from builders import NOW, config, inst, job, node, view, wid

from dcluster import model
from dcluster.clouds.openstack import OpenStackDriver
from dcluster.config import ConfigError
from dcluster.controller.state import ControllerState
from dcluster.glue.engine_ports import RemoteError, RemoteScheduler
from dcluster.model import MAX_NODE_CORES, Job, JobState, Node, NodeState
from dcluster.planner import Kind, plan
from dcluster.planner.packing import LIVE, Pool
from dcluster.schedulers import ParseError, sge, slurm, torque
from dcluster.schedulers.units import duration_s, mem_mb, to_int
from dcluster.wire import LARGEST, ModelError


class Client:
    def __init__(self, answer):
        self.answer = answer

    def cmd(self, *_a, **_k):
        return self.answer


def test_a_pool_counts_a_claim_beyond_any_node_as_the_most_a_node_has():
    """Buckets by free-core count: a node of 10**6 cores made 2 x 10**6 of them in every plan."""
    pool = Pool("r1", cores=10**6, mem=0, headroom=5)
    idx = pool.add(10**6, -1, "w1", LIVE)
    assert pool.cores == MAX_NODE_CORES and pool.bins[idx].free == MAX_NODE_CORES
    assert all(len(tier) <= MAX_NODE_CORES + 1 for tier in pool.buckets)
    # and it still takes what fits on so many cores
    assert pool.place(1, 8, 0, True, (LIVE,), False) == [idx]
    assert pool.place(1, MAX_NODE_CORES, 0, True, (LIVE,), True) != [idx]  # 8 are taken: a new node


PLAN_WITH_A_HUGE_NODE = """
import sys
sys.path.insert(0, "tests/unit")
from builders import config, inst, job, node, view, wid
from dcluster.model import Node, NodeState
from dcluster.planner import plan
w = wid(n=1)
claim = Node.from_dict(Node(w, NodeState.IDLE, cores=2**64).to_dict())  # the most a head minion may send
cfg = config({"r1": {"cores": 4, "quantity": {"min": 0, "max": 10}}})
p = plan(view(cfg, nodes=[claim], instances={"r1": [inst(w)]}, jobs=[job(1), job(2, chunks=3)]), cfg)
print(sorted(p.launches().items()))
"""


def test_a_plan_with_a_node_claiming_2_to_the_64_cores_ends():
    """In a child process with its address space limited to 1 GiB: before, the buckets for 2**64 free
    cores grew until memory ran out."""
    code = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n" + textwrap.dedent(
        PLAN_WITH_A_HUGE_NODE
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # job 1 fits on the claimed node; job 2 needs 3 distinct nodes: the claimed one and 2 new
    assert done.stdout.strip() == "[('r1', 2)]"


@pytest.mark.parametrize(
    "field, value",
    [("walltime_s", LARGEST + 1), ("chunks", 10**400), ("chunk_mem_mb", 2**65), ("priority", 10**400)],
)
def test_a_head_minion_s_number_beyond_2_to_the_64_fails_the_poll_named(field, value):
    rec = {**Job("7", JobState.PENDING).to_dict(), field: value}
    port = RemoteScheduler(Client({"head": {"ret": [rec], "retcode": 0}}), "head", "slurm", 30)
    with pytest.raises(RemoteError, match=rf"record 0 of 1: Job field '{field}': int \d+.* is not"):
        port.jobs()


def test_a_time_beyond_a_double_is_a_model_error_not_an_overflow():
    with pytest.raises(ModelError, match=r"Node field 'state_since': int 1000.* is not a finite number"):
        Node.from_dict({**Node("cn1", NodeState.IDLE).to_dict(), "state_since": 10**400})


def test_a_running_job_of_the_longest_wall_time_is_planned_around():
    """A running job's end by its wall time (start + 10**400) raised OverflowError in every plan that
    worked out a reservation; the wire now holds at most 2**64 s, whose end is a number."""
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 2}}})
    w1, w2 = wid(n=1), wid(n=2)
    running = Job.from_dict(
        {**job("r", state=JobState.RUNNING).to_dict(), "walltime_s": LARGEST, "start_time": NOW - 10, "nodes": [w1]}
    )
    v = view(
        cfg,
        nodes=[node(w1, NodeState.BUSY, cores=1, used=1, jobs=["r"]), node(w2, cores=1)],
        instances={"r1": [inst(w1, cores=1), inst(w2, cores=1)]},
        jobs=[running, job("wide", chunks=2), job("narrow")],
    )
    p = plan(v, cfg)
    # the wide head cannot start before r ends, which is never in practice: w2 is not kept for it
    assert not [a for a in p.actions if a.kind == Kind.LAUNCH]
    assert dict(p.waiting)["wide"]


def test_a_scheduler_number_beyond_2_to_the_64_is_no_number():
    """Torque's and Grid Engine's counts are read with to_int: 10**20 crossed the master's own parse,
    and a head minion's answer with it would fail every poll."""
    assert to_int("99999999999999999999") == 0 and to_int(str(LARGEST)) == LARGEST


def test_a_memory_size_or_a_duration_beyond_a_double_is_the_largest_the_model_holds():
    """A user's ``-l mem=`` or wall time of 400 digits: float() read it as an infinity, which int() and
    math.ceil() refused with OverflowError, so the whole poll failed (not a ParseError)."""
    assert mem_mb("1" * 400 + "pb") == LARGEST and mem_mb("4gb") == 4096
    assert duration_s("1" * 300 + ":" + "1" * 300 + ":0:0") == LARGEST and duration_s("1:00:00") == 3600


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: config(idle_keep_boots=10**400), r"dcluster:idle_keep_boots: 1000.* is beyond 2\*\*64"),
        (lambda: config(max_launch_time=10**30), r"dcluster:max_launch_time: 1000.* is beyond 2\*\*64"),
        (lambda: config({"r1": {"cores": MAX_NODE_CORES + 1}}), r"dcluster:cloud:r1:cores: 4097 is above the maximum"),
    ],
)
def test_a_pillar_number_beyond_any_node_or_time_is_refused_by_name(make, message):
    """idle_keep_boots of 10**400 raised a bare OverflowError from the pillar's check; max_launch_time of
    10**30 passed it and raised one in every plan (max_launch_time / 2)."""
    with pytest.raises(ConfigError, match=message):
        make()


def test_the_bound_is_a_node_s_not_a_pillar_s_limit():
    """The largest pillar size the planner packs exactly is the largest it accepts."""
    cfg = config({"r1": {"cores": MAX_NODE_CORES}})
    p = plan(view(cfg, jobs=[job(1, cores=MAX_NODE_CORES)]), cfg)
    assert p.launches() == {"r1": 1}


# ---------------------------------------------------------------- the red team's findings on the above
TORQUE_OK = (
    "<Job><Job_Id>1.s</Job_Id><job_state>Q</job_state><Resource_List><nodes>1:ppn=1</nodes></Resource_List></Job>"
)


@pytest.mark.parametrize(
    "request_, field",
    [
        ("<nodes>1:ppn=2</nodes><pmem>17592186044416pb</pmem>", "chunk_mem_mb"),  # pmem x ppn
        ("<nodes>9223372036854775807+9223372036854775807+9223372036854775807</nodes>", "chunks"),  # a sum
    ],
)
def test_a_torque_size_worked_out_from_a_user_s_request_crosses_the_wire(request_, field):
    """Each part at most 2**64, their product or sum was more: from a head minion the job list failed
    the poll, every cycle while the job was queued, for every job."""
    rec = f"<Job><Job_Id>2.s</Job_Id><job_state>Q</job_state><Resource_List>{request_}</Resource_List></Job>"
    jobs = torque.parse_qstat(f"<Data>{TORQUE_OK}{rec}</Data>")
    assert [Job.from_dict(j.to_dict()) for j in jobs] == jobs and getattr(jobs[1], field) == LARGEST


def test_a_grid_engine_memory_per_slot_times_slots_crosses_the_wire():
    doc = (
        "<?xml version='1.0'?><job_info><queue_info></queue_info><job_info>"
        '<job_list state="pending"><JB_job_number>3</JB_job_number><JAT_prio>0.75</JAT_prio><JB_name>pe1</JB_name>'
        "<JB_owner>u</JB_owner><state>qw</state><JB_submission_time>2026-11-22T17:08:16</JB_submission_time>"
        '<queue_name></queue_name><slots>2</slots><requested_pe name="smp">2</requested_pe>'
        '<hard_request name="h_vmem" resource_contribution="0.000000">99999999999999999999G</hard_request>'
        "</job_list></job_info></job_info>"
    )
    (job_,) = sge.parse_qstat(doc, {"smp": "$pe_slots"})
    assert Job.from_dict(job_.to_dict()) == job_ and job_.chunk_mem_mb == LARGEST


@pytest.mark.parametrize(
    "jobs, np, used",
    [
        ("9-0/1.srv", "4", 1),
        (f"0-{LARGEST}/1.srv,0-{LARGEST}/2.srv", "", LARGEST),
        ("0-2/1.srv,5/2.srv", "8", 4),
        ("0-1,4/1.srv,5/2.srv", "8", 4),
    ],
)
def test_pbsnodes_slot_ranges_give_a_used_core_count_a_node_may_have(jobs, np, used):
    """A backwards range counted -8 cores used, two huge ones more than 2**64: the node failed the
    wire's check, and with it the whole node list.  Slots listed with commas before their job (Torque 5
    and later: 0-1,4/1.srv) counted only the last of them."""
    doc = f"<Data><Node><name>cn1</name><state>free</state><np>{np}</np><jobs>{jobs}</jobs></Node></Data>"
    (node_,) = torque.parse_pbsnodes(doc)
    assert Node.from_dict(node_.to_dict()) == node_ and node_.cores_used == used


def test_pending_array_tasks_are_listed_up_to_a_bound_for_all_jobs_together(monkeypatch):
    """Each array record gave up to 10,000 jobs, with no bound on their sum: 200 records (34 kB of squeue,
    any user's to submit) made 2,000,000 jobs and ran the master out of memory.  Each pending array gets
    an equal share of the bound, so the arrays listed first do not hide the others' demand."""
    monkeypatch.setattr(sge, "MAX_TASKS_LISTED", 1000)
    rec = {"array_task_string": "0-9999", "job_state": ["PENDING"], "cpus": 1, "node_count": 1}
    doc = json.dumps({"jobs": [{**rec, "job_id": 1000 + i, "array_job_id": 1000 + i} for i in range(5)]})
    jobs = slurm.parse_squeue(doc, now=0)
    by_array = collections.Counter(j.id.split("_")[0] for j in jobs)
    assert by_array == {str(1000 + i): 200 for i in range(5)}
    assert jobs[-1].extra["tasks_not_listed"] == 9800


def test_grid_engine_s_pending_arrays_share_the_bound_too(monkeypatch):
    monkeypatch.setattr(sge, "MAX_TASKS_LISTED", 10)
    rec = (
        '<job_list state="pending"><JB_job_number>{n}</JB_job_number><JAT_prio>0.5</JAT_prio><JB_name>a</JB_name>'
        "<JB_owner>u</JB_owner><state>qw</state><JB_submission_time>2026-11-22T17:08:16</JB_submission_time>"
        "<queue_name></queue_name><slots>1</slots><tasks>1-1000:1</tasks></job_list>"
    )
    doc = (
        "<?xml version='1.0'?><job_info><queue_info></queue_info><job_info>"
        + "".join(rec.format(n=n) for n in (7, 8))
        + "</job_info></job_info>"
    )
    jobs = sge.parse_qstat(doc, {})
    assert collections.Counter(j.id.split(".")[0] for j in jobs) == {"7": 5, "8": 5}


@pytest.mark.parametrize(
    "nodes, message",
    [
        ("n[0-99999][0-99999][1-0]", r"host range \[1-0\] runs backwards"),  # was 10**10 calls, no name
        ("n[0-99999][0-99999]", "of more than 100000 names"),
        (",".join(["x"] * 100_001), "of more than 100000 names"),
        ("a" + "[b" * 64_000, "with an unclosed '\\['"),  # a regular expression took 3 s on it
        ("x" * 20000 + "[0-99999]", "of more than 255 characters"),  # 2 GB of names
        ("n[5-4]", r"host range \[5-4\] runs backwards"),
    ],
)
def test_a_running_job_s_host_list_costs_no_more_than_its_names(nodes, message):
    doc = json.dumps({"jobs": [{"job_id": 1, "job_state": ["RUNNING"], "cpus": 1, "node_count": 1, "nodes": nodes}]})
    with pytest.raises(ParseError, match=message):
        slurm.parse_squeue(doc, now=0)


@pytest.mark.parametrize("vcpus", [10**9, float("inf"), "many"])
def test_an_absurd_flavor_is_an_unknown_size_not_a_failed_listing(vcpus, caplog):
    """The flavor's size is stamped on every listed instance: infinity raised OverflowError in every
    listing; 10**9 sized the planner's new nodes (from the workers' cores) and the scheduler's."""
    cfg = config(
        {
            "r1": {
                "type": "openstack",
                "cores": None,
                "quantity": {"min": 0, "max": 10},
                "config": {
                    "auth_url": "https://keystone.invalid/v3",
                    "username": "u",
                    "password": "p",
                    "project": "p",
                    "image_uuid": "11111111-2222-3333-4444-555555555555",
                    "flavor": "big",
                    "network": "net",
                },
            }
        }
    )
    w = wid(n=1)
    flavor = SimpleNamespace(name="big", id="f1", vcpus=vcpus, ram=4096)
    tags = {model.TAG_CLUSTER: cfg.cluster_name, model.TAG_RESOURCE: "r1", model.TAG_MINION: w}
    server = SimpleNamespace(id="s1", name=w, status="BUILD", created="", addresses={}, metadata=tags)
    client = SimpleNamespace(
        flavors=SimpleNamespace(list=lambda **_: [flavor]), servers=SimpleNamespace(list=lambda **_: [server])
    )
    drv = OpenStackDriver(cfg.resources["r1"], cfg.cluster_name, cfg.secret, client=client)
    (listed,) = drv.instances()
    assert drv.cores() == 0 and listed.cores == 0
    drv.instances()  # a listing every poll: the flavor is judged, and logged, once
    assert len([r for r in caplog.records if "the cloud answers" in r.getMessage()]) == 1
    p = plan(view(cfg, instances={"r1": [listed]}, jobs=[job(1)]), cfg)
    assert not p.launches() and "cores per node unknown" in dict(p.waiting)["1"]


def test_a_node_s_claim_beyond_any_node_sizes_no_new_node():
    """With no size from the pillar or the cloud, a new node is as big as the workers' nodes report: one
    claiming 10**9 cores had the planner launch one node for a 3,000-core job."""
    cfg = config({"r1": {"cores": None, "quantity": {"min": 0, "max": 10}}})
    w = wid(n=1)
    v = view(cfg, nodes=[node(w, NodeState.BUSY, cores=10**9, used=10**9)], instances={"r1": [inst(w)]},
             jobs=[job(1, cores=3000)])  # fmt: skip
    p = plan(v, cfg)
    assert not p.launches() and "1" in dict(p.unplaceable)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: config({"r1": {"quantity": {"min": 0, "max": 10**12}}}), "quantity:max: 1000000000000 is above the maximum 1000000"),
        (lambda: config(idle_keep_boots=1e306), "idle_keep_boots: 1e[+]306 is above the maximum 1000"),
    ],
)  # fmt: skip
def test_a_pillar_size_that_would_size_the_master_s_work_is_refused(make, message):
    """A max of 10**12 (an admin's "unlimited") and a job of 10**9 chunks: its new nodes were listed one
    by one, out of memory; idle_keep_boots of 1e306 made an infinity int() refused in every plan."""
    with pytest.raises(ConfigError, match=message):
        make()


@pytest.mark.parametrize(
    "saved",
    [
        {"limits": {"r1": {"min": 1e999, "max": 1e999, "mode": "normal"}}},  # launched without end
        {"limits": {"r1": {"min": 10**30, "max": 10**30}}},
        {"limits": {"r1": {"min": "3", "max": 10}}},  # TypeError every cycle
        {"limits": {"r1": {"min": 5, "max": 2}}},
        {"limits": {"r1": {"min": 0, "max": 2, "mode": "gone"}}},
        {"backoff": {"r1": {"failures": 1, "until": "soon"}}},
        {"backoff": {"r1": {"failures": -1, "until": 1e999}}},
    ],
)
def test_a_malformed_limit_or_backoff_in_the_state_file_is_dropped_and_logged(saved, caplog):
    state = ControllerState.from_json(json.loads(json.dumps(saved)))
    assert not state.limits and not state.backoff
    assert "state file:" in caplog.text and "r1 dropped" in caplog.text
    cfg = config({"r1": {"quantity": {"min": 0, "max": 10}}})
    assert plan(view(cfg, limits=dict(state.limits)), cfg).launches() == {}


def test_a_saved_freeze_and_backoff_are_kept():
    saved = {"limits": {"r1": {"min": 0, "max": 2, "mode": "frozen"}}, "backoff": {"r1": {"failures": 2, "until": 5.0}}}
    state = ControllerState.from_json(saved)
    assert state.limits["r1"].mode == "frozen" and state.backoff["r1"].failures == 2
