"""Pillar edits that dcluster cannot make safe are documented where the operator edits them (issue 13).

Changing ``cluster_name`` orphans every running worker (there is no previous_cluster_names); the fix is
the warning in pillar.example, next to the key, with the safe way to do it.  The file is read from the
tree whose ``dcluster`` package is under test (bench/regressions_on.py runs this on an exported tree).
"""

import pathlib

import dcluster

ROOT = pathlib.Path(dcluster.__file__).resolve().parents[1]


def _comment_above(text: str, key: str) -> str:
    """The comment block right above the first ``  <key>:`` line of the dcluster tree."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:"))
    block = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        block.insert(0, line.strip().lstrip("#").strip())
    return " ".join(block)


def test_pillar_example_warns_that_changing_cluster_name_orphans_and_says_how_to_change_it():
    note = _comment_above((ROOT / "pillar.example").read_text(), "cluster_name")
    assert "ORPHANS" in note.upper(), note
    assert "dcluster.drain" in note and "dcluster.status" in note, note  # drain first, wait for no worker
