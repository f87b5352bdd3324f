"""The OpenStack driver against an HTTP fake of Keystone v3 and Nova (tests/support/fake_openstack.py).

No real OpenStack can run here; the driver runs the real keystoneauth1 and
python-novaclient over HTTP against the fake, with faults injected at the
HTTP level (500, a late answer, 403 quota, servers in ERROR with Nova's
"No valid host was found" fault).  Also checks the Salt module end to end
(loaded as a plain module with its dunders set) never shows a credential.
"""

import base64
import logging

import pytest
from salt.exceptions import CommandExecutionError

from dcluster import config, identity, model
from dcluster.clouds import base
from dcluster.clouds.openstack import OpenStackDriver
from tests.support.fake_openstack import NO_VALID_HOST, FakeOpenStack

SECRET = "0123456789abcdef0123"
IMAGE = "11111111-2222-3333-4444-555555555555"
PASSWORD = "s3cret-passw0rd"


@pytest.fixture
def fake():
    f = FakeOpenStack().start()
    try:
        yield f
    finally:
        f.stop()


def pillar(fake, **cfg):
    conf = {
        "auth_url": fake.auth_url,
        "username": "demo",
        "password": PASSWORD,
        "project": "demo",
        "region_name": "RegionOne",
        "image_uuid": IMAGE,
        "flavor": "m1.small",
        "timeout": 2,
        "key_name": "mykey",
        "security_groups": ["default", "hpc"],
        "availability_zone": "nova",
        "network": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        **cfg,
    }
    for k in [k for k, v in conf.items() if v is None]:
        del conf[k]
    return {
        "secret": SECRET,
        "cluster": {"type": "sge"},
        "cluster_name": "hpc",
        "cloud": {"nova": {"type": "openstack", "quantity": {"max": 20}, "launch_batch": 10, "config": conf}},
    }


def driver(fake, **cfg):
    c = config.load(pillar(fake, **cfg))
    return OpenStackDriver(c.resources["nova"], c.cluster_name, c.secret)


def ids(n):
    return [identity.make("hpc", "nova", SECRET) for _ in range(n)]


def ud(mid):
    return f"#!/bin/sh\necho {mid}\n"


def creates(fake):
    return [body["server"] for method, path, body in fake.requests if method == "POST" and path.endswith("/servers")]


def test_one_server_per_instance_with_its_own_name_metadata_and_user_data(fake):
    drv = driver(fake)
    want = ids(3)
    result = drv.launch(3, want, ud)
    assert result.error is None and result.launched == 3
    posts = creates(fake)
    assert len(posts) == 3
    by_name = {body["name"]: body for body in posts}
    assert set(by_name) == set(want)
    for mid, body in by_name.items():
        assert (body["min_count"], body["max_count"]) == (1, 1)
        assert body["flavorRef"] == "fl-small" and body["imageRef"] == IMAGE
        assert body["key_name"] == "mykey" and body["availability_zone"] == "nova"
        assert body["security_groups"] == [{"name": "default"}, {"name": "hpc"}]
        assert body["networks"] == [{"uuid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}]
        meta = body["metadata"]
        assert meta[model.TAG_CLUSTER] == "hpc" and meta[model.TAG_RESOURCE] == "nova"
        assert meta[model.TAG_MINION] == mid and base.TAG_BATCH not in meta
        assert base64.b64decode(body["user_data"]).decode() == ud(mid)  # its own, naming no sibling
    listed = {i.minion_id: i for i in drv.instances()}
    assert set(listed) == set(want)
    assert all(i.cores == 2 and i.mem_mb == 2048 and i.ip.startswith("127.200.0.") for i in listed.values())
    out = drv.destroy([i.id for i in listed.values()])
    assert set(out.values()) == {"ok"}
    assert drv.instances() == []
    assert set(drv.destroy(list(out)).values()) == {"gone"}


def test_listing_follows_every_page(fake):
    # Nova answers at most osapi_max_limit servers per request; the rest are behind the marker.
    fake.page_size = 3
    drv = driver(fake)
    want = ids(8)
    assert drv.launch(8, want, ud).launched == 8
    fake.list_calls = 0
    assert sorted(i.minion_id for i in drv.instances()) == sorted(want)
    assert fake.list_calls >= 3


def test_listing_follows_every_page_of_servers_already_there(fake):
    # Issue 13: a listing that stops at Nova's first page makes the older workers look gone (their jobs
    # vacated, their servers never destroyed).  The servers are made in the fake, not by this driver's
    # launch, so the listing alone is under test.
    fake.page_size = 3
    want = ids(8)
    for mid in want:
        fake.add_server(mid, {model.TAG_CLUSTER: "hpc", model.TAG_RESOURCE: "nova", model.TAG_MINION: mid})
    assert sorted(i.minion_id for i in driver(fake).instances()) == sorted(want)


def test_servers_of_batches_launched_by_earlier_releases_are_still_listed(fake):
    # As releases before per-instance keys created them: one POST with max_count=3, the ids in metadata.
    drv = driver(fake)
    want = ids(3)
    tails = " ".join(m[len("hpc-nova-") :] for m in want)
    meta = {model.TAG_CLUSTER: "hpc", model.TAG_RESOURCE: "nova", base.TAG_BATCH: "tok", f"{base.TAG_IDS}0": tails}
    for i in range(3):
        sid = fake.add_server(f"hpc-nova-tok-{i + 1}", meta)
        fake.servers[sid]["OS-EXT-SRV-ATTR:launch_index"] = i
    assert sorted(i.minion_id for i in drv.instances()) == sorted(want)
    for s in fake.servers.values():  # a non-admin user does not see OS-EXT-SRV-ATTR:launch_index
        s.pop("OS-EXT-SRV-ATTR:launch_index")
    by_name = {i.name: i.minion_id for i in drv.instances()}
    assert [by_name[n] for n in sorted(by_name)] == want  # <name>-1 .. -3 in launch order


def test_application_credential(fake):
    drv = driver(
        fake,
        username=None,
        password=None,
        project=None,
        application_credential_id="ac-0001",
        application_credential_secret="appcred-s3cret",
    )
    assert drv.cores() == 2


def test_wrong_password_is_auth_and_secret_free(fake):
    drv = driver(fake, password="wrong-password-123")
    result = drv.launch(1, ids(1), ud)
    assert result.error.kind == "auth"
    assert "wrong-password-123" not in str(result.error)


def test_500_is_transient(fake):
    drv = driver(fake)
    fake.fail("POST", r"/servers$", 500, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/")
    result = drv.launch(2, ids(2), ud)
    # The fault answers one of the two calls.  The other either ran alongside (its server exists) or had
    # not started yet when the refusal came (then it is not made): the result says which, exactly.
    assert result.launched in (0, 1) and result.error.kind == "transient"
    assert "Unexpected API Error" in result.error.message
    assert [i.id for i in drv.instances()] == [i.id for i in result.instances]


def test_timeout_is_transient(fake):
    drv = driver(fake, timeout=1)
    fake.fail("GET", r"/flavors/detail$", 500, "late", delay=2.5)
    result = drv.launch(1, ids(1), ud)
    assert result.launched == 0 and result.error.kind == "transient"


def test_quota_403(fake):
    drv = driver(fake)
    fake.fail(
        "POST", r"/servers$", 403, "Quota exceeded for instances: Requested 2, but already used 10 of 10 instances"
    )
    result = drv.launch(2, ids(2), ud)
    assert result.error.kind == "quota" and "Quota exceeded for instances" in result.error.message


def test_quota_partial_launch_reported_exactly(fake, monkeypatch):
    monkeypatch.setattr(base, "LAUNCH_THREADS", 1)  # one call at a time: which calls follow a refusal is exact
    fake.quota_instances = 2
    drv = driver(fake)
    want = ids(4)
    result = drv.launch(4, want, ud)
    assert result.launched == 2 and result.requested == 4 and result.partial
    assert result.error.kind == "quota"
    assert [b["name"] for b in creates(fake)] == want[:3]  # nothing after the refusal
    assert sorted(i.minion_id for i in drv.instances()) == sorted(want[:2])


def test_no_valid_host_is_capacity_and_leaves_nothing(fake):
    fake.no_valid_host = True
    drv = driver(fake)
    result = drv.launch(2, ids(2), ud)
    assert result.launched == 0
    assert result.error.kind == "capacity" and NO_VALID_HOST in result.error.message
    assert drv.instances() == []  # the ERROR servers were deleted


def test_bad_flavor_and_image_are_config(fake):
    r1 = driver(fake, flavor="m1.huge").launch(1, ids(1), ud)
    assert r1.error.kind == "config" and "m1.huge" in r1.error.message
    r2 = driver(fake, image_uuid="99999999-9999-9999-9999-999999999999").launch(1, ids(1), ud)
    assert r2.error.kind == "config" and "could not be found" in r2.error.message


def test_other_peoples_servers_never_listed_or_destroyed(fake):
    drv = driver(fake)
    mine = drv.launch(1, ids(1), ud).instances[0]
    foreign = [
        fake.add_server(mine.name + "0", {}),  # look-alike name, no metadata
        fake.add_server("hpc-nova-x", {model.TAG_CLUSTER: "hpc"}),
        fake.add_server("z", base.tags_for("hpc", "nova", identity.make("hpc", "nova", "someone-elses-secret-16"))),
        fake.add_server("y", base.tags_for("hpc2", "nova", identity.make("hpc2", "nova", SECRET))),
    ]
    assert [i.id for i in drv.instances()] == [mine.id]
    out = drv.destroy(foreign)
    assert all(v.startswith("refused") for v in out.values())
    assert all(fake.servers[s]["status"] == "ACTIVE" for s in foreign)


# ------------------------------------------------------------------ the Salt module
@pytest.fixture
def module(fake):
    from _modules import dcluster_openstack as mod

    def use(pillar_data):
        mod.__salt__ = {"config.get": lambda key, default=None: pillar_data if key == "dcluster" else default}
        mod.__opts__ = {"id": "master", "interface": "127.0.0.1"}
        return mod

    yield use
    for name in ("__salt__", "__opts__"):
        if hasattr(mod, name):
            delattr(mod, name)


def test_module_returns_plain_data(fake, module):
    mod = module(pillar(fake))
    assert mod.__virtual__() == "dcluster_openstack"
    out = mod.launch("nova", count=2)
    assert out["launched"] == 2 and out["error"] is None
    listed = mod.instances("nova")
    assert {i["minion_id"] for i in listed} == {i["minion_id"] for i in out["instances"]}
    assert all(isinstance(i["state"], str) for i in listed)
    # the default template got the master address and each id
    body = creates(fake)[0]
    text = base64.b64decode(body["user_data"]).decode()
    assert "MASTER=127.0.0.1" in text and "salt-minion" in text and body["name"] in text
    assert mod.cores("nova") == 2 and mod.mem_mb("nova") == 2048
    assert set(mod.destroy("nova", ",".join(i["id"] for i in listed)).values()) == {"ok"}


def test_module_never_shows_a_secret(fake, module, caplog):
    caplog.set_level(logging.DEBUG)
    bad = "Wr0ng-but-secret-passw0rd"
    mod = module(pillar(fake, password=bad))
    with pytest.raises(CommandExecutionError) as exc:
        mod.launch("nova", count=1)
    assert "auth" in str(exc.value) and "dcluster:cloud:nova" in str(exc.value)
    fake.fail("POST", r"/auth/tokens$", 500, f"db error for password {bad} and secret {SECRET}")
    with pytest.raises(CommandExecutionError) as exc2:
        mod.instances("nova")
    assert "transient" in str(exc2.value)
    for text in (str(exc.value), str(exc2.value), caplog.text):
        assert bad not in text and SECRET not in text and PASSWORD not in text


def test_module_config_errors_name_the_pillar_path(fake, module):
    mod = module(pillar(fake))
    with pytest.raises(CommandExecutionError, match="dcluster:cloud:nope: no such resource"):
        mod.instances("nope")
    broken = pillar(fake)
    del broken["cloud"]["nova"]["config"]["image_uuid"]
    with pytest.raises(CommandExecutionError, match="dcluster:cloud:nova:config:image_uuid"):
        module(broken).instances("nova")
