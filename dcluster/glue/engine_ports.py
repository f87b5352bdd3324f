"""The controller's ports, implemented with Salt (used by ``_engines/dcluster_mod.py``).

Salt is imported inside the functions: this package must import without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .. import identity
from ..config import Config, Resource
from ..holds import DEFAULT_HOLD_REASON
from ..metrics.reporter import GraphitePort
from ..model import Job, Node
from ..schedulers import adapter_class
from ..schedulers.validate import reservation_fields
from ..wire import ModelError

if TYPE_CHECKING:
    from ..actuator.ports import SchedulerPort
    from ..controller.ports import Ports
    from ..schedulers.adapter import Adapter

log = logging.getLogger(__name__)
_R = TypeVar("_R")


class RemoteError(RuntimeError):
    pass


class RemoteScheduler:
    """The scheduler execution module on the head minion, called through LocalClient."""

    def __init__(self, client: Any, head: str, kind: str, timeout: int) -> None:
        self.client, self.head, self.kind, self.timeout = client, head, kind, timeout

    def _call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        fun = f"dcluster_{self.kind}.{fn}"
        ret = self.client.cmd(
            self.head, fun, arg=list(args), kwarg=kwargs or None, timeout=self.timeout, full_return=True
        )
        if self.head not in ret:
            raise RemoteError(f"{fun} on {self.head}: no answer within {self.timeout} s")
        answer = ret[self.head]
        value = answer.get("ret") if isinstance(answer, Mapping) else answer
        retcode = answer.get("retcode", 0) if isinstance(answer, Mapping) else 0
        if retcode or (isinstance(value, str) and ("Traceback" in value or value.startswith(("ERROR", "The minion")))):
            raise RemoteError(f"{fun} on {self.head} failed: {str(value)[:1000]}")
        return value

    def jobs(self) -> list[Job]:
        data = self._call("jobs")
        if not isinstance(data, list):
            raise RemoteError(f"dcluster_{self.kind}.jobs returned {type(data).__name__}, not a list")
        return self._records("jobs", data, Job.from_dict)

    def nodes(self) -> list[Node]:
        data = self._call("nodes")
        if not isinstance(data, list):
            raise RemoteError(f"dcluster_{self.kind}.nodes returned {type(data).__name__}, not a list")
        return self._records("nodes", data, Node.from_dict)

    def _records(self, fn: str, data: list[Any], build: Callable[[Any], _R]) -> list[_R]:
        """The head minion's records as model objects; a malformed one fails the poll, named (the
        head's answer is input: a wrong type would otherwise surface cycles later as a bare TypeError
        in the planner, or not at all: "2" * 4 cores)."""
        out = []
        for i, rec in enumerate(data):
            try:
                out.append(build(rec))
            except ModelError as exc:
                raise RemoteError(
                    f"dcluster_{self.kind}.{fn} on {self.head}: record {i} of {len(data)}: {exc}"
                ) from None
        return out

    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> Any:
        queue, account, reserved = reservation_fields(reservation)
        props = list(dict.fromkeys((*properties, *reserved)))
        kwargs: dict[str, Any] = {"mem_mb": mem_mb, "queue": queue, "account": account}
        # One property goes as the singular argument every version of the head node's module takes
        # (its modules may be synced after the master's); several need the list argument.
        if len(props) > 1:
            kwargs["properties"] = props
        else:
            kwargs["property"] = props[0] if props else None
        if address and adapter_class(self.kind).takes_address:  # the others' modules take no address
            kwargs["address"] = address
        return self._call("add_node", name, cores, **kwargs)

    def hold(self, name: str, reason: str = DEFAULT_HOLD_REASON) -> Any:
        return self._call("hold", name, reason=reason)

    def release(self, name: str, force: bool = False) -> Any:
        return self._call("release", name, force=force)

    def remove(self, name: str) -> Any:
        return self._call("remove", name)

    def vacate(self, name: str) -> Any:
        return self._call("vacate", name)

    def check(self) -> Any:  # what the head node's module answered: its check() dict
        return self._call("check")

    def sync_hosts(self, entries: Mapping[str, str], hosts_file: str, withdraw: bool = True) -> Any:
        return self._call("sync_hosts", entries=dict(entries), hosts_file=hosts_file, withdraw=withdraw)


def local_scheduler(cfg: Config) -> Adapter:
    """The scheduler adapter run in this process (the master is the head node)."""
    from ..local_command import local_command
    from ..schedulers import make_adapter

    conf = cfg.cluster.config
    adapter = make_adapter(cfg.cluster.type, conf, local_command(conf.command_timeout, conf.environment()))
    adapter.queries_in_parallel = True  # its commands are subprocesses: nodes and jobs may be asked at once
    return adapter


class DriverCache:
    """One cloud driver per resource, rebuilt when the resource's configuration changes."""

    def __init__(self) -> None:
        self._drivers: dict[str, tuple[tuple[Any, ...], Any]] = {}

    def __call__(self, cfg: Config, res: Resource) -> Any:
        from ..clouds.registry import driver_for

        # A rotated secret (or a new previous_secrets) changes which ids a driver makes and verifies.
        key = (res, cfg.cluster_name, cfg.secret, tuple(cfg.previous_secrets))
        cached = self._drivers.get(res.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        drv = driver_for(res, cfg)
        self._drivers[res.name] = (key, drv)
        return drv


def salt_ports(
    opts: Mapping[str, Any],
    runners: Mapping[str, Any],
    pillar_minion: str,
    master_address: str | None,
    fire: Callable[[str, dict[str, Any]], None],
) -> Ports:
    """Ports for a controller running inside the salt-master's engine process."""
    import salt.client
    import salt.wheel

    from ..clouds.base import own_address
    from ..controller.ports import Ports

    local = salt.client.get_local_client(opts["conf_file"])
    wheel = salt.wheel.WheelClient(opts)
    schedulers: list[
        tuple[Any, SchedulerPort]
    ] = []  # [(cluster settings, port)]: rebuilt only when the settings change

    def pillar() -> Mapping[str, Any] | None:
        data = runners["pillar.show_pillar"](pillar_minion)
        found: Mapping[str, Any] | None = (data or {}).get("dcluster")
        return found

    def scheduler(cfg: Config) -> SchedulerPort:
        # The config is loaded afresh every cycle: compare by value (as DriverCache does), not by identity.
        if schedulers and schedulers[0][0] == cfg.cluster:
            return schedulers[0][1]
        if cfg.cluster.head_minion:
            timeout = cfg.cluster.config.command_timeout + 10
            port: SchedulerPort = RemoteScheduler(local, cfg.cluster.head_minion, cfg.cluster.type, timeout)
        else:
            port = local_scheduler(cfg)
        schedulers[:] = [(cfg.cluster, port)]
        return port

    def accepted_keys() -> set[str]:
        keys = wheel.cmd("key.list", ["accepted"]) or {}
        return set(keys.get("minions", []))

    def reject_key(minion_id: str) -> Any:
        return wheel.cmd(
            "key.reject", [ours_only(minion_id, "reject")], kwarg={"include_accepted": False, "include_denied": False}
        )

    def key_states(minion_id: str) -> set[str]:
        cache = key_cache(opts)
        key = cache.fetch("keys", ours_only(minion_id, "look up"))
        states = {key["state"]} if isinstance(key, Mapping) and key.get("state") else set()
        if cache.fetch("denied_keys", minion_id):
            states.add("denied")
        return states

    def delete_key(minion_id: str) -> Any:
        return wheel.cmd("key.delete", [ours_only(minion_id, "delete")])

    def preaccept_key(minion_id: str, public_pem: str) -> None:
        # As salt.wheel.key.gen_accept stores a key it made: in the master's key cache, state accepted.
        # Never over another key: an id that has one (in any state) is not launched.
        ours_only(minion_id, "accept")
        cache = key_cache(opts)
        if cache.fetch("keys", minion_id):
            raise RemoteError(f"the master has a key for {minion_id} already; not launching it")
        cache.store("keys", minion_id, {"pub": public_pem, "state": "accepted"})

    def highstate(minion_ids: list[str], jid: str = "") -> Any:  # the jid, or 0 when nothing was published
        # one job for a burst's workers: the master lists its keys and writes its job cache once; the jid
        # is the engine's, recorded before the publish (highstate_jobs.tracked)
        return local.cmd_async(list(minion_ids), "state.apply", tgt_type="list", jid=jid)

    def new_jid() -> str:
        import salt.utils.jid

        return str(salt.utils.jid.gen_jid(opts))

    graphite = graphite_port()
    ports = Ports(
        pillar=pillar,
        scheduler=scheduler,
        driver=DriverCache(),
        fire=fire,
        preaccept_key=preaccept_key,
        delete_key=delete_key,
        reject_key=reject_key,
        key_states=key_states,
        accepted_keys=accepted_keys,
        master_address=master_address,
        master_default=own_address(opts),
        port_open=port_open,
        metrics=graphite.engine,
        worker_metrics=graphite.worker,
        names=names_port(opts, local, scheduler),
        highstate=highstate,
        new_jid=new_jid,
        job_result=job_cache(opts),
        accepted_key=accepted_key(opts),
    )
    return ports


WORKERS_BLOCK = ("# BEGIN dcluster workers", "# END dcluster workers")
WORKERS_PUSH_EVERY = 300.0  # seconds: a worker whose minion was not up at a change gets the block by then


def names_port(
    opts: Mapping[str, Any], local: Any, scheduler: Callable[[Config], SchedulerPort]
) -> Callable[[Config, Mapping[str, str], bool], Any]:
    """``names(cfg, entries, withdraw)``: worker names into the head node's hosts file (dcluster.names).

    On the head minion through its scheduler module (``dcluster_<type>.sync_hosts``, Salt's hosts
    module there), or here when the master is the head.  For Grid Engine and Torque, with
    ``also_on_workers``, every worker also gets all workers' lines: one ``file.blockreplace`` job
    (Salt's own, nothing of dcluster needed on the workers) targeting them all, sent when the lines
    change and every WORKERS_PUSH_EVERY seconds; only the block between dcluster's markers changes.
    """
    import time

    from . import names as glue_names

    pushed: dict[str, Any] = {"block": None, "at": -WORKERS_PUSH_EVERY}

    def publish(cfg: Config, entries: Mapping[str, str], withdraw: bool) -> Any:
        nr = cfg.name_resolution
        port = scheduler(cfg)
        if isinstance(port, RemoteScheduler):
            out = port.sync_hosts(entries, nr["hosts_file"], withdraw)
        else:
            out = glue_names.in_process(opts, nr["hosts_file"], entries, withdraw)
        if nr.get("also_on_workers") and adapter_class(cfg.cluster.type).resolves_names and entries:
            block = glue_names.peers_block(entries)
            now = time.monotonic()
            if block != pushed["block"] or now - pushed["at"] >= WORKERS_PUSH_EVERY:
                local.cmd_async(
                    sorted(entries),
                    "file.blockreplace",
                    arg=["/etc/hosts"],
                    tgt_type="list",
                    kwarg={
                        "marker_start": WORKERS_BLOCK[0],
                        "marker_end": WORKERS_BLOCK[1],
                        "content": block,
                        "append_if_not_found": True,
                        "backup": False,
                    },
                )
                pushed.update(block=block, at=now)
        return out

    return publish


def ours_only(minion_id: str, what: str) -> str:
    """``minion_id`` if it is well formed as ours (letters, digits, dashes), else ValueError.

    The wheel's key functions take a glob: only such an id may reach them, so a
    call can never match another minion's key.
    """
    if not identity.well_formed(minion_id) or any(ch in minion_id for ch in "*?[]!"):
        raise ValueError(f"refusing to {what} keys matching {minion_id!r:.80}: not a dcluster minion id")
    return minion_id


def job_cache(opts: Mapping[str, Any]) -> Callable[[str, str], dict[str, Any] | None]:
    """``job_result(jid, minion_id)``: what that minion returned for the job, from the master's job cache.

    Read as ``salt-run jobs.lookup_jid`` reads it (the ``ext_job_cache`` returner
    if set, else ``master_job_cache``, through a MasterMinion's returners).  The
    cache holds what each minion returned over its own authenticated channel,
    unlike a ``salt/job/*/ret/*`` event, which any minion can fire.  None while
    the minion has not returned.
    """
    loaded: list[Any] = []  # the MasterMinion, made at the first call

    def job_result(jid: str, minion_id: str) -> dict[str, Any] | None:
        if not loaded:
            import salt.minion

            loaded.append(salt.minion.MasterMinion(dict(opts), states=False, rend=False))
        name = opts.get("ext_job_cache") or opts.get("master_job_cache") or "local_cache"
        returns = loaded[0].returners[f"{name}.get_jid"](jid) or {}
        if minion_id not in returns:
            return None
        entry = returns[minion_id]
        return dict(entry) if isinstance(entry, Mapping) else {"return": entry}

    return job_result


def key_cache(opts: Mapping[str, Any]) -> Any:
    """The master's key cache (where Salt keeps each minion key and its state), as Salt's own key code opens it."""
    import salt.cache

    return salt.cache.Cache(opts, driver=opts.get("keys.cache_driver") or "localfs_key")


def accepted_key(opts: Mapping[str, Any]) -> Callable[[str], str | None]:
    """``accepted_key(minion_id)``: the public key (PEM) the master accepted for one of our ids, else None.

    Read from the master's key cache as ``preaccept_key`` stores it (or Salt's ``key.accept``
    moved it); a pending, rejected or denied key is not the minion's.  It verifies the proof a
    successful highstate carries (``dcluster/highstate_proof.py``).
    """

    caches: list[Any] = []  # Salt's key cache, made at the first call

    def public_key(minion_id: str) -> str | None:
        if not caches:
            caches.append(key_cache(opts))
        key = caches[0].fetch("keys", ours_only(minion_id, "look up"))
        if not isinstance(key, Mapping) or key.get("state") != "accepted" or not isinstance(key.get("pub"), str):
            return None
        pub: str = key["pub"]
        return pub

    return public_key


def graphite_port() -> GraphitePort:
    """The metrics ports: engine metrics to carbon every plugin interval, and each worker sample the engine
    accepted, when a graphite plugin is configured (one reporter, one carbon connection)."""
    return GraphitePort()


def port_open(host: str, port: int, timeout: float = 2.0) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EventSender:
    """Fire one event on the master's bus, retrying when Salt could not send it.

    Salt's ``fire_event`` returns False, silently, when it cannot connect to
    the master's event socket within its timeout (seen on a loaded 2-core
    machine). Reactors, the dashboard and the operator's ``state.event``
    rely on these events, so a send is tried ``tries`` times with a longer
    timeout, and an event still not sent raises (the controller logs it and
    goes on).  ``open_bus()`` returns a context manager giving an object
    with Salt's ``fire_event(data, tag, timeout=ms)``.
    """

    def __init__(self, open_bus: Callable[[], Any], tries: int = 3, timeout_ms: int = 5000) -> None:
        self.open_bus, self.tries, self.timeout_ms = open_bus, tries, timeout_ms

    def __call__(self, tag: str, data: Mapping[str, Any]) -> None:
        problem = "the master's event socket did not answer"
        for attempt in range(1, self.tries + 1):
            try:
                with self.open_bus() as bus:
                    if bus.fire_event(dict(data), tag, timeout=self.timeout_ms):
                        if attempt > 1:
                            log.info("dcluster: event %s sent at try %d", tag, attempt)
                        return
            except Exception as exc:  # noqa: BLE001 - the bus's own errors: try again
                problem = f"{type(exc).__name__}: {exc}"
        raise RemoteError(f"event {tag} not sent after {self.tries} tries: {problem}")
