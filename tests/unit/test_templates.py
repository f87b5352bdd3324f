"""The all-in-one templates (templates/openstack, templates/aws) without a validator.

cfn-lint and Heat's own parser run in ``make validate-templates`` (a venv of their own); these
checks need neither: both templates parse, every parameter is used, the user-data they embed is
templates/head-userdata.sh byte for byte, no default opens anything to the whole Internet, no
secret parameter is echoed, and every value spliced into the user-data's shell assignments is
constrained to exclude a quote.  The script's own checks of its variables run here too.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "templates", "head-userdata.sh")
HOT = os.path.join(REPO, "templates", "openstack", "all-in-one.yaml")
CFN = os.path.join(REPO, "templates", "aws", "all-in-one.yaml")
SECRET_NAME = re.compile(r"secret|password|token", re.IGNORECASE)


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref X, !GetAtt A.B, !Sub ...) as long forms."""


def _short_form(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _short_form)


def load_hot() -> dict[str, Any]:
    with open(HOT) as fh:
        return yaml.safe_load(fh)


def load_cfn() -> dict[str, Any]:
    with open(CFN) as fh:
        return yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader plus the short-form tags


def script() -> str:
    with open(SCRIPT) as fh:
        return fh.read()


def walk(node: Any):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def hot_userdata() -> tuple[str, dict[str, Any], str]:
    """The header template, its params, and the embedded script of the HOT head server."""
    join = load_hot()["resources"]["head"]["properties"]["user_data"]["list_join"]
    header, body = join[1]
    return header["str_replace"]["template"], header["str_replace"]["params"], body


def cfn_userdata() -> tuple[str, str]:
    join = load_cfn()["Resources"]["Head"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Join"]
    header, body = join[1]
    return header["Fn::Sub"], body


def test_both_templates_parse_with_their_sections():
    hot = load_hot()
    assert str(hot["heat_template_version"]) == "2018-08-31"
    assert {"parameters", "resources", "outputs"} <= set(hot)
    cfn = load_cfn()
    assert cfn["AWSTemplateFormatVersion"] == "2010-09-09"
    assert {"Parameters", "Resources", "Outputs"} <= set(cfn)


def test_the_embedded_userdata_is_the_script():
    assert hot_userdata()[2] == script()
    assert cfn_userdata()[1] == script()


def test_every_hot_parameter_is_used():
    hot = load_hot()
    used = {n["get_param"] for n in walk(hot["resources"]) if isinstance(n, dict) and "get_param" in n}
    used |= {n["get_param"] for n in walk(hot.get("conditions", {})) if isinstance(n, dict) and "get_param" in n}
    assert set(hot["parameters"]) - used == set()


def test_every_cfn_parameter_is_used():
    cfn = load_cfn()
    used = {n["Ref"] for n in walk(cfn["Resources"]) if isinstance(n, dict) and "Ref" in n}
    used |= {n["Ref"] for n in walk(cfn["Conditions"]) if isinstance(n, dict) and "Ref" in n}
    for node in walk(cfn["Resources"]):
        if isinstance(node, dict) and isinstance(node.get("Fn::Sub"), str):
            used |= {m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9:.]+)\}", node["Fn::Sub"])}
    assert set(cfn["Parameters"]) - used == set()


def test_no_default_opens_anything_to_the_whole_internet():
    hot, cfn = load_hot(), load_cfn()
    prose = {"description", "label", "Description", "ConstraintDescription", "GroupDescription"}
    for template in (hot, cfn):
        values = [
            v
            for n in walk(template)
            if isinstance(n, dict)
            for k, v in n.items()
            if k not in prose and isinstance(v, str)
        ]
        assert values and not [v for v in values if "0.0.0.0/0" in v or "::/0" in v]
    # every rule's source is a parameter without a default, or a security group of the stack
    for rule in (
        r
        for sg in ("head_security_group", "worker_security_group")
        for r in hot["resources"][sg]["properties"]["rules"]
    ):
        if "remote_ip_prefix" in rule:
            name = rule["remote_ip_prefix"]["get_param"]
            assert "default" not in hot["parameters"][name], name
        else:
            assert rule["remote_mode"] == "remote_group_id", rule
    rules = [
        r
        for sg in ("HeadSecurityGroup", "WorkerSecurityGroup")
        for r in cfn["Resources"][sg]["Properties"]["SecurityGroupIngress"]
    ]
    rules.append(cfn["Resources"]["WorkerToWorker"]["Properties"])
    for rule in rules:
        if "CidrIp" in rule:
            name = rule["CidrIp"]["Ref"]
            assert "Default" not in cfn["Parameters"][name], name
        else:
            assert "SourceSecurityGroupId" in rule, rule
    for pattern in (
        hot["parameters"]["admin_cidr"]["constraints"][0]["allowed_pattern"],
        cfn["Parameters"]["AdminCidr"]["AllowedPattern"],
    ):
        # Heat and CloudFormation match the whole value
        assert re.fullmatch(pattern, "0.0.0.0/0") is None
        assert re.fullmatch(pattern, "192.0.2.0/24")


def test_the_head_opens_only_what_it_needs():
    cfn = load_cfn()
    head = cfn["Resources"]["HeadSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    ports = {(r["CidrIp"]["Ref"], str(r["FromPort"]), str(r["ToPort"])) for r in head}
    sched = str({"Fn::If": ["Slurm", 6817, 6444]})
    assert ports == {
        ("AdminCidr", "22", "22"),
        ("AdminCidr", "8000", "8000"),
        ("WorkerCidr", "4505", "4506"),
        ("WorkerCidr", sched, sched),
        ("WorkerCidr", "2049", "2049"),
    }
    hot = load_hot()
    rules = hot["resources"]["head_security_group"]["properties"]["rules"]
    got = {(r["remote_ip_prefix"]["get_param"], str(r["port_range_min"]), str(r["port_range_max"])) for r in rules}
    sched = str({"if": ["slurm", 6817, 6444]})
    assert got == {
        ("admin_cidr", "22", "22"),
        ("admin_cidr", "8000", "8000"),
        ("worker_cidr", "4505", "4506"),
        ("worker_cidr", sched, sched),
        ("worker_cidr", "2049", "2049"),
    }


def test_no_secret_parameter_is_echoed():
    hot = load_hot()
    secrets = [n for n in hot["parameters"] if SECRET_NAME.search(n)]
    assert secrets == ["application_credential_secret"]
    for name in secrets:
        assert hot["parameters"][name].get("hidden") is True, name
    cfn = load_cfn()
    for name, spec in cfn["Parameters"].items():
        if SECRET_NAME.search(name):
            assert spec.get("NoEcho") is True, name


def test_the_aws_head_has_a_role_and_no_keys():
    cfn = load_cfn()
    header, _ = cfn_userdata()
    assert "ACCESS_KEY" not in header and "SECRET" not in header
    head = cfn["Resources"]["Head"]["Properties"]
    assert head["IamInstanceProfile"] == {"Ref": "HeadInstanceProfile"}
    assert head["MetadataOptions"]["HttpTokens"] == "required"
    statements = cfn["Resources"]["HeadRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert all(a.startswith("ec2:") and "*" not in a for a in actions), actions
    # what destroys is limited to this cluster's tag
    (end,) = [s for s in statements if "ec2:TerminateInstances" in s["Action"]]
    assert end["Condition"] == {"StringEquals": {"ec2:ResourceTag/dcluster-cluster": {"Ref": "ClusterName"}}}


def _quote_free(pattern: str | None, allowed: list | None, ptype: str) -> bool:
    if allowed is not None:
        return all("'" not in str(v) for v in allowed)
    if ptype.lower() == "number" or ptype.startswith("AWS::"):
        return True
    return pattern is not None and re.fullmatch(pattern, "a'b") is None and re.fullmatch(pattern, "a\nb") is None


def test_every_value_spliced_into_the_shell_header_excludes_quotes():
    """The headers put values in single quotes: each one's constraint must refuse a quote."""
    header, params, _ = hot_userdata()
    hot = load_hot()["parameters"]
    for token, source in params.items():
        assert f"'{token}'" in header, token
        if "get_param" not in source:
            continue  # an id or address Heat makes
        spec = hot[source["get_param"]]
        pattern = next((c["allowed_pattern"] for c in spec.get("constraints", []) if "allowed_pattern" in c), None)
        allowed = next((c["allowed_values"] for c in spec.get("constraints", []) if "allowed_values" in c), None)
        assert _quote_free(pattern, allowed, spec["type"]), source
    header, _ = cfn_userdata()
    cfn = load_cfn()["Parameters"]
    for name in re.findall(r"'\$\{([A-Za-z0-9]+)\}'", header):
        spec = cfn[name]
        assert _quote_free(spec.get("AllowedPattern"), spec.get("AllowedValues"), spec["Type"]), name


def header_variables(header: str) -> set[str]:
    return set(re.findall(r"^(DCLUSTER_[A-Z0-9_]+)=", header, re.MULTILINE))


def test_each_header_sets_what_the_script_requires_and_nothing_it_ignores():
    text = script()
    checked = set(re.findall(r"^\s*check (DCLUSTER_[A-Z0-9_]+) ", text, re.MULTILINE))
    defaulted = set(re.findall(r"^(DCLUSTER_[A-Z0-9_]+)=\$\{", text, re.MULTILINE))
    defaulted |= {"DCLUSTER_HEAD_ADDRESS", "DCLUSTER_SERVICES"}  # detected when unset
    hot_header = header_variables(hot_userdata()[0])
    cfn_header = header_variables(cfn_userdata()[0])
    assert hot_header <= checked and cfn_header <= checked
    assert checked - defaulted - {v for v in checked if v.startswith("DCLUSTER_AWS_")} <= hot_header
    assert (
        checked - defaulted - {v for v in checked if v.startswith("DCLUSTER_OS_")} - {"DCLUSTER_HEAD_ADDRESS"}
        <= cfn_header
    )


def test_the_userdata_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", SCRIPT], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DCLUSTER_OS_APP_CRED_SECRET", "quote'breaks-out-of-yaml {{ and jinja }}"),
        ("DCLUSTER_SOURCE", "https://example.org/x.git; rm -rf /"),
        ("DCLUSTER_WORKER_CIDR", "10.0.0.0/24\nDCLUSTER_X=1"),
        ("DCLUSTER_SCHEDULER", "torque"),
        ("DCLUSTER_CLUSTER_NAME", "Bad-Name"),
    ],
)
def test_a_malformed_variable_stops_the_script_naming_it_not_its_value(tmp_path, name, value):
    """Checked before anything is fetched or written."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DCLUSTER_CLOUD": "openstack",
        "DCLUSTER_SOURCE": "https://git.example.org/dcluster.git",
        "DCLUSTER_WORKER_CIDR": "10.0.0.0/24",
        "DCLUSTER_WORKER_IMAGE": "img",
        "DCLUSTER_WORKER_FLAVOR": "m3.medium",
        "DCLUSTER_WORKER_CORES": "2",
        "DCLUSTER_WORKER_MEM_MB": "3500",
        "DCLUSTER_WORKER_NETWORK": "net",
        "DCLUSTER_WORKER_SECURITY_GROUP": "sg",
        "DCLUSTER_OS_AUTH_URL": "https://keystone.example.org:5000/v3",
        "DCLUSTER_OS_REGION": "RegionOne",
        "DCLUSTER_OS_APP_CRED_ID": "abc",
        "DCLUSTER_OS_APP_CRED_SECRET": "AbCdEf0123456789_-",
        "DCLUSTER_CHECKOUT": str(tmp_path / "checkout"),
        "DCLUSTER_PILLAR_ROOT": str(tmp_path / "pillar"),
        "DCLUSTER_SALT_VENV": str(tmp_path / "salt"),
    }
    env[name] = value
    proc = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc
    assert f"{name} is unset or malformed" in proc.stderr
    assert value not in proc.stdout + proc.stderr
    assert os.listdir(tmp_path) == []


def _functions(text: str, *names: str) -> str:
    """The script's shell functions ``names``, as text to run alone (the script as a whole installs packages)."""
    out = []
    for name in names:
        m = re.search(rf"^{name}\(\) \{{.*?^\}}\n", text, re.S | re.M) or re.search(
            rf"^{name}\(\) \{{.*\}}\n", text, re.M
        )
        assert m, f"no function {name} in {SCRIPT}"
        out.append(m.group(0))
    return "".join(out)


@pytest.mark.parametrize(
    "source",
    [
        "https://deploy:s3cr3t-t0ken@127.0.0.1:1/dcluster.tar.gz",
        "https://deploy:s3cr3t-t0ken@127.0.0.1:1/dcluster.git",
        "ssh://git:s3cr3t-t0ken@127.0.0.1:1/dcluster.git",
    ],
)
def test_the_source_url_s_credentials_stay_out_of_the_console_log(source, tmp_path):
    """cloud-init copies the script's output to the console log, which any project member can read: a token
    in DCLUSTER_SOURCE's URL (a private repository) must not be printed, by the script or by git and curl."""
    code = "set -euo pipefail\n" + _functions(script(), "log", "die", "shown_source", "fetch_source") + "fetch_source\n"
    env = {**os.environ, "DCLUSTER_SOURCE": source, "DCLUSTER_REF": "main", "DCLUSTER_CHECKOUT": str(tmp_path / "src")}
    done = subprocess.run(["bash", "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0  # nothing listens on port 1
    assert "127.0.0.1:1/dcluster" in done.stderr  # the log still says where from
    assert "s3cr3t-t0ken" not in done.stderr + done.stdout
