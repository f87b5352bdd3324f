import pytest

from tests.unit.schedulers.sched_helpers import Recorder


@pytest.fixture
def rec():
    return Recorder()
