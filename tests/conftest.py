"""Suite-wide fixtures: pytest-salt-factories settings and root/daemon skips."""

import logging
import os
import pathlib

import pytest

# Salt's deferred log handler flushes into pytest's already-closed capture stream at exit and
# prints "--- Logging error ---" tracebacks for records that were handled fine; not ours to fix.
logging.raiseExceptions = False

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def salt_factories_config():
    # The suite runs Salt from the project's virtualenv; no coverage sitecustomize needed.
    return {"code_dir": str(ROOT), "inject_sitecustomize": False, "start_timeout": 120}


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="starts real daemons / namespaces: needs root (CI runs as root)")
    for item in items:
        if "daemons" in item.keywords:
            item.add_marker(skip)
