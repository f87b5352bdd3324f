"""
The dcluster autoscaling engine: runs on the salt-master.

Each cycle it reads the ``dcluster`` pillar (changes apply without a
restart), polls the scheduler (through ``dcluster_<type>`` on the head minion,
or in-process when the master is the head node) and the cloud, reconciles,
plans and carries out the actions on a bounded thread pool.  Operator
commands from the ``dcluster`` runner arrive as ``dcluster/cmd/*`` events and
are answered on the reply tag they name; only commands signed with the
master-local key (``<cachedir>/dcluster/command.key``, see
``dcluster.glue.command_auth``) are obeyed, since any minion can fire that tag.
A new worker is configured when Salt's job cache holds a successful return of
a highstate the engine started for it (``dcluster.controller.highstate_jobs``);
``salt/job/*/ret/*`` events only hint that it may be there.  Every action and
worker state change is fired under ``dcluster/``.

Master configuration:

.. code-block:: yaml

    engines:
      - dcluster:
          # whose pillar holds the dcluster: key (default: this master's own id, the one
          # place the cloud credentials should be; see pillar.example)
          # pillar_minion: saltmaster_master
          # address the workers' salt-minions use to reach this master
          master_address: 10.0.0.1
          # seconds between cycles (default: cluster_poller_interval from the pillar)
          interval: 10
          # seconds between the beacon samples each worker may send for the graphs, on average
          # (default 30, the dcluster_stats beacon's interval); more are dropped and counted
          stats_interval: 30
"""

import logging
import os
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster"

if TYPE_CHECKING:
    __opts__: dict[str, Any]
    __runners__: dict[str, Any]

try:
    from dcluster.controller import Controller, highstate_jobs
    from dcluster.glue import command_auth
    from dcluster.glue.engine_loop import EngineLoop
    from dcluster.glue.engine_ports import EventSender, salt_ports
    from dcluster.worker_stats import WorkerStats

    HAS_DCLUSTER = True
except ImportError as _exc:  # pragma: no cover - reported by __virtual__
    HAS_DCLUSTER = False
    _IMPORT_ERROR = str(_exc)


def __virtual__():
    if not HAS_DCLUSTER:
        return (False, f"the dcluster engine needs the dcluster library installed on the master: {_IMPORT_ERROR}")
    return __virtualname__


def state_path(opts):
    return os.path.join(opts["cachedir"], "dcluster", "state.json")


def _fire_fn(opts):
    import salt.utils.event

    return EventSender(lambda: salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False))


def start(pillar_minion=None, master_address=None, interval=None, stats_interval=None):
    """
    Run the autoscaling loop until the master stops.
    """
    import salt.utils.event

    from dcluster.glue import log_filter, reactor_config

    log_filter.install()  # every record of this process (botocore, keystoneauth too) is scrubbed of credentials
    opts = __opts__  # Salt's loader dunder
    fire = _fire_fn(opts)
    pillar_minion = pillar_minion or opts.get("id")
    ports = salt_ports(opts, __runners__, pillar_minion, master_address or None, fire)
    # what the log and the status show: the address given, else the master's own (the local cloud's
    # workers get their gateway instead: dcluster.clouds.base.master_address)
    master_address = master_address or ports.master_default
    controller = Controller(ports, state_path=state_path(opts))
    if stats_interval is not None:
        try:
            controller.worker_stats = WorkerStats(min_interval=float(stats_interval))
        except (TypeError, ValueError):
            raise ValueError(
                f"engines: dcluster: stats_interval must be a number of seconds above 0, not {stats_interval!r}"
            ) from None
    ports.highstate = highstate_jobs.tracked(controller, ports.highstate)
    key_file = command_auth.key_path(opts["cachedir"])
    command_auth.load_or_create_key(key_file)
    verifier = command_auth.Verifier(command_auth.FileKey(key_file))
    controller.meta = {"pillar_minion": pillar_minion, "master_address": master_address}
    log.info("dcluster engine started: pillar of %s, master address %s", pillar_minion, master_address)
    for mapping in reactor_config.retired_mappings(opts.get("reactor")):
        log.warning(
            "dcluster: the master's reactor configuration still maps %s; delete that mapping and restart "
            "the master (README, 'Upgrading a master')",
            mapping,
        )
    fire("dcluster/engine/started", {"pillar_minion": pillar_minion, "master_address": master_address})
    loop = EngineLoop(controller, verifier, fire, interval=interval)
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        loop.run(lambda wait: bus.get_event(wait=wait, full=True))
