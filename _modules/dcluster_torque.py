"""Torque/MAUI scheduler adapter (execution module).

A thin declaration over :class:`dcluster.glue.scheduler_module.SchedulerModule`
and :mod:`dcluster.schedulers.torque`.  Torque is not packaged for
Debian; this module is tested through fake commands replaying real recorded
outputs.  The MAUI text formats were checked against MAUI's own source, not
against a captured output, none being public (see dcluster.schedulers.maui).
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_torque"

if TYPE_CHECKING:
    __salt__: dict[str, Any]
    __context__: dict[str, Any]

try:
    import lxml  # noqa: F401

    from dcluster.glue.scheduler_module import SchedulerModule

    _IMPL = SchedulerModule("torque", log)
    IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the minion's environment
    _IMPL = None
    IMPORT_ERROR = str(exc)


def __virtual__():
    if _IMPL is None:
        return False, f"dcluster_torque: the dcluster core or lxml is not importable ({IMPORT_ERROR})"
    return __virtualname__


def jobs():
    """
    Jobs of the cluster (``qstat -x -t`` with MAUI priorities), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.jobs
    """
    return _IMPL.jobs(__salt__)


def nodes():
    """
    Nodes of the cluster (``pbsnodes -x``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.nodes
    """
    return _IMPL.nodes(__salt__)


def add_node(name, cores, mem_mb=0, queue=None, account=None, property=None, properties=None):  # noqa: A002 - the pillar's word
    """
    Add a node: qmgr create node, np, properties, MAUI reservations, state=free.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.add_node dc-r1-abc123 4 queue=batch
    """
    reservation = {"queue": queue, "account": account, "property": property, "properties": properties}
    return _IMPL.add_node(__salt__, name, cores, mem_mb, reservation)


def set_reservation(name, queue=None, account=None):
    """
    Reserve a node for a queue and/or an account (MAUI ``setres -q``/``-a``).

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.set_reservation dc-r1-abc123 queue=batch
    """
    return _IMPL.set_reservation(__salt__, name, queue=queue, account=account)


def hold(name, reason="dcluster: held"):
    """
    Take a node offline with a note (``pbsnodes -o -N``); dcluster's notes start with "dcluster".

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.hold dc-r1-abc123 reason="dcluster: idle"
    """
    return _IMPL.hold(__salt__, name, reason)


def release(name, force=False):
    """
    Undo our hold (``pbsnodes -c -N ""``); an admin's hold is refused unless force=True.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.release dc-r1-abc123
    """
    return _IMPL.release(__salt__, name, force)


def remove(name):
    """
    Remove an empty node: release its MAUI reservations, offline it, qmgr delete node.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.remove dc-r1-abc123
    """
    return _IMPL.remove(__salt__, name)


def vacate(name):
    """
    Kill the jobs of a node (qsig -s 9, then qdel -p); returns their ids.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.vacate dc-r1-abc123
    """
    return _IMPL.vacate(__salt__, name)


def check():
    """
    Is the scheduler healthy (pbs_server and MAUI answer)?

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.check
    """
    return _IMPL.check(__salt__)


def sync_hosts(entries, hosts_file="/etc/hosts", withdraw=True):
    """
    Make the lines of ``hosts_file`` that end in ``# dcluster`` say exactly ``entries``
    ({minion id: IP address}), with Salt's hosts module; no other line is touched.
    ``withdraw=False`` only adds and updates.  The engine calls it every cycle the workers change.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.sync_hosts '{"dc-r1-0a1b2c-0123456789ab": "10.0.0.5"}'
    """
    return _IMPL.sync_hosts(__salt__, __context__, entries, hosts_file, withdraw)
