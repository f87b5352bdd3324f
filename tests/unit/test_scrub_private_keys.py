"""Workers' private keys never reach a log line: PEM blocks, and base64 blobs (user-data) that hold one.

A worker's key pair is made by the master and travels in its user-data; boto3
and keystoneauth log request bodies at DEBUG, where the user-data is base64.
"""

import base64
import json
import logging

import pytest

from dcluster import keypairs, scrub
from dcluster.glue import log_filter

PAIR = keypairs.generate()
BODY_LINE = [ln for ln in PAIR.private_pem.splitlines() if not ln.startswith("-----")][5]


def userdata(prefix=""):
    return f"#!/bin/sh\n{prefix}cat > minion.pem <<'EOF'\n{PAIR.private_pem}EOF\necho done\n"


def leaks(text):
    return BODY_LINE in text or BODY_LINE[:24] in text


@pytest.mark.parametrize("shift", [0, 1, 2])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_user_data_holding_a_key_is_masked_at_any_alignment(shift, encode):
    blob = encode(userdata("x" * shift).encode()).decode()
    assert blob not in scrub.text(f"UserData={blob}&Action=RunInstances")
    out = scrub.text(json.dumps({"server": {"user_data": blob, "name": "w1"}}))
    assert blob[:40] not in out and '"name": "w1"' in out


def test_pem_blocks_plain_escaped_and_cut_off_are_masked():
    for text in (userdata(), json.dumps(userdata()), repr(userdata()), userdata()[:400]):
        out = scrub.text(text)
        assert "PRIVATE KEY-----" in out and not leaks(out) and not leaks(out.replace("\\n", "\n"))


def test_public_keys_and_other_base64_are_left_alone():
    assert scrub.text(PAIR.public_pem) == PAIR.public_pem
    other = base64.b64encode(b"#!/bin/sh\necho hello world, nothing secret here\n").decode()
    assert scrub.text(other) == other


def test_an_sdk_debug_record_of_a_launch_goes_out_scrubbed(caplog):
    # What botocore's endpoint logs for RunInstances at DEBUG, through the engine's log filter.
    blob = base64.b64encode(userdata().encode()).decode()
    handler = logging.StreamHandler(stream := __import__("io").StringIO())
    log_filter.install(handlers=[handler])
    logger = logging.getLogger("botocore.endpoint")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("Sending http request: %s", {"body": {"Action": "RunInstances", "UserData": blob}})
    finally:
        logger.removeHandler(handler)
    assert "RunInstances" in stream.getvalue() and blob[:40] not in stream.getvalue()
