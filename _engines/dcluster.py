"""
The dcluster autoscaling engine: runs on the salt-master.

Each cycle it reads the ``dcluster`` pillar (changes apply without a
restart), polls the scheduler (through ``dcluster_<type>`` on the head minion,
or in-process when the master is the head node) and the cloud, reconciles,
plans and carries out the actions on a bounded thread pool.  Operator
commands from the ``dcluster`` runner arrive as ``dcluster/cmd/*`` events and
are answered on the reply tag they name; highstate returns of new workers
(``salt/job/*/ret/*``) mark them configured.  Every action and worker state
change is fired under ``dcluster/``.

Master configuration:

.. code-block:: yaml

    engines:
      - dcluster:
          # whose pillar holds the dcluster: key (default: this master's id)
          pillar_minion: headnode
          # address the workers' salt-minions use to reach this master
          master_address: 10.0.0.1
          # seconds between cycles (default: cluster_poller_interval from the pillar)
          interval: 10
"""

import logging
import os
import time

log = logging.getLogger(__name__)

__virtualname__ = "dcluster"

try:
    from dcluster.controller import Controller
    from dcluster.controller import commands as dc_commands
    from dcluster.glue.engine_ports import EventSender, salt_ports

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


def _highstate_return(controller, tag, data):
    """salt/job/<jid>/ret/<id> of a state run on one of our workers -> configured or failed."""
    if data.get("fun") not in ("state.apply", "state.highstate", "state.sls"):
        return
    minion = data.get("id", "")
    if controller.config is None:
        return
    from dcluster import identity

    if identity.parse(minion, controller.config.secret, controller.config.cluster_name) is None:
        return
    ret = data.get("return")
    ok = data.get("success", False) and data.get("retcode", 1) == 0
    failed = []
    if isinstance(ret, dict):
        failed = [k for k, v in ret.items() if isinstance(v, dict) and v.get("result") is False]
        ok = ok and not failed
    elif not isinstance(ret, dict):
        ok = False
    detail = "highstate succeeded" if ok else f"highstate failed: {', '.join(failed)[:400] or str(ret)[:400]}"
    controller.mark_configured(minion, ok, detail)


def start(pillar_minion=None, master_address=None, interval=None):
    """
    Run the autoscaling loop until the master stops.
    """
    import salt.utils.event

    opts = __opts__  # noqa: F821 - Salt's loader dunder
    fire = _fire_fn(opts)
    pillar_minion = pillar_minion or opts.get("id")
    if not master_address:
        iface = opts.get("interface", "0.0.0.0")
        master_address = iface if iface not in ("0.0.0.0", "::") else opts.get("id", "salt")
    ports = salt_ports(opts, __runners__, pillar_minion, master_address, fire)  # noqa: F821
    controller = Controller(ports, state_path=state_path(opts))
    controller.meta = {"pillar_minion": pillar_minion, "master_address": master_address}
    log.info("dcluster engine started: pillar of %s, master address %s", pillar_minion, master_address)
    fire("dcluster/engine/started", {"pillar_minion": pillar_minion, "master_address": master_address})
    next_cycle = 0.0
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        while True:
            now = time.time()
            if now >= next_cycle:
                summary = controller.cycle()
                fire("dcluster/cycle", {"ok": summary.get("ok"), "actions": summary.get("actions", [])[:50]})
                step = interval or (controller.config.cluster_poller_interval if controller.config else 10)
                next_cycle = now + float(step)
            event = bus.get_event(wait=max(0.05, min(1.0, next_cycle - time.time())), full=True)
            if not event:
                continue
            tag, data = event.get("tag", ""), event.get("data", {}) or {}
            try:
                if tag.startswith("dcluster/cmd/"):
                    cmd = tag.split("/", 2)[2]
                    result = dc_commands.run(controller, cmd, **(data.get("args") or {}))
                    if data.get("reply"):
                        fire(data["reply"], result)
                elif tag.startswith("salt/job/") and "/ret/" in tag:
                    _highstate_return(controller, tag, data)
            except Exception:  # noqa: BLE001 - one bad event must not end the engine
                log.exception("dcluster engine: could not handle %s", tag)
