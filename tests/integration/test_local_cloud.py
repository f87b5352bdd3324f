"""The local cloud against real network namespaces (needs root, iproute2, util-linux).

Uses its own bridge ``dccloud0`` and the subnet 127.200.0.128/26 (gateway
.129, hosts .130-.190), inside the 127.200.0.100-199 slice kept for these
tests, so it cannot disturb other tests' namespace hosts.  Every namespace,
process and the bridge are removed in finalizers, even when a test fails.
"""

import json
import os
import subprocess
import time
import urllib.request

import pytest

from dcluster import config, identity, model, netns
from dcluster.clouds import userdata
from dcluster.clouds.errors import InvalidConfig
from dcluster.clouds.local import LocalDriver

pytestmark = pytest.mark.skipif(
    netns.available() is not None, reason=f"local cloud needs namespace hosts: {netns.available()}"
)

SECRET = "0123456789abcdef0123"
BRIDGE = "dccloud0"
NETWORK = "127.200.0.128/26"
GATEWAY = "127.200.0.129"
PORT = 18631

# The instance's boot: record who it is, then serve its directory.  The server binds every
# address *of the namespace*: its lo and its one 127.200.0.x address on the bridge.
TEMPLATE = """#!/bin/sh
set -eu
cd {{ instance_dir }}
echo {{ minion_id }} > marker
hostname > hostname.txt
echo {{ master }} {{ resource }} {{ scheduler }} {{ cluster }} > context.txt
exec python3 -m http.server @PORT@ --directory {{ instance_dir }}
""".replace("@PORT@", str(PORT))


def make_driver(tmp_path, **cfg):
    tpl = tmp_path / "userdata.j2"
    tpl.write_text(TEMPLATE)
    conf = {
        "bridge": BRIDGE,
        "network": NETWORK,
        "gateway": GATEWAY,
        "state_dir": str(tmp_path / "state"),
        "userdata_file": str(tpl),
        "cores": 3,
        "mem_mb": 512,
        **cfg,
    }
    c = config.load(
        {
            "secret": SECRET,
            "cluster": {"type": "slurm"},
            "cluster_name": "hpc",
            "cloud": {"loc": {"type": "local", "quantity": {"max": 5}, "config": conf}},
        }
    )
    res = c.resources["loc"]
    drv = LocalDriver(res, c.cluster_name, c.secret)
    tplobj = userdata.load_template(conf["userdata_file"])

    def userdata_for(mid):
        return userdata.render(
            tplobj,
            minion_id=mid,
            master=GATEWAY,
            resource="loc",
            scheduler="slurm",
            cluster="hpc",
            resource_type="local",
            instance_dir=drv.instance_root(mid),
        )

    return drv, userdata_for


@pytest.fixture
def cloud(tmp_path):
    made = []

    def factory(**cfg):
        drv, ud = make_driver(tmp_path, **cfg)
        made.append(drv)
        return drv, ud

    before = set(netns.list_hosts("dcl-"))
    try:
        yield factory
    finally:
        for drv in made:
            try:
                drv.destroy([i.id for i in drv.instances()])
            except Exception:  # noqa: BLE001 - keep cleaning
                pass
        for name in set(netns.list_hosts("dcl-")) - before:
            netns.delete_host(name)
        netns.delete_bridge(BRIDGE)


def fetch(ip, path, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(f"http://{ip}:{PORT}/{path}", timeout=2).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_launch_runs_userdata_list_destroy_leaves_nothing(cloud):
    drv, ud = cloud()
    ids = [identity.make("hpc", "loc", SECRET) for _ in range(2)]
    result = drv.launch(2, ids, ud)
    assert result.error is None and result.launched == 2
    listed = {i.minion_id: i for i in drv.instances()}
    assert set(listed) == set(ids)
    for mid, inst in listed.items():
        assert inst.state == model.InstanceState.RUNNING
        assert inst.ip.startswith("127.200.0.") and 130 <= int(inst.ip.rsplit(".", 1)[1]) <= 190
        assert inst.cores == 3 and inst.mem_mb == 512
        assert inst.tags[model.TAG_CLUSTER] == "hpc" and inst.tags[model.TAG_RESOURCE] == "loc"
        # the user-data ran inside the namespace, with the minion id as host name, reachable on its own address
        assert fetch(inst.ip, "marker").strip() == mid
        assert fetch(inst.ip, "hostname.txt").strip() == mid
        assert fetch(inst.ip, "context.txt").split() == [GATEWAY, "loc", "slurm", "hpc"]
    assert len({i.ip for i in listed.values()}) == 2
    # the state survives a new driver (a master restart)
    again, _ = make_driver_like(drv)
    assert {i.minion_id for i in again.instances()} == set(ids)
    pids = {
        i.id: netns.pids(json.load(open(os.path.join(drv.state_dir, f"{i.id}.json")))["namespace"])
        for i in listed.values()
    }
    assert all(pids.values())
    out = drv.destroy([i.id for i in listed.values()])
    assert set(out.values()) == {"ok"}
    assert drv.instances() == []
    for inst in listed.values():
        ns = "dcl-" + inst.id[6:]
        assert not netns.exists(ns)
    for plist in pids.values():
        for pid in plist:
            assert (
                not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"
            )
    assert [f for f in os.listdir(drv.state_dir) if f.endswith(".json")] == []
    assert os.listdir(os.path.join(drv.state_dir, "hosts")) == []
    assert set(drv.destroy(list(out)).values()) == {"gone"}


def make_driver_like(drv):
    c = config.load(
        {
            "secret": SECRET,
            "cluster": {"type": "slurm"},
            "cluster_name": "hpc",
            "cloud": {"loc": {"type": "local", "config": dict(drv.config)}},
        }
    )
    return LocalDriver(c.resources["loc"], "hpc", c.secret), None


def test_vanished_namespace_is_gone_and_foreign_records_refused(cloud):
    drv, ud = cloud()
    inst = drv.launch(1, [identity.make("hpc", "loc", SECRET)], ud).instances[0]
    netns.delete_host("dcl-" + inst.id[6:])  # someone removed it behind our back
    assert [i.state for i in drv.instances()] == [model.InstanceState.GONE]
    # a record of another deployment in the same state_dir (same cluster name, other secret) is not ours
    other = identity.make("hpc", "loc", "another-secret-0123")
    rec = {
        "id": "local-000000000000",
        "namespace": "dcl-000000000000",
        "address": "127.200.0.189",
        "tags": {model.TAG_CLUSTER: "hpc", model.TAG_RESOURCE: "loc", model.TAG_MINION: other},
    }
    with open(os.path.join(drv.state_dir, "local-000000000000.json"), "w") as fh:
        json.dump(rec, fh)
    assert [i.id for i in drv.instances()] == [inst.id]
    assert drv.destroy(["local-000000000000"])["local-000000000000"].startswith("refused")
    assert drv.destroy([inst.id]) == {inst.id: "gone"}
    os.unlink(os.path.join(drv.state_dir, "local-000000000000.json"))


def test_addresses_stay_inside_the_network(cloud, tmp_path):
    drv, ud = cloud(network="127.200.0.160/30", gateway="127.200.0.161")  # room for .162 only
    ids = [identity.make("hpc", "loc", SECRET) for _ in range(2)]
    result = drv.launch(2, ids, ud)
    assert result.launched == 1 and result.partial
    assert result.instances[0].ip == "127.200.0.162"
    assert result.error.kind == "quota" and "no free address" in result.error.message
    with pytest.raises(InvalidConfig, match="not inside"):
        make_driver(tmp_path, network="127.200.0.128/26", gateway="127.201.0.1")


def test_default_template_starts_a_salt_minion_with_its_id(cloud, tmp_path):
    drv, _ = cloud(userdata_file="")
    render = userdata.renderer(
        None,
        master=GATEWAY,
        resource="loc",
        scheduler="slurm",
        cluster="hpc",
        resource_type="local",
        instance_dir_for=drv.instance_root,
    )
    mid = identity.make("hpc", "loc", SECRET)
    inst = drv.launch(1, [mid], render).instances[0]
    conf = os.path.join(drv.instance_root(mid), "etc/salt/minion.d/dcluster.conf")
    deadline = time.monotonic() + 20
    found = False
    while time.monotonic() < deadline and not found:
        cmdlines = []
        for pid in netns.pids("dcl-" + inst.id[6:]):
            try:
                cmdlines.append(open(f"/proc/{pid}/cmdline").read().replace("\0", " "))
            except OSError:
                pass
        found = os.path.exists(conf) and any("salt-minion" in c for c in cmdlines)
        time.sleep(0.3)
    assert found, open(os.path.join(drv.host_dir(mid), "boot.log")).read()
    text = open(conf).read()
    assert f"id: {mid}" in text and f"master: {GATEWAY}" in text
    assert drv.destroy([inst.id]) == {inst.id: "ok"}
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0  # bridge kept for others
