"""A logging filter that scrubs every record the master's handlers write (see :mod:`dcluster.scrub`).

The engine installs it on the root logger's handlers when it starts, so
records of every logger that propagates there are covered: dcluster's own,
and botocore's, keystoneauth1's and novaclient's, which log request headers
and bodies at DEBUG.  A filter on a handler (not on a logger) is the one
place a propagated record always passes through.
"""

from __future__ import annotations

import logging

from .. import scrub

_DONE = "_dcluster_scrubbed"
LIMIT = 65536  # characters of one record's message kept (the scrubber masks a secret cut off at the end)


class ScrubFilter(logging.Filter):
    """Replaces a record's final message (``msg % args``), exception and stack text by their scrubbed form."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logged as is, scrubbed
            message = f"{record.msg} {record.args}"
        if len(message) > LIMIT:  # cut first: scrubbing is linear, but a 10 MB event dump is still slow
            message = f"{message[:LIMIT]}... ({len(message) - LIMIT} characters cut)"
        record.msg = scrub.text(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub.text(record.exc_text)
            record.exc_info = None  # a formatter would render the traceback again from it, unscrubbed
        if record.stack_info:
            record.stack_info = scrub.text(record.stack_info)
        setattr(record, _DONE, True)
        return True


def install(handlers: list[logging.Handler] | None = None) -> int:
    """Add one :class:`ScrubFilter` to each handler (default: the root logger's); returns how many got one."""
    handlers = list(logging.getLogger().handlers) if handlers is None else handlers
    added = 0
    for h in handlers:
        if not any(isinstance(f, ScrubFilter) for f in h.filters):
            h.addFilter(ScrubFilter())
            added += 1
    return added
