"""
dcluster_reactor: the runner functions the reactor SLS files call on the master's events.

``reactor/auth.sls`` calls ``pending_key``.  ``minion_started`` is for an operator now: the engine
reads minion start events off the bus itself and highstates its starting workers (the retired
``reactor/start.sls`` called it for every start).  Their arguments may come from events that any
client of the master's ports can send, so each checks the minion id before anything else.  (The
workers' statistics reach Graphite through the engine, which checks and rate-limits them: no
reactor, so no runner job per stats event.)

A refusal is returned as data (``{ok: False, message}``), logged at most a few times a
second, and never raised: a forged event is expected input, not a fault.  Raised, each one
would put a traceback in the master's job cache and on the event bus (``salt/run/*/ret``),
which a worker could fill by firing events; nobody reads the exit code of a reactor's call.
The operator's functions, which do raise, are the ``dcluster`` runner (``_runners/dcluster_mod.py``).

CLI Example:

.. code-block:: bash

    salt-run dcluster_reactor.minion_started dc-nectar-1a2b3c-0123456789ab
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_reactor"

if TYPE_CHECKING:
    __opts__: dict[str, Any]

try:
    from dcluster import identity
    from dcluster.glue import engine_client as rc
    from dcluster.glue.command_auth import RateLimitedLog

    HAS_DCLUSTER = True
except ImportError as _exc:  # pragma: no cover
    HAS_DCLUSTER = False
    _IMPORT_ERROR = str(_exc)


def __virtual__():
    if not HAS_DCLUSTER:
        return (False, f"the dcluster_reactor runner needs the dcluster library on the master: {_IMPORT_ERROR}")
    return __virtualname__


_LIMITER = []


def _refusals():
    """The refusal log, rate-limited: anyone reaching port 4506 can make the reactor call these runners."""
    if not _LIMITER:
        _LIMITER.append(RateLimitedLog(log))
    return _LIMITER[0]


def _call(cmd, **args):
    try:
        return rc.call(__opts__, cmd, args)
    except rc.EngineUnavailable as exc:
        return {"ok": False, "message": str(exc)}


def _bad_id(minion_id, what):
    """Why ``minion_id`` (from an event: hostile until checked) is refused, or None if well formed.

    Checked before anything else, so a malformed id never reaches the engine.  The log
    shows its repr cut to 200 characters: a 1 MB id does not flood the log, a newline
    in it cannot forge a log line.
    """
    if identity.well_formed(minion_id):
        return None
    _refusals().warning("dcluster: %s: refused a malformed minion id %.200r", what, minion_id)
    kind = type(minion_id).__name__
    return (
        f"not a dcluster minion id (a {kind}"
        + (f" of {len(minion_id)} characters" if isinstance(minion_id, str) else "")
        + "); left for the admin"
    )


def pending_key(minion_id, act=None):
    """
    A key is pending (or was denied) under ``minion_id`` (called by ``reactor/auth.sls``).

    dcluster accepts each worker's key before launching it, so a pending key under one
    of dcluster's ids is never legitimate: the engine rejects it and reports it
    (``dcluster/key/refused``).  Any other id is left alone for the admin.  Returns
    ``{ok: False, message}``: a pending key is never accepted here.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster_reactor.pending_key dc-nectar-1a2b3c-0123456789ab
    """
    why = _bad_id(minion_id, "pending key")
    if why is not None:
        return {"ok": False, "message": why}
    if act not in (None, "pend", "denied"):
        return {"ok": False, "message": f"auth act {str(act)[:20]!r}: nothing to do"}
    result = _call("pending_key", minion_id=minion_id)
    _refusals().warning("dcluster: pending key of %s: %s", minion_id, result.get("message"))
    return result


def minion_started(minion_id):
    """
    Highstate a new worker whose minion started, as the engine does on its start event (for an operator:
    e.g. a start the engine missed); other minions are left alone.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster_reactor.minion_started dc-nectar-1a2b3c-0123456789ab
    """
    why = _bad_id(minion_id, "minion start")
    if why is not None:
        return {"ok": False, "message": why}
    return _call("started", minion_id=minion_id)
