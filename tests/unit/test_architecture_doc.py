"""docs/architecture.md is the newcomer's map: every file or folder it names must exist.

A path in backticks (or a ``*.py`` name in its diagram) is looked up from the repository's root, then
under ``dcluster/`` and ``tests/``; a bare file name must be a file of ``dcluster/`` or a
Salt loader folder.  A move that forgets the map fails here.
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "architecture.md")


def named_paths(text):
    ticked = re.findall(r"`([^`\s]+)`", text)
    diagram = re.findall(r"[\w./<>-]+\.py\b", "".join(re.findall(r"```\n(.*?)```", text, re.S)))
    out = set()
    for token in [*ticked, *diagram]:
        token = token.rstrip(".,:;")
        if "<" in token or not ("/" in token or token.endswith(".py")):
            continue  # a pattern (``schedulers/<type>.py``), or not a path
        out.add(token)
    return sorted(out)


def exists(token):
    if any(os.path.exists(os.path.join(ROOT, where, token)) for where in ("", "dcluster", "tests")):
        return True
    if "/" not in token:
        folders = ("dcluster", "_modules", "_runners", "_engines", "_states", "_beacons")
        return any(token in files for top in folders for _, _, files in os.walk(os.path.join(ROOT, top)))
    return False


def test_every_path_on_the_map_exists():
    with open(DOC, encoding="utf-8") as fh:
        paths = named_paths(fh.read())
    assert len(paths) > 40  # the map names the tree, not a handful of files
    missing = [p for p in paths if not exists(p)]
    assert missing == [], f"docs/architecture.md names what is not in the tree: {missing}"
