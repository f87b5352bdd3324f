"""OpenStack Nova through python-novaclient on a keystoneauth1 session.

Authentication: Keystone v3 password (user and project domains) or an
application credential; the region picks the compute endpoint from the
catalog.  Each instance is one ``POST /servers``, named by its minion id,
with its own user-data (its own minion key) and metadata, several calls at a
time (see :mod:`dcluster.clouds.base`); a server that Nova puts in ERROR at
once is deleted and its fault becomes the launch's classified error.

Listing is ``servers.list()`` over every page, filtered in Python on our
metadata, never on a name pattern.  Secrets reach keystoneauth1 only in :meth:`_make_client`.

What real clouds need besides: a network given by name (looked up in Neutron),
boot from volume (``block_device_mapping_v2``, the volume deleted with the
server), a private CA's bundle as ``verify``, an HTTP(S) proxy.  Tested against
Nova's, Keystone's and Neutron's own recorded answers
(tests/functional/test_openstack_recorded.py) and an HTTP fake.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .. import model
from ..config.clouds import OpenStackConfig
from ..config.model import Resource
from ..config.secret import Secret
from ..scrub import url_password
from ..wire import LARGEST
from .base import (
    Classify,
    Driver,
    LaunchResult,
    Translate,
    launch_time_from,
    minion_from_tags,
    plausible_size,
    tags_for,
)
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


# Nova's capacity faults: NoValidHost, and MaxRetriesExceeded (a NoValidHost: every alternate host failed).
CAPACITY_WORDS = (NO_VALID_HOST.lower(), "insufficient compute resources", "exhausted all hosts")
# A quota refusal: Nova's TooManyInstances ("Quota exceeded for ..."), unified limits (oslo.limit's
# "Project ... is over a limit for [Resource servers is over limit of ...]"), the legacy overLimit.
QUOTA_WORDS = ("quota", "overlimit", "limit exceeded", "over a limit", "is over limit")
# A rate limit is no quota: Nova's rate limiter (and the proxies in front of clouds) answer 429, or 413
# before 2014, "This request was rate-limited." with a Retry-After; Nova's 413 quota refusal had none.
RATE_WORDS = ("rate-limited", "rate limit", "too many requests")
# 403 answers that only a change of the pillar fixes (not the credentials).
FORBIDDEN_CONFIG_WORDS = ("volume-backed", "external network")


def classify(
    message: str,
    *,
    status: int | None = None,
    code: str = "",
    secrets: Sequence[object] = (),
    retry_after: float = 0.0,
) -> CloudError:
    """The classified error of a Nova/Keystone answer (HTTP status, message, Retry-After seconds)."""
    kw: dict[str, Any] = {"cloud": "openstack", "code": code or (str(status) if status else ""), "secrets": secrets}
    low = message.lower()
    if any(w in low for w in CAPACITY_WORDS):
        return InsufficientCapacity(message, **kw)
    if status == 429 or (status == 413 and any(w in low for w in RATE_WORDS)):
        return Transient(message, retry_after=retry_after, **kw)
    if status == 413 or (status == 403 and any(w in low for w in QUOTA_WORDS)):
        return QuotaExceeded(message, **kw)
    if status == 403 and any(w in low for w in FORBIDDEN_CONFIG_WORDS):
        return InvalidConfig(message, **kw)
    if status == 401 or status == 403:
        return AuthFailure(message, **kw)
    if status is not None and status >= 500:
        return Transient(message, **kw)
    if status == 404 and not any(
        w in low for w in ("image", "flavor", "network", "keypair", "key pair", "security group")
    ):
        return NotFound(message, **kw)
    if status in (400, 404, 409):
        return InvalidConfig(message, **kw)
    return Transient(message, **kw)


def _retry_after(exc: BaseException) -> float:
    """Seconds the answer asked us to wait (novaclient's retry_after, else the Retry-After header)."""
    value = getattr(exc, "retry_after", None)
    if not value:
        response = getattr(exc, "response", None)
        value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value or 0))
    except (TypeError, ValueError):  # an HTTP-date, or garbage: no hint
        return 0.0


def translate(exc: BaseException, secrets: Sequence[object] = ()) -> CloudError:
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
        return classify(str(msg), status=getattr(exc, "code", None), secrets=secrets, retry_after=_retry_after(exc))
    if isinstance(exc, kx.HttpError):
        return classify(
            str(getattr(exc, "message", "") or exc),
            status=getattr(exc, "http_status", None),
            secrets=secrets,
            retry_after=_retry_after(exc),
        )
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


INTERFACE: tuple[Classify, Translate] = (classify, translate)  # the signatures of dcluster.clouds.base (mypy)


def _ts(value: Any) -> float:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time()


class OpenStackDriver(Driver):
    type = "openstack"
    settings = OpenStackConfig
    config: OpenStackConfig

    def __init__(self, resource: Resource, cluster_name: str, secret: Secret | str, *, client: Any = None):
        super().__init__(resource, cluster_name, secret)
        self._client = client
        self._flavor: Any = None
        self._checked: tuple[int, int] | None = None  # _size()
        self._versioned: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def _secrets(self) -> list[object]:
        return [
            self.config.password,
            self.config.application_credential_secret,
            self.secret,
            url_password(self.config.proxy),
        ]

    def _where(self, key: str) -> str:
        return f"dcluster:cloud:{self.resource.name}:config:{key}"

    def _verify(self) -> bool | str:
        """keystoneauth's ``verify``: a CA bundle path, True (the system's CAs), or False only with ``insecure``."""
        verify = self.config.verify
        if isinstance(verify, str):
            if not os.path.isfile(verify) or not os.access(verify, os.R_OK):
                raise InvalidConfig(
                    f"{self._where('verify')}: CA bundle {verify} is not a readable file",
                    cloud="openstack",
                    code="verify",
                )
            return verify
        # The schema refuses verify: False without insecure: True; the driver holds to it as well.
        return False if verify is False and self.config.insecure is True else True

    def _http(self) -> Any:
        """The requests session under keystoneauth1: the pillar's proxy for http and https (CONNECT)."""
        import requests

        http = requests.Session()
        proxy = self.config.proxy
        if proxy:
            http.proxies = {"http": proxy, "https": proxy}
            # requests lets HTTP(S)_PROXY of the environment override a session's proxies (and NO_PROXY
            # skip them): the pillar's proxy is used for every call only when the environment is not read.
            http.trust_env = False
        return http

    def _make_client(self) -> Any:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        from novaclient import client as nova_client

        cfg = self.config

        def reveal(v: Secret | None) -> str:
            return v.reveal() if v is not None else ""  # (the schema requires the secret of the auth it picks)

        auth: Any
        if cfg.application_credential_id:
            auth = v3.ApplicationCredential(
                auth_url=cfg.auth_url,
                application_credential_id=cfg.application_credential_id,
                application_credential_secret=reveal(cfg.application_credential_secret),
            )
        else:
            auth = v3.Password(
                auth_url=cfg.auth_url,
                username=cfg.username,
                password=reveal(cfg.password),
                project_name=cfg.project or None,
                project_id=cfg.project_id or None,
                user_domain_name=cfg.user_domain_name,
                project_domain_name=cfg.project_domain_name,
            )
        sess = session.Session(auth=auth, session=self._http(), verify=self._verify(), timeout=cfg.timeout)
        return nova_client.Client("2.1", session=sess, region_name=cfg.region_name or None)

    def _client_at(self, version: str) -> Any:
        """A client of the same session at a later microversion (for the one call that needs it)."""
        with self._lock:
            if version not in self._versioned:
                from novaclient import client as nova_client

                self._versioned[version] = nova_client.Client(
                    version, session=self.client.client.session, region_name=self.config.region_name or None
                )
            return self._versioned[version]

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = self._make_client()
            except Exception as exc:  # noqa: BLE001 - translated into a classified CloudError (secrets scrubbed)
                raise translate(exc, self._secrets) from None
        return self._client

    def _do(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - translated into a classified CloudError (secrets scrubbed)
            err = translate(exc, self._secrets)
            log.debug("openstack call failed: %s", err)
            raise err from None

    # ------------------------------------------------------------ flavor
    def flavor(self) -> Any:
        if self._flavor is None:
            name = self.config.flavor
            flavors = self._do(lambda: self.client.flavors.list(detailed=True))
            match = [f for f in flavors if f.name == name] or [f for f in flavors if f.id == name]
            if not match:
                raise InvalidConfig(
                    f"flavor {name} does not exist (or is not visible to the project)", cloud="openstack", code="flavor"
                )
            self._flavor = match[0]
        return self._flavor

    def _size(self) -> tuple[int, int]:
        """The flavor's (vCPUs, MB), checked once (plausible_size logs an absurd one: once, not every listing)."""
        if self._checked is None:
            flavor = self.flavor()
            self._checked = (
                plausible_size(flavor.vcpus, 0, model.MAX_NODE_CORES, self.resource.name, "cores"),
                plausible_size(flavor.ram, 0, LARGEST, self.resource.name, "mem_mb"),
            )
        return self._checked

    def cores(self) -> int:
        return self.resource.cores or self._size()[0]

    def mem_mb(self) -> int:
        return self.resource.mem_mb or self._size()[1]

    # ------------------------------------------------------------ listing
    def _all_servers(self) -> list[Any]:
        # limit=-1: novaclient follows the markers to the last page.  Without it Nova answers its first
        # page only (osapi_max_limit, 1000 by default), and every older worker would look gone.
        servers: list[Any] = self._do(
            lambda: self.client.servers.list(detailed=True, search_opts={"all_tenants": False}, limit=-1)
        )
        return servers

    def _launch_index(self, server: Any, meta: dict[str, Any]) -> int | None:
        idx = getattr(server, "OS-EXT-SRV-ATTR:launch_index", None)
        if isinstance(idx, int):
            return idx
        batch = meta.get("dcluster-batch")
        if batch:
            m = re.match(rf"^.*{re.escape(batch)}-(\d+)$", getattr(server, "name", "") or "")
            if m:
                return int(m.group(1)) - 1
        return None

    def _to_instance(self, server: Any, cores: int, mem: int) -> model.Instance | None:
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
            id=server.id,
            resource=self.resource.name,
            minion_id=minion,
            state=state,
            launch_time=launch_time_from(meta, _ts(getattr(server, "created", ""))),
            cluster=self.cluster,
            name=getattr(server, "name", "") or minion,
            ip=ip,
            cores=cores,
            mem_mb=mem,
            tags=tags,
        )

    def instances(self) -> list[model.Instance]:
        cores, mem = self.cores(), self.mem_mb()
        out = []
        for server in self._all_servers():
            inst = self._to_instance(server, cores, mem)
            if inst is not None:
                out.append(inst)
        return out

    # ------------------------------------------------------------ launching
    def _nics(self) -> list[dict[str, str]] | None:
        net = self.config.network
        if not net:
            return None
        if _UUID.match(net):
            return [{"net-id": net}]
        return [{"net-id": self._network_id(net)}]

    def _network_id(self, name: str) -> str:
        """The id of the one network called ``name`` that Neutron shows the project.

        Asked of Neutron directly (``GET /v2.0/networks?name=``, the name
        URL-encoded: novaclient's ``find_network`` pastes it into the URL as it
        is, so ``net1#x`` would look up ``net1``), and matched again here on
        the exact name: a Neutron or proxy that ignores the filter answers
        every network, and the first of those is not the one asked for.
        """
        where = self._where("network")
        try:
            resp = self.client.client.session.get(
                "/v2.0/networks",
                params={"name": name},
                raise_exc=True,
                endpoint_filter={
                    "service_type": "network",
                    "interface": "public",
                    "region_name": self.config.region_name or None,
                },
            )
            body = resp.json()
        except ValueError:
            raise InvalidConfig(
                f"{where}: Neutron's answer to the look-up of {name!r} is not JSON", cloud="openstack", code="network"
            ) from None
        except Exception as exc:  # noqa: BLE001 - translated into a classified CloudError (secrets scrubbed)
            err = translate(exc, self._secrets)
            # Neutron down or the token refused heal without a pillar change: they keep their kind.
            kind = type(err) if err.kind in ("transient", "auth") else InvalidConfig
            raise kind(
                f"{where}: looking up {name!r}: {err.message}",
                cloud="openstack",
                code="network",
                retry_after=err.retry_after,
            ) from None
        nets = body.get("networks") if isinstance(body, dict) else None
        if not isinstance(nets, list):
            raise InvalidConfig(
                f"{where}: Neutron's answer to the look-up of {name!r} has no list of networks",
                cloud="openstack",
                code="network",
            )
        ids = [n.get("id") for n in nets if isinstance(n, dict) and n.get("name") == name and n.get("id")]
        if not ids:
            raise InvalidConfig(
                f"{where}: no network named {name!r} is visible to the project", cloud="openstack", code="network"
            )
        if len(ids) > 1:
            raise InvalidConfig(
                f"{where}: {len(ids)} networks are named {name!r} ({', '.join(map(str, ids))}); "
                "give the id of the one to attach",
                cloud="openstack",
                code="network",
            )
        return str(ids[0])

    def _boot_volume(self) -> dict[str, Any] | None:
        """The block_device_mapping_v2 entry of ``boot_from_volume``: a new volume made from the image.

        ``delete_on_termination`` is true unless the pillar says otherwise: the
        volume is Nova's to delete with the server, so destroying a worker (or
        a launch whose server went to ERROR) leaves no paid volume behind.
        """
        bfv = self.config.boot_from_volume
        if not bfv.size_gb:
            return None
        bdm: dict[str, Any] = {
            "uuid": self.config.image_uuid,
            "source_type": "image",
            "destination_type": "volume",
            "boot_index": 0,
            "volume_size": bfv.size_gb,
            "delete_on_termination": bfv.delete_on_termination is not False,
        }
        if bfv.volume_type:
            bdm["volume_type"] = bfv.volume_type
        return bdm

    def _name(self, stem: str) -> str:
        return self.config.name_for(stem)

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

    def _create_one(
        self,
        minion_id: str,
        userdata_for: Callable[[str], str],
        cores: int,
        mem: int,
        nics: list[dict[str, str]] | None,
    ) -> model.Instance | None:
        """One ``POST /servers`` for one instance, named by its minion id, with its own user-data and metadata."""
        userdata = userdata_for(minion_id)
        meta = {str(k): str(v) for k, v in self.config.metadata.items()}
        meta.update(tags_for(self.cluster, self.resource.name, minion_id))
        kwargs: dict[str, Any] = {"meta": meta, "userdata": userdata, "min_count": 1, "max_count": 1}
        cfg = self.config
        if cfg.key_name:
            kwargs["key_name"] = cfg.key_name
        if cfg.security_groups:
            kwargs["security_groups"] = list(cfg.security_groups)
        if cfg.availability_zone:
            kwargs["availability_zone"] = cfg.availability_zone
        if nics:
            kwargs["nics"] = nics
        name = self._name(minion_id)
        image: str | None = cfg.image_uuid
        creator = self.client
        bdm = self._boot_volume()
        if bdm is not None:
            # The image is the volume's source, not the server's: imageRef stays empty.
            image, kwargs["block_device_mapping_v2"] = None, [bdm]
            if "volume_type" in bdm:
                # A volume type needs microversion 2.67, where a server needs its networks said: "auto" is
                # what 2.1 does when none is given.
                creator = self._client_at("2.67")
                kwargs.setdefault("nics", "auto")
        first = self._do(lambda: creator.servers.create(name, image, self.flavor().id, **kwargs))
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
            raise classify(
                fault or "server in ERROR",
                status=500 if NO_VALID_HOST not in fault else None,
                code="ERROR",
                secrets=self._secrets,
            )
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
            except Exception as exc:  # noqa: BLE001 - one server's error, classified, is its entry in the answer
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
            except Exception as exc:  # noqa: BLE001 - one server's error, classified, is its entry in the answer
                out[sid] = str(translate(exc, self._secrets))
        return out
