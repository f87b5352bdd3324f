"""The one scrubber (dcluster/scrub.py), Config.redacted(), the registry of known secrets and the log filter."""

import base64
import json
import logging
import urllib.parse

import pytest

from dcluster import config, scrub
from dcluster.clouds.errors import AuthFailure
from dcluster.config.secret import REDACTED
from dcluster.glue.log_filter import ScrubFilter

PASSPHRASE = "correct horse battery staple"
SPECIAL = 'p+/=&%@:ss"w\\rd-ü'


def test_the_mask_is_the_config_mask():
    assert scrub.REDACTED == REDACTED


@pytest.mark.parametrize("prefix", ["", "u", "us", "user:", "a-much-longer-user-name:"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_a_secret_inside_base64_is_found_at_every_alignment(prefix, encode):
    blob = encode((prefix + SPECIAL + ":tail").encode()).decode()
    out = scrub.text(f"Authorization: X {blob} and {blob}", [SPECIAL])
    assert blob not in out and blob[len(blob) // 3 :] not in out


@pytest.mark.parametrize(
    "form",
    [
        PASSPHRASE,
        "correct  horse\nbattery staple",
        urllib.parse.quote(PASSPHRASE),
        urllib.parse.quote_plus(PASSPHRASE),
        json.dumps(PASSPHRASE)[1:-1],
    ],
)
def test_a_multi_word_passphrase_is_masked_whole(form):
    out = scrub.text(f"keystone said: {form} was refused", [PASSPHRASE])
    assert out == f"keystone said: {REDACTED} was refused"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s,
        lambda s: urllib.parse.quote(s, safe=""),
        lambda s: urllib.parse.quote(s).lower(),
        urllib.parse.quote_plus,
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: json.dumps(json.dumps(s))[1:-1],
        lambda s: __import__("html").escape(s),
        repr,
        lambda s: repr(s.encode()),
    ],
)
def test_a_known_secret_is_masked_in_every_encoding(encode):
    shown = encode(SPECIAL)
    out = scrub.text(f"error: {shown} !", [SPECIAL])
    assert REDACTED in out and shown not in out
    assert not any(frag in out for frag in ("p+", "p%2", "ss", "rd", "%40", "@:"))  # no part of it either


@pytest.mark.parametrize(
    "text, kept",
    [
        ("Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: "),
        ("{'Authorization': 'Bearer eyJhbGciOi.J9abc', 'Host': 'x'}", "'Host': 'x'"),
        (
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2024/us-east-1/ec2/aws4_request, "
            "SignedHeaders=host, Signature=0123abcdef body Action=RunInstances",
            "body Action=RunInstances",
        ),
        ("X-Auth-Token: gAAAAABlongtokenvalue", "X-Auth-Token: "),
        ("-H 'X-Subject-Token: abcdef123456'", "X-Subject-Token: "),
        ("proxy http://bob:hunter22@proxy.example:3128/ failed", "http://bob:"),
        ('{"password": "two words here", "name": "demo"}', '"name": "demo"'),
        ("password='two words' user=bob", "user=bob"),
        ('passphrase: "a b c d"', "passphrase: "),
        ("aws_secret_access_key=abcd/EFGH+ijkl region=x", "region=x"),
        ("session_token=FQoGZXIvYXdzEJr//////////", "session_token="),
        ("api_key: 12345abcdef", "api_key: "),
        ("X-Amz-Signature=0a1b2c3d&X-Amz-Credential=AKIAX%2F2024&X-Amz-Date=1", "X-Amz-Date=1"),
        ("<Password>hunter22</Password><Code>AuthFailure</Code>", "<Code>AuthFailure</Code>"),
        ("access key ASIAIOSFODNN7EXAMPLE is invalid", "is invalid"),
    ],
)
def test_credentials_it_does_not_know_are_masked_by_shape(text, kept):
    out = scrub.text(text)
    assert REDACTED in out and kept in out
    for secret in (
        "hunter22",
        "two words",
        "a b c d",
        "abcd/EFGH",
        "FQoGZXIv",
        "12345abcdef",
        "0a1b2c3d",
        "IOSFODNN7",
        "eyJhbGciOi",
        "dXNlcjpodW50ZXIy",
        "gAAAAAB",
        "abcdef123456",
        "0123abcdef",
    ):
        assert secret not in out


@pytest.mark.parametrize(
    "text",
    [
        "auth_url=http://keystone:5000/v3",
        "key_name: mykey",
        "Basic authentication failed",
        "the token_type is bearer",
        "InvalidParameterValue: image ami-1 not found",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert scrub.text(text) == text


def test_a_secret_cut_off_at_the_end_of_a_message_is_masked():
    msg = ("x" * 990 + "error " + PASSPHRASE)[:1000]
    assert scrub.text(msg, [PASSPHRASE]).endswith("error " + REDACTED)


def test_data_is_scrubbed_recursively_and_credential_keys_masked():
    out = scrub.data(
        {
            "error": f"refused {SPECIAL}",
            "args": {"token": "abc", "n": 1, "nested": [{"password": 12345}]},
            "list": [PASSPHRASE],
        },
        [SPECIAL, PASSPHRASE],
    )
    assert out == {
        "error": f"refused {REDACTED}",
        "args": {"token": REDACTED, "n": 1, "nested": [{"password": REDACTED}]},
        "list": [REDACTED],
    }


def pillar():
    return {
        "secret": "0123456789abcdef-hmac",
        "cluster": {
            "type": "slurm",
            "config": {"command_env": {"SLURM_CONF": "/etc/slurm/x.conf", "LIC": "lic key 1"}},
        },
        "cloud": {
            "ec2": {
                "type": "aws",
                "config": {
                    "image_id": "ami-1",
                    "instance_type": "t3.micro",
                    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                    "secret_access_key": "aws/secret+key",
                    "proxy": "http://dcuser:pr%2Bxy%40pw@proxy.example:3128",
                    "userdata_vars": {"join_token": "tok-9876"},
                },
            }
        },
    }


def test_redacted_config_masks_credential_keys_proxy_passwords_and_command_env():
    shown = json.dumps(config.load(pillar()).redacted())
    for value in (
        "0123456789abcdef-hmac",
        "AKIAIOSFODNN7EXAMPLE",
        "aws/secret+key",
        "pr%2Bxy%40pw",
        "pr+xy@pw",
        "tok-9876",
        "/etc/slurm/x.conf",
        "lic key 1",
    ):
        assert value not in shown
    cfg = config.load(pillar()).redacted()
    assert cfg["resources"]["ec2"]["config"]["proxy"] == f"http://dcuser:{REDACTED}@proxy.example:3128"
    assert cfg["resources"]["ec2"]["config"]["image_id"] == "ami-1"  # the rest stays readable
    assert cfg["cluster"]["config"]["command_env"] == {"SLURM_CONF": REDACTED, "LIC": REDACTED}


def test_the_registry_knows_a_config_and_keeps_a_rotated_secret_for_a_while():
    now = [0.0]
    reg = scrub.Registry(keep=100, clock=lambda: now[0])
    reg.update(config.load(pillar()))
    assert {"0123456789abcdef-hmac", "aws/secret+key", "pr+xy@pw", "tok-9876", "lic key 1"} <= set(reg.values())
    rotated = pillar()
    rotated["cloud"]["ec2"]["config"]["secret_access_key"] = "aws/new+key"
    now[0] = 50
    reg.update(config.load(rotated))
    assert {"aws/secret+key", "aws/new+key"} <= set(reg.values())  # a late message of the old key is masked
    now[0] = 200
    reg.update(config.load(rotated))
    assert "aws/secret+key" not in reg.values() and "aws/new+key" in reg.values()


def test_cloud_errors_use_the_registry(monkeypatch):
    reg = scrub.Registry()
    reg.add(["registered-secret-1"])
    monkeypatch.setattr(scrub, "REGISTRY", reg)
    assert "registered-secret-1" not in str(AuthFailure("denied for registered-secret-1", cloud="aws"))


def test_the_log_filter_scrubs_the_final_message_and_the_traceback():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    h = Keep()
    h.addFilter(ScrubFilter())
    lg = logging.getLogger("botocore.test_scrub")
    lg.addHandler(h)
    lg.propagate = False
    try:
        try:
            raise RuntimeError("boom Authorization: Basic dXNlcjpodW50ZXIy")
        except RuntimeError:
            lg.exception("request %s failed with password=%s", "GET /", "hunter22")
    finally:
        lg.removeHandler(h)
    assert records and "hunter22" not in records[0] and "dXNlcjpodW50ZXIy" not in records[0]
    assert "request GET / failed" in records[0] and "RuntimeError" in records[0]
