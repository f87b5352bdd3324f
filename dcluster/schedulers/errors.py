"""Errors of the scheduler adapters.

Every error names the command that failed and shows the start of what it
printed, so a failed poll is diagnosable from one log line.  A parser never
turns a garbled output into an empty list: it raises :class:`ParseError`.
"""

from __future__ import annotations

from collections.abc import Sequence

HEAD_CHARS = 300


def head(output: str | bytes | None, limit: int = HEAD_CHARS) -> str:
    """The first ``limit`` characters of an output, for error messages."""
    if output is None:
        return ""
    if isinstance(output, bytes):
        output = output[: limit * 4].decode("utf-8", "replace")
    text = output[:limit]
    return text + ("..." if len(output) > limit else "")


def command_text(command: str | Sequence[str]) -> str:
    if isinstance(command, str):
        return command
    return " ".join(str(a) for a in command)


class SchedulerError(RuntimeError):
    """A scheduler command failed (non-zero exit, timeout) or did something unexpected."""

    def __init__(
        self, command: str | Sequence[str], rc: int | None, output_head: str | bytes | None = "", message: str = ""
    ):
        self.command = command_text(command)
        self.rc = rc
        self.output_head = head(output_head)
        self.message = message
        super().__init__(self._text())

    def _text(self) -> str:
        what = self.message or (f"exited with {self.rc}" if self.rc not in (None, 0) else "failed")
        text = f"{self.command!r}: {what}"
        if self.output_head.strip():
            text += f"; output starts: {self.output_head!r}"
        else:
            text += "; no output"
        return text


class ParseError(SchedulerError):
    """A command's output could not be understood.  Never swallowed into an empty snapshot."""

    def __init__(self, command: str | Sequence[str], output_head: str | bytes | None, message: str, rc: int | None = 0):
        super().__init__(command, rc, output_head, f"cannot parse output: {message}")


class RefusedError(SchedulerError):
    """An action was refused because it is unsafe now (a node still runs jobs, a bad name)."""

    def __init__(self, command: str | Sequence[str], message: str):
        super().__init__(command, None, "", message)
