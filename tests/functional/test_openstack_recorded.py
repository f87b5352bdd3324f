"""The OpenStack driver against recorded Nova, Keystone and Neutron answers.

No OpenStack runs here.  The real keystoneauth1 and python-novaclient talk
HTTP(S) to tests/support/replay_openstack.py, which serves OpenStack's own
published samples and the error answers Nova builds
(tests/data/cloud-output/openstack, provenance in its README): the
project-scoped token with its catalog, ``GET /servers/detail`` pages with
``servers_links``, the flavors, Neutron's network list, quota, rate-limit and
capacity faults, servers in ERROR with their fault, and a batch made with
``min_count``/``max_count`` as a project member (no admin-only attributes)
sees it.  TLS runs against a CA made here, the proxy is a real one on
127.0.0.1 (tests/support/counting_proxy.py).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from types import SimpleNamespace

import pytest

from dcluster import config, identity, model
from dcluster.clouds import base
from dcluster.clouds.openstack import OpenStackDriver
from tests.support.counting_proxy import CountingProxy
from tests.support.replay_openstack import ReplayOpenStack, fault, load, recorded_server, user_view

SECRET = "0123456789abcdef0123"
PASSWORD = "s3cret-passw0rd"
IMAGE = "70a599e0-31e7-49b7-b260-868f441e862b"  # the image of the recorded samples
NET1 = "d32019d3-bc6e-4319-9c1d-6722fc136a22"  # "net1" in Neutron's recorded network list


@pytest.fixture
def cloud():
    c = ReplayOpenStack().start()
    try:
        yield c
    finally:
        c.stop()


def pillar(cloud, **cfg):
    conf = {
        "auth_url": cloud.auth_url,
        "username": "demo",
        "password": PASSWORD,
        "project": "demo",
        "region_name": "RegionOne",
        "image_uuid": IMAGE,
        "flavor": "m1.medium",
        "timeout": 5,
        **cfg,
    }
    for k in [k for k, v in conf.items() if v is None]:
        del conf[k]
    return {
        "secret": SECRET,
        "cluster": {"type": "sge"},
        "cluster_name": "hpc",
        "cloud": {"nova": {"type": "openstack", "quantity": {"max": 20}, "config": conf}},
    }


def driver(cloud, **cfg):
    c = config.load(pillar(cloud, **cfg))
    return OpenStackDriver(c.resources["nova"], c.cluster_name, c.secret)


def ids(n):
    return [identity.make("hpc", "nova", SECRET) for _ in range(n)]


def ours(mid):
    return base.tags_for("hpc", "nova", mid)


def ud(mid):
    return f"#!/bin/sh\necho {mid}\n"


# ------------------------------------------------------------------ listing
def test_listing_of_recorded_documents_follows_every_page(cloud):
    cloud.page_size = 2
    sample = load("nova/servers-details-resp.json")["servers"][0]
    cloud.add_server(sample["name"], sample["metadata"], sid=sample["id"])  # someone else's server, as recorded
    want = ids(5)
    for mid in want:
        cloud.add_server(mid, ours(mid))
    listed = driver(cloud).instances()
    assert sorted(i.minion_id for i in listed) == sorted(want)
    assert all(i.state == model.InstanceState.RUNNING for i in listed)
    # from the recorded documents and flavors: the fixed address, m1.medium's 2 vCPUs and 4096 MB
    assert {(i.ip, i.cores, i.mem_mb) for i in listed} == {("192.168.1.30", 2, 4096)}
    lists = [p for m, p, _ in cloud.requests if m == "GET" and p.endswith("/servers/detail")]
    assert len(lists) == 4  # 6 servers, 2 a page: 3 full pages (each with servers_links) and the empty one


def test_recorded_server_in_error_keeps_its_fault(cloud):
    doc = fault("server-error-no-valid-host")["body"]["server"]
    mid = ids(1)[0]
    cloud.add_server(mid, ours(mid), status="ERROR", extra={"fault": doc["fault"]})
    [inst] = driver(cloud).instances()
    assert inst.state == model.InstanceState.ERROR
    assert inst.tags["dcluster-fault"] == "No valid host was found. There are not enough hosts available."


# ------------------------------------------------------------------ faults
@pytest.mark.parametrize(
    "name,kind,retry_after",
    [
        ("quota-instances-403", "quota", 0),
        ("quota-ram-403", "quota", 0),
        ("quota-unified-limits-403", "quota", 0),  # oslo.limit's words: "over a limit", no "quota"
        ("quota-legacy-413", "quota", 0),  # 413 with Retry-After: 0 is Nova's old quota refusal
        ("rate-limit-429", "transient", 4),
        ("rate-limit-413", "transient", 4),  # a rate limit is no quota: the resource must not rest as full
        ("zero-disk-flavor-403", "config", 0),  # the pillar must boot from volume; the credentials are fine
        ("policy-403", "auth", 0),
    ],
)
def test_each_recorded_fault_is_classified(cloud, name, kind, retry_after):
    cloud.answer("POST", r"/servers$", name)
    result = driver(cloud).launch(1, ids(1), ud)
    assert result.launched == 0
    assert result.error.kind == kind, result.error
    assert result.error.retry_after == retry_after
    assert fault(name)["body"][next(iter(fault(name)["body"]))]["message"] in result.error.message


@pytest.mark.parametrize(
    "name,kind",
    [
        ("server-error-no-valid-host", "capacity"),
        ("server-error-max-retries", "capacity"),  # MaxRetriesExceeded is a NoValidHost: every host failed
        ("server-error-build-aborted", "transient"),
    ],
)
def test_server_in_error_after_create_is_classified_and_deleted(cloud, name, kind):
    cloud.new_status = "ERROR"
    cloud.new_fault = fault(name)["body"]["server"]["fault"]
    result = driver(cloud).launch(1, ids(1), ud)
    assert result.launched == 0 and result.error.kind == kind
    assert cloud.new_fault["message"] in result.error.message
    assert cloud.servers == {}  # nothing left behind


# ------------------------------------------------------------------ networks by name
def test_network_given_by_name_is_looked_up_in_neutron(cloud):
    result = driver(cloud, network="net1").launch(1, ids(1), ud)
    assert result.error is None and result.launched == 1
    [body] = cloud.posts()
    assert body["server"]["networks"] == [{"uuid": NET1}]
    looks = [p for m, p, _ in cloud.requests if "/v2.0/networks" in p]
    assert looks and all("9696" in p for p in looks)  # the network endpoint of the recorded catalog


@pytest.mark.parametrize(
    "name,words",
    [
        ("net1#x", "no network named 'net1#x'"),  # novaclient's find_network would look up net1
        ("net1&name=net2", "no network named"),
        ("nope", "no network named 'nope'"),
    ],
)
def test_network_name_that_is_not_there_is_a_config_error_naming_the_key(cloud, name, words):
    result = driver(cloud, network=name).launch(1, ids(1), ud)
    assert result.error.kind == "config"
    assert "dcluster:cloud:nova:config:network" in result.error.message and words in result.error.message
    assert cloud.posts() == []


def test_two_networks_of_one_name_are_refused(cloud):
    twin = dict(load("neutron/networks-list-response.json")["networks"][1], name="net1")
    cloud.extra_networks.append(twin)
    result = driver(cloud, network="net1").launch(1, ids(1), ud)
    assert result.error.kind == "config" and "2 networks are named 'net1'" in result.error.message
    assert cloud.posts() == []


# ------------------------------------------------------------------ batches made by earlier releases
def test_batch_members_found_without_admin_only_attributes(cloud):
    # As releases before per-instance keys did: one POST with min_count = max_count = 3, the ids in
    # metadata.  Nova names the members <name>-1 .. -3; a project member sees no launch_index.
    want = ids(3)
    meta = {
        model.TAG_CLUSTER: "hpc",
        model.TAG_RESOURCE: "nova",
        base.TAG_BATCH: "tok",
        f"{base.TAG_IDS}0": " ".join(m[len("hpc-nova-") :] for m in want),
    }
    nova = driver(cloud).client
    resv = nova.servers.create("dc-hpc-nova-tok", IMAGE, "3", meta=meta, min_count=3, max_count=3, reservation_id=True)
    assert resv == load("nova/multiple-create-post-resp.json")["reservation_id"]
    docs = list(cloud.servers.values())
    assert [d["OS-EXT-SRV-ATTR:launch_index"] for d in docs] == [0, 1, 2]  # what an admin would see
    assert all(not any(k.startswith("OS-EXT-SRV-ATTR:") for k in user_view(d)) for d in docs)
    listed = {i.name: i.minion_id for i in driver(cloud).instances()}
    assert listed == {f"dc-hpc-nova-tok-{n}": mid for n, mid in zip((1, 2, 3), want, strict=True)}
    cloud.admin_view = True  # an admin's listing agrees through launch_index
    assert {i.name: i.minion_id for i in driver(cloud).instances()} == listed


def test_batch_member_whose_name_is_not_in_the_batch_is_ignored(cloud):
    want = ids(2)
    meta = {
        model.TAG_CLUSTER: "hpc",
        model.TAG_RESOURCE: "nova",
        base.TAG_BATCH: "tok",
        f"{base.TAG_IDS}0": " ".join(m[len("hpc-nova-") :] for m in want),
    }
    cloud.add_server("hpc-nova-tok-7", meta)  # renamed: the name no longer says which member it is
    cloud.add_server("hpc-nova-tok-2", meta)
    assert [i.minion_id for i in driver(cloud).instances()] == [want[1]]


# ------------------------------------------------------------------ boot from volume
def test_boot_from_volume_makes_a_volume_deleted_with_the_server(cloud):
    result = driver(cloud, boot_from_volume={"size_gb": 40}).launch(1, ids(1), ud)
    assert result.error is None
    [body] = cloud.posts()
    server = body["server"]
    assert server["imageRef"] == ""  # the image is the volume's source
    assert server["block_device_mapping_v2"] == [
        {
            "uuid": IMAGE,
            "source_type": "image",
            "destination_type": "volume",
            "boot_index": 0,
            "volume_size": 40,
            "delete_on_termination": True,
        }
    ]


def test_boot_from_volume_with_a_volume_type_uses_microversion_2_67(cloud):
    result = driver(cloud, boot_from_volume={"size_gb": 10, "volume_type": "lvm-1"}).launch(1, ids(1), ud)
    assert result.error is None
    i = next(n for n, (m, p, _) in enumerate(cloud.requests) if m == "POST" and p.endswith("/servers"))
    assert cloud.headers[i].get("X-Openstack-Nova-Api-Version") == "2.67"
    server = cloud.requests[i][2]["server"]
    recorded = load("nova/v2.67-server-create-req.json")["server"]
    bdm = server["block_device_mapping_v2"][0]
    # the recorded request's mapping (less its device tag), and ours deletes the volume with the server
    assert set(bdm) == set(recorded["block_device_mapping_v2"][0]) - {"tag"} | {"delete_on_termination"}
    assert bdm["volume_type"] == "lvm-1" and bdm["delete_on_termination"] is True
    assert server["networks"] == "auto"  # 2.37+ wants networks said; "auto" is 2.1's behaviour


def test_boot_from_volume_keeps_the_volume_only_when_asked(cloud):
    driver(cloud, boot_from_volume={"size_gb": 10, "delete_on_termination": False}).launch(1, ids(1), ud)
    assert cloud.posts()[0]["server"]["block_device_mapping_v2"][0]["delete_on_termination"] is False


def test_boot_from_volume_needs_a_size():
    with pytest.raises(config.ConfigError, match="nova:config:boot_from_volume:size_gb: required"):
        config.load(pillar(SimpleNamespace(auth_url="http://127.0.0.1:1/v3"), boot_from_volume={"volume_type": "ssd"}))


# ------------------------------------------------------------------ TLS with a CA bundle
def _ca_and_server_cert(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dcluster test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    return str(tmp_path / "ca.pem"), ctx


@pytest.fixture
def tls_cloud(tmp_path):
    ca, ctx = _ca_and_server_cert(tmp_path)
    c = ReplayOpenStack(ssl_context=ctx).start()
    try:
        yield c, ca
    finally:
        c.stop()


def test_tls_with_the_ca_bundle_given_as_verify(tls_cloud):
    cloud, ca = tls_cloud
    mid = ids(1)[0]
    cloud.add_server(mid, ours(mid))
    assert cloud.url.startswith("https://")
    assert [i.minion_id for i in driver(cloud, verify=ca).instances()] == [mid]


def test_tls_without_the_ca_is_refused(tls_cloud):
    cloud, _ = tls_cloud
    with pytest.raises(Exception) as exc:
        driver(cloud).instances()  # the system's CAs do not know ours
    assert exc.value.kind == "transient" and "certificate verify failed" in str(exc.value).lower()
    assert not any(p.endswith("/auth/tokens") for _, p, _ in cloud.requests)  # the password never went


def test_tls_unchecked_only_with_insecure(tls_cloud):
    cloud, _ = tls_cloud
    with pytest.raises(config.ConfigError, match="nova:config:verify: false turns TLS certificate checks off"):
        driver(cloud, verify=False)
    assert driver(cloud, verify=False, insecure=True).instances() == []


def test_ca_bundle_that_is_not_there_is_a_config_error(tls_cloud, tmp_path):
    cloud, _ = tls_cloud
    with pytest.raises(config.ConfigError, match="nova:config:verify: 'ca.pem' is not an absolute path"):
        driver(cloud, verify="ca.pem")
    with pytest.raises(Exception) as exc:
        driver(cloud, verify=str(tmp_path / "missing.pem")).instances()
    assert exc.value.kind == "config" and "dcluster:cloud:nova:config:verify: CA bundle" in str(exc.value)


# ------------------------------------------------------------------ proxy
@pytest.fixture
def proxy():
    p = CountingProxy().start()
    try:
        yield p
    finally:
        p.stop()


def test_every_call_goes_through_the_proxy(cloud, proxy, monkeypatch):
    # The environment's proxy (here one that answers nothing) must not take the pillar's place.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    secret = "pr0xy-pass&word"
    url = f"http://squid:{secret.replace('&', '%26')}@127.0.0.1:{proxy.port}"
    drv = driver(cloud, proxy=url, network="net1")
    result = drv.launch(1, ids(1), ud)
    assert result.error is None
    assert drv.instances()[0].minion_id == result.instances[0].minion_id
    n = len(cloud.requests)
    assert n >= 5 and proxy.count() == n  # token, flavors, network, create, read back, list: all proxied
    assert {a for _, _, a in proxy.seen} == {"Basic " + base64.b64encode(f"squid:{secret}".encode()).decode()}
    assert all(t.startswith(f"{cloud.url}/") for _, t, _ in proxy.seen)


def test_https_goes_through_the_proxy_with_connect(tls_cloud, proxy):
    cloud, ca = tls_cloud
    assert driver(cloud, verify=ca, proxy=f"http://127.0.0.1:{proxy.port}").instances() == []
    assert proxy.count("CONNECT") >= 1 and proxy.count() == proxy.count("CONNECT")
    assert {t for _, t, _ in proxy.seen} == {cloud.url[len("https://") :]}


def test_proxy_password_never_in_an_error(cloud, proxy):
    secret = "pr0xy-sekr1t-pass"
    cloud.answer("POST", r"/servers$", "policy-403")
    result = driver(cloud, proxy=f"http://u:{secret}@127.0.0.1:{proxy.port}").launch(1, ids(1), ud)
    assert result.error.kind == "auth" and proxy.count() > 0
    assert secret not in str(result.error) and secret not in str(result.to_dict())
    port = proxy.port
    proxy.stop()  # a proxy that is gone: the connection error names the proxy URL, never its password
    with pytest.raises(Exception) as exc:
        driver(cloud, proxy=f"http://u:{secret}@127.0.0.1:{port}").instances()
    assert exc.value.kind == "transient" and "127.0.0.1" in str(exc.value) and secret not in str(exc.value)


@pytest.mark.parametrize("bad", ["127.0.0.1:3128", "ftp://127.0.0.1:21", "http://127.0.0.1", "http://h:1/path"])
def test_proxy_that_is_not_a_proxy_url_is_refused(cloud, bad):
    with pytest.raises(config.ConfigError, match="nova:config:proxy: .* is not a proxy URL"):
        driver(cloud, proxy=bad)


def test_recorded_server_sample_is_read_as_is(cloud):
    # A positive control of the data: the recorded documents carry what the tests rely on, and the
    # replay's GET /servers/<id> answers what Nova's server-get sample has (less the admin-only keys).
    doc = recorded_server()
    assert doc["addresses"]["private"][0]["addr"] == "192.168.1.30" and "OS-EXT-SRV-ATTR:host" in doc
    assert load("nova/servers-details-resp.json")["servers_links"][0]["rel"] == "next"
    mid = ids(1)[0]
    sid = cloud.add_server(mid, ours(mid))
    got = driver(cloud).client.servers.get(sid).to_dict()
    assert set(got) == set(user_view(load("nova/server-get-resp.json")["server"]))


def test_neutron_down_is_transient_not_config(cloud):
    cloud.answer("GET", r"/v2.0/networks", "rate-limit-429")
    result = driver(cloud, network="net1").launch(1, ids(1), ud)
    assert result.error.kind == "transient" and result.error.retry_after == 4
    assert "dcluster:cloud:nova:config:network" in result.error.message and cloud.posts() == []
