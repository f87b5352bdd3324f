"""Son of Grid Engine scheduler adapter (execution module).

A thin declaration over :class:`dcluster.glue.scheduler_module.SchedulerModule`
and :mod:`dcluster.schedulers.sge`.  Tested against a real SoGE 8.1.9.
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_sge"

if TYPE_CHECKING:
    __salt__: dict[str, Any]
    __context__: dict[str, Any]

try:
    import lxml  # noqa: F401

    from dcluster.glue.scheduler_module import SchedulerModule

    _IMPL = SchedulerModule("sge", log)
    IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the minion's environment
    _IMPL = None
    IMPORT_ERROR = str(exc)


def __virtual__():
    if _IMPL is None:
        return False, f"dcluster_sge: the dcluster core or lxml is not importable ({IMPORT_ERROR})"
    return __virtualname__


def jobs():
    """
    Jobs of the cluster (``qstat -u * -xml -r``, shaped by the PE allocation rules; a ``qsub -a`` start
    time from ``qstat -xml -j``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.jobs
    """
    return _IMPL.jobs(__salt__)


def nodes():
    """
    Exec hosts (``qhost -q -j -xml``; our holds via ``@dcluster_hold``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.nodes
    """
    return _IMPL.nodes(__salt__)


def add_node(name, cores, mem_mb=0, queue=None, account=None, property=None, properties=None):  # noqa: A002 - the pillar's word
    """
    Add an exec host from a file (qconf -Ae), join the hostgroup (account or default_hostgroup), set slots in the queue.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.add_node dc-r1-abc123 4 queue=batch
    """
    reservation = {"queue": queue, "account": account, "property": property, "properties": properties}
    return _IMPL.add_node(__salt__, name, cores, mem_mb, reservation)


def set_reservation(name, queue=None, account=None):
    """
    Give a host slots in a queue and/or put it into the hostgroup of an account.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.set_reservation dc-r1-abc123 queue=batch
    """
    return _IMPL.set_reservation(__salt__, name, queue=queue, account=account)


def hold(name, reason="dcluster: held"):
    """
    Disable the host's queues (qmod -d) and mark the hold as ours (hostgroup @dcluster_hold).

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.hold dc-r1-abc123 reason="dcluster: idle"
    """
    return _IMPL.hold(__salt__, name, reason)


def release(name, force=False):
    """
    Undo our hold (qmod -e, leave @dcluster_hold); an admin's hold is refused unless force=True.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.release dc-r1-abc123
    """
    return _IMPL.release(__salt__, name, force)


def remove(name, wait=0):
    """
    Remove an exec host: disable, wait up to ``wait`` s for jobs (refused while any), leave hostgroups, purge slots, qconf -ke, qconf -de.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.remove dc-r1-abc123
    """
    return _IMPL.remove(__salt__, name, wait=float(wait))


def vacate(name):
    """
    Force-delete the jobs of a host (qdel -f); returns their ids.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.vacate dc-r1-abc123
    """
    return _IMPL.vacate(__salt__, name)


def check():
    """
    Is the scheduler healthy (qmaster answers qstat and qhost)?

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.check
    """
    return _IMPL.check(__salt__)


def sync_hosts(entries, hosts_file="/etc/hosts", withdraw=True):
    """
    Make the lines of ``hosts_file`` that end in ``# dcluster`` say exactly ``entries``
    ({minion id: IP address}), with Salt's hosts module; no other line is touched.
    ``withdraw=False`` only adds and updates.  The engine calls it every cycle the workers change.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.sync_hosts '{"dc-r1-0a1b2c-0123456789ab": "10.0.0.5"}'
    """
    return _IMPL.sync_hosts(__salt__, __context__, entries, hosts_file, withdraw)
