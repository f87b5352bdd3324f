"""The pillar's ``logging:`` section, applied to the engine process's loggers.

``log_level`` sets the level of dcluster's loggers (the library's ``dcluster.*``
and the engine module's), whatever Salt's own level: Salt's handlers still
filter by theirs, so 3 (DEBUG) shows dcluster's debug lines only where a
handler lets them through, e.g. the ``log_location`` file.  Unset, Salt's
level decides, as before the section existed.  ``log_location`` adds one
rotating file (``log_max_size`` bytes, 3 kept) in ``log_format``, with the
scrub filter on it like every other handler of the process (no credential in
it).  Applied again whenever the pillar changes; the file handler is replaced
only when its settings do.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Mapping
from typing import Any

from .log_filter import ScrubFilter

LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
LOGGERS = ("dcluster", "salt.loaded.ext.engines.dcluster")
BACKUPS = 3


class _DclusterFile(logging.handlers.RotatingFileHandler):
    """Our file handler, told apart from any other on the same loggers."""


def _made_with(h: _DclusterFile) -> tuple[str, str | None, int]:
    """The (location, format, size) ``h`` was made with (:func:`apply` gives it its formatter)."""
    return h.baseFilename, h.formatter._fmt if h.formatter is not None else None, h.maxBytes


_handler: _DclusterFile | None = None  # one handler shared by every logger in LOGGERS: one file, one rotation


def apply(settings: Mapping[str, Any] | None, loggers: tuple[str, ...] = LOGGERS) -> None:
    """Set the levels and the file handler of ``loggers`` from a validated ``logging:`` section."""
    global _handler
    settings = settings or {}
    level = settings.get("log_level")
    for name in loggers:
        logging.getLogger(name).setLevel(LEVELS[level] if level is not None else logging.NOTSET)
    location = settings.get("log_location") or ""
    wanted = (location, settings.get("log_format"), settings.get("log_max_size"))
    if _handler is not None and _made_with(_handler) != wanted:
        for name in loggers:
            logging.getLogger(name).removeHandler(_handler)
        _handler.close()
        _handler = None
    if location and _handler is None:
        # a validated section holds log_max_size (its default when not given) whenever it holds a location
        max_size: int = settings["log_max_size"]
        _handler = _DclusterFile(location, maxBytes=max_size, backupCount=BACKUPS)  # opened now: a bad path fails here
        _handler.setFormatter(logging.Formatter(wanted[1]))
        _handler.addFilter(ScrubFilter())
    for name in loggers:
        if _handler is not None and _handler not in logging.getLogger(name).handlers:
            logging.getLogger(name).addHandler(_handler)
