"""dcluster cloud driver for Amazon EC2 (boto3).

Each function is declared here and carried out by
:class:`dcluster.glue.cloud_module.CloudModule` (errors, secrets: see there).
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_aws"

if TYPE_CHECKING:
    __salt__: dict[str, Any]
    __opts__: dict[str, Any]

try:
    import boto3  # noqa: F401 - only probed for __virtual__
    import botocore  # noqa: F401 - only probed for __virtual__

    from dcluster.glue.cloud_module import CloudModule

    _IMPL = CloudModule("aws", log)
    _WHY = ""
except ImportError as _exc:  # pragma: no cover - depends on the host
    _IMPL = None
    _WHY = f"dcluster_aws needs boto3: {_exc}"


def __virtual__():
    if _IMPL is None:
        return (False, _WHY)
    return __virtualname__


def instances(resource):
    """
    EC2 instances of the resource that carry this cluster's tags, and its open spot requests when it bids.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_aws.instances myresource
    """
    return _IMPL.instances(__salt__, __opts__, resource)


def launch(resource, count=1, master=None):
    """
    Launch ``count`` EC2 instances of the resource (on-demand or spot, as its config says), to check its cloud settings: they get no
    pre-accepted minion key, so they never join the master (workers are launched by the engine:
    ``salt-run dcluster.launch``), and the engine destroys them after ``max_launch_time``.  Returns what was launched,
    exactly, and the classified error that stopped the rest of a partial launch; when
    nothing could be launched, raises CommandExecutionError with the error's kind.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_aws.launch myresource count=2
    """
    return _IMPL.launch(__salt__, __opts__, resource, count, master)


def destroy(resource, ids):
    """
    Terminate EC2 instances, or cancel spot requests (``sir-...``), by id; refuses ids that are not this cluster's.
    Returns {id: "ok" | "gone" | error text}.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_aws.destroy myresource '["i-0123", "i-4567"]'
    """
    return _IMPL.destroy(__salt__, __opts__, resource, ids)


def cores(resource):
    """
    vCPUs of one instance of the resource (its ``cores`` key, else its instance type's, asked of EC2).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_aws.cores myresource
    """
    return _IMPL.cores(__salt__, __opts__, resource)


def mem_mb(resource):
    """
    Memory of one instance of the resource in MB (its ``mem_mb`` key, else its instance type's, asked of EC2).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_aws.mem_mb myresource
    """
    return _IMPL.mem_mb(__salt__, __opts__, resource)
