"""The dcluster pillar: validation, defaults, errors with key paths, secrets, commands."""

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from dcluster.config import Command, CommandError, ConfigError, Secret, errors, keys, load
from dcluster.config.schema import CommandSpec, Dict, MapOf, Typed

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "pillar.example").read_text()
MIN = {"secret": "0123456789abcdef", "cluster": {"type": "slurm"}}


def example_variants():
    """pillar.example as given, and with each commented-out cluster block swapped in."""
    base = yaml.safe_load(EXAMPLE)["dcluster"]
    yield "torque", base
    for name, block in re.findall(r"^#>>> (\w+):.*?\n(.*?)^#<<<", EXAMPLE, re.S | re.M):
        text = "\n".join(line[1:] for line in block.splitlines() if line.startswith("#"))
        variant = dict(base)
        variant["cluster"] = yaml.safe_load(text)["cluster"]
        yield name, variant


@pytest.mark.parametrize("name, data", list(example_variants()), ids=lambda x: x if isinstance(x, str) else "")
def test_pillar_example_validates(name, data):
    cfg = load(data)
    assert cfg.cluster.type == name


def test_pillar_example_has_all_three_schedulers():
    assert [n for n, _ in example_variants()] == ["torque", "sge", "slurm"]


def _all_keys(spec, out):
    if isinstance(spec, Typed):
        for variant in spec.variants.values():
            _all_keys(variant, out)
    if isinstance(spec, Dict):
        for key, sub in spec.fields.items():
            out.add(key)
            _all_keys(sub, out)
    elif isinstance(spec, MapOf):
        _all_keys(spec.value, out)
    return out


def test_pillar_example_documents_every_key_with_a_comment():
    lines = EXAMPLE.splitlines()
    missing = []
    for key in sorted(_all_keys(keys.ROOT, set())):
        pattern = re.compile(rf"^#?\s*{re.escape(key)}:")
        hits = [i for i, line in enumerate(lines) if pattern.match(line.strip()) or pattern.match(line)]
        if not hits:
            missing.append(key)
            continue
        # the key, or the block it sits in, has a comment within the 3 lines above it
        if not any(any("#" in lines[j] for j in range(max(0, i - 3), i)) or "#" in lines[i] for i in hits):
            missing.append(f"{key} (no comment)")
    assert missing == [], "\n".join(missing)


def test_seed_defaults():
    cfg = load(MIN)
    assert (cfg.max_idle_time, cfg.max_down_time, cfg.max_launch_time) == (600, 480, 1200)
    assert (cfg.cluster_poller_interval, cfg.cloud_poller_interval, cfg.auto_provision_interval) == (10, 20, 60)
    assert cfg.worker_number == 2 and cfg.auto_mode is True
    assert cfg.cluster.config.queued_job_number_to_display == 30
    torque = load({**MIN, "cluster": {"type": "torque"}}).cluster.config
    assert torque.qstat_command.argv == ("/usr/bin/qstat", "-x", "-t")
    assert torque.add_node_command.render("n1") == ["/usr/bin/qmgr", "-c", "create node n1"]
    # log_level unset leaves dcluster's loggers at Salt's level (Dynamic Cluster's sample shows 3 as an example, no default)
    assert dict(cfg.plugins) == {} and cfg.logging["log_level"] is None


def test_all_errors_are_reported_at_once_with_full_key_paths():
    bad = {
        "secret": "0123456789abcdef",
        "max_idel_time": 5,
        "cluster_poller_interval": 0,
        "auto_mode": "yes",
        "cluster": {"type": "pbspro"},
        "cloud": {
            "nectar": {
                "type": "openstack",
                "quantity": {"min": 2, "max": 0},
                "config": {"auth_url": "https://k", "image_uuid": "i", "flavor": "f"},
            },
            "Bad_Name": {"type": "aws"},
            "ec2": {"type": "aws", "config": {"image_id": "ami-1", "instance_type": "t3.micro", "spot_bid": [1]}},
        },
    }
    errs = errors(bad)
    expected = [
        "dcluster:max_idel_time: unknown key (did you mean 'max_idle_time'?)",
        "dcluster:cluster_poller_interval: 0 is below the minimum 1",
        "dcluster:auto_mode: 'yes' is not true or false",
        "dcluster:cluster:type: 'pbspro' is not one of torque, sge, slurm",
        "dcluster:cloud:nectar:quantity:max: 0 is below min 2",
        "dcluster:cloud:nectar:config: needs username and password, or application_credential_id and "
        "application_credential_secret",
        "dcluster:cloud:Bad_Name: name must be 1-16 lowercase letters and digits, starting with a letter",
        "dcluster:cloud:ec2:config:spot_bid: [1] is not a number or a string",
    ]
    for line in expected:
        assert line in errs, (line, errs)
    assert len(errs) == len(expected)


def test_required_keys_and_typos_in_nested_sections():
    errs = errors(
        {**MIN, "cloud": {"r": {"type": "openstack", "config": {"username": "u", "password": "p", "projet": "x"}}}}
    )
    assert "dcluster:cloud:r:config:auth_url: required, but not set" in errs
    assert "dcluster:cloud:r:config:projet: unknown key (did you mean 'project'?)" in errs
    assert "dcluster:secret: required, but not set" in errors({"cluster": {"type": "slurm"}})


def test_empty_optional_keys_mean_not_set():
    # Dynamic Cluster's sample config shipped empty spot_bid/subnet_id/availability_zone: they are "not set", not null values.
    cfg = load(
        {
            **MIN,
            "cloud": {
                "ec2": {
                    "type": "aws",
                    "config": {
                        "image_id": "ami-1",
                        "instance_type": "t3.micro",
                        "spot_bid": "",
                        "subnet_id": None,
                        "availability_zone": "",
                    },
                }
            },
        }
    )
    conf = cfg.resources["ec2"].config
    assert conf["spot_bid"] is None and conf["subnet_id"] is None and conf["spot_timeout"] == 300


def test_config_is_immutable():
    cfg = load(MIN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.max_idle_time = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.cluster.config.queue_to_monitor = ("x",)
    with pytest.raises(TypeError):
        cfg.cluster.config.command_env["X"] = "y"


SECRETS = ("hunter2-password", "AKIA-secret-key-value", "app-cred-secret-value", "0123456789abcdef-the-secret")


def _secret_pillar():
    return {
        "secret": SECRETS[3],
        "cluster": {"type": "slurm"},
        "cloud": {
            "os": {
                "type": "openstack",
                "config": {
                    "username": "u",
                    "password": SECRETS[0],
                    "project": "p",
                    "auth_url": "https://k",
                    "image_uuid": "i",
                    "flavor": "f",
                },
            },
            "os2": {
                "type": "openstack",
                "config": {
                    "application_credential_id": "id",
                    "application_credential_secret": SECRETS[2],
                    "auth_url": "https://k",
                    "image_uuid": "i",
                    "flavor": "f",
                },
            },
            "ec2": {"type": "aws", "config": {"image_id": "a", "instance_type": "t", "secret_access_key": SECRETS[1]}},
        },
    }


def test_secrets_never_show_in_repr_str_or_redacted_output():
    cfg = load(_secret_pillar())
    for text in (repr(cfg), str(cfg), repr(cfg.redacted()), f"{cfg.secret}", "%s" % cfg.secret):  # noqa: UP031 - %-formatting is what is under test
        for s in SECRETS:
            assert s not in text
    assert cfg.resources["os"].config["password"].reveal() == SECRETS[0]
    assert cfg.redacted()["resources"]["ec2"]["config"]["secret_access_key"] == "********"


def test_secrets_never_show_in_validation_errors():
    data = _secret_pillar()
    data["secret"] = "short-secret"  # too short: the error must not echo it
    data["cloud"]["os"]["config"]["password"] = ["not", "a", "string", SECRETS[0]]
    text = str(ConfigError(errors(data)))
    assert "short-secret" not in text and SECRETS[0] not in text
    assert "dcluster:secret: <secret> is shorter than 16 characters" in text
    assert "dcluster:cloud:os:config:password: <secret> is not a string" in text


def test_secret_pickles_without_printing():
    import pickle

    s = Secret("pw-123456")
    assert pickle.loads(pickle.dumps(s)).reveal() == "pw-123456"
    assert "pw-123456" not in repr(s)


@pytest.mark.parametrize(
    "template",
    [
        "/usr/bin/showres -n | grep {0}",
        "/usr/bin/releaseres `/usr/bin/showres -n | grep User`",
        "/usr/bin/qconf -sp {0} | grep allocation_rule | awk '{{print $2}}'",
        "qdel {0}; rm -rf /",
        "qstat > /tmp/x",
        "echo $(id)",
    ],
)
def test_shell_templates_are_refused_with_the_key_path(template):
    errs = errors({**MIN, "cluster": {"type": "torque", "config": {"showres_command": template}}})
    assert len(errs) == 1
    assert errs[0].startswith("dcluster:cluster:config:showres_command: ")
    assert "without a shell" in errs[0] or "cannot be split" in errs[0]


def test_command_values_stay_inside_one_argument_and_unsafe_ones_are_refused():
    cmd = Command.parse('/usr/bin/qmgr -c "set node {0} {1} {2} {3}"')
    assert cmd.render("n1", "np", "=", 4) == ["/usr/bin/qmgr", "-c", "set node n1 np = 4"]
    for evil in ("n1; rm -rf /", "$(reboot)", "`id`", "a|b", "-o\nx", "n1 && x"):
        with pytest.raises(CommandError):
            cmd.render(evil, "np", "=", 1)
    assert Command.parse("/usr/bin/qhost -q -j -xml {0} {1}").render("", "") == ["/usr/bin/qhost", "-q", "-j", "-xml"]
    assert Command.parse("/usr/bin/qmod {0} *@{1}").render("-d", "w1") == ["/usr/bin/qmod", "-d", "*@w1"]


def test_legacy_salt_checker_plugin_means_salt():
    cfg = load({**MIN, "config-checker": {"plugin": {"name": "dynamiccluster.salt.SaltChecker"}}})
    assert "salt" in cfg.config_checker
    cfg = load({**MIN, "config_checker": {"port": {"number": 15002}}})
    assert cfg.config_checker["port"]["number"] == 15002


def test_local_cloud_refuses_addresses_outside_loopback():
    errs = errors({**MIN, "cloud": {"l": {"type": "local", "config": {"network": "10.0.0.0/24"}}}})
    assert errs == ["dcluster:cloud:l:config:network: '10.0.0.0/24' is not inside 127.0.0.0/8"]


def test_every_command_default_is_a_plain_command():
    for variant in keys.CLUSTER_CONFIGS.values():
        for key, spec in variant.fields.items():
            if isinstance(spec, CommandSpec) and spec.default:
                assert Command.parse(spec.default).argv, key
