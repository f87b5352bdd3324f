"""Sizes and numbers beyond any real node's, from every source that gives one: a node's record (a worker
may register itself with any CPU count: Slurm's dynamic nodes), a cloud's flavor, the pillar, a head
minion's answer.  The planner packs by free-core count, so a node claiming 2**64 cores took memory and
time in proportion (a plan never ended); an integer beyond a double made the planner's time arithmetic
raise OverflowError every cycle.  Each is now bounded where it enters, or counted as the most a node
can have (model.MAX_NODE_CORES)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from builders import NOW, config, inst, job, node, view, wid

from dcluster.config import ConfigError
from dcluster.glue.engine_ports import RemoteError, RemoteScheduler
from dcluster.model import MAX_NODE_CORES, Job, JobState, Node, NodeState
from dcluster.planner import Kind, plan
from dcluster.planner.packing import LIVE, Pool
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
# no cores in the pillar and none from the cloud: a new node's size is what the workers report
cfg = config({"r1": {"cores": None, "quantity": {"min": 0, "max": 10}}})
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
