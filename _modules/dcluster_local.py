"""dcluster cloud driver for the local cloud (network-namespace hosts on this machine).

Each function is declared here and carried out by
:class:`dcluster.glue.cloud_module.CloudModule` (errors, secrets: see there).
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_local"

if TYPE_CHECKING:
    __salt__: dict[str, Any]
    __opts__: dict[str, Any]

try:
    import dcluster.clouds.local  # noqa: F401
    from dcluster.glue.cloud_module import CloudModule

    _IMPL = CloudModule("local", log)
    _WHY = ""
except ImportError as _exc:  # pragma: no cover - depends on the host
    _IMPL = None
    _WHY = f"dcluster_local needs dcluster: {_exc}"


def __virtual__():
    if _IMPL is None:
        return (False, _WHY)
    return __virtualname__


def instances(resource):
    """
    Namespace hosts of the resource on this machine that carry this cluster's signed minion ids.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_local.instances myresource
    """
    return _IMPL.instances(__salt__, __opts__, resource)


def launch(resource, count=1, master=None):
    """
    Start ``count`` namespace hosts of the resource (each with its own directory and address), to check its cloud settings: they get no
    pre-accepted minion key, so they never join the master (workers are launched by the engine:
    ``salt-run dcluster.launch``), and the engine destroys them after ``max_launch_time``.  Returns what was launched,
    exactly, and the classified error that stopped the rest of a partial launch; when
    nothing could be launched, raises CommandExecutionError with the error's kind.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_local.launch myresource count=2
    """
    return _IMPL.launch(__salt__, __opts__, resource, count, master)


def destroy(resource, ids):
    """
    Destroy namespace hosts by id; refuses ids that are not this cluster's.
    Returns {id: "ok" | "gone" | error text}.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_local.destroy myresource '["dc-r1-0a1b2c-0123456789ab"]'
    """
    return _IMPL.destroy(__salt__, __opts__, resource, ids)


def cores(resource):
    """
    Cores of one namespace host of the resource (its ``cores`` key, else 1).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_local.cores myresource
    """
    return _IMPL.cores(__salt__, __opts__, resource)


def mem_mb(resource):
    """
    Memory of one namespace host of the resource in MB (its ``mem_mb`` key, else 1024).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_local.mem_mb myresource
    """
    return _IMPL.mem_mb(__salt__, __opts__, resource)
