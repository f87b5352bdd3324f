"""Spot requests as steps the engine's loop polls (issue 15), against moto in server mode.

The Controller runs on the real AWS driver (real boto3 over HTTP to moto on
127.0.0.1) with an in-memory scheduler.  moto fulfils every spot request at
once; a request that stays open (no spot capacity) is what the driver's
documented ``spot_view`` seam shows while ``Spot.hold`` is set.  Nothing here
connects to the 10.x addresses moto reports.
"""

import os
import time

from dcluster import model
from dcluster.clouds.aws import AwsDriver
from dcluster.controller import Controller, Ports
from dcluster.model import Job, JobState
from tests.support.moto import AMI
from tests.unit.controller.memory_ports import MemScheduler, key_pool

SECRET = "engine-loop-secret-0123456789"


class Spot:
    """What DescribeSpotInstanceRequests shows the driver: as moto says, or every request still open."""

    def __init__(self):
        self.hold = False
        self.cancelled_but_fulfilled = False

    def __call__(self, req):
        if self.cancelled_but_fulfilled:  # the cancel came after EC2 fulfilled it: cancelled, with an instance
            return dict(req, State="cancelled", Status={"Code": "request-canceled-and-instance-running"})
        if self.hold:
            req = dict(req, State="open", Status={"Code": "capacity-not-available"})
            req.pop("InstanceId", None)
        return req


class Clock:
    def __init__(self):
        self.t = time.time()

    def __call__(self):
        return self.t


def aws(moto, **extra):
    return {
        "image_id": AMI,
        "instance_type": "t3.micro",
        "access_key_id": "AKIAEXAMPLEKEY000001",
        "secret_access_key": "moto-secret-value-xyz",
        "endpoint_url": moto.url,
        **extra,
    }


def pillar(moto, spot_timeout=300, spot_max=4, **settings):
    return {
        "secret": SECRET,
        "cluster": {"type": "slurm"},
        "cluster_name": "hpc",
        "worker_number": 2,
        "max_launch_time": 3600,
        "cloud_poller_interval": 10,
        "cloud": {
            "spot": {
                "type": "aws",
                "priority": 1,
                "cores": 2,
                "launch_batch": 1,
                "quantity": {"min": 0, "max": spot_max},
                "config": aws(moto, spot_bid="0.05", spot_timeout=spot_timeout),
            },
            "od": {"type": "aws", "priority": 2, "cores": 2, "quantity": {"min": 0, "max": 4}, "config": aws(moto)},
        },
        **settings,
    }


class Engine:
    """A Controller on the real AWS driver (one per resource, as the engine caches them) and moto."""

    def __init__(self, tmp_path, moto, data):
        self.sched, self.keys, self.events, self.clock, self.spot = MemScheduler(), set(), [], Clock(), Spot()
        self.data, self.path, self.drivers = data, str(tmp_path / "state.json"), {}
        self.calls: list[tuple[str, str, dict]] = []  # (resource, EC2 operation, params) of the drivers' calls
        self.c = self.start()

    def driver(self, cfg, res):
        if res.name not in self.drivers:
            drv = AwsDriver(res, cfg.cluster_name, cfg.secret, spot_view=self.spot)
            drv.client.meta.events.register(
                "provide-client-params.ec2.*",
                lambda params, model, name=res.name, **k: self.calls.append((name, model.name, dict(params))),
            )
            self.drivers[res.name] = drv
        return self.drivers[res.name]

    def start(self):
        ports = Ports(
            pillar=lambda: self.data,
            scheduler=lambda cfg: self.sched,
            driver=self.driver,
            fire=lambda tag, data: self.events.append((tag, data)),
            preaccept_key=lambda mid, pub: self.keys.add(mid),
            delete_key=self.keys.discard,
            accepted_keys=lambda: set(self.keys),
            hook=lambda argv, timeout: (0, ""),
            master_address="127.0.0.1",
        )
        return Controller(ports, state_path=self.path, clock=self.clock, keys=key_pool())

    def step(self, dt=10):
        self.clock.t += dt
        out = self.c.cycle()
        assert self.c.wait_idle(30)
        return out

    def ops(self, resource, op):
        return sum(1 for r, o, _ in self.calls if r == resource and o == op)

    def polls(self, resource):
        """DescribeSpotInstanceRequests calls of the request polls (the cloud listing makes its own)."""
        return sum(
            1
            for r, o, p in self.calls
            if r == resource
            and o == "DescribeSpotInstanceRequests"
            and any(f["Name"] == "spot-instance-request-id" for f in p.get("Filters", ()))
        )


def requests(ec2):
    return ec2.describe_spot_instance_requests()["SpotInstanceRequests"]


def ours(ec2, resource):
    out = {}
    for r in ec2.describe_instances(Filters=[{"Name": f"tag:{model.TAG_RESOURCE}", "Values": [resource]}])[
        "Reservations"
    ]:
        for i in r["Instances"]:
            tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            out[tags[model.TAG_MINION]] = i
    return out


def jobs(*ids):
    return [Job(str(i), JobState.PENDING, chunk_cores=2) for i in ids]


def test_pending_spot_requests_delay_no_registration_and_no_other_launch(tmp_path, moto, ec2):
    """Three spot requests stay open (with 2 launch threads, waiting in the create call held both):
    in the next cycle a configured worker is registered and the on-demand launch of another resource
    is made, both at once."""
    env = Engine(tmp_path, moto, pillar(moto))
    try:
        env.sched.jobs_ = jobs(1)
        env.step()  # the request: fulfilled at once by moto, adopted by the next cycle's poll
        env.step()
        (first,) = ours(ec2, "spot")
        env.spot.hold = True  # no spot capacity from now on
        env.sched.jobs_ = jobs(1, 2, 3, 4)
        began = time.monotonic()
        env.c.cycle()  # three more requests: spot is at its max (4)
        deadline = time.monotonic() + 10
        while env.ops("spot", "RequestSpotInstances") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert env.ops("spot", "RequestSpotInstances") == 4
        assert time.monotonic() - began < 10
        env.c.mark_configured(first, True)
        env.sched.jobs_ = jobs(1, 2, 3, 4, 5)  # one more job: spot is full, od launches
        env.clock.t += 10
        began = time.monotonic()
        env.c.cycle()
        while (first not in env.sched.nodes_ or env.ops("od", "RunInstances") < 1) and time.monotonic() - began < 10:
            time.sleep(0.05)
        assert first in env.sched.nodes_, "the registration waited behind the spot requests"
        assert env.ops("od", "RunInstances") == 1, "the on-demand launch waited behind the spot requests"
        assert env.c.wait_idle(30)
        assert len(ours(ec2, "od")) == 1
        open_ = [r for r in requests(ec2) if r["SpotInstanceRequestId"] in env.c.state.requests]
        assert len(open_) == 3 and env.polls("spot") >= 1
        # every open request counts toward max: nothing more is asked of spot while they wait
        env.step()
        assert env.ops("spot", "RequestSpotInstances") == 4
    finally:
        env.spot.hold = False
        env.c.shutdown()


def test_one_describe_call_a_cycle_polls_every_open_request(tmp_path, moto, ec2):
    env = Engine(tmp_path, moto, pillar(moto))
    env.spot.hold = True
    try:
        env.sched.jobs_ = jobs(1, 2, 3)
        env.step()
        assert len(env.c.state.requests) == 3
        before = env.polls("spot")
        env.step()
        assert env.polls("spot") == before + 1
        polls = [
            f["Values"]
            for r, o, p in env.calls
            if o == "DescribeSpotInstanceRequests"
            for f in p.get("Filters", ())
            if f["Name"] == "spot-instance-request-id"
        ]
        assert sorted(polls[-1]) == sorted(env.c.state.requests)  # all three in the one call
    finally:
        env.c.shutdown()


def test_a_restart_with_open_requests_adopts_them_without_a_second_request(tmp_path, moto, ec2):
    env = Engine(tmp_path, moto, pillar(moto))
    env.spot.hold = True
    env.sched.jobs_ = jobs(1, 2)
    env.step()
    asked = {r["minion"] for r in env.c.state.requests.values()}
    assert len(asked) == 2 and len(requests(ec2)) == 2
    env.c.shutdown()  # the master stops with both requests open
    env.spot.hold = False  # capacity came while it was down
    env.c = env.start()
    env.calls.clear()
    assert {r["minion"] for r in env.c.state.requests.values()} == asked  # remembered in state.json
    try:
        env.step()
        env.step()
        assert set(ours(ec2, "spot")) == asked  # adopted: tagged as ours, with their own ids
        assert len(requests(ec2)) == 2 and env.ops("spot", "RequestSpotInstances") == 0
        assert env.ops("od", "RunInstances") == 0 and not env.c.state.requests
        assert {w.name for w in env.c.view.workers} == asked
        assert all(w.instance.id.startswith("i-") for w in env.c.view.workers)
        assert asked <= env.keys  # their keys stay: the instances will use them
    finally:
        env.c.shutdown()


def test_requests_the_state_file_lost_are_found_again_by_their_tags(tmp_path, moto, ec2):
    """A master killed between the requests and the save: the next start finds them by their tags."""
    env = Engine(tmp_path, moto, pillar(moto))
    env.spot.hold = True
    env.sched.jobs_ = jobs(1, 2)
    env.step()
    asked = {r["minion"] for r in env.c.state.requests.values()}
    env.c.shutdown()
    os.unlink(env.path)
    env.c = env.start()
    env.calls.clear()
    try:
        env.step()  # found again, still open: tracked, nothing new asked (they count toward max)
        assert {r["minion"] for r in env.c.state.requests.values()} == asked
        assert env.ops("spot", "RequestSpotInstances") == 0 and env.ops("od", "RunInstances") == 0
        env.spot.hold = False
        env.step()
        env.step()
        assert set(ours(ec2, "spot")) == asked and not env.c.state.requests
        assert env.ops("spot", "RequestSpotInstances") == 0 and env.ops("od", "RunInstances") == 0
    finally:
        env.c.shutdown()


def test_at_the_deadline_requests_are_cancelled_and_replaced_on_demand(tmp_path, moto, ec2):
    env = Engine(tmp_path, moto, pillar(moto, spot_timeout=60))
    env.spot.hold = True
    try:
        env.sched.jobs_ = jobs(1)
        env.step()
        (mid,) = [r["minion"] for r in env.c.state.requests.values()]
        env.step(30)
        assert env.ops("spot", "CancelSpotInstanceRequests") == 0
        env.step(40)  # past the deadline: cancelled; moto forgets it at once (EC2 lists it for hours)
        assert env.ops("spot", "CancelSpotInstanceRequests") == 1 and requests(ec2) == []
        assert env.c.state.requests and env.ops("spot", "RunInstances") == 0  # one listing is not enough
        env.step()  # missing from a second listing: one on-demand instance with a new id
        assert not env.c.state.requests and mid not in env.keys
        env.step()
        launched = {k: v for k, v in ours(ec2, "spot").items() if v["State"]["Name"] != "terminated"}
        (new,) = launched
        assert new != mid and "InstanceLifecycle" not in launched[new]
        assert env.ops("spot", "RunInstances") == 1 and env.ops("spot", "RequestSpotInstances") == 1
        # moto fulfilled the request at once (the view hid it): that instance is no leak, as it never
        # carried our tags nor ran our user-data's key; EC2 would not have started it
        assert [e for t, e in env.events if t == "dcluster/action/launch/done" and e["resource"] == "spot"]
    finally:
        env.c.shutdown()


def test_a_request_fulfilled_while_being_cancelled_is_adopted(tmp_path, moto, ec2):
    env = Engine(tmp_path, moto, pillar(moto, spot_timeout=60))
    env.spot.hold = True
    try:
        env.sched.jobs_ = jobs(1)
        env.step()
        (mid,) = [r["minion"] for r in env.c.state.requests.values()]
        drv = env.drivers["spot"]

        def cancel_after_fulfilment(params, **kwargs):
            # EC2 fulfilled it just before the cancel: the request is cancelled, its instance runs on
            env.spot.hold, env.spot.cancelled_but_fulfilled = False, True
            return {
                "CancelledSpotInstanceRequests": [
                    {"SpotInstanceRequestId": i, "State": "cancelled"} for i in params["SpotInstanceRequestIds"]
                ]
            }

        drv.client.meta.events.register(
            "before-call.ec2.CancelSpotInstanceRequests", lambda params, **k: _answer(cancel_after_fulfilment(params))
        )
        env.step(70)
        env.step()
        found = ours(ec2, "spot")
        assert set(found) == {mid} and found[mid]["InstanceLifecycle"] == "spot"
        assert env.ops("spot", "RunInstances") == 0 and not env.c.state.requests  # adopted, not replaced
        assert mid in {w.name for w in env.c.view.workers} and mid in env.keys
    finally:
        env.c.shutdown()


def _answer(parsed):
    """A botocore before-call answer: the call is not sent, ``parsed`` is its result."""
    from botocore.awsrequest import AWSResponse

    return AWSResponse("http://127.0.0.1/", 200, {}, None), parsed


def test_without_the_fallback_an_unfulfilled_request_backs_the_resource_off(tmp_path, moto, ec2):
    data = pillar(moto, spot_timeout=60)
    data["cloud"]["spot"]["config"]["spot_fallback_on_demand"] = False
    env = Engine(tmp_path, moto, data)
    env.spot.hold = True
    try:
        env.sched.jobs_ = jobs(1)
        env.step()
        (mid,) = [r["minion"] for r in env.c.state.requests.values()]
        env.step(70)
        env.step()  # the cancelled request missing from two listings: not fulfilled
        assert env.ops("spot", "CancelSpotInstanceRequests") == 1 and not env.c.state.requests
        assert env.ops("spot", "RunInstances") == 0 and mid not in env.keys
        backoff = env.c.state.backoff["spot"]
        assert backoff.kind == "capacity" and "not fulfilled within 60 s" in backoff.last_error
        failed = [e for t, e in env.events if t == "dcluster/action/launch/failed"]
        assert failed and failed[-1]["error_kind"] == "capacity"
    finally:
        env.c.shutdown()


def test_an_open_request_whose_worker_is_destroyed_is_not_replaced(tmp_path, moto, ec2):
    """max_launch_time before the request's deadline: the planner destroys the worker (the request is
    cancelled); the poll then finds nothing to launch on demand in its place."""
    env = Engine(tmp_path, moto, pillar(moto, spot_timeout=3000, max_launch_time=60))
    env.spot.hold = True
    try:
        env.sched.jobs_ = jobs(1)
        env.step()
        (rid,) = env.c.state.requests
        env.step(70)  # never joined: destroyed (once polls agree it is not in the scheduler), request cancelled
        for _ in range(4):
            env.step(30)
        assert rid not in env.c.state.requests
        assert rid not in {r["SpotInstanceRequestId"] for r in requests(ec2)}
        assert env.ops("spot", "RunInstances") == 0  # not replaced on demand
        assert [e for t, e in env.events if t == "dcluster/action/destroy/done" and e["instance_id"] == rid]
    finally:
        env.c.shutdown()
