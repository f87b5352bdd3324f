"""The engine's remote scheduler port: data from the head minion back into the model, failures loud.

The client here stands in for salt.client.LocalClient and answers with the
shapes ``LocalClient.cmd(..., full_return=True)`` returns; the real round trip
through a master and minion is exercised by tests/integration.
"""

import pytest

from dcluster.config import Reservation
from dcluster.glue.engine_ports import RemoteError, RemoteScheduler
from dcluster.model import Job, JobState, Node, NodeState


class Client:
    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def cmd(self, tgt, fun, arg=(), kwarg=None, timeout=None, full_return=False):
        self.calls.append((tgt, fun, list(arg), kwarg, timeout, full_return))
        return self.answer(fun) if callable(self.answer) else self.answer


def test_jobs_and_nodes_come_back_as_model_objects():
    job = Job("7", JobState.PENDING, queue="batch", chunks=2, chunk_cores=4, properties=("ssd",))
    node = Node("cn1", NodeState.HELD, cores=8, jobs=("3",), hold_reason="dcluster: idle")

    def answer(fun):
        data = [job.to_dict()] if fun.endswith(".jobs") else [node.to_dict()]
        return {"head": {"ret": data, "retcode": 0, "jid": "1"}}

    client = Client(answer)
    port = RemoteScheduler(client, "head", "slurm", 30)
    assert port.jobs() == [job] and port.nodes() == [node]
    assert client.calls[0][:2] == ("head", "dcluster_slurm.jobs") and client.calls[0][5] is True


@pytest.mark.parametrize(
    "answer, message",
    [
        ({}, "no answer within 30 s"),
        ({"head": {"ret": "ERROR: squeue: error: Unable to contact slurm controller", "retcode": 1}}, "failed"),
        ({"head": {"ret": "Traceback (most recent call last): ...", "retcode": 0}}, "failed"),
        ({"head": {"ret": {"not": "a list"}, "retcode": 0}}, "not a list"),
    ],
)
def test_a_failed_remote_poll_raises_and_never_looks_like_no_nodes(answer, message):
    port = RemoteScheduler(Client(answer), "head", "torque", 30)
    with pytest.raises(RemoteError, match=message):
        port.nodes()


def test_add_node_passes_the_reservation_and_an_address_only_to_slurm():
    ok = {"head": {"ret": {"name": "n1"}, "retcode": 0}}
    slurm, sge = Client(ok), Client(ok)
    res = Reservation(queue="short", account="physics", properties=("ssd",))
    RemoteScheduler(slurm, "head", "slurm", 30).add_node("n1", 4, 2048, res, ("ssd",), "127.200.0.9")
    RemoteScheduler(sge, "head", "sge", 30).add_node("n1", 4, 2048, res, ("ssd",), "127.200.0.9")
    assert slurm.calls[0][1:4] == (
        "dcluster_slurm.add_node",
        ["n1", 4],
        {"mem_mb": 2048, "queue": "short", "account": "physics", "property": "ssd", "address": "127.200.0.9"},
    )
    assert "address" not in sge.calls[0][3]


def test_add_node_sends_several_properties_as_the_list_argument():
    ok = {"head": {"ret": {"name": "n1"}, "retcode": 0}}
    torque = Client(ok)
    res = Reservation(properties=("bigmem", "ssd"))
    RemoteScheduler(torque, "head", "torque", 30).add_node("n1", 4, 2048, res, ("bigmem", "ssd"))
    assert torque.calls[0][3]["properties"] == ["bigmem", "ssd"] and "property" not in torque.calls[0][3]


class Bus:
    """Stands in for salt.utils.event's master event: fire_event answers from a script."""

    def __init__(self, answers):
        self.answers, self.sent, self.opened = list(answers), [], 0

    def __call__(self):
        self.opened += 1
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def fire_event(self, data, tag, timeout=1000):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        data["_stamp"] = "now"  # Salt adds this to the dict it is given
        self.sent.append((tag, data, timeout, answer))
        return answer


def test_event_sender_tries_again_when_salt_could_not_send():
    from dcluster.glue.engine_ports import EventSender

    bus = Bus([False, OSError("socket closed"), True])
    data = {"target": "w1"}
    EventSender(bus, tries=3, timeout_ms=5000)("dcluster/action/hold/done", data)
    assert bus.opened == 3 and [s[3] for s in bus.sent] == [False, True]
    assert bus.sent[-1][:3] == ("dcluster/action/hold/done", {"target": "w1", "_stamp": "now"}, 5000)
    assert data == {"target": "w1"}  # the caller's dict is not changed


def test_event_sender_raises_naming_the_event_when_every_try_failed():
    from dcluster.glue.engine_ports import EventSender, RemoteError

    bus = Bus([False, False])
    with pytest.raises(RemoteError, match=r"event dcluster/x not sent after 2 tries: the master's event socket"):
        EventSender(bus, tries=2)("dcluster/x", {})
    bus = Bus([False, TimeoutError("connect")])
    with pytest.raises(RemoteError, match="TimeoutError: connect"):
        EventSender(bus, tries=2)("dcluster/x", {})


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "dc-r1-*",
        "dc-r1-[ab]cdef-0123456789ab",
        "dc-r1-abcdef-0123456789a?",
        "minion1",
        "",
        "dc-r1-abcdef-0123456789ab\n",
        7,
    ],
)
def test_key_functions_take_only_our_well_formed_ids(bad):
    # key.accept/reject/delete take globs: a glob or a foreign id must never reach them
    from dcluster.glue.engine_ports import ours_only

    with pytest.raises(ValueError, match="not a dcluster minion id"):
        ours_only(bad, "delete")
    assert ours_only("dc-r1-abcdef-0123456789ab", "delete") == "dc-r1-abcdef-0123456789ab"


@pytest.mark.parametrize(
    "record, message",
    [
        (
            {"id": "7", "state": "pending", "chunks": "2"},
            r"Job field 'chunks': str '2' is not a whole number of 1 or more",
        ),
        (
            {"id": "7", "state": "pending", "chunk_cores": True},
            r"Job field 'chunk_cores': bool True is not a whole number",
        ),
        ({"id": "7", "state": "queued"}, r"Job field 'state': str 'queued' is not one of pending, held, running"),
        ({"id": 7, "state": "pending"}, r"Job field 'id': int 7 is not a string"),
        (
            {"id": "7", "state": "pending", "submit_time": float("nan")},
            r"Job field 'submit_time': float nan is not a finite",
        ),
        (
            {"id": "7", "state": "pending", "begin_time": "tomorrow"},
            r"Job field 'begin_time': str 'tomorrow' is not a finite",
        ),
        (
            {"id": "7", "state": "running", "nodes": ["cn1", 2]},
            r"Job field 'nodes': list \['cn1', 2\] is not a list of strings",
        ),
        ({"id": "7", "state": "pending", "extra": ["x"]}, r"Job field 'extra': list \['x'\] is not a mapping"),
        ({"state": "pending"}, r"a Job record lacks 'id'"),
        ("7 pending", r"a Job record is str, not a mapping"),
    ],
)
def test_a_malformed_job_record_from_the_head_fails_the_poll_naming_the_record_and_the_field(record, message):
    """The head minion's answer is input: a wrong type must fail the poll, named, not become a Job with
    "2" * 4 cores or a TypeError cycles later in the planner."""
    good = Job("6", JobState.PENDING).to_dict()
    port = RemoteScheduler(Client({"head": {"ret": [good, record], "retcode": 0}}), "head", "slurm", 30)
    with pytest.raises(
        RemoteError, match=r"dcluster_slurm.jobs on head: " + (".*" if "record 1" not in message else "")
    ):
        port.jobs()
    with pytest.raises(RemoteError, match=message):
        port.jobs()


@pytest.mark.parametrize(
    "field, value", [("chunk_mem_mb", -1), ("walltime_s", -60), ("chunks", 0), ("chunk_cores", -4)]
)
def test_a_job_record_with_a_negative_size_fails_the_poll(field, value):
    rec = {**Job("7", JobState.PENDING).to_dict(), field: value}
    port = RemoteScheduler(Client({"head": {"ret": [rec], "retcode": 0}}), "head", "slurm", 30)
    with pytest.raises(RemoteError, match=rf"Job field '{field}': int {value} is not a whole number of [01] or more"):
        port.jobs()


@pytest.mark.parametrize("field", ["cores", "cores_used", "mem_mb"])
def test_a_node_record_with_a_negative_size_fails_the_poll(field):
    rec = {**Node("cn1", NodeState.IDLE, cores=8).to_dict(), field: -8}
    port = RemoteScheduler(Client({"head": {"ret": [rec], "retcode": 0}}), "head", "sge", 30)
    with pytest.raises(RemoteError, match=rf"Node field '{field}': int -8 is not a whole number of 0 or more"):
        port.nodes()


def test_a_malformed_node_record_from_the_head_fails_the_poll():
    bad = {**Node("cn1", NodeState.IDLE, cores=8).to_dict(), "cores": 8.5}
    port = RemoteScheduler(Client({"head": {"ret": [bad], "retcode": 0}}), "head", "sge", 30)
    with pytest.raises(RemoteError, match=r"dcluster_sge.nodes on head: record 0 of 1: Node field 'cores': float 8.5"):
        port.nodes()


def test_every_model_record_survives_the_wire_with_every_field_set():
    """Each model field has a type check, and what to_dict writes is what from_dict accepts."""
    from dcluster.model import Instance, InstanceState

    job = Job("7", JobState.HELD, "q", "a", ("ssd",), "ssd", "u", "n", 1.5, 2, 4, 1024, False, 60, 1.0,
              ("cn1",), 2.0, 3.0, {"k": "v"})  # fmt: skip
    node = Node("cn1", NodeState.HELD, 8, 4, 2048, ("7",), ("ssd",), "dcluster: x", 5.0, {"k": 1})
    inst = Instance("i-1", "r", "m", InstanceState.RUNNING, 9.0, "c", "n", "127.0.0.1", 4, 512, True, {"t": "v"})
    assert Job.from_dict(job.to_dict()) == job and Node.from_dict(node.to_dict()) == node
    assert Instance.from_dict(inst.to_dict()) == inst


@pytest.mark.parametrize("field, value", [("chunks", 0), ("chunks", -3), ("chunk_cores", 0), ("chunk_cores", -4)])
def test_a_job_record_of_no_chunk_or_no_core_fails_the_poll_not_every_cycle(field, value):
    """An integer of the right type but no count: the planner's placement failed on it with an
    IndexError every cycle (nothing scaled) while the poll went through.  No adapter makes one (each
    counts at least 1): from a head minion it is refused, named."""
    from dcluster.planner import plan
    from tests.unit.builders import config, view

    record = {"id": "7", "state": "pending", field: value}
    port = RemoteScheduler(Client({"head": {"ret": [record], "retcode": 0}}), "head", "slurm", 30)
    with pytest.raises(
        RemoteError, match=rf"record 0 of 1: Job field '{field}': int {value} is not a whole number of 1"
    ):
        port.jobs()
    cfg = config()
    plan(view(cfg, jobs=[Job("7", JobState.PENDING)]), cfg)  # the same job with its counts: planned
