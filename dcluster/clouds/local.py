"""The ``local`` cloud: instances are network-namespace hosts on this machine.

Each instance is a network namespace with one leg on a bridge whose subnet
lies inside 127.0.0.0/8 (``network``; the bridge holds ``gateway``), plus a
UTS namespace whose host name is the minion id (:mod:`dcluster.netns`).
Addresses are allocated inside ``network`` only, and the driver refuses a
``network`` or ``gateway`` outside 127.0.0.0/8, so no packet of a local
instance can leave the machine.

The "cloud API state" is one JSON file per instance in ``state_dir``
(written atomically, allocation under a file lock), so the instances survive
a restart of the master.  Boot runs the rendered user-data inside the
namespace as ``/bin/sh <file>``: that file is the instance's own boot script
(like cloud-init running user-data), not a command dcluster composes, and it
is given as an argument list, never through a shell's ``-c``.  The boot
process's output goes to ``<state_dir>/<id>/boot.log``; its process group
and the namespace's processes are killed on destroy, so nothing leaks.

With ``hosts_file`` set (e.g. /etc/hosts) the driver is also the cloud's DNS:
each instance's ``address minion-id`` line is there while the instance exists
(Grid Engine's qmaster must resolve its exec hosts), marked with the instance
id so that exactly that line is taken out on destroy.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import secrets as _secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import model, netns
from ..config.clouds import LocalConfig
from ..config.model import Resource
from ..config.secret import Secret
from .base import Driver, LaunchResult, tags_for
from .errors import CloudError, InvalidConfig, QuotaExceeded, Transient

log = logging.getLogger(__name__)

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
RELEASED = ".released"  # address -> when it was freed (not *.json: those are instance records)
HOSTS_MARK = "# dcluster-local "  # ends each hosts_file line we write, with the instance id
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # boot processes we started, reaped on every call


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)


def _rewrite(path: str, text: str) -> None:
    """Rewrite ``path`` in place with no moment at which it is empty.

    In place, not renamed over: /etc/hosts may be a bind mount.  Opening it
    with "w" truncated it first, and a resolver reading it just then (qsub
    resolving the head's own name, seen in CI) found nothing.  Writing over
    the old text and truncating after leaves a reader the old text, the new
    one, or the new one over the old one's tail: the lines before the first
    change, like the host's own, are always there.
    """
    data = text.encode()
    with open(path, "r+b") as fh:
        fh.write(data)
        fh.truncate()


class LocalDriver(Driver):
    type = "local"
    settings = LocalConfig
    config: LocalConfig

    def __init__(self, resource: Resource, cluster_name: str, secret: Secret | str):
        super().__init__(resource, cluster_name, secret)
        cfg = self.config
        try:
            network = ipaddress.ip_network(cfg.network, strict=False)
            self.gateway = ipaddress.ip_address(cfg.gateway)
        except ValueError as exc:
            raise InvalidConfig(f"local cloud {resource.name}: {exc}", cloud="local") from None
        if not isinstance(network, ipaddress.IPv4Network) or not network.subnet_of(LOOPBACK):
            raise InvalidConfig(
                f"local cloud {resource.name}: network {network} is not inside 127.0.0.0/8",
                cloud="local",
                code="network",
            )
        self.network: ipaddress.IPv4Network = network
        if self.gateway not in self.network:
            raise InvalidConfig(
                f"local cloud {resource.name}: gateway {self.gateway} is not inside {self.network}",
                cloud="local",
                code="gateway",
            )
        self.bridge = cfg.bridge
        self.state_dir = cfg.state_dir
        self.hosts_file = cfg.hosts_file

    # ------------------------------------------------------------ state files
    def _path(self, iid: str) -> str:
        return os.path.join(self.state_dir, f"{iid}.json")

    def host_dir(self, minion_id: str) -> str:
        """The instance's private directory: its user-data, boot log and ``root/`` (the template's ``instance_dir``)."""
        return os.path.join(self.state_dir, "hosts", minion_id)

    def instance_root(self, minion_id: str) -> str:
        return os.path.join(self.host_dir(minion_id), "root")

    def own_master(self) -> str:
        return str(self.gateway)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(self.state_dir, ".lock"), "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _records(self) -> list[dict[str, Any]]:
        out = []
        try:
            names = sorted(os.listdir(self.state_dir))
        except FileNotFoundError:
            return []
        for name in names:
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.state_dir, name)) as fh:
                    out.append(json.load(fh))
            except (OSError, ValueError) as exc:
                log.warning("local cloud: unreadable state file %s: %s", name, exc)
        return out

    def _write(self, rec: dict[str, Any]) -> None:
        tmp = self._path(rec["id"]) + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(rec, fh, indent=1, sort_keys=True)
        os.replace(tmp, self._path(rec["id"]))

    def _allocate(self, taken: set[str]) -> str:
        """A free address: never used ones first, then the one released longest ago.

        Reusing an address at once breaks schedulers that cache host names by
        address: Grid Engine's qmaster rejected a new exec host with "IP based
        host name resolving <old name> doesn't match client host name".
        """
        released = self._released()
        free = [h for h in self.network.hosts() if h != self.gateway and str(h) not in taken]
        if not free:
            raise QuotaExceeded(f"no free address left in {self.network}", cloud="local", code="addresses")
        return str(min(free, key=lambda h: (released.get(str(h), 0.0), h)))

    def _released(self) -> dict[str, float]:
        try:
            with open(os.path.join(self.state_dir, RELEASED)) as fh:
                data = json.load(fh)
            return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError, TypeError):
            return {}

    def _release(self, address: str) -> None:
        """Remember when ``address`` was given back (the caller holds the lock)."""
        data = self._released()
        data[address] = time.time()
        tmp = os.path.join(self.state_dir, RELEASED + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, os.path.join(self.state_dir, RELEASED))

    # ------------------------------------------------------------ Driver
    def cores(self) -> int:
        return self.resource.cores or self.config.cores

    def mem_mb(self) -> int:
        return self.resource.mem_mb or self.config.mem_mb

    def _to_instance(self, rec: dict[str, Any]) -> model.Instance | None:
        tags = rec.get("tags", {})
        if not self.is_ours(tags) or not self.verified(tags.get(model.TAG_MINION, "")):
            return None
        if not netns.exists(rec["namespace"]):
            state = model.InstanceState.GONE
        elif time.time() < rec.get("boot_at", 0):
            state = model.InstanceState.PENDING
        else:
            state = model.InstanceState.RUNNING
        return model.Instance(
            id=rec["id"],
            resource=self.resource.name,
            minion_id=tags[model.TAG_MINION],
            state=state,
            launch_time=float(tags.get(model.TAG_LAUNCHED, rec.get("created", 0))),
            cluster=self.cluster,
            name=rec.get("name", ""),
            ip=rec["address"],
            cores=self.cores(),
            mem_mb=self.mem_mb(),
            tags=dict(tags),
        )

    def instances(self) -> list[model.Instance]:
        _reap()
        out = []
        for rec in self._records():
            inst = self._to_instance(rec)
            if inst is not None:
                out.append(inst)
        return out

    def launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        ids = self.check_ids(count, minion_ids)
        result = LaunchResult(instances=[], requested=count)
        problem = netns.available()
        if problem and ids:
            result.error = InvalidConfig(f"the local cloud {problem}", cloud="local", code="netns")
            return result
        if ids:
            try:
                netns.ensure_bridge(self.bridge, str(self.gateway), self.network.prefixlen)
            except (netns.NetnsError, OSError, subprocess.SubprocessError) as exc:
                result.error = Transient(f"bridge {self.bridge}: {exc}", cloud="local", code="bridge")
                return result
        for mid in ids:
            try:
                result.instances.append(self._launch_one(mid, userdata_for))
            except CloudError as exc:
                result.error = exc
                break
            except (netns.NetnsError, OSError, subprocess.SubprocessError) as exc:
                result.error = Transient(str(exc), cloud="local", code="netns")
                break
        return result

    def _launch_one(self, minion_id: str, userdata_for: Callable[[str], str]) -> model.Instance:
        iid = "local-" + _secrets.token_hex(6)
        ns = "dcl-" + iid[6:]
        idir = self.host_dir(minion_id)
        now = time.time()
        with self._locked():
            address = self._allocate({r["address"] for r in self._records()})
            netns.check_loopback(f"{address}/{self.network.prefixlen}")
            rec = {
                "id": iid,
                "namespace": ns,
                "address": address,
                "name": self._name(minion_id),
                "created": now,
                "boot_at": now + self.config.boot_delay,
                "bridge": self.bridge,
                "tags": tags_for(self.cluster, self.resource.name, minion_id, now),
                "pid": None,
                "pgid": None,
                "dir": idir,
            }
            self._write(rec)  # recorded before anything exists: a crash leaves something destroy can find
            self._set_name(rec, publish=True)
        try:
            os.makedirs(self.instance_root(minion_id), mode=0o700, exist_ok=True)
            userdata = userdata_for(minion_id)
            script = os.path.join(idir, "userdata")
            with open(script, "w") as fh:
                fh.write(userdata)
            os.chmod(script, 0o700)
            netns.add_host(ns, address, self.bridge, self.network.prefixlen)
            argv = ["/bin/sh", script]  # the instance's own boot script, as an argv (see the module docstring)
            delay = self.config.boot_delay
            if delay:
                argv = [
                    sys.executable,
                    "-c",
                    "import os,sys,time; time.sleep(float(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])",
                    str(delay),
                    *argv,
                ]
            env = {
                "PATH": os.pathsep.join(
                    [
                        os.path.dirname(sys.executable),
                        "/usr/local/sbin",
                        "/usr/local/bin",
                        "/usr/sbin",
                        "/usr/bin",
                        "/sbin",
                        "/bin",
                    ]
                ),
                "HOME": self.instance_root(minion_id),
                "LANG": "C.UTF-8",
                "DCLUSTER_MINION_ID": minion_id,
                "DCLUSTER_INSTANCE_DIR": self.instance_root(minion_id),
            }
            # detached: the instance must outlive the master (a restart kills the master's descendants)
            proc = netns.spawn(ns, minion_id, argv, log_path=os.path.join(idir, "boot.log"), env=env, detach=True)
            _CHILDREN[proc.pid] = proc
            with self._locked():
                rec.update(pid=proc.pid, pgid=proc.pid)
                self._write(rec)
        except BaseException:
            self._remove(rec)
            raise
        inst = self._to_instance(rec)
        assert inst is not None
        return inst

    def _name(self, minion_id: str) -> str:
        return self.config.name_for(minion_id)

    # ------------------------------------------------------------ names (the local cloud's DNS)
    def _hosts_line(self, rec: dict[str, Any]) -> str:
        return f"{rec['address']} {rec['tags'][model.TAG_MINION]} {HOSTS_MARK}{rec['id']}"

    def _set_name(self, rec: dict[str, Any], publish: bool) -> None:
        """Put the instance's ``address minion-id`` line into ``hosts_file``, or take it out.

        The caller holds the lock.  A hosts file that is not there has no line to take out.
        """
        if not self.hosts_file:
            return
        if publish:
            netns.check_loopback(rec["address"])
        try:
            with open(self.hosts_file) as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            if publish:
                raise
            return
        kept = [ln for ln in lines if not ln.endswith(HOSTS_MARK + rec["id"])]
        if publish:
            kept.append(self._hosts_line(rec))
        if kept != lines:
            _rewrite(self.hosts_file, "\n".join(kept) + "\n")

    def _remove(self, rec: dict[str, Any]) -> None:
        """Kill everything of the instance, delete its namespace, its name and its state."""
        pgid = rec.get("pgid")
        netns.delete_host(rec["namespace"])
        if pgid:  # anything of the boot's session that left the namespace
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            proc = _CHILDREN.pop(pgid, None)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        if rec.get("dir", "").startswith(os.path.join(self.state_dir, "hosts") + os.sep):
            shutil.rmtree(rec["dir"], ignore_errors=True)
        with self._locked():
            self._set_name(rec, publish=False)
            if rec.get("address"):
                self._release(rec["address"])
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(rec["id"]))

    def destroy(self, ids: Sequence[str]) -> dict[str, str]:
        out = {}
        for iid in dict.fromkeys(ids):
            try:
                with open(self._path(iid)) as fh:
                    rec = json.load(fh)
            except FileNotFoundError:
                out[iid] = "gone"
                continue
            except (OSError, ValueError) as exc:
                out[iid] = f"unreadable state: {exc}"
                continue
            inst = self._to_instance(rec)
            if inst is None:
                out[iid] = f"refused: {iid} is not an instance of cluster {self.cluster} resource {self.resource.name}"
                continue
            try:
                self._remove(rec)
                out[iid] = "gone" if inst.state == model.InstanceState.GONE else "ok"
            except (netns.NetnsError, OSError, subprocess.SubprocessError) as exc:
                out[iid] = str(Transient(str(exc), cloud="local"))
        _reap()
        return out
