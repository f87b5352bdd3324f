"""Error classification (EC2 codes, Nova answers) and credential scrubbing."""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from dcluster.clouds import aws, errors, openstack
from dcluster.config.secret import Secret


@pytest.mark.parametrize(
    "code,status,kind",
    [
        ("InstanceLimitExceeded", 400, "quota"),
        ("VcpuLimitExceeded", 400, "quota"),
        ("InsufficientInstanceCapacity", 500, "capacity"),  # EC2 sends it as a server error: the code decides
        ("InsufficientInstanceCapacity", 400, "capacity"),
        ("Unavailable", 503, "transient"),
        ("InvalidAMIID.NotFound", 400, "config"),
        ("InvalidAMIID.Malformed", 400, "config"),
        ("InvalidParameterValue", 400, "config"),
        ("AuthFailure", 401, "auth"),
        ("UnauthorizedOperation", 403, "auth"),
        ("RequestLimitExceeded", 503, "transient"),
        ("RequestLimitExceeded", 400, "transient"),  # throttling is not a quota
        ("InternalError", 500, "transient"),
        ("InvalidInstanceID.NotFound", 400, "notfound"),
    ],
)
def test_ec2_codes(code, status, kind):
    err = aws.classify("the cloud's own words", status=status, code=code)
    assert err.kind == kind
    assert isinstance(err, errors.BY_KIND[kind])
    assert err.message == "the cloud's own words"
    assert err.code == code


def test_ec2_connection_problems_are_transient():
    assert aws.translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")).kind == "transient"
    assert aws.translate(ReadTimeoutError(endpoint_url="http://127.0.0.1:1")).kind == "transient"


def test_ec2_client_error_keeps_message_without_credentials():
    exc = ClientError(
        {
            "Error": {"Code": "AuthFailure", "Message": "key AKIAABCDEFGHIJKLMNOP secret wJalrXUtnFEMIK7"},
            "ResponseMetadata": {"HTTPStatusCode": 401},
        },
        "RunInstances",
    )
    err = aws.translate(exc, secrets=[Secret("wJalrXUtnFEMIK7")])
    assert err.kind == "auth"
    assert "AKIAABCDEFGHIJKLMNOP" not in str(err) and "wJalrXUtnFEMIK7" not in str(err)
    assert "key" in err.message and "auth" in str(err)


@pytest.mark.parametrize(
    "status,message,kind",
    [
        (403, "Quota exceeded for instances: Requested 3, but already used 9 of 10 instances", "quota"),
        (413, "OverLimit Retry...", "quota"),
        (403, "Policy doesn't allow os_compute_api:servers:create to be performed.", "auth"),
        (401, "The request you have made requires authentication.", "auth"),
        (None, "No valid host was found. There are not enough hosts available.", "capacity"),
        (500, "No valid host was found. ", "capacity"),
        (400, "Image 123 could not be found.", "config"),
        (400, "Flavor m1.huge could not be found.", "config"),
        (404, "Instance abc could not be found.", "notfound"),
        (500, "Internal Server Error", "transient"),
        (503, "Service Unavailable", "transient"),
        # unified limits (oslo.limit's words) and MaxRetriesExceeded; more in tests/functional/test_openstack_recorded.py
        (
            403,
            "Project p1 is over a limit for [Resource servers is over limit of 10 due to current usage 10 and delta 1]",
            "quota",
        ),
        (
            500,
            "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures",
            "capacity",
        ),
        (429, "Too Many Requests", "transient"),
        (413, "This request was rate-limited.", "transient"),
        (403, "Only volume-backed servers are allowed for flavors with zero disk.", "config"),
    ],
)
def test_nova_answers(status, message, kind):
    assert openstack.classify(message, status=status).kind == kind


def test_nova_rate_limit_keeps_its_retry_after():
    err = openstack.classify("This request was rate-limited.", status=429, retry_after=4)
    assert err.kind == "transient" and err.retry_after == 4.0 and err.to_dict()["retry_after"] == 4.0
    assert "retry_after" not in openstack.classify("boom", status=500).to_dict()


def test_scrub_masks_known_secrets_and_credential_shapes():
    text = (
        "auth failed for password=hunter2hunter X-Auth-Token: gAAAAABk123 "
        '"secret": "abc123xyz" Bearer eyJhbGci and my-very-own-secret-value'
    )
    out = errors.scrub(text, [Secret("my-very-own-secret-value"), None, "ab"])
    for leaked in ("hunter2hunter", "gAAAAABk123", "abc123xyz", "eyJhbGci", "my-very-own-secret-value"):
        assert leaked not in out
    assert "auth failed" in out


def test_error_kinds_are_closed():
    assert set(errors.KINDS) == {"quota", "capacity", "config", "auth", "transient", "notfound"}
    with pytest.raises(ValueError):
        errors.CloudError("x", kind="weird")
    assert errors.make("quota", "m").kind == "quota"
    assert errors.CloudError("m", kind="auth").to_dict()["kind"] == "auth"
