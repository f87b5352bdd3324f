"""The AWS driver against moto in server mode on 127.0.0.1 (real boto3 over HTTP).

moto cannot run out of capacity and always starts ``MinCount`` instances.
Where a test needs EC2 to refuse, it injects the refusal at botocore's
``before-call`` hook for that one call: the driver still gets a real
``ClientError`` built by botocore from EC2's error shape.  Where it needs a
spot request to stay unfulfilled, it uses the driver's documented
``spot_view`` seam.  Nothing here connects to the 10.x addresses moto
reports.
"""

import time
from types import SimpleNamespace

import pytest

from dcluster import config, identity, model
from dcluster.clouds import base
from dcluster.clouds.aws import AwsDriver
from tests.support.moto import AMI

SECRET = "0123456789abcdef0123"


def make_driver(moto, secret=SECRET, cluster="hpc", resource="ec2", **cfg):
    conf = {
        "image_id": AMI,
        "instance_type": "t3.micro",
        "access_key_id": "AKIAEXAMPLEKEY000001",
        "secret_access_key": "moto-secret-value-xyz",
        "endpoint_url": moto.url,
        **cfg,
    }
    res_extra = {k: conf.pop(k) for k in ("launch_batch", "cores") if k in conf}
    cfg_ = config.load(
        {
            "secret": secret,
            "cluster": {"type": "slurm"},
            "cluster_name": cluster,
            "cloud": {resource: {"type": "aws", "quantity": {"max": 100}, **res_extra, "config": conf}},
        }
    )
    return cfg_, cfg_.resources[resource]


def driver(moto, **kw):
    seams = {k: kw.pop(k) for k in ("spot_view", "clock", "sleep", "poll_interval") if k in kw}
    cfg, res = make_driver(moto, **kw)
    return AwsDriver(res, cfg.cluster_name, cfg.secret, **seams)


def ids(n, resource="ec2"):
    return [identity.make("hpc", resource, SECRET) for _ in range(n)]


def ud(mid):
    return f"#!/bin/sh\necho {mid} > /etc/minion_id\n"


def record_calls(drv):
    calls = []
    drv.client.meta.events.register(
        "provide-client-params.ec2.*", lambda params, model, **k: calls.append((model.name, dict(params)))
    )
    return calls


def test_one_call_per_instance_with_its_own_tags_user_data_and_token(moto, ec2):
    drv = driver(moto)
    calls = record_calls(drv)
    want = ids(4)
    before = time.time()
    result = drv.launch(4, want, ud)
    assert result.error is None and result.launched == 4 and not result.partial
    runs = [p for name, p in calls if name == "RunInstances"]
    assert len(runs) == 4 and all((p["MinCount"], p["MaxCount"]) == (1, 1) for p in runs)
    by_id = {p["ClientToken"]: p for p in runs}  # the token is the minion id: a repeated call finds the first's
    assert set(by_id) == set(want)
    for mid, p in by_id.items():
        tags = {t["Key"]: t["Value"] for t in p["TagSpecifications"][0]["Tags"]}
        assert tags[model.TAG_MINION] == mid and base.TAG_BATCH not in tags
        assert p["UserData"] == ud(mid)
        assert not [other for other in want if other != mid and (other in p["UserData"] or other in str(tags))]
    assert not [n for n, _ in calls if n == "CreateTags"]  # tags only at RunInstances
    listed = {i.minion_id: i for i in drv.instances()}
    assert set(listed) == set(want)
    for inst in listed.values():
        assert inst.state in (model.InstanceState.PENDING, model.InstanceState.RUNNING)
        assert inst.tags[model.TAG_CLUSTER] == "hpc" and inst.tags[model.TAG_RESOURCE] == "ec2"
        assert before - 1 <= inst.launch_time <= time.time() + 1
        assert inst.cores == 2 and inst.mem_mb == 1024  # from DescribeInstanceTypes
        assert not inst.spot


def test_a_refusal_stops_further_calls_and_the_result_is_exact(moto, ec2, monkeypatch):
    monkeypatch.setattr(base, "LAUNCH_THREADS", 1)  # one call at a time: which calls follow a refusal is exact
    drv = driver(moto)
    seen = []

    def refuse_second(params, model, **kwargs):
        seen.append(params)
        if len(seen) == 2:
            return (
                SimpleNamespace(status_code=500, headers={}),
                {
                    "Error": {
                        "Code": "InsufficientInstanceCapacity",
                        "Message": "We currently do not have sufficient t3.micro capacity",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
            )
        return None

    drv.client.meta.events.register("before-call.ec2.RunInstances", refuse_second)
    want = ids(5)
    result = drv.launch(5, want, ud)
    assert len(seen) == 2  # nothing after the refusal
    assert result.launched == 1 and result.requested == 5 and result.partial
    assert result.error is not None and result.error.kind == "capacity"
    assert "sufficient t3.micro capacity" in result.error.message
    listed = drv.instances()
    assert [i.id for i in listed] == [i.id for i in result.instances]
    assert listed[0].minion_id == want[0]


def test_concurrent_calls_under_way_at_a_refusal_still_count(moto, ec2):
    drv = driver(moto)
    want = ids(6)

    def refuse_one(params, model, **kwargs):
        if params["body"].get("ClientToken") == want[2]:  # the serialized request (query protocol)
            return (
                SimpleNamespace(status_code=400, headers={}),
                {
                    "Error": {"Code": "InstanceLimitExceeded", "Message": "limit reached"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
            )
        return None

    drv.client.meta.events.register("before-call.ec2.RunInstances", refuse_one)
    result = drv.launch(6, want, ud)
    assert result.error.kind == "quota" and want[2] not in {i.minion_id for i in result.instances}
    # whatever was started is in the result, and the result is what exists
    assert sorted(i.id for i in drv.instances()) == sorted(i.id for i in result.instances)


def test_capacity_refusal_without_5xx_is_capacity(moto, ec2):
    drv = driver(moto)
    drv.client.meta.events.register(
        "before-call.ec2.RunInstances",
        lambda **kw: (
            SimpleNamespace(status_code=400, headers={}),
            {
                "Error": {"Code": "InsufficientInstanceCapacity", "Message": "none left"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
        ),
    )
    result = drv.launch(2, ids(2), ud)
    assert result.launched == 0 and result.error.kind == "capacity"


def test_bad_image_is_a_config_error(moto, ec2):
    drv = driver(moto, image_id="ami-00000000deadbeef0")
    result = drv.launch(1, ids(1), ud)
    assert result.launched == 0
    assert result.error.kind == "config" and "ami-00000000deadbeef0" in result.error.message


def test_unknown_instance_type_is_a_config_error(moto, ec2):
    drv = driver(moto, instance_type="t3.gigantic")
    result = drv.launch(1, ids(1), ud)
    assert result.error.kind == "config" and "t3.gigantic" in result.error.message


def test_cores_override(moto, ec2):
    assert driver(moto).cores() == 2
    assert driver(moto, cores=7).cores() == 7


def test_terminate(moto, ec2):
    drv = driver(moto)
    launched = drv.launch(3, ids(3), ud).instances
    out = drv.destroy([i.id for i in launched])
    assert out == {i.id: "ok" for i in launched}
    states = {
        i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    }
    assert all(states[i.id] in ("shutting-down", "terminated") for i in launched)
    again = drv.destroy([i.id for i in launched] + ["i-0123456789abcdef0"])
    assert set(again.values()) == {"gone"}
    assert all(i.state == model.InstanceState.GONE for i in drv.instances())


def test_other_peoples_instances_never_listed_or_destroyed(moto, ec2):
    drv = driver(moto)
    mine = drv.launch(1, ids(1), ud).instances
    stranger_id = identity.make("hpc", "ec2", "someone-elses-secret-16")  # same cluster name, other deployment

    def run(tags):
        r = ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )
        return r["Instances"][0]["InstanceId"]

    foreign = [
        run({"Name": mine[0].minion_id + "x"}),  # a look-alike name, no tags (a name regex would match it)
        run({"Name": "hpc-ec2-manual"}),
        run(base.tags_for("hpc", "ec2", stranger_id)),  # our tag names, but not our HMAC
        run(base.tags_for("hpc2", "ec2", identity.make("hpc2", "ec2", SECRET))),  # other cluster
        run(base.tags_for("hpc", "ec22", identity.make("hpc", "ec22", SECRET))),  # other resource
    ]
    listed = [i.id for i in drv.instances()]
    assert listed == [mine[0].id]
    out = drv.destroy(foreign)
    assert all(v.startswith("refused") for v in out.values()), out
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=foreign)["Reservations"]
        for i in r["Instances"]
    }
    assert set(states.values()) == {"running"}


def test_spot_fulfilled(moto, ec2):
    drv = driver(moto, spot_bid=0.05, spot_timeout=30, poll_interval=0.1)
    calls = record_calls(drv)
    want = ids(2)
    result = drv.launch(2, want, ud)
    assert result.error is None and result.launched == 2
    assert all(i.spot for i in result.instances)
    assert sorted(i.minion_id for i in result.instances) == sorted(want)
    assert [n for n, _ in calls].count("RequestSpotInstances") == 2
    assert "RunInstances" not in [n for n, _ in calls]
    listed = drv.instances()
    assert sorted(i.minion_id for i in listed) == sorted(want)
    assert all(i.spot and i.tags[model.TAG_MINION] == i.minion_id for i in listed)
    reqs = ec2.describe_spot_instance_requests()["SpotInstanceRequests"]
    assert {r["State"] for r in reqs} == {"active"}
    assert drv.destroy([i.id for i in listed]) == {i.id: "ok" for i in listed}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += max(s, 0.01)


def never_fulfilled(req):
    """What AWS shows when no spot capacity is available: the request stays open, no instance."""
    req = dict(req, State="open", Status={"Code": "capacity-not-available"})
    req.pop("InstanceId", None)
    return req


def test_spot_timed_out_then_on_demand(moto, ec2):
    clock = FakeClock()
    drv = driver(
        moto, spot_bid=0.05, spot_timeout=60, spot_view=never_fulfilled, clock=clock, sleep=clock.sleep, poll_interval=5
    )
    calls = record_calls(drv)
    want = ids(2)
    result = drv.launch(2, want, ud)
    assert result.error is None and result.launched == 2
    assert not any(i.spot for i in result.instances)
    assert result.extra == {"spot_unfulfilled": 2, "fallback_on_demand": 2}
    assert clock.now >= 60  # waited the whole spot_timeout
    names = [n for n, _ in calls]
    assert names.index("CancelSpotInstanceRequests") < names.index("RunInstances")
    # the open requests were cancelled (moto then forgets them)
    assert ec2.describe_spot_instance_requests()["SpotInstanceRequests"] == []
    listed = drv.instances()
    assert sorted(i.minion_id for i in listed if i.state != model.InstanceState.GONE) == sorted(want)
    assert not any(i.spot for i in listed)


def test_spot_a_single_missing_listing_after_the_cancel_replaces_nothing(moto, ec2):
    """The module's waiting launch follows the engine's rule: a cancelled request missing from one
    listing (moto forgets it at once; EC2 lists it for hours, with any instance it launched) is
    replaced only when the next listing misses it too."""
    clock = FakeClock()
    drv = driver(
        moto, spot_bid=0.05, spot_timeout=60, spot_view=never_fulfilled, clock=clock, sleep=clock.sleep, poll_interval=5
    )
    calls = record_calls(drv)
    result = drv.launch(1, ids(1), ud)
    assert result.error is None and result.launched == 1
    names = [n for n, _ in calls]
    between = names[names.index("CancelSpotInstanceRequests") : names.index("RunInstances")]
    assert between.count("DescribeSpotInstanceRequests") == 2


def test_spot_a_request_whose_cancel_does_not_take_is_not_replaced(moto, ec2):
    """EC2 accepts the cancel, yet the request still lists open (eventual consistency, or a cancel that
    failed): it may still be fulfilled, with an instance that boots as its minion id.  Launching on
    demand with that id would make two minions of one name (and one instance nobody tracks); the
    request is left open in the result, with an error, and nothing is launched for it."""
    clock = FakeClock()
    drv = driver(
        moto, spot_bid=0.05, spot_timeout=60, spot_view=never_fulfilled, clock=clock, sleep=clock.sleep, poll_interval=5
    )
    calls = record_calls(drv)

    def accepted_not_done(params, **_):  # answered without reaching moto: the request stays open there
        ids_ = params.get("SpotInstanceRequestIds", [])
        answer = [{"SpotInstanceRequestId": r, "State": "cancelled"} for r in ids_]
        return SimpleNamespace(status_code=200), {"CancelledSpotInstanceRequests": answer}

    drv.client.meta.events.register("before-call.ec2.CancelSpotInstanceRequests", accepted_not_done)
    want = ids(1)
    result = drv.launch(1, want, ud)
    names = [n for n, _ in calls]
    assert "CancelSpotInstanceRequests" in names
    assert "RunInstances" not in names  # no on-demand twin with the same minion id
    assert result.launched == 0
    open_ = ec2.describe_spot_instance_requests()["SpotInstanceRequests"]
    assert [r["SpotInstanceRequestId"] for r in open_] == list(result.requests.values())
    assert list(result.requests) == want
    assert result.error is not None and result.error.code == "spot-cancel-pending"
    assert open_[0]["SpotInstanceRequestId"] in result.error.message
    ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=list(result.requests.values()))


def test_spot_timed_out_without_fallback_is_capacity(moto, ec2):
    clock = FakeClock()
    drv = driver(
        moto,
        spot_bid=0.05,
        spot_timeout=10,
        spot_fallback_on_demand=False,
        spot_view=never_fulfilled,
        clock=clock,
        sleep=clock.sleep,
    )
    result = drv.launch(1, ids(1), ud)
    assert result.launched == 0
    assert result.error.kind == "capacity" and "not fulfilled within 10 s" in result.error.message
    assert ec2.describe_spot_instance_requests()["SpotInstanceRequests"] == []


def test_destroy_open_spot_request(moto, ec2):
    drv = driver(moto, spot_bid="0.05", spot_timeout=30, poll_interval=0.1)
    drv.launch(1, ids(1), ud)
    # A request of ours that is still open shows as a pending instance and can be destroyed by its sir- id.
    req = ec2.request_spot_instances(
        SpotPrice="0.05",
        InstanceCount=1,
        LaunchSpecification={"ImageId": AMI, "InstanceType": "t3.micro"},
        TagSpecifications=[
            {
                "ResourceType": "spot-instances-request",
                "Tags": [{"Key": k, "Value": v} for k, v in base.tags_for("hpc", "ec2", ids(1)[0]).items()],
            }
        ],
    )["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    out = drv.destroy([req])
    assert out == {req: "ok"}


# ------------------------------------------------------------------ the Salt module
def _module(pillar_data):
    from _modules import dcluster_aws as mod

    mod.__salt__ = {"config.get": lambda key, default=None: pillar_data if key == "dcluster" else default}
    mod.__opts__ = {"id": "master", "interface": "127.0.0.1"}
    return mod


def _pillar(endpoint, **cfg):
    return {
        "secret": SECRET,
        "cluster": {"type": "slurm"},
        "cluster_name": "hpc",
        "cloud": {
            "ec2": {
                "type": "aws",
                "quantity": {"max": 10},
                "config": {
                    "image_id": AMI,
                    "instance_type": "t3.micro",
                    "access_key_id": "AKIAEXAMPLEKEY000001",
                    "secret_access_key": "moto-secret-value-xyz",
                    "endpoint_url": endpoint,
                    **cfg,
                },
            }
        },
    }


def test_module_round_trip(moto, ec2):
    mod = _module(_pillar(moto.url))
    assert mod.__virtual__() == "dcluster_aws"
    out = mod.launch("ec2", count="3")
    assert out["launched"] == 3 and out["error"] is None
    assert {i["minion_id"] for i in mod.instances("ec2")} == {i["minion_id"] for i in out["instances"]}
    assert mod.cores("ec2") == 2
    assert set(mod.destroy("ec2", [i["id"] for i in out["instances"]]).values()) == {"ok"}


def test_module_never_shows_a_secret(moto, ec2, caplog):
    from salt.exceptions import CommandExecutionError

    caplog.set_level("DEBUG", logger="dcluster")
    caplog.set_level("DEBUG", logger="_modules")
    port = moto.port + 1 if moto.port < 65535 else moto.port - 1  # nothing listens there
    mod = _module(_pillar(f"http://127.0.0.1:{port}"))
    with pytest.raises(CommandExecutionError) as exc:
        mod.launch("ec2", count=1)
    assert "transient" in str(exc.value) and "dcluster:cloud:ec2" in str(exc.value)
    mod = _module(_pillar(moto.url, image_id="ami-00000000deadbeef0"))
    with pytest.raises(CommandExecutionError) as exc2:
        mod.launch("ec2", count=1)
    assert "config" in str(exc2.value)
    for text in (str(exc.value), str(exc2.value), caplog.text):
        assert "moto-secret-value-xyz" not in text and SECRET not in text
