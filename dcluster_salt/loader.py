"""The ``salt.loader`` entry point: tells Salt where our module folders are.

The callable form is used (not the module form) because it works for both
``pip install .`` and ``pip install -e .``: the editable finder does not put
the mapped folders under the shim package's ``__path__``, but importing each
mapped package does resolve to the right folder.
"""

from __future__ import annotations

import importlib

LOADER_TYPES = ("modules", "states", "runners", "engines", "beacons")


def _import_library(folders: list[str]) -> None:
    """Import the ``dcluster`` package before Salt puts our folders on ``sys.path``.

    Salt appends each loader folder to ``sys.path`` while it loads modules, and
    ``_engines/dcluster.py`` and ``_runners/dcluster.py`` are named like the
    library.  With an editable install (whose finder runs after the path
    finder) ``import dcluster.controller`` inside them then found the module
    itself ("'dcluster' is not a package") unless the working directory
    happened to be the repository: the engine silently did not start.
    """
    import sys

    if "dcluster" in sys.modules and hasattr(sys.modules["dcluster"], "__path__"):
        return
    sys.modules.pop("dcluster", None)  # a module of ours imported under that name
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in folders]
    try:
        importlib.import_module("dcluster")
    finally:
        sys.path[:] = saved


def loader_dirs() -> dict[str, list[str]]:
    dirs = {}
    for kind in LOADER_TYPES:
        try:
            pkg = importlib.import_module(f"dcluster_salt.{kind}")
        except ImportError:  # pragma: no cover - a broken install
            continue
        dirs[kind] = [str(p) for p in pkg.__path__]
    _import_library([p for paths in dirs.values() for p in paths])
    return dirs
