"""Spot requests as a hostile or buggy cloud lists them: nothing is adopted or held on its word alone.

A listing that names an instance the request did not launch adopts nothing.

Adoption tags the instance as ours, and an instance tagged as ours is drained
and destroyed like any worker: a buggy or hostile DescribeSpotInstanceRequests
answer pointing a fulfilled request of ours at an unrelated on-demand instance
(a database, another cluster's node) must not make it ours.  Real AWS driver
and real boto3 against moto in server mode; the answer is altered through the
driver's documented ``spot_view`` seam.
"""

import os
from datetime import UTC, datetime

from dcluster import model
from tests.functional.test_aws_spot_loop import AMI, Engine, jobs, pillar


def tags_of(ec2, iid):
    (res,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    return {t["Key"]: t["Value"] for t in res["Instances"][0].get("Tags", [])}


def test_a_request_listed_with_a_foreign_instance_does_not_tag_it_as_ours(tmp_path, moto, ec2):
    foreign = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0][
        "InstanceId"
    ]
    env = Engine(tmp_path, moto, pillar(moto))
    env.spot = lambda req: dict(req, InstanceId=foreign) if req.get("InstanceId") else req
    try:
        env.sched.jobs_ = jobs(1)
        env.step()  # the request (moto fulfils it at once)
        env.step()  # the poll: the listing names the foreign instance
        env.step()
        assert model.TAG_CLUSTER not in tags_of(ec2, foreign), "an instance the request did not launch was adopted"
        assert not any(i.id == foreign for i in env.c.state.recent_launches.values())
    finally:
        env.c.shutdown()


def test_a_request_found_again_waits_no_longer_than_spot_timeout(tmp_path, moto, ec2):
    """A request the state file lost, found again by its tags, is cancelled by spot_timeout whatever
    ValidUntil the listing gives (one made without it lives 7 days on EC2; a hostile answer says years):
    until then its worker counts toward max, so a far ValidUntil would hold that slot all along."""
    env = Engine(tmp_path, moto, pillar(moto, spot_timeout=60))
    env.spot.hold = True
    held = env.spot
    env.sched.jobs_ = jobs(1)
    env.step()
    env.c.shutdown()
    os.unlink(env.path)
    env.spot = lambda req: dict(held(req), ValidUntil=datetime.fromtimestamp(env.clock.t + 30 * 86400, UTC))
    env.drivers.clear()
    env.c = env.start()
    env.calls.clear()
    try:
        env.step()  # found again, still open: tracked
        assert len(env.c.state.requests) == 1
        env.step(70)  # past spot_timeout since it was found: cancelled
        assert env.ops("spot", "CancelSpotInstanceRequests") == 1
    finally:
        held.hold = False
        env.c.shutdown()


def test_a_cancelled_request_missing_from_one_listing_is_not_replaced_yet(tmp_path, moto, ec2):
    """After the cancel, EC2 still lists a request (with its instance, if it was fulfilled first): one
    listing without it (moto forgets it at once) replaces nothing; a second one does."""
    env = Engine(tmp_path, moto, pillar(moto, spot_timeout=60))
    env.spot.hold = True
    try:
        env.sched.jobs_ = jobs(1)
        env.step()
        (rid,) = env.c.state.requests
        env.step(70)  # cancelled at the deadline; the look after the cancel does not show it
        assert env.ops("spot", "CancelSpotInstanceRequests") == 1
        assert rid in env.c.state.requests and env.ops("spot", "RunInstances") == 0
        env.step()  # missing again: replaced on demand
        assert rid not in env.c.state.requests and env.ops("spot", "RunInstances") == 1
    finally:
        env.c.shutdown()


def test_a_request_whose_instance_is_refused_is_cancelled_and_replaced_at_its_deadline(tmp_path, moto, ec2):
    # Red team: a refused adoption left the request tracked for ever; its worker counted toward max and
    # no replacement was launched.  At spot_timeout it is cancelled and replaced on demand, like an
    # unfulfilled one, and the foreign instance stays untouched.
    foreign = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0][
        "InstanceId"
    ]
    env = Engine(tmp_path, moto, pillar(moto, spot_timeout=60))
    env.spot = lambda req: dict(req, InstanceId=foreign) if req.get("InstanceId") else req
    try:
        env.sched.jobs_ = jobs(1)
        env.step()
        env.step()
        assert len(env.c.state.requests) == 1  # refused, still waiting: within its deadline
        env.step(70)  # past spot_timeout
        env.step()
        assert env.c.state.requests == {}
        assert env.ops("spot", "CancelSpotInstanceRequests") == 1
        assert env.ops("spot", "RunInstances") == 1  # the on-demand replacement
        ours = [
            i["InstanceId"]
            for r in ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": [model.TAG_CLUSTER]}])[
                "Reservations"
            ]
            for i in r["Instances"]
        ]
        assert len(ours) == 1 and foreign not in ours
        assert model.TAG_CLUSTER not in tags_of(ec2, foreign)
    finally:
        env.c.shutdown()
