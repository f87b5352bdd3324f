"""No Salt loader file is named like a package it imports.

Salt appends each loader folder to ``sys.path`` while it loads the folder's modules, so a
``_runners/dcluster.py`` would be found by ``import dcluster.controller`` inside it instead of
the library ("'dcluster' is not a package"), depending on the install and the working
directory.  The files carry other names; their ``__virtualname__`` is what Salt calls them.
"""

import ast

from tests.conftest import ROOT

FOLDERS = ("_modules", "_states", "_runners", "_engines", "_beacons")
TOP_LEVEL = {"dcluster", "dcluster_salt", "salt"}


def _virtualname(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__virtualname__" for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def test_no_loader_file_shadows_a_package():
    files = [p for folder in FOLDERS for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py"]
    assert files
    assert [str(p.relative_to(ROOT)) for p in files if p.stem in TOP_LEVEL] == []


def test_the_engine_and_the_operator_runner_are_still_called_dcluster():
    # `engines: [{dcluster: ...}]` looks up `dcluster.start`; `salt-run dcluster.status` `dcluster.status`.
    assert _virtualname(ROOT / "_engines" / "dcluster_mod.py") == "dcluster"
    assert _virtualname(ROOT / "_runners" / "dcluster_mod.py") == "dcluster"
    assert _virtualname(ROOT / "_runners" / "dcluster_reactor.py") == "dcluster_reactor"
