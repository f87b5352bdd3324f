"""A file written whole or not at all: what the engine publishes and keeps (controller/state.py), and
what an execution module keeps from call to call (schedulers/sge_begin.py)."""

from __future__ import annotations

import os
import tempfile


def write_text(path: str, text: str, prefix: str = ".state-", dir_mode: int = 0o777) -> None:
    """``text`` at ``path``, atomically (a reader never sees half a file), mode 0600; the folder is made
    with ``dir_mode`` (less the umask) when missing.  Raises OSError; nothing is left behind."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
