"""
dcluster_worker: a cloud worker's batch-scheduler daemon runs and registers with the head node.

Used by the worker formulas (``salt/dcluster/worker/*.sls``).  Slurm workers
register themselves as dynamic nodes (``slurmd -Z --conf "CPUs=.. RealMemory=..
Feature=.."``); Grid Engine's ``sge_execd`` and Torque's ``pbs_mom`` wait until
the dcluster engine has added the host on the head node (its REGISTER
action, once this highstate returned).  The daemon is started without a
shell, in a new session, with its output in ``log_dir``.

.. code-block:: yaml

    slurmd:
      dcluster_worker.registered:
        - name: {{ grains['id'] }}
        - scheduler: slurm
        - cores: 2
        - mem_mb: 1000
        - features: [dcluster]
        - conf: /etc/slurm/slurm.conf
        - env:
            SLURM_CONF: /etc/slurm/slurm.conf
"""

import logging
import os

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_worker"

try:
    from dcluster.glue import worker as _worker

    HAS_DCLUSTER = True
except ImportError as _exc:  # pragma: no cover - reported by __virtual__
    HAS_DCLUSTER = False
    _IMPORT_ERROR = str(_exc)


def __virtual__():
    if not HAS_DCLUSTER:
        return (False, f"dcluster_worker needs the dcluster library on the worker: {_IMPORT_ERROR}")
    return __virtualname__


def registered(
    name,
    scheduler,
    cores=None,
    mem_mb=None,
    features=None,
    conf=None,
    env=None,
    sbin="/usr/sbin",
    args=None,
    boottime_zero=False,
    log_dir=None,
    timeout=30,
):
    """
    Ensure the worker daemon of ``scheduler`` (slurm, sge or torque) runs on this host as node ``name``.

    name
        The scheduler node name: the minion id (``{{ grains['id'] }}``).
    scheduler
        slurm (``slurmd -Z``), sge (``sge_execd``) or torque (``pbs_mom``).
    cores, mem_mb, features
        Slurm: what the node registers with (``CPUs``, ``RealMemory``, ``Feature``); cores is required.
    conf
        Slurm: the slurm.conf (``slurmd -f``); configless setups leave it empty.
    env
        Environment of the daemon (``SLURM_CONF``; ``SGE_ROOT``, ``SGE_CELL``, ``SGE_QMASTER_PORT``,
        ``SGE_EXECD_PORT``; ``PBS_SERVER_HOME``).
    sbin
        Where the daemon binaries are.
    args
        More arguments for the daemon.
    boottime_zero
        Start it in a time namespace with an uptime of ~0 (Slurm on the local cloud, whose hosts share
        this machine's boot time).
    log_dir
        Where the daemon's start-up output goes (default: the minion's cachedir).
    timeout
        Seconds to wait for the daemon to start.

    .. code-block:: yaml

        sge_execd:
          dcluster_worker.registered:
            - name: {{ grains['id'] }}
            - scheduler: sge
            - env:
                SGE_ROOT: /var/lib/gridengine
                SGE_CELL: default
    """
    ret = {"name": name, "changes": {}, "result": False, "comment": ""}
    try:
        argv = _worker.daemon_argv(
            scheduler, name, cores=cores, mem_mb=mem_mb, features=features or (), conf=conf, sbin=sbin, args=args or ()
        )
    except _worker.WorkerError as exc:
        ret["comment"] = str(exc)
        return ret
    daemon = os.path.basename(argv[0])
    pids = _worker.running(argv[0], name)
    if pids:
        ret.update(result=True, comment=f"{daemon} of {name} is running (pid {', '.join(map(str, pids))})")
        return ret
    if __opts__.get("test"):  # Salt's loader dunder
        ret.update(
            result=None,
            comment=f"{daemon} of {name} would be started",
            changes={"started": {"argv": argv, "boottime_zero": bool(boottime_zero)}},
        )
        return ret
    if not os.access(argv[0], os.X_OK):
        ret["comment"] = f"{argv[0]} is not installed (install the {scheduler} worker package)"
        return ret
    log_dir = log_dir or os.path.join(__opts__.get("cachedir", "/tmp"), "dcluster")
    log_path = os.path.join(log_dir, f"{daemon}.log")
    try:
        pids = _worker.start(
            argv, env=env, log_path=log_path, boottime_zero=bool(boottime_zero), timeout=float(timeout)
        )
    except _worker.WorkerError as exc:
        ret["comment"] = str(exc)
        return ret
    log.info("dcluster_worker: started %s as %s (pid %s)", daemon, name, pids)
    ret.update(
        result=True,
        comment=f"{daemon} of {name} started (pid {', '.join(map(str, pids))})",
        changes={"started": {"argv": argv, "pid": pids[0], "log": log_path}},
    )
    return ret


def highstate_proof(name):
    """
    Sign this highstate's jid and this minion's id with the minion's own key, once every earlier state succeeded.

    The dcluster engine takes a worker's successful highstate only with this proof, verified
    with the key it accepted for that minion: the master's job cache alone does not show which
    minion filed a return.  The formula's last state (``order: last``); its ``changes`` carry the
    signature (base64, RSA-PSS SHA-256) into the job's return.

    name
        ``dcluster-highstate-proof`` (the engine looks the proof up by this state id and name).

    .. code-block:: yaml

        dcluster-highstate-proof:
          dcluster_worker.highstate_proof:
            - order: last
    """
    import multiprocessing
    import threading

    import salt.payload

    from dcluster import highstate_proof as _proof

    ret = {"name": name, "changes": {}, "result": False, "comment": ""}
    if __opts__.get("test"):
        ret.update(result=None, comment="the highstate's proof would be signed")
        return ret
    failed = _proof.failed_states(__running__)  # noqa: F821 - Salt's loader dunder: the states run so far
    if failed:  # a signature says the whole run succeeded
        ret["comment"] = f"no proof: {len(failed)} earlier state(s) did not succeed: {', '.join(failed)[:400]}"
        return ret
    minion_id = __opts__["id"]
    names = (threading.current_thread().name, multiprocessing.current_process().name)
    jid = _proof.running_jid(os.path.join(__opts__["cachedir"], "proc"), os.getpid(), names, salt.payload.loads)
    if jid is None:
        ret.update(result=True, comment="not run by one job of the master: no proof to make")
        return ret
    try:
        with open(os.path.join(__opts__["pki_dir"], "minion.pem"), "rb") as fh:
            signature = _proof.sign(fh.read(), jid, minion_id)
    except (OSError, _proof.ProofError) as exc:
        ret["comment"] = f"cannot sign the highstate's proof with the minion's key: {exc}"
        return ret
    ret.update(
        result=True,
        comment=f"signed job {jid} for {minion_id}",
        changes={"proof": {"jid": jid, "minion": minion_id, "signature": signature}},
    )
    return ret
