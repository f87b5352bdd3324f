"""The engine's names port: the head minion's sync_hosts with the pillar's file, and the workers' block.

The client stands in for salt.client.LocalClient, as in test_engine_ports; what the head minion
does with the call is tested in test_names (this worktree's module on Salt's hosts module).
"""

from dcluster import identity
from dcluster.config import load
from dcluster.glue.engine_ports import WORKERS_BLOCK, RemoteScheduler, names_port

SECRET = "zq9-names-port-secret-01"
A, B = (identity.make("dc", "r1", SECRET, nonce=f"{n:06x}") for n in (1, 2))


class Client:
    def __init__(self):
        self.calls, self.async_calls = [], []

    def cmd(self, tgt, fun, arg=(), kwarg=None, timeout=None, full_return=False):
        self.calls.append((tgt, fun, list(arg), kwarg))
        return {tgt: {"ret": {"set": [], "remove": [], "conflicts": []}, "retcode": 0}}

    def cmd_async(self, tgt, fun, arg=(), tgt_type="glob", kwarg=None):
        self.async_calls.append((tgt, fun, list(arg), tgt_type, kwarg))
        return "20261205000000000000"


def cfg(kind, **nr):
    return load(
        {
            "secret": SECRET,
            "cluster": {"type": kind, "head_minion": "head"},
            "name_resolution": {"hosts_file": "/srv/hosts", **nr},
        }
    )


def port_for(kind):
    client = Client()
    remote = RemoteScheduler(client, "head", kind, 30)
    return client, names_port({}, client, lambda c: remote)


def test_the_head_minion_gets_the_entries_and_the_pillars_hosts_file():
    client, publish = port_for("slurm")
    publish(cfg("slurm"), {A: "10.0.0.5"}, False)
    assert client.calls == [
        (
            "head",
            "dcluster_slurm.sync_hosts",
            [],
            {"entries": {A: "10.0.0.5"}, "hosts_file": "/srv/hosts", "withdraw": False},
        )
    ]
    assert client.async_calls == []  # Slurm's daemons use NodeAddr: the workers need no block


def test_grid_engine_workers_get_one_block_job_sent_again_only_when_it_changes():
    client, publish = port_for("sge")
    publish(cfg("sge"), {B: "10.0.0.6", A: "10.0.0.5"}, True)
    publish(cfg("sge"), {B: "10.0.0.6", A: "10.0.0.5"}, True)
    assert len(client.async_calls) == 1
    tgt, fun, arg, tgt_type, kwarg = client.async_calls[0]
    assert (tgt, fun, arg, tgt_type) == (sorted([A, B]), "file.blockreplace", ["/etc/hosts"], "list")
    assert (kwarg["marker_start"], kwarg["marker_end"]) == WORKERS_BLOCK
    assert kwarg["content"] == f"10.0.0.5 {A}\n10.0.0.6 {B}\n" and kwarg["append_if_not_found"] is True
    publish(cfg("sge"), {A: "10.0.0.5"}, True)
    assert len(client.async_calls) == 2 and client.async_calls[1][0] == [A]
    publish(cfg("sge", also_on_workers=False), {A: "10.0.0.7"}, True)
    assert len(client.async_calls) == 2
