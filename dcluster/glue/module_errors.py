"""How every dcluster execution module reports a failure to its Salt caller.

One way for all of them: the message (already free of secrets: config errors print
``<secret>``, cloud errors are scrubbed) is logged at error level on the module's own
logger and raised as Salt's ``CommandExecutionError``, so ``salt-call`` exits non-zero
and the engine's remote call sees a failed return.  The original exception is not
chained: a chained traceback could carry what the message leaves out.
"""

from __future__ import annotations

import logging


def command_error(log: logging.Logger, where: str, exc: BaseException) -> Exception:
    """The ``CommandExecutionError`` to raise (``from None``) for ``exc`` in ``where`` (``module.function``)."""
    from salt.exceptions import CommandExecutionError

    log.error("%s: %s", where, exc)
    error: Exception = CommandExecutionError(str(exc))
    return error
