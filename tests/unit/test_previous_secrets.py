"""previous_secrets and retired_resources in the pillar: validated, masked everywhere, honoured by every
check of an id (identity.parse, the drivers' verified, the engine's driver cache)."""

import pytest

from dcluster import config as dconfig
from dcluster import identity, scrub
from dcluster.clouds.registry import driver_for
from dcluster.glue.engine_ports import DriverCache

OLD = "old-secret-0123456789"
NEW = "new-secret-9876543210"


def pillar(**over):
    data = {
        "secret": NEW,
        "cluster": {"type": "slurm"},
        "cloud": {"r1": {"type": "local", "quantity": {"min": 0, "max": 2}}},
    }
    data.update(over)
    return data


def test_previous_secrets_are_secrets_masked_everywhere():
    cfg = dconfig.load(pillar(previous_secrets=[OLD]))
    assert cfg.secrets == (cfg.secret, cfg.previous_secrets[0])
    assert cfg.previous_secrets[0].reveal() == OLD
    assert OLD not in repr(cfg) and OLD not in str(cfg.redacted())
    assert OLD in scrub.known_values(cfg)  # so the log filter, events and state mask it


def test_previous_secrets_validation_never_shows_the_value():
    errors = dconfig.errors(pillar(previous_secrets=["short-one", 5, {"a": 1}]))
    assert any(e.startswith("dcluster:previous_secrets:0: <secret> is shorter than 16") for e in errors), errors
    assert any(e.startswith("dcluster:previous_secrets:2: <secret> is not a string") for e in errors), errors
    assert not any("short-one" in e for e in errors)
    assert dconfig.errors(pillar(previous_secrets=OLD)) == []  # one string is a one-item list


def test_the_current_secret_is_not_a_previous_one():
    assert dconfig.load(pillar(previous_secrets=[NEW, OLD])).previous_secrets == (dconfig.Secret(OLD),)


def test_a_resource_is_in_use_or_retired_not_both():
    r1 = {"type": "local"}
    errors = dconfig.errors(pillar(retired_resources={"r1": r1}))
    assert errors == ["dcluster:retired_resources:r1: also under cloud; a resource is either in use or retired"]
    cfg = dconfig.load(pillar(retired_resources={"old": {"type": "local", "quantity": {"min": 1, "max": 3}}}))
    assert cfg.retired["old"].max == 0 and cfg.retired["old"].min == 0  # never launched
    assert cfg.resource("old") is cfg.retired["old"] and cfg.resource("r1") is cfg.resources["r1"]
    assert "old" not in cfg.resources


def test_parse_accepts_any_of_several_secrets():
    mid = identity.make("dc", "r1", OLD)
    assert identity.parse(mid, NEW, "dc") is None
    assert identity.parse(mid, (NEW, OLD), "dc").resource == "r1"
    cfg = dconfig.load(pillar(previous_secrets=[OLD]))
    assert identity.parse(mid, cfg.secrets, "dc") is not None


def test_drivers_verify_previous_secrets_but_launch_only_under_the_current_one():
    cfg = dconfig.load(pillar(previous_secrets=[OLD]))
    drv = driver_for(cfg.resources["r1"], cfg)
    assert drv.verified(identity.make("dc", "r1", OLD)) and drv.verified(identity.make("dc", "r1", NEW))
    assert not drv.verified(identity.make("dc", "r1", "another-secret-0123"))
    with pytest.raises(ValueError):
        drv.check_ids(1, [identity.make("dc", "r1", OLD)])
    assert drv.check_ids(1, [identity.make("dc", "r1", NEW)])


def test_the_engine_rebuilds_a_driver_when_the_secret_rotates():
    cache = DriverCache()
    before = dconfig.load(pillar(secret=OLD))
    after = dconfig.load(pillar(previous_secrets=[OLD]))
    d1 = cache(before, before.resources["r1"])
    assert cache(before, before.resources["r1"]) is d1
    d2 = cache(after, after.resources["r1"])
    assert d2 is not d1 and d2.secret == after.secret and d2.previous_secrets == after.previous_secrets
