"""Torque/MAUI scheduler adapter (execution module).

Thin Salt glue over :mod:`dcluster.schedulers.torque`: settings come from
``config.get dcluster:cluster`` (validated), commands run through
``cmd.run_all`` with ``python_shell=False``.  Torque is not packaged for
Debian; this module is tested through fake commands replaying real recorded
outputs.  The MAUI text formats were checked against MAUI's own source, not
against a captured output, none being public (see dcluster.schedulers.maui).
"""

import logging

try:
    import lxml  # noqa: F401 - only probed: __virtual__ needs the parsers' library

    from dcluster.config import ConfigError
    from dcluster.glue.names import module_sync_hosts as _sync_hosts
    from dcluster.glue.salt_command import scheduler_adapter
    from dcluster.schedulers.errors import SchedulerError

    HAS_CORE = True
    IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the minion's environment
    HAS_CORE = False
    IMPORT_ERROR = str(exc)

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_torque"
KIND = "torque"


def __virtual__():
    if not HAS_CORE:
        return False, f"dcluster_torque: the dcluster core or lxml is not importable ({IMPORT_ERROR})"
    return __virtualname__


def _call(method, *args, **kwargs):
    try:
        adapter = scheduler_adapter(KIND, __salt__["config.get"], __salt__["cmd.run_all"])
        return getattr(adapter, method)(*args, **kwargs)
    except (SchedulerError, ConfigError) as exc:
        log.error("dcluster_torque.%s: %s", method, exc)
        raise CommandExecutionError(str(exc)) from exc


def jobs():
    """
    Jobs of the cluster (``qstat -x -t`` with MAUI priorities), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.jobs
    """
    return [j.to_dict() for j in _call("jobs")]


def nodes():
    """
    Nodes of the cluster (``pbsnodes -x``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.nodes
    """
    return [n.to_dict() for n in _call("nodes")]


def add_node(name, cores, mem_mb=0, queue=None, account=None, property=None, properties=None):  # noqa: A002 - the pillar's word
    """
    Add a node: qmgr create node, np, properties, MAUI reservations, state=free.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.add_node dc-r1-abc123 4 queue=batch
    """
    reservation = {"queue": queue, "account": account, "property": property, "properties": properties}
    return _call("add_node", name, int(cores), int(mem_mb), reservation)


def set_reservation(name, queue=None, account=None):
    """
    Reserve a node for a queue and/or an account (MAUI ``setres -q``/``-a``).

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.set_reservation dc-r1-abc123 queue=batch
    """
    return _call("set_reservation", name, queue=queue, account=account)


def hold(name, reason="dcluster: held"):
    """
    Take a node offline with a note (``pbsnodes -o -N``); dcluster's notes start with "dcluster".

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.hold dc-r1-abc123 reason="dcluster: idle"
    """
    _call("hold", name, reason)
    return True


def release(name, force=False):
    """
    Undo our hold (``pbsnodes -c -N ""``); an admin's hold is refused unless force=True.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.release dc-r1-abc123
    """
    _call("release", name, force=bool(force))
    return True


def remove(name):
    """
    Remove an empty node: release its MAUI reservations, offline it, qmgr delete node.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.remove dc-r1-abc123
    """
    return _call("remove", name)


def vacate(name):
    """
    Kill the jobs of a node (qsig -s 9, then qdel -p); returns their ids.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.vacate dc-r1-abc123
    """
    return _call("vacate", name)


def check():
    """
    Is the scheduler healthy (pbs_server and MAUI answer)?

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.check
    """
    return _call("check")


def sync_hosts(entries, hosts_file="/etc/hosts", withdraw=True):
    """
    Make the lines of ``hosts_file`` that end in ``# dcluster`` say exactly ``entries``
    ({minion id: IP address}), with Salt's hosts module; no other line is touched.
    ``withdraw=False`` only adds and updates.  The engine calls it every cycle the workers change.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_torque.sync_hosts '{"dc-r1-0a1b2c-0123456789ab": "10.0.0.5"}'
    """
    return _sync_hosts(__virtualname__, __salt__, __context__, hosts_file, entries, withdraw=withdraw)
