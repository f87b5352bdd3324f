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
"""

import logging
import os
import time

log = logging.getLogger(__name__)

__virtualname__ = "dcluster"

try:
    from dcluster.controller import Controller, highstate_jobs
    from dcluster.controller import commands as dc_commands
    from dcluster.glue import command_auth
    from dcluster.glue.engine_ports import EventSender, salt_ports

    HAS_DCLUSTER = True
    # one budget per kind, so a flood of forged commands cannot hide a forged highstate return
    _REFUSALS = {"command": command_auth.RateLimitedLog(log), "highstate return": command_auth.RateLimitedLog(log)}
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


def _refused(controller, counter, what, tag, reason):
    """Log (rate-limited: a flood must not fill the log) and count one refused event."""
    controller.state.count(counter)
    _REFUSALS[what].warning("dcluster: refused %s %.200r: %s", what, tag, reason)


def _command(controller, verifier, fire, tag, data):
    """A ``dcluster/cmd/<cmd>`` event: obeyed and answered only if a runner in this master signed it."""
    cmd = tag.split("/", 2)[2]
    try:
        args, reply = verifier.verify(cmd, data)
    except command_auth.Refused as exc:
        _refused(controller, "commands_refused", "command", tag, str(exc))  # no reply: the sender learns nothing
        return None
    result = dc_commands.run(controller, cmd, **args)
    fire(reply, result)
    return result


def _highstate_return(controller, tag, data):
    """salt/job/<jid>/ret/<id>: if the engine started that job for that minion, read its result from the job cache."""
    status, why = highstate_jobs.on_return(controller, tag, data)
    if status == "refused":
        _refused(controller, "highstate_returns_refused", "highstate return", tag, why)
    return status


def start(pillar_minion=None, master_address=None, interval=None):
    """
    Run the autoscaling loop until the master stops.
    """
    import salt.utils.event

    from dcluster.glue import log_config, log_filter

    log_filter.install()  # every record of this process (botocore, keystoneauth too) is scrubbed of credentials
    opts = __opts__  # noqa: F821 - Salt's loader dunder
    fire = _fire_fn(opts)
    pillar_minion = pillar_minion or opts.get("id")
    if not master_address:
        iface = opts.get("interface", "0.0.0.0")
        master_address = iface if iface not in ("0.0.0.0", "::") else opts.get("id", "salt")
    ports = salt_ports(opts, __runners__, pillar_minion, master_address, fire)  # noqa: F821
    controller = Controller(ports, state_path=state_path(opts))
    ports.highstate = highstate_jobs.tracked(controller, ports.highstate)
    key_file = command_auth.key_path(opts["cachedir"])
    command_auth.load_or_create_key(key_file)
    verifier = command_auth.Verifier(command_auth.FileKey(key_file))
    hinted = {}  # jid -> when to look in the job cache again (its return event came before the cache write)
    controller.meta = {"pillar_minion": pillar_minion, "master_address": master_address}
    log.info("dcluster engine started: pillar of %s, master address %s", pillar_minion, master_address)
    fire("dcluster/engine/started", {"pillar_minion": pillar_minion, "master_address": master_address})
    next_cycle = 0.0
    logged_by = None  # the config whose logging: section is in force
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        while True:
            now = time.monotonic()  # a step of the wall clock must not stall (or hurry) the cycles
            if now >= next_cycle:
                summary = controller.cycle()
                if controller.config is not None and dict(controller.config.logging) != logged_by:
                    logged_by = dict(controller.config.logging)
                    try:
                        log_config.apply(logged_by)
                    except OSError as exc:  # e.g. log_location's directory is missing: Salt's log still works
                        log.error("dcluster engine: cannot apply dcluster:logging: %s", exc)
                fire("dcluster/cycle", {"ok": summary.get("ok"), "actions": summary.get("actions", [])[:50]})
                step = interval or (controller.config.cluster_poller_interval if controller.config else 10)
                next_cycle = now + float(step)
            for jid, when in list(hinted.items()):
                if time.monotonic() >= when:
                    del hinted[jid]
                    try:
                        highstate_jobs.settle(controller, jid)
                    except Exception:  # noqa: BLE001 - the cycle asks the job cache again
                        log.exception("dcluster engine: could not check job %s", jid)
            event = bus.get_event(wait=max(0.05, min(1.0, next_cycle - time.monotonic())), full=True)
            if not event:
                continue
            tag, data = event.get("tag", ""), event.get("data", {})
            try:
                if not isinstance(tag, str):
                    continue
                if tag.startswith("dcluster/cmd/"):
                    _command(controller, verifier, fire, tag, data)
                elif tag.startswith("salt/job/") and "/ret/" in tag:
                    if _highstate_return(controller, tag, data) == "pending" and len(hinted) < 1000:
                        hinted[tag.split("/")[2]] = time.monotonic() + 0.5
            except Exception:  # noqa: BLE001 - one bad event must not end the engine
                log.exception("dcluster engine: could not handle %.200r", tag)
