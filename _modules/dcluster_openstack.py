"""dcluster cloud driver for OpenStack Nova (python-novaclient, keystoneauth1).

Each function is declared here and carried out by
:class:`dcluster.glue.cloud_module.CloudModule` (errors, secrets: see there).
"""

import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_openstack"

if TYPE_CHECKING:
    __salt__: dict[str, Any]
    __opts__: dict[str, Any]

try:
    import keystoneauth1  # noqa: F401 - only probed for __virtual__
    import novaclient  # noqa: F401 - only probed for __virtual__

    from dcluster.glue.cloud_module import CloudModule

    _IMPL = CloudModule("openstack", log)
    _WHY = ""
except ImportError as _exc:  # pragma: no cover - depends on the host
    _IMPL = None
    _WHY = f"dcluster_openstack needs python-novaclient and keystoneauth1: {_exc}"


def __virtual__():
    if _IMPL is None:
        return (False, _WHY)
    return __virtualname__


def instances(resource):
    """
    Nova servers of the resource that carry this cluster's metadata.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.instances myresource
    """
    return _IMPL.instances(__salt__, __opts__, resource)


def launch(resource, count=1, master=None):
    """
    Boot ``count`` Nova servers of the resource (its flavor and image, or a boot volume), to check its cloud settings: they get no
    pre-accepted minion key, so they never join the master (workers are launched by the engine:
    ``salt-run dcluster.launch``), and the engine destroys them after ``max_launch_time``.  Returns what was launched,
    exactly, and the classified error that stopped the rest of a partial launch; when
    nothing could be launched, raises CommandExecutionError with the error's kind.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.launch myresource count=2
    """
    return _IMPL.launch(__salt__, __opts__, resource, count, master)


def destroy(resource, ids):
    """
    Delete Nova servers by id; refuses ids that are not this cluster's.
    Returns {id: "ok" | "gone" | error text}.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.destroy myresource '["6f0c2d1e-...", "a1b2c3d4-..."]'
    """
    return _IMPL.destroy(__salt__, __opts__, resource, ids)


def cores(resource):
    """
    vCPUs of the resource's flavor (its ``cores`` key, else asked of Nova).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.cores myresource
    """
    return _IMPL.cores(__salt__, __opts__, resource)


def mem_mb(resource):
    """
    RAM of the resource's flavor in MB (its ``mem_mb`` key, else asked of Nova).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.mem_mb myresource
    """
    return _IMPL.mem_mb(__salt__, __opts__, resource)
