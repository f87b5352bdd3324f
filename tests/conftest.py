"""Suite-wide fixtures: pytest-salt-factories settings and root/daemon skips."""

import hashlib
import logging
import os
import pathlib
import tempfile

import pytest

# Salt's deferred log handler flushes into pytest's already-closed capture stream at exit and
# prints "--- Logging error ---" tracebacks for records that were handled fine; not ours to fix.
logging.raiseExceptions = False

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def salt_factories_config():
    # The suite runs Salt from the project's virtualenv; no coverage sitecustomize needed.
    # The factories write each daemon's launcher script once into <root_dir>/scripts, with code_dir (the checkout
    # whose `dcluster` the daemons import) baked in; a root_dir shared by two checkouts (the default, the temp
    # directory) runs the daemons of one on the other's code.  One root per checkout (short: unix socket paths).
    root = (
        pathlib.Path(tempfile.gettempdir())
        / f"dc-{hashlib.sha1(str(ROOT).encode(), usedforsecurity=False).hexdigest()[:8]}"
    )
    root.mkdir(exist_ok=True)
    return {"code_dir": str(ROOT), "inject_sitecustomize": False, "start_timeout": 120, "root_dir": str(root)}


@pytest.fixture(autouse=True)
def _fresh_secret_registry():
    """Each test starts with no secret remembered by the scrubber from an earlier test's pillar.

    The registry is process-wide, as it is in the engine, and it masks a text ending in the first
    characters of a known secret (a message cut short): a test secret like "engine-loop-secret-..."
    then turned a later test's "engine" into "********"."""
    from dcluster import scrub

    scrub.REGISTRY.clear()
    yield


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="starts real daemons / namespaces: needs root (CI runs as root)")
    for item in items:
        if "daemons" in item.keywords:
            item.add_marker(skip)
