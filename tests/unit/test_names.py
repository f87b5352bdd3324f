"""Worker names in the head node's hosts file: which entries, and the file kept right by Salt's hosts module.

The writing side runs Salt's own ``hosts`` execution module, and this worktree's ``dcluster_sge``
module, loaded with ``salt.loader`` on a temporary hosts file (no minion needed for a file edit).
"""

from __future__ import annotations

import os

import pytest
import salt.config
import salt.loader
from salt.exceptions import CommandExecutionError

from dcluster import identity, names
from dcluster.model import Instance, InstanceState, Worker, WorkerState

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "zq8-names-test-secret-0123"
ADMIN = "127.0.0.1\tlocalhost\n# the site's own\n10.0.0.9   nfs-server   # storage\n::1 ip6-localhost\n"


def wid(n):
    return identity.make("dc", "r1", SECRET, nonce=f"{n:06x}")


A, B, C = wid(1), wid(2), wid(3)


@pytest.mark.parametrize(
    "bad",
    [
        "10.0.0.5\n10.6.6.6 evil",
        "10.0.0.5 evil",
        "10.0.0.5#x",
        "fe80::1%eth0 evil",
        "fe80::1%eth0",
        "host.example",
        "",
        None,
        167772165,
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "10.0.0.256",
        "1" * 50,
    ],
)
def test_an_address_that_is_not_one_ip_literal_is_refused(bad):
    with pytest.raises(names.NameError_, match="address|cannot be"):
        names.check_address(bad)


def test_addresses_come_out_in_one_form():
    assert names.check_address("10.0.0.5") == "10.0.0.5"
    assert names.check_address("FD00:0:0::07") == "fd00::7"


def test_names_must_be_our_signed_minion_ids():
    assert names.check_name(A, (SECRET,)) == A
    forged = identity.make("dc", "r1", "another-secret-0123456", nonce="000001")
    assert names.check_name(forged) == forged  # the head node (no secret) checks the form only
    with pytest.raises(names.NameError_, match="not signed"):
        names.check_name(forged, (SECRET,))
    for bad in (A + "\n10.6.6.6 evil", "localhost", "nfs-server", "", None, A + " x"):
        with pytest.raises(names.NameError_, match="not a dcluster minion id"):
            names.check_name(bad)


def test_entries_are_checked_all_or_nothing():
    assert names.check_entries({A: "10.0.0.5"}) == {A: "10.0.0.5"}
    with pytest.raises(names.NameError_) as exc:
        names.check_entries({A: "10.0.0.5", B: "10.0.0.6 evil", "evil host": "10.0.0.7"})
    assert B in str(exc.value) and "evil host" in str(exc.value)
    with pytest.raises(names.NameError_, match="mapping"):
        names.check_entries([(A, "10.0.0.5")])


def _worker(name, ip, state=InstanceState.RUNNING, resource="r1"):
    inst = Instance(id="i-" + name[-6:], resource=resource, minion_id=name, state=state, launch_time=0.0, ip=ip)
    return Worker(name=name, resource=resource, state=WorkerState.IDLE, instance=inst)


def test_the_view_asks_for_every_listed_instance_with_a_machine_and_reports_bad_ones():
    forged = identity.make("dc", "r1", "another-secret-0123456", nonce="000009")
    workers = [
        _worker(A, "10.0.0.5"),
        _worker(B, "10.0.0.6", InstanceState.PENDING),
        _worker(C, "10.0.0.7", InstanceState.DELETING),
        _worker(wid(4), ""),
        _worker(wid(5), "10.0.0.8\n10.6.6.6 evil"),
        _worker(forged, "10.0.0.10"),
        _worker(wid(6), "10.0.0.11", resource="loc"),
        Worker(name="physical1", resource="", state=WorkerState.PHYSICAL),
    ]
    entries, problems = names.wanted(workers, (SECRET,), skip_resources=["loc"])
    assert entries == {A: "10.0.0.5", B: "10.0.0.6"}
    assert sorted(problems) == sorted([wid(5), forged])
    assert "not an IP address" in problems[wid(5)] and "not signed" in problems[forged]


def test_edits_add_withdraw_and_leave_foreign_lines_alone():
    text = ADMIN + f"10.0.0.5\t\t{A}\t\t# dcluster\n10.0.0.8\t\t{C}\t\t# dcluster\n"
    e = names.edits(text, {A: "10.0.0.5", B: "10.0.0.6"})
    assert e.set == [("10.0.0.6", B)] and e.remove == [("10.0.0.8", C)] and not e.conflicts
    # a failed listing: nothing withdrawn
    e = names.edits(text, {B: "10.0.0.6"}, withdraw=False)
    assert e.set == [("10.0.0.6", B)] and e.remove == []
    # an address that moved: the line of the new address is written, the old one goes
    e = names.edits(text, {A: "10.0.0.50"})
    assert ("10.0.0.50", A) in e.set and ("10.0.0.5", A) in e.remove


def test_a_name_or_address_on_an_admins_line_is_a_conflict_not_an_edit():
    text = ADMIN + f"10.0.0.7 {B} # put here by hand\n"
    e = names.edits(text, {A: "10.0.0.9", B: "10.0.0.6", C: "10.0.0.8"})
    assert e.set == [("10.0.0.8", C)] and e.remove == []
    assert [c.split(":")[0] for c in e.conflicts] == [A, B]


def test_a_line_that_only_mentions_dcluster_is_not_ours():
    hf = names.HostsFile.parse(f"10.0.0.5 {A} # dcluster-local i-1\n10.0.0.6 x # not dcluster\n")
    assert hf.ours == {} and A in hf.foreign_names


# ------------------------------------------------------------ Salt's hosts module on a temp file


@pytest.fixture(scope="module")
def salt_mods():
    opts = salt.config.minion_config(None)
    opts["module_dirs"] = [os.path.join(REPO, "_modules")]  # this worktree's modules, not an installed copy
    return salt.loader.minion_mods(opts, whitelist=["hosts", "config", "dcluster_sge"])


@pytest.fixture
def hosts(tmp_path):
    path = tmp_path / "hosts"
    path.write_text(ADMIN)
    return path


def ours(path):
    return names.HostsFile.parse(path.read_text()).ours


def admin_lines(path):
    return [line for line in path.read_text().splitlines() if not line.rstrip().endswith("# dcluster")]


def test_the_head_nodes_module_adds_updates_and_withdraws_through_salts_hosts_module(salt_mods, hosts):
    sync = salt_mods["dcluster_sge.sync_hosts"]
    out = sync({A: "10.0.0.5", B: "fd00::6"}, hosts_file=str(hosts))
    assert out["set"] == [["10.0.0.5", A], ["fd00::6", B]]
    assert ours(hosts) == {"10.0.0.5": [A], "fd00::6": [B]}
    assert admin_lines(hosts) == ADMIN.splitlines()
    assert salt_mods["hosts.get_ip"](A) == "10.0.0.5"
    # B goes, C comes, A moves: the admin's lines stay byte for byte
    sync({A: "10.0.0.15", C: "10.0.0.7"}, hosts_file=str(hosts))
    assert ours(hosts) == {"10.0.0.15": [A], "10.0.0.7": [C]}
    assert admin_lines(hosts) == ADMIN.splitlines()
    assert sync({A: "10.0.0.15", C: "10.0.0.7"}, hosts_file=str(hosts))["set"] == []  # nothing to do
    sync({}, hosts_file=str(hosts))
    assert ours(hosts) == {} and hosts.read_text().splitlines() == ADMIN.splitlines()


def test_an_admin_edit_between_calls_is_read_not_overwritten(salt_mods, hosts):
    sync = salt_mods["dcluster_sge.sync_hosts"]
    sync({A: "10.0.0.5"}, hosts_file=str(hosts))
    with open(hosts, "a") as fh:
        fh.write(f"10.0.0.6 {B}\n")  # the admin names B first
    out = sync({A: "10.0.0.5", B: "10.0.0.60"}, hosts_file=str(hosts))
    assert out["set"] == [] and out["conflicts"] and B in out["conflicts"][0]
    assert f"10.0.0.6 {B}" in hosts.read_text().splitlines() and ours(hosts) == {"10.0.0.5": [A]}


@pytest.mark.parametrize(
    "entries",
    [
        {A: "10.0.0.5\n10.6.6.6 login-node"},
        {A: "10.0.0.5 login-node"},
        {A + "\n10.6.6.6 x": "10.0.0.5"},
        {"login-node": "10.0.0.5"},
        {A: "fe80::1%eth0 x"},
        "10.0.0.5 x",
    ],
)
def test_a_hostile_entry_is_refused_and_nothing_is_written(salt_mods, hosts, entries):
    before = hosts.read_bytes()
    with pytest.raises(CommandExecutionError, match="sync_hosts"):
        salt_mods["dcluster_sge.sync_hosts"](
            {B: "10.0.0.6", **entries} if isinstance(entries, dict) else entries, hosts_file=str(hosts)
        )
    assert hosts.read_bytes() == before


def test_a_relative_hosts_file_is_refused(salt_mods, hosts):
    with pytest.raises(CommandExecutionError, match="absolute path"):
        salt_mods["dcluster_sge.sync_hosts"]({A: "10.0.0.5"}, hosts_file="etc/hosts")
