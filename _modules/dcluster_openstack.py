"""dcluster cloud driver for OpenStack Nova (python-novaclient, keystoneauth1).

Thin wrapper: reads the resource from the ``dcluster`` pillar/config
(validated by :func:`dcluster.config.load`), calls the driver in
:mod:`dcluster.clouds`, returns plain data.  A classified cloud error is
raised as CommandExecutionError whose message starts with its kind
(quota, capacity, config, auth, transient, notfound) and never carries a
credential.
"""

import logging

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_openstack"

try:
    import keystoneauth1  # noqa: F401 - only probed for __virtual__
    import novaclient  # noqa: F401 - only probed for __virtual__

    from dcluster.glue import cloud as _glue

    HAS_LIBS = True
    _WHY = ""
except ImportError as _exc:  # pragma: no cover - depends on the host
    HAS_LIBS = False
    _WHY = f"dcluster_openstack needs python-novaclient and keystoneauth1: {_exc}"


def __virtual__():
    if not HAS_LIBS:
        return (False, _WHY)
    return __virtualname__


def _call(op, resource, **kwargs):
    from salt.exceptions import CommandExecutionError

    try:
        return _glue.call(__salt__["config.get"], op, resource, "openstack", opts=__opts__, **kwargs)
    except _glue.CloudGlueError as exc:
        log.warning("dcluster_openstack.%s %s failed: %s", op, resource, exc)
        raise CommandExecutionError(str(exc)) from None


def instances(resource):
    """
    List the instances of a openstack resource that carry this cluster's tags.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.instances myresource
    """
    return _call("instances", resource)


def launch(resource, count=1, master=None):
    """
    Launch ``count`` instances of a openstack resource, to check its cloud settings: they get no
    pre-accepted minion key, so they never join the master (workers are launched by the engine:
    ``salt-run dcluster.launch``), and the engine destroys them after ``max_launch_time``.  Returns what was launched,
    exactly, and the classified error that stopped the rest of a partial launch; when
    nothing could be launched, raises CommandExecutionError with the error's kind.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.launch myresource count=2
    """
    return _call("launch", resource, count=int(count), master=master)


def destroy(resource, ids):
    """
    Destroy instances by cloud id; refuses ids that are not this cluster's.
    Returns {id: "ok" | "gone" | error text}.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.destroy myresource '["i-0123", "i-4567"]'
    """
    if isinstance(ids, str):
        ids = [i for i in ids.split(",") if i]
    return _call("destroy", resource, ids=list(ids))


def cores(resource):
    """
    Cores of one instance of the resource (the resource's ``cores`` key, else asked from the cloud).

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.cores myresource
    """
    return _call("cores", resource)


def mem_mb(resource):
    """
    Memory of one instance of the resource in MB.

    CLI Example:

    .. code-block:: bash

        salt-call dcluster_openstack.mem_mb myresource
    """
    return _call("mem_mb", resource)
