"""The ``salt.loader`` entry point: tells Salt where our module folders are.

The callable form is used (not the module form) because it works for both
``pip install .`` and ``pip install -e .``: the editable finder does not put
the mapped folders under the shim package's ``__path__``, but importing each
mapped package does resolve to the right folder.

Salt puts each of these folders on ``sys.path`` while it loads them, so no file
in them may be named like a top-level package they import: the engine and the
operator runner are ``dcluster_mod.py`` (``__virtualname__ = "dcluster"``), never
``dcluster.py``, which would shadow the library (tests/unit/test_loader_names.py).
"""

from __future__ import annotations

import importlib

LOADER_TYPES = ("modules", "states", "runners", "engines", "beacons")


def loader_dirs() -> dict[str, list[str]]:
    dirs = {}
    for kind in LOADER_TYPES:
        try:
            pkg = importlib.import_module(f"dcluster_salt.{kind}")
        except ImportError:  # pragma: no cover - a broken install
            continue
        dirs[kind] = [str(p) for p in pkg.__path__]
    return dirs
