"""A spot request listing that names an instance the request did not launch adopts nothing.

Adoption tags the instance as ours, and an instance tagged as ours is drained
and destroyed like any worker: a buggy or hostile DescribeSpotInstanceRequests
answer pointing a fulfilled request of ours at an unrelated on-demand instance
(a database, another cluster's node) must not make it ours.  Real AWS driver
and real boto3 against moto in server mode; the answer is altered through the
driver's documented ``spot_view`` seam.
"""

import boto3
import pytest

from dcluster import model
from tests.functional.test_aws_spot_loop import AMI, Engine, jobs, pillar
from tests.support.moto import MotoServer


@pytest.fixture(scope="module")
def moto():
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ec2(moto):
    moto.reset()
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def tags_of(ec2, iid):
    (res,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    return {t["Key"]: t["Value"] for t in res["Instances"][0].get("Tags", [])}


def test_a_request_listed_with_a_foreign_instance_does_not_tag_it_as_ours(tmp_path, moto, ec2):
    foreign = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"][0]["InstanceId"]
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
