"""Streaming reader of Standard Workload Format traces (plain or gzip).

SWF (Parallel Workloads Archive, https://www.cs.huji.ac.il/labs/parallel/workload/swf.html):
header lines start with ``;`` and carry ``Key: value`` comments; every other
non-blank line is one job of 18 whitespace-separated numeric fields, ``-1``
meaning "not recorded".  :func:`read` yields :class:`SwfJob` with missing
fields as ``None``; :func:`header` parses the comments into a dict
(``MaxNodes``, ``MaxProcs``, ``UnixStartTime`` ... as ints where they are
integers; repeated keys and continuation lines are joined with newlines).
A malformed line raises :class:`SwfError` naming the file and line.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FIELDS = (
    "job",
    "submit",
    "wait",
    "run",
    "procs",
    "cpu",
    "mem",
    "req_procs",
    "req_time",
    "req_mem",
    "status",
    "user",
    "group",
    "app",
    "queue",
    "partition",
    "preceding",
    "think",
)
_FLOAT_FIELDS = {"cpu"}  # average CPU time is fractional in some logs (HPC2N)


class SwfError(ValueError):
    """A trace line that is not valid SWF; the message says file:line and why."""

    def __init__(self, path: str, lineno: int, why: str):
        self.path, self.lineno, self.why = path, lineno, why
        super().__init__(f"{path}:{lineno}: {why}")


@dataclass(frozen=True, slots=True)
class SwfJob:
    """One SWF record; ``None`` where the trace has -1."""

    job: int
    submit: int
    wait: int | None
    run: int | None
    procs: int | None  # allocated processors
    cpu: float | None
    mem: int | None  # used memory, KB per processor
    req_procs: int | None
    req_time: int | None  # requested wall time, s
    req_mem: int | None  # requested memory, KB per processor
    status: int | None
    user: int | None
    group: int | None
    app: int | None
    queue: int | None
    partition: int | None
    preceding: int | None
    think: int | None
    line: int = 0  # line number in the file, for messages

    @property
    def processors(self) -> int | None:
        """Processors the job used: allocated, else requested."""
        return self.procs if self.procs else self.req_procs

    @property
    def mem_kb(self) -> int | None:
        """Memory per processor: requested, else used."""
        return self.req_mem if self.req_mem else self.mem


def _open(path: str) -> io.TextIOBase:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _number(text: str, name: str, path: str, lineno: int) -> int | float | None:
    try:
        value = float(text) if name in _FLOAT_FIELDS or "." in text else int(text)
    except ValueError:
        raise SwfError(path, lineno, f"field {name!r} is {text!r}, not a number") from None
    if value == -1:
        return None
    if name not in _FLOAT_FIELDS:
        if isinstance(value, float):
            if not value.is_integer():
                raise SwfError(path, lineno, f"field {name!r} is {text!r}, not an integer")
            value = int(value)
        if value < 0:
            raise SwfError(path, lineno, f"field {name!r} is {text!r}: negative and not -1")
    return value


def parse_line(text: str, path: str = "<string>", lineno: int = 0) -> SwfJob | None:
    """One line: a job, or None for a comment/blank line."""
    stripped = text.strip()
    if not stripped or stripped.startswith(";"):
        return None
    parts = stripped.split()
    if len(parts) != len(FIELDS):
        raise SwfError(path, lineno, f"{len(parts)} fields, SWF has {len(FIELDS)}")
    values: dict[str, Any] = {name: _number(part, name, path, lineno) for name, part in zip(FIELDS, parts, strict=True)}
    if values["job"] is None or values["submit"] is None:
        raise SwfError(path, lineno, "job number and submit time are required")
    return SwfJob(**values, line=lineno)


def read(path: str | os.PathLike[str]) -> Iterator[SwfJob]:
    """The jobs of a trace, in file order, one at a time."""
    path = os.fspath(path)
    with _open(path) as fh:
        for lineno, text in enumerate(fh, 1):
            job = parse_line(text, path, lineno)
            if job is not None:
                yield job


def header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``; Key: value`` comments before the first job line."""
    path = os.fspath(path)
    out: dict[str, Any] = {}
    last = None
    with _open(path) as fh:
        for text in fh:
            stripped = text.strip()
            if not stripped:
                continue
            if not stripped.startswith(";"):
                break
            body = stripped[1:].strip()
            if not body:
                last = None
                continue
            key, sep, value = body.partition(":")
            if sep and key and " " not in key.strip() and not text[1:].startswith("      "):
                key, value = key.strip(), value.strip()
                if key in out:
                    out[key] = f"{out[key]}\n{value}"
                else:
                    out[key] = _maybe_int(value)
                last = key
            elif last is not None:  # continuation of the previous key (indented)
                out[last] = f"{out[last]}\n{body}"
    return out


def _maybe_int(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value
