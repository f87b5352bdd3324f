"""Tags that make an instance ours, batch id lists, and the driver's id checks."""

import pytest

from dcluster import config, identity, model
from dcluster.clouds import base

SECRET = "0123456789abcdef0123"


def _ids(n, cluster="hpc", resource="ec2", secret=SECRET):
    return [identity.make(cluster, resource, secret) for _ in range(n)]


def test_tags_for_carries_cluster_resource_minion_and_time():
    tags = base.tags_for("hpc", "ec2", "hpc-ec2-abcdef-0123456789ab", 1700000000.25)
    assert tags == {
        model.TAG_CLUSTER: "hpc",
        model.TAG_RESOURCE: "ec2",
        model.TAG_MINION: "hpc-ec2-abcdef-0123456789ab",
        model.TAG_LAUNCHED: "1700000000.250",
    }
    assert base.launch_time_from(tags, 5.0) == 1700000000.25
    assert base.launch_time_from({}, 5.0) == 5.0
    assert base.launch_time_from({model.TAG_LAUNCHED: "garbage"}, 7.0) == 7.0
    for bad in ("nan", "inf", "-Infinity"):  # float() takes them: no age or rate is a number with one
        assert base.launch_time_from({model.TAG_LAUNCHED: bad}, 7.0) == 7.0


def test_the_minion_tag_names_the_instance():
    mid = _ids(1)[0]
    assert base.minion_from_tags(base.tags_for("hpc", "ec2", mid), None) == mid


@pytest.mark.parametrize("n", [2, 13, 50])
def test_instances_of_batches_launched_by_earlier_releases_are_still_recognised(n):
    # As releases before per-instance keys tagged one multi-instance call: no minion tag, the batch's
    # ids (without the cluster-resource stem) 12 to a dcluster-ids-<k> tag, in launch-index order.
    ids = _ids(n)
    tails = [m[len("hpc-ec2-") :] for m in ids]
    tags = {model.TAG_CLUSTER: "hpc", model.TAG_RESOURCE: "ec2", base.TAG_BATCH: "tok"}
    for k in range(0, n, 12):
        tags[f"{base.TAG_IDS}{k // 12}"] = " ".join(tails[k : k + 12])
    assert base.batch_ids(tags) == ids
    for i, mid in enumerate(ids):
        assert base.minion_from_tags(tags, i) == mid
    assert base.minion_from_tags(tags, n) == ""
    assert base.minion_from_tags(tags, None) == ""


def _driver(resource="ec2"):
    cfg = config.load(
        {
            "secret": SECRET,
            "cluster": {"type": "slurm"},
            "cluster_name": "hpc",
            "cloud": {resource: {"type": "local", "config": {"state_dir": "/nonexistent"}}},
        }
    )

    class D(base.Driver):
        def instances(self):
            return []

        def launch(self, count, minion_ids, userdata_for):
            return base.LaunchResult([], count)

        def destroy(self, ids):
            return {}

        def cores(self):
            return 1

        def mem_mb(self):
            return 1

    return D(cfg.resources[resource], cfg.cluster_name, cfg.secret)


def test_ownership_needs_cluster_resource_and_a_valid_hmac():
    d = _driver()
    good = _ids(1)[0]
    assert d.is_ours({model.TAG_CLUSTER: "hpc", model.TAG_RESOURCE: "ec2"})
    assert not d.is_ours({model.TAG_CLUSTER: "hpc2", model.TAG_RESOURCE: "ec2"})
    assert not d.is_ours({model.TAG_CLUSTER: "hpc", model.TAG_RESOURCE: "ec"})
    assert not d.is_ours({"Name": good})  # a name alone never makes an instance ours
    assert d.verified(good)
    assert not d.verified(_ids(1, secret="another-secret-of-16")[0])  # same cluster name, other deployment
    assert not d.verified(_ids(1, resource="other")[0])


def test_check_ids_wants_count_ids_of_this_resource():
    d = _driver()
    ids = _ids(2)
    assert d.check_ids(2, ids) == ids
    with pytest.raises(ValueError, match="needs 3"):
        d.check_ids(3, ids)
    with pytest.raises(ValueError, match="not a minion id"):
        d.check_ids(1, ["hpc-ec2-000000-000000000000"])


def test_launch_result_reports_partial_exactly():
    inst = model.Instance(id="i-1", resource="ec2", minion_id="m", state=model.InstanceState.PENDING, launch_time=1.0)
    r = base.LaunchResult([inst], requested=3)
    assert r.partial and r.launched == 1
    d = r.to_dict()
    assert d["requested"] == 3 and d["launched"] == 1 and d["partial"] is True and d["error"] is None
    assert d["instances"][0]["state"] == "pending"
