"""OpenStack Nova through python-novaclient on a keystoneauth1 session.

Authentication: Keystone v3 password (user and project domains) or an
application credential; the region picks the compute endpoint from the
catalog.  Each instance is one ``POST /servers``, named by its minion id,
with its own user-data (its own minion key) and metadata, several calls at a
time (see :mod:`dcluster.clouds.base`); a server that Nova puts in ERROR at
once is deleted and its fault becomes the launch's classified error.

Listing is ``servers.list()`` over every page, filtered in Python on our
metadata, never on a name pattern.  Secrets reach keystoneauth1 only in :meth:`_make_client`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .. import model
from .base import Driver, LaunchResult, launch_time_from, minion_from_tags, tags_for
from .errors import AuthFailure, CloudError, InsufficientCapacity, InvalidConfig, NotFound, QuotaExceeded, Transient

log = logging.getLogger(__name__)

NO_VALID_HOST = "No valid host was found"

STATES = {
    "ACTIVE": model.InstanceState.RUNNING,
    "BUILD": model.InstanceState.PENDING,
    "REBUILD": model.InstanceState.PENDING,
    "REBOOT": model.InstanceState.RUNNING,
    "HARD_REBOOT": model.InstanceState.RUNNING,
    "ERROR": model.InstanceState.ERROR,
    "DELETED": model.InstanceState.GONE,
    "SOFT_DELETED": model.InstanceState.GONE,
    "SHUTOFF": model.InstanceState.ERROR,
}

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def classify(status: int | None, message: str, secrets: Sequence = (), code: str = "") -> CloudError:
    """The classified error of a Nova/Keystone answer (HTTP status and message)."""
    kw = {"cloud": "openstack", "code": code or (str(status) if status else ""), "secrets": secrets}
    low = message.lower()
    if NO_VALID_HOST.lower() in low or "insufficient compute resources" in low:
        return InsufficientCapacity(message, **kw)
    if status == 413 or (status == 403 and ("quota" in low or "overlimit" in low or "limit exceeded" in low)):
        return QuotaExceeded(message, **kw)
    if status == 401 or status == 403:
        return AuthFailure(message, **kw)
    if status is not None and status >= 500:
        return Transient(message, **kw)
    if status == 404 and not any(w in low for w in ("image", "flavor", "network", "keypair", "key pair", "security group")):
        return NotFound(message, **kw)
    if status in (400, 404, 409):
        return InvalidConfig(message, **kw)
    if status == 429:
        return Transient(message, **kw)
    return Transient(message, **kw)


def translate(exc: BaseException, secrets: Sequence = ()) -> CloudError:
    """Any novaclient/keystoneauth1/requests exception as a classified error."""
    if isinstance(exc, CloudError):
        return exc
    from keystoneauth1 import exceptions as kx
    from novaclient import exceptions as nx

    if isinstance(exc, nx.ClientException):
        msg = getattr(exc, "message", "") or str(exc)
        details = getattr(exc, "details", None)
        if details and str(details) not in msg:
            msg = f"{msg}: {details}"
        return classify(getattr(exc, "code", None), str(msg), secrets)
    if isinstance(exc, kx.HttpError):
        return classify(getattr(exc, "http_status", None), str(getattr(exc, "message", "") or exc), secrets)
    if isinstance(exc, (kx.ConnectFailure, kx.ConnectionError, kx.RetriableConnectionFailure)):
        return Transient(str(exc), cloud="openstack", code="connection", secrets=secrets)
    if isinstance(exc, (kx.AuthorizationFailure, kx.MissingAuthPlugin, kx.NoMatchingPlugin)):
        return AuthFailure(str(exc), cloud="openstack", secrets=secrets)
    if isinstance(exc, kx.EndpointNotFound):
        return InvalidConfig(f"no compute endpoint in the catalog: {exc}", cloud="openstack", secrets=secrets)
    if isinstance(exc, kx.DiscoveryFailure):
        return Transient(str(exc), cloud="openstack", code="discovery", secrets=secrets)
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return Transient(str(exc), cloud="openstack", secrets=secrets)
    return Transient(f"{type(exc).__name__}: {exc}", cloud="openstack", secrets=secrets)


def _ts(value: Any) -> float:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time()


class OpenStackDriver(Driver):
    type = "openstack"

    def __init__(self, resource, cluster_name, secret, *, client=None):
        super().__init__(resource, cluster_name, secret)
        self._client = client
        self._flavor: Any = None

    @property
    def _secrets(self) -> list:
        return [self.config.get("password"), self.config.get("application_credential_secret"), self.secret]

    def _make_client(self):
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        from novaclient import client as nova_client

        cfg = self.config

        def reveal(v):
            return v.reveal() if hasattr(v, "reveal") else v

        if cfg.get("application_credential_id"):
            auth = v3.ApplicationCredential(auth_url=cfg["auth_url"],
                                            application_credential_id=cfg["application_credential_id"],
                                            application_credential_secret=reveal(cfg["application_credential_secret"]))
        else:
            auth = v3.Password(auth_url=cfg["auth_url"], username=cfg["username"], password=reveal(cfg["password"]),
                               project_name=cfg.get("project") or None, project_id=cfg.get("project_id") or None,
                               user_domain_name=cfg.get("user_domain_name") or "Default",
                               project_domain_name=cfg.get("project_domain_name") or "Default")
        sess = session.Session(auth=auth, verify=bool(cfg.get("verify", True)), timeout=int(cfg.get("timeout") or 30))
        return nova_client.Client("2.1", session=sess, region_name=cfg.get("region_name") or None)

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = self._make_client()
            except Exception as exc:
                raise translate(exc, self._secrets) from None
        return self._client

    def _do(self, fn: Callable, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            err = translate(exc, self._secrets)
            log.debug("openstack call failed: %s", err)
            raise err from None

    # ------------------------------------------------------------ flavor
    def flavor(self):
        if self._flavor is None:
            name = self.config["flavor"]
            flavors = self._do(lambda: self.client.flavors.list(detailed=True))
            match = [f for f in flavors if f.name == name] or [f for f in flavors if f.id == name]
            if not match:
                raise InvalidConfig(f"flavor {name} does not exist (or is not visible to the project)",
                                    cloud="openstack", code="flavor")
            self._flavor = match[0]
        return self._flavor

    def cores(self) -> int:
        return self.resource.cores or int(self.flavor().vcpus)

    def mem_mb(self) -> int:
        return self.resource.mem_mb or int(self.flavor().ram)

    # ------------------------------------------------------------ listing
    def _all_servers(self) -> list:
        # limit=-1: novaclient follows the markers to the last page.  Without it Nova answers its first
        # page only (osapi_max_limit, 1000 by default), and every older worker would look gone.
        return self._do(lambda: self.client.servers.list(detailed=True, search_opts={"all_tenants": False}, limit=-1))

    def _launch_index(self, server, meta: dict) -> int | None:
        idx = getattr(server, "OS-EXT-SRV-ATTR:launch_index", None)
        if isinstance(idx, int):
            return idx
        batch = meta.get("dcluster-batch")
        if batch:
            m = re.match(rf"^.*{re.escape(batch)}-(\d+)$", getattr(server, "name", "") or "")
            if m:
                return int(m.group(1)) - 1
        return None

    def _to_instance(self, server, cores: int, mem: int) -> model.Instance | None:
        meta = dict(getattr(server, "metadata", {}) or {})
        if not self.is_ours(meta):
            return None
        minion = minion_from_tags(meta, self._launch_index(server, meta))
        if not self.verified(minion):
            log.debug("openstack: %s carries our cluster metadata but no minion id of ours; ignored", server.id)
            return None
        status = (getattr(server, "status", "") or "").upper()
        state = STATES.get(status, model.InstanceState.PENDING)
        if (getattr(server, "OS-EXT-STS:task_state", None) or "") == "deleting":
            state = model.InstanceState.DELETING
        ip = ""
        for addrs in (getattr(server, "addresses", {}) or {}).values():
            for a in addrs:
                if a.get("version", 4) == 4 and a.get("addr"):
                    ip = a["addr"]
                    break
            if ip:
                break
        tags = {str(k): str(v) for k, v in meta.items()}
        fault = getattr(server, "fault", None)
        if isinstance(fault, dict) and fault.get("message"):
            tags["dcluster-fault"] = str(fault["message"])[:255]
        return model.Instance(
            id=server.id, resource=self.resource.name, minion_id=minion, state=state,
            launch_time=launch_time_from(meta, _ts(getattr(server, "created", ""))), cluster=self.cluster,
            name=getattr(server, "name", "") or minion, ip=ip, cores=cores, mem_mb=mem, tags=tags)

    def instances(self) -> list[model.Instance]:
        cores, mem = self.cores(), self.mem_mb()
        out = []
        for server in self._all_servers():
            inst = self._to_instance(server, cores, mem)
            if inst is not None:
                out.append(inst)
        return out

    # ------------------------------------------------------------ launching
    def _nics(self):
        net = self.config.get("network")
        if not net:
            return None
        if _UUID.match(net):
            return [{"net-id": net}]
        try:
            found = self.client.neutron.find_network(net)
        except Exception as exc:
            err = translate(exc, self._secrets)
            raise InvalidConfig(f"network {net}: {err.message}", cloud="openstack", code="network") from None
        return [{"net-id": found.id}]

    def _name(self, stem: str) -> str:
        prefix = self.config.get("instance_name_prefix") or ""
        return f"{prefix}-{stem}" if prefix else stem

    def launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        ids = self.check_ids(count, minion_ids)
        result = LaunchResult(instances=[], requested=count)
        if not ids:
            return result
        try:
            cores, mem = self.cores(), self.mem_mb()
            nics = self._nics()
        except CloudError as exc:
            result.error = exc
            return result
        self.launch_each(ids, lambda mid: self._create_one(mid, userdata_for, cores, mem, nics), result)
        return result

    def _create_one(self, minion_id: str, userdata_for, cores: int, mem: int, nics) -> model.Instance | None:
        """One ``POST /servers`` for one instance, named by its minion id, with its own user-data and metadata."""
        userdata = userdata_for(minion_id)
        meta = {str(k): str(v) for k, v in (self.config.get("metadata") or {}).items()}
        meta.update(tags_for(self.cluster, self.resource.name, minion_id))
        kwargs: dict[str, Any] = {"meta": meta, "userdata": userdata, "min_count": 1, "max_count": 1}
        cfg = self.config
        if cfg.get("key_name"):
            kwargs["key_name"] = cfg["key_name"]
        if cfg.get("security_groups"):
            kwargs["security_groups"] = list(cfg["security_groups"])
        if cfg.get("availability_zone"):
            kwargs["availability_zone"] = cfg["availability_zone"]
        if nics:
            kwargs["nics"] = nics
        name = self._name(minion_id)
        first = self._do(lambda: self.client.servers.create(name, cfg["image_uuid"], self.flavor().id, **kwargs))
        server = first
        try:  # the create answer lacks metadata details on some clouds; read it back
            server = self._do(lambda: self.client.servers.get(first.id))
        except CloudError:
            pass
        inst = self._to_instance(server, cores, mem)
        if inst is None:
            return None
        if inst.state == model.InstanceState.ERROR:
            # Scheduling already failed (e.g. "No valid host was found"): the server is useless.
            fault = inst.tags.get("dcluster-fault", "")
            self.destroy([inst.id])
            raise classify(500 if NO_VALID_HOST not in fault else None, fault or "server in ERROR",
                           self._secrets, code="ERROR")
        return inst

    # ------------------------------------------------------------ destroying
    def destroy(self, ids: Sequence[str]) -> dict[str, str]:
        from novaclient import exceptions as nx

        out: dict[str, str] = {}
        for sid in dict.fromkeys(ids):
            try:
                server = self.client.servers.get(sid)
            except nx.NotFound:
                out[sid] = "gone"
                continue
            except Exception as exc:
                out[sid] = str(translate(exc, self._secrets))
                continue
            inst = self._to_instance(server, self.resource.cores or 0, 0)
            if inst is None:
                out[sid] = f"refused: {sid} is not an instance of cluster {self.cluster} resource {self.resource.name}"
                continue
            if inst.state == model.InstanceState.GONE:
                out[sid] = "gone"
                continue
            try:
                self.client.servers.delete(sid)
                out[sid] = "ok"
            except nx.NotFound:
                out[sid] = "gone"
            except Exception as exc:
                out[sid] = str(translate(exc, self._secrets))
        return out
