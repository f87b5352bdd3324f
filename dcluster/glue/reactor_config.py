"""What the master's ``reactor:`` configuration still maps that this release retired.

``reactor/stats.sls`` started a runner job per ``dcluster_stats`` beacon event, with no limit on
their rate; the engine now forwards the samples it accepts itself.  A master upgraded without
editing its configuration keeps the mapping: the engine says so once, at its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STATS_TAG = "dcluster_stats"


def retired_mappings(reactor: Any) -> list[str]:
    """``tag -> file`` of each mapping of the ``dcluster_stats`` beacon tag to a ``stats.sls`` file.

    ``reactor`` is the master's ``reactor`` option (a list of one-key dicts, tag -> files); anything
    else is not a reactor configuration and maps nothing."""
    out: list[str] = []
    if not isinstance(reactor, list):
        return out
    for entry in reactor:
        if not isinstance(entry, dict):
            continue
        for tag, files in entry.items():
            if not isinstance(tag, str) or STATS_TAG not in tag:
                continue
            for name in _names(files):
                if name.rstrip("/").rsplit("/", 1)[-1] == "stats.sls":
                    out.append(f"{tag} -> {name}")
    return out


def _names(files: Any) -> Iterable[str]:
    if isinstance(files, str):
        return (files,)
    if isinstance(files, list):
        return [f for f in files if isinstance(f, str)]
    return ()
