"""What the master's ``reactor:`` configuration still maps that this release retired.

- ``reactor/stats.sls`` started a runner job per ``dcluster_stats`` beacon event, with no limit on
  their rate; the engine now forwards the samples it accepts itself.
- ``reactor/start.sls`` called a runner per ``salt/minion/<id>/start``, which asked the engine to
  highstate the worker: about 115 ms of the master's CPU per start, the limit of a scale-out burst;
  the engine now takes those events off the bus itself (:mod:`dcluster.controller.start_events`).

A master upgraded without editing its configuration keeps the mappings: the engine says so once, at
its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# (a piece of the event tag, the retired file's name, what the engine does instead)
RETIRED = (
    ("dcluster_stats", "stats.sls", "the engine forwards worker stats itself now"),
    ("salt/minion/", "start.sls", "the engine highstates new workers on their start event itself now"),
)


def retired_mappings(reactor: Any) -> list[str]:
    """``tag -> file: what replaces it`` of each mapping of a retired reaction's tag to its file.

    ``reactor`` is the master's ``reactor`` option (a list of one-key dicts, tag -> files); anything
    else is not a reactor configuration and maps nothing."""
    out: list[str] = []
    if not isinstance(reactor, list):
        return out
    for entry in reactor:
        if not isinstance(entry, dict):
            continue
        for tag, files in entry.items():
            if not isinstance(tag, str):
                continue
            for piece, retired, instead in RETIRED:
                if piece not in tag:
                    continue
                for name in _names(files):
                    if name.rstrip("/").rsplit("/", 1)[-1] == retired:
                        out.append(f"{tag} -> {name}: {instead}")
    return out


def _names(files: Any) -> Iterable[str]:
    if isinstance(files, str):
        return (files,)
    if isinstance(files, list):
        return [f for f in files if isinstance(f, str)]
    return ()
