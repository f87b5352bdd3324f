"""Slurm scheduler adapter (execution module), with dynamic nodes.

Thin Salt glue over :mod:`dcluster.schedulers.slurm`: settings come from
``config.get dcluster:cluster`` (validated), commands run through
``cmd.run_all`` with ``python_shell=False``.  Tested against real Slurm 22.05.
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

__virtualname__ = "dcluster_slurm"
KIND = "slurm"


def __virtual__():
    if not HAS_CORE:
        return False, f"dcluster_slurm: the dcluster core or lxml is not importable ({IMPORT_ERROR})"
    return __virtualname__


def _call(method, *args, **kwargs):
    try:
        adapter = scheduler_adapter(KIND, __salt__["config.get"], __salt__["cmd.run_all"])
        return getattr(adapter, method)(*args, **kwargs)
    except (SchedulerError, ConfigError) as exc:
        log.error("dcluster_slurm.%s: %s", method, exc)
        raise CommandExecutionError(str(exc)) from exc


def jobs():
    """
    Jobs of the cluster (``squeue --all --json``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.jobs
    """
    return [j.to_dict() for j in _call("jobs")]


def nodes():
    """
    Nodes of the cluster (``sinfo --json``, jobs from squeue), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.nodes
    """
    return [n.to_dict() for n in _call("nodes")]


def add_node(name, cores, mem_mb=0, queue=None, account=None, property=None, properties=None, address=None):  # noqa: A002 - the pillar's word
    """
    Add a dynamic node (scontrol create nodename=... state=future) or give a self-registered one (slurmd -Z) our features.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.add_node dc-r1-abc123 4 queue=batch
    """
    reservation = {"queue": queue, "account": account, "property": property, "properties": properties}
    return _call("add_node", name, int(cores), int(mem_mb), reservation, address=address)


def set_reservation(name, queue=None, account=None, property=None, properties=None):  # noqa: A002 - the pillar's word
    """
    Features for a queue/property; a Slurm reservation for an account.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.set_reservation dc-r1-abc123 queue=batch
    """
    if isinstance(properties, str):
        properties = properties.split(",")
    properties = (*((property,) if property else ()), *(properties or ()))
    return _call("set_reservation", name, queue=queue, account=account, properties=properties)


def hold(name, reason="dcluster: held"):
    """
    Drain a node with a reason; dcluster's reasons start with "dcluster".

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.hold dc-r1-abc123 reason="dcluster: idle"
    """
    _call("hold", name, reason)
    return True


def release(name, force=False):
    """
    Resume a node we drained; an admin's drain is refused unless force=True.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.release dc-r1-abc123
    """
    _call("release", name, force=bool(force))
    return True


def remove(name):
    """
    Delete a dynamic node (scontrol delete nodename); refused while it runs jobs.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.remove dc-r1-abc123
    """
    return _call("remove", name)


def vacate(name):
    """
    Requeue (or cancel) the jobs of a node; returns their ids.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.vacate dc-r1-abc123
    """
    return _call("vacate", name)


def check():
    """
    Is the scheduler healthy (scontrol ping)?

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.check
    """
    return _call("check")


def sync_hosts(entries, hosts_file="/etc/hosts", withdraw=True):
    """
    Make the lines of ``hosts_file`` that end in ``# dcluster`` say exactly ``entries``
    ({minion id: IP address}), with Salt's hosts module; no other line is touched.
    ``withdraw=False`` only adds and updates.  The engine calls it every cycle the workers change.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_slurm.sync_hosts '{"dc-r1-0a1b2c-0123456789ab": "10.0.0.5"}'
    """
    return _sync_hosts(__virtualname__, __salt__, __context__, hosts_file, entries, withdraw=withdraw)
