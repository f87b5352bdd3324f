"""Each cloud's section is a typed, frozen object built once by ``load``; its defaults are written once."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from dcluster import config as dconfig
from dcluster.clouds.aws import AwsDriver
from dcluster.clouds.errors import InvalidConfig
from dcluster.config import clouds, keys
from dcluster.config.schema import MISSING, Dict, check
from dcluster.config.secret import Secret
from dcluster.planner import backoff

PILLAR = {
    "secret": "s" * 24,
    "cluster": {"type": "slurm"},
    "cloud": {
        "ec2": {
            "type": "aws",
            "config": {
                "image_id": "ami-1",
                "instance_type": "t3.micro",
                "secret_access_key": "AKIA-the-secret-value",
                "spot_bid": 0.05,
                "disk_map": {"scratch": {"device": "/dev/sdb", "size": 20}},
            },
        },
        "os": {
            "type": "openstack",
            "config": {
                "username": "u",
                "password": "the-keystone-password",
                "project": "p",
                "auth_url": "https://keystone.example:5000/v3",
                "image_uuid": "img",
                "flavor": "m1.small",
                "boot_from_volume": {"size_gb": 30},
            },
        },
        "loc": {"type": "local"},
    },
}


def test_load_builds_one_typed_object_per_cloud_type():
    cfg = dconfig.load(PILLAR)
    ec2, os_, loc = (cfg.resources[n].config for n in ("ec2", "os", "loc"))
    assert isinstance(ec2, clouds.AwsConfig) and isinstance(os_, clouds.OpenStackConfig)
    assert isinstance(loc, clouds.LocalConfig)
    assert (ec2.spot_timeout, ec2.spot_fallback_on_demand, ec2.region_name, ec2.spot) == (300, True, "us-east-1", True)
    assert ec2.disk_map["scratch"] == clouds.Disk(device="/dev/sdb", size=20)
    assert ec2.disk_map["scratch"].volume_type == "gp3"
    assert isinstance(ec2.secret_access_key, Secret) and ec2.secrets == (ec2.secret_access_key,)
    assert os_.boot_from_volume == clouds.BootFromVolume(size_gb=30) and os_.user_domain_name == "Default"
    assert (loc.cores, loc.mem_mb, loc.gateway, loc.state_dir) == (
        2,
        2048,
        "127.200.0.1",
        "/var/lib/dcluster/local-cloud",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        ec2.spot_timeout = 1  # type: ignore[misc]


def _schema_defaults(spec: Dict, cls: type, path: str = "") -> list[tuple[str, object, object]]:
    out = []
    for name, field in spec.fields.items():
        if isinstance(field, Dict) and field.fields:
            sub = {"boot_from_volume": clouds.BootFromVolume}[name]
            out += _schema_defaults(field, sub, f"{path}{name}:")
        elif field.default is not MISSING:
            out.append((f"{path}{name}", field.default, clouds.default(cls, name)))
    return out


@pytest.mark.parametrize(
    ("spec", "cls"),
    [(keys.AWS, clouds.AwsConfig), (keys.OPENSTACK, clouds.OpenStackConfig), (keys.LOCAL, clouds.LocalConfig)],
)
def test_the_schema_takes_every_default_from_the_typed_class(spec, cls):
    found = _schema_defaults(spec, cls)
    assert found and all(given == typed for _, given, typed in found), found
    assert set(spec.fields) == {f.name for f in dataclasses.fields(cls)}
    for name, field in keys.DISK.fields.items():
        if field.default is not MISSING:
            assert field.default == clouds.default(clouds.Disk, name)


def test_a_section_still_reads_as_the_validated_pillar():
    """What shows the pillar (redacted status) and the bootstrap breaker's fingerprint, kept in
    state.json, see the section exactly as before it was typed."""
    cfg = dconfig.load(PILLAR)
    validated = check(PILLAR, keys.ROOT, ("dcluster",))
    for name, res in cfg.resources.items():
        plain = validated["cloud"][name]["config"]
        assert list(res.config) == list(plain)
        text = json.dumps({"type": res.type, "config": plain}, sort_keys=True, default=backoff._plain)
        assert backoff.fingerprint(res) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert cfg.redacted()["resources"]["ec2"]["config"]["secret_access_key"] == "********"
    assert "the-keystone-password" not in repr(cfg) + repr(cfg.redacted())


def test_a_driver_refuses_the_settings_of_another_cloud_type():
    cfg = dconfig.load(PILLAR)
    with pytest.raises(
        InvalidConfig, match="dcluster:cloud:loc:config: LocalConfig given to the aws driver, which takes AwsConfig"
    ):
        AwsDriver(cfg.resources["loc"], cfg.cluster_name, cfg.secret)
