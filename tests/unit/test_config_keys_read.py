"""No pillar key is accepted and then silently ignored (issue 16).

Walks the whole schema (every cluster and cloud variant) and, for every key,
looks for code outside the schema that reads it: the key as a string literal,
or as an attribute of the typed config (``config/__init__`` turns top-level
keys into dataclass fields).  It is a textual check, so a key whose name is
also a common word (``port``, ``timeout``) passes on any reader of that word;
it catches the section or key that nothing mentions at all, which is how the
``logging:`` section went unnoticed.  Keys kept only so Dynamic Cluster's pillar
still validates are listed in LEGACY with the place that documents them.
"""

from __future__ import annotations

import functools
import os
import re

from dcluster.config import keys
from dcluster.config.schema import Dict, MapOf, Typed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CODE_DIRS = ("dcluster", "_engines", "_runners", "_modules", "_states", "_beacons", "reactor")
SCHEMA_FILES = {os.path.join("dcluster", "config", "keys.py"), os.path.join("dcluster", "config", "schema.py")}

# Accepted on purpose without effect, each documented as such where the key is described.
LEGACY = {
    ("admin-server",): "keys.py and pillar.example: 'Legacy: Dynamic Cluster's own web server. Ignored; use salt-api'",
    ("admin-server", "port"): "same",
    ("admin-server", "debug"): "same",
}


def leaf_paths(spec, path=()):
    """(path, spec) for every key of the schema, variants included; map keys appear as '*'."""
    if isinstance(spec, Typed):
        fields = dict(spec.fields)
        for variant in spec.variants.values():
            yield from leaf_paths(variant, path + ("config",))
        fields.pop("config", None)
        yield from _fields(fields, path)
    elif isinstance(spec, Dict):
        yield from _fields(spec.fields, path)
    elif isinstance(spec, MapOf):
        yield from leaf_paths(spec.value, path + ("*",))


def _fields(fields, path):
    for name, sub in fields.items():
        yield path + (name,), sub
        yield from leaf_paths(sub, path + (name,))


@functools.lru_cache(maxsize=1)
def code_text() -> str:
    chunks = []
    for top in CODE_DIRS:
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), REPO)
                if (f.endswith(".py") or f.endswith(".sls")) and rel not in SCHEMA_FILES:
                    with open(os.path.join(root, f), encoding="utf-8") as fh:
                        chunks.append(fh.read())
    return "\n".join(chunks)


def is_read(name: str, text: str) -> bool:
    attr = name.replace("-", "_")
    return bool(re.search(rf"""["']{re.escape(name)}["']|\.{re.escape(attr)}\b|\b{re.escape(attr)}=""", text))


def test_the_walk_sees_every_section():
    paths = {p for p, _ in leaf_paths(keys.ROOT)}
    assert ("logging", "log_level") in paths and ("cluster", "config", "queue_to_monitor") in paths
    assert ("cloud", "*", "config", "flavor") in paths or any(p[:3] == ("cloud", "*", "config") for p in paths)
    assert ("config-checker", "salt", "timeout") in paths


def test_every_pillar_key_is_read_by_some_code():
    text = code_text()
    unread = [":".join(p) for p, _ in leaf_paths(keys.ROOT) if p not in LEGACY and not is_read(p[-1], text)]
    assert unread == [], f"pillar keys nothing reads (implement them, reject them, or list them in LEGACY): {unread}"


def test_the_check_finds_an_unread_key():
    """The check itself can fail: a key named like nothing in the code is reported."""
    assert not is_read("log_levelz_nobody_reads", code_text())
    assert is_read("log_max_size", code_text())
