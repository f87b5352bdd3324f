"""Son of Grid Engine scheduler adapter (execution module).

Thin Salt glue over :mod:`dcluster.schedulers.sge`: settings come from
``config.get dcluster:cluster`` (validated), commands run through
``cmd.run_all`` with ``python_shell=False``.  Tested against a real SoGE 8.1.9.
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

__virtualname__ = "dcluster_sge"
KIND = "sge"


def __virtual__():
    if not HAS_CORE:
        return False, f"dcluster_sge: the dcluster core or lxml is not importable ({IMPORT_ERROR})"
    return __virtualname__


def _call(method, *args, **kwargs):
    try:
        adapter = scheduler_adapter(KIND, __salt__["config.get"], __salt__["cmd.run_all"])
        return getattr(adapter, method)(*args, **kwargs)
    except (SchedulerError, ConfigError) as exc:
        log.error("dcluster_sge.%s: %s", method, exc)
        raise CommandExecutionError(str(exc)) from exc


def jobs():
    """
    Jobs of the cluster (``qstat -u * -xml -r``, shaped by the PE allocation rules), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.jobs
    """
    return [j.to_dict() for j in _call("jobs")]


def nodes():
    """
    Exec hosts (``qhost -q -j -xml``; our holds via ``@dcluster_hold``), as plain dicts.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.nodes
    """
    return [n.to_dict() for n in _call("nodes")]


def add_node(name, cores, mem_mb=0, queue=None, account=None, property=None, properties=None):  # noqa: A002 - the pillar's word
    """
    Add an exec host from a file (qconf -Ae), join the hostgroup (account or default_hostgroup), set slots in the queue.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.add_node dc-r1-abc123 4 queue=batch
    """
    reservation = {"queue": queue, "account": account, "property": property, "properties": properties}
    return _call("add_node", name, int(cores), int(mem_mb), reservation)


def set_reservation(name, queue=None, account=None):
    """
    Give a host slots in a queue and/or put it into the hostgroup of an account.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.set_reservation dc-r1-abc123 queue=batch
    """
    return _call("set_reservation", name, queue=queue, account=account)


def hold(name, reason="dcluster: held"):
    """
    Disable the host's queues (qmod -d) and mark the hold as ours (hostgroup @dcluster_hold).

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.hold dc-r1-abc123 reason="dcluster: idle"
    """
    _call("hold", name, reason)
    return True


def release(name, force=False):
    """
    Undo our hold (qmod -e, leave @dcluster_hold); an admin's hold is refused unless force=True.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.release dc-r1-abc123
    """
    _call("release", name, force=bool(force))
    return True


def remove(name, wait=0):
    """
    Remove an exec host: disable, wait up to ``wait`` s for jobs (refused while any), leave hostgroups, purge slots, qconf -ke, qconf -de.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.remove dc-r1-abc123
    """
    return _call("remove", name, wait=float(wait))


def vacate(name):
    """
    Force-delete the jobs of a host (qdel -f); returns their ids.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.vacate dc-r1-abc123
    """
    return _call("vacate", name)


def check():
    """
    Is the scheduler healthy (qmaster answers qstat and qhost)?

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.check
    """
    return _call("check")


def sync_hosts(entries, hosts_file="/etc/hosts", withdraw=True):
    """
    Make the lines of ``hosts_file`` that end in ``# dcluster`` say exactly ``entries``
    ({minion id: IP address}), with Salt's hosts module; no other line is touched.
    ``withdraw=False`` only adds and updates.  The engine calls it every cycle the workers change.

    CLI Example:

    .. code-block:: bash

        salt head dcluster_sge.sync_hosts '{"dc-r1-0a1b2c-0123456789ab": "10.0.0.5"}'
    """
    return _sync_hosts(__virtualname__, __salt__, __context__, hosts_file, entries, withdraw=withdraw)
