"""Slurm scheduler adapter (execution module), with dynamic nodes.

A thin declaration over :class:`dcluster.glue.scheduler_module.SchedulerModule`
and :mod:`dcluster.schedulers.slurm`.  Tested against real Slurm 22.05.
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_slurm"

if TYPE_CHECKING:
    __salt__: dict[str, Any]
    __context__: dict[str, Any]

try:
    import lxml  # noqa: F401

    from dcluster.glue.scheduler_module import SchedulerModule

    _IMPL = SchedulerModule("slurm", log)
    IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the minion's environment
    _IMPL = None
    IMPORT_ERROR = str(exc)


def __virtual__():
    if _IMPL is None:
        return False, f"dcluster_slurm: the dcluster core or lxml is not importable ({IMPORT_ERROR})"
    return __virtualname__


def jobs():
    """
    Jobs of the cluster (``squeue --all --json``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.jobs
    """
    return _IMPL.jobs(__salt__)


def nodes():
    """
    Nodes of the cluster (``sinfo --json``, jobs from squeue), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.nodes
    """
    return _IMPL.nodes(__salt__)


def add_node(name, cores, mem_mb=0, queue=None, account=None, property=None, properties=None, address=None):  # noqa: A002 - the pillar's word
    """
    Add a dynamic node (scontrol create nodename=... state=future) or give a self-registered one (slurmd -Z) our features.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.add_node dc-r1-abc123 4 queue=batch
    """
    reservation = {"queue": queue, "account": account, "property": property, "properties": properties}
    return _IMPL.add_node(__salt__, name, cores, mem_mb, reservation, address=address)


def set_reservation(name, queue=None, account=None, property=None, properties=None):  # noqa: A002 - the pillar's word
    """
    Features for a queue/property; a Slurm reservation for an account.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.set_reservation dc-r1-abc123 queue=batch
    """
    return _IMPL.set_reservation(__salt__, name, queue=queue, account=account, property=property, properties=properties)


def hold(name, reason="dcluster: held"):
    """
    Drain a node with a reason; dcluster's reasons start with "dcluster".

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.hold dc-r1-abc123 reason="dcluster: idle"
    """
    return _IMPL.hold(__salt__, name, reason)


def release(name, force=False):
    """
    Resume a node we drained; an admin's drain is refused unless force=True.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.release dc-r1-abc123
    """
    return _IMPL.release(__salt__, name, force)


def remove(name):
    """
    Delete a dynamic node (scontrol delete nodename); refused while it runs jobs.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.remove dc-r1-abc123
    """
    return _IMPL.remove(__salt__, name)


def vacate(name):
    """
    Requeue (or cancel) the jobs of a node; returns their ids.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.vacate dc-r1-abc123
    """
    return _IMPL.vacate(__salt__, name)


def check():
    """
    Is the scheduler healthy (scontrol ping)?

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.check
    """
    return _IMPL.check(__salt__)


def sync_hosts(entries, hosts_file="/etc/hosts", withdraw=True):
    """
    Make the lines of ``hosts_file`` that end in ``# dcluster`` say exactly ``entries``
    ({minion id: IP address}), with Salt's hosts module; no other line is touched.
    ``withdraw=False`` only adds and updates.  The engine calls it every cycle the workers change.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.sync_hosts '{"dc-r1-0a1b2c-0123456789ab": "10.0.0.5"}'
    """
    return _IMPL.sync_hosts(__salt__, __context__, entries, hosts_file, withdraw)
