"""The engine keeps the head node's hosts entries equal to its view, cycle by cycle and across a restart.

The controller runs on the in-memory ports of memory_ports; its names port is the real one of a
master that is the head node (``dcluster.glue.names.in_process``: Salt's hosts module loaded in
this process) writing a temporary hosts file.
"""

from __future__ import annotations

import salt.config
from memory_ports import Loop, slurm_pillar

from dcluster import identity, names
from dcluster.glue import names as glue_names
from dcluster.model import Job, JobState

SECRET = "zq7-sync-test-secret-0101"  # a prefix no other test's text starts with (the scrubber masks cut-off secrets)
ADMIN = "127.0.0.1 localhost\n10.0.0.9 nfs-server # storage\n"
OPTS = salt.config.minion_config(None)


def loop_with_hosts(tmp_path, **settings):
    hosts = tmp_path / "hosts"
    hosts.write_text(ADMIN)
    # an AWS resource (its driver is memory_ports' cloud): a local one's names are left to that cloud
    r1 = {"type": "aws", "config": {"image_id": "ami-0123", "instance_type": "t3.large"}}
    loop = Loop(
        tmp_path,
        slurm_pillar(
            SECRET, r1=r1, cluster_name="dc", max_idle_time=30, name_resolution={"hosts_file": str(hosts)}, **settings
        ),
    )
    calls = []

    def port(cfg, entries, withdraw):
        calls.append((dict(entries), withdraw))
        return glue_names.in_process(OPTS, cfg.name_resolution["hosts_file"], entries, withdraw)

    start = loop.start

    def start_with_names():  # the engine's ports, names included, at every (re)start
        c = start()
        c.ports.names = port
        return c

    loop.start = start_with_names
    loop.c.ports.names = port
    return loop, hosts, calls


def ours(hosts):
    return {n: a for a, ns in names.HostsFile.parse(hosts.read_text()).ours.items() for n in ns}


def test_a_worker_resolves_before_it_is_registered_and_is_withdrawn_when_it_goes(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path)
    seen_at_register = {}
    add_node = loop.sched.add_node

    def checking_add_node(name, cores, **kw):
        seen_at_register[name] = ours(hosts).get(name)
        return add_node(name, cores, **kw)

    loop.sched.add_node = checking_add_node
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    (name,) = loop.cloud.launch_calls[0]
    loop.step()
    assert ours(hosts) == {name: "127.200.0.250"}
    loop.c.mark_configured(name, True)
    loop.step()
    assert seen_at_register == {name: "127.200.0.250"}
    loop.sched.jobs_ = []
    for _ in range(6):  # idle past max_idle_time: held, removed, destroyed
        loop.step()
    assert loop.cloud.destroyed == [name]
    assert ours(hosts) == {} and hosts.read_text() == ADMIN


def test_a_failed_listing_withdraws_nothing(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path)
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    loop.step()
    (name,) = loop.cloud.launch_calls[0]
    assert name in ours(hosts)
    loop.cloud.list_fails = True
    loop.step(30)
    assert calls[-1][1] is False and name in ours(hosts)


def test_after_a_restart_the_entries_are_derived_again_and_stale_ones_withdrawn(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path)
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    loop.step()
    (name,) = loop.cloud.launch_calls[0]
    # While the master was down: the instance went, the head's file kept its line and got another
    # stale one (a worker of an earlier run), and the admin added a line.
    del loop.cloud.instances_[name]
    gone = identity.make("dc", "r1", SECRET, nonce="00abcd")
    with open(hosts, "a") as fh:
        fh.write(f"10.0.0.44\t\t{gone}\t\t# dcluster\n10.0.0.10 login\n")
    loop.cloud.launch(1, [survivor := identity.make("dc", "r1", SECRET)], lambda m: "")
    loop.sched.jobs_ = []
    loop.c = loop.start()
    loop.step()
    assert gone not in ours(hosts) and ours(hosts)[survivor] == "127.200.0.250"
    # the vanished instance stays until good listings confirm its absence (confirm_absence), then goes
    for _ in range(8):
        loop.step()
    assert ours(hosts) == {survivor: "127.200.0.250"}
    assert hosts.read_text().splitlines()[:2] == ADMIN.splitlines() and "10.0.0.10 login" in hosts.read_text()


def test_method_none_publishes_nothing(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path)
    loop.data["name_resolution"]["method"] = "none"
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    loop.step()
    assert calls == [] and hosts.read_text() == ADMIN


def test_a_failing_head_node_is_reported_and_tried_again(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path)
    real = loop.c.ports.names
    answers = [RuntimeError("dcluster_slurm.sync_hosts on head: no answer within 70 s")]

    def flaky(cfg, entries, withdraw):
        if answers:
            raise answers.pop()
        return real(cfg, entries, withdraw)

    loop.c.ports.names = flaky
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    loop.step()
    assert any(e.get("where") == "names" and "no answer" in e.get("message", "") for e in loop.c.state.errors)
    tries = len(calls)
    loop.step(5)  # not every cycle: after a poll interval (cloud_poller_interval)
    assert len(calls) == tries
    loop.step(20)
    (name,) = loop.cloud.launch_calls[0]
    assert name in ours(hosts)


def test_no_call_while_the_head_node_does_not_answer_the_scheduler_poll(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path)
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    loop.step()
    tries = len(calls)
    loop.sched.fail = True
    loop.step(30)
    loop.step(30)
    assert len(calls) == tries
    loop.sched.fail = False
    loop.step(30)
    assert len(calls) == tries + 1


def sge_loop(tmp_path):
    loop, hosts, calls = loop_with_hosts(tmp_path, cluster={"type": "sge"})
    adds = []
    add_node = loop.sched.add_node
    loop.sched.add_node = lambda name, cores, **kw: (adds.append(name), add_node(name, cores, **kw))[1]
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    (name,) = loop.cloud.launch_calls[0]
    return loop, hosts, calls, adds, name


def test_grid_engine_registers_a_worker_only_once_its_name_is_on_the_head(tmp_path):
    loop, hosts, calls, adds, name = sge_loop(tmp_path)
    real = loop.c.ports.names
    down = [True]

    def head(cfg, entries, withdraw):
        if down[0]:
            raise RuntimeError("dcluster_sge.sync_hosts on head: no answer within 70 s")
        return real(cfg, entries, withdraw)

    loop.c.ports.names = head
    loop.step(30)
    loop.c.mark_configured(name, True)
    loop.step(30)
    assert adds == [] and name not in ours(hosts)
    assert any("not registered yet" in e["message"] for e in loop.c.state.errors)
    down[0] = False
    loop.step(30)
    loop.step(30)
    assert adds == [name] and ours(hosts) == {name: "127.200.0.250"}


def test_a_worker_whose_cloud_gives_a_hostile_address_is_never_registered_nor_written(tmp_path):
    import dataclasses

    loop, hosts, calls, adds, name = sge_loop(tmp_path)
    inst = loop.cloud.instances_[name]
    loop.cloud.instances_[name] = dataclasses.replace(inst, ip="127.200.0.250\n10.6.6.6 login-node")
    loop.c.mark_configured(name, True)
    for _ in range(3):
        loop.step(30)
    assert adds == [] and hosts.read_text() == ADMIN
    assert any(
        "hosts entry was refused" in e["message"] and "not an IP address" in e["message"] for e in loop.c.state.errors
    )


def test_local_cloud_workers_are_left_to_that_cloud(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(ADMIN)
    loop = Loop(tmp_path, slurm_pillar(SECRET, cluster_name="dc", name_resolution={"hosts_file": str(hosts)}))
    calls = []
    loop.c.ports.names = lambda cfg, entries, withdraw: calls.append(dict(entries)) or {}
    loop.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    loop.step()
    loop.step()
    assert loop.cloud.launch_calls and calls and all(c == {} for c in calls)
