"""Fixtures shared by the functional tests: moto in server mode (tests/support/moto.py)."""

import pytest

from tests.support.moto import MotoServer, ec2_client


@pytest.fixture(scope="module")
def moto():
    """One moto server per test module, stopped by its PID."""
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ec2(moto):
    """moto emptied, and a boto3 client of it."""
    moto.reset()
    return ec2_client(moto)
