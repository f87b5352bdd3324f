"""Amazon EC2 through boto3: on demand, or spot with a deadline and an on-demand fallback.

On-demand: one ``RunInstances`` per instance (``MinCount=MaxCount=1``), with
its own user-data (its own minion key) and its tags in
``TagSpecifications``, several calls at a time (see
:mod:`dcluster.clouds.base`).  ``ClientToken`` is the minion id, so a call
repeated after a timeout finds the instance the first one made.  After a
refusal no further call starts, and the result lists exactly the instances
that exist, with the refusal as the launch's classified error.

Spot: one ``RequestSpotInstances`` per instance (each needs its own
user-data and tags), valid for ``spot_timeout`` seconds.  The engine's
create call (:meth:`AwsDriver.start_launch`) only makes the requests and
returns them open; its loop polls every open request of a resource in one
``DescribeSpotInstanceRequests`` a cycle (dcluster.actuator.requests), adopts
fulfilled ones (tags their instances), and at the deadline cancels the rest,
adopts any fulfilled while being cancelled, and launches the unfulfilled part
on demand when ``spot_fallback_on_demand`` (the default) is on, else reports a
capacity error.  :meth:`AwsDriver.launch` (the Salt module's) does the same
waiting in the call.

Every secret reaches boto3 only in :meth:`AwsDriver._make_client`.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import model
from ..config.clouds import AwsConfig
from ..config.model import Resource
from ..config.secret import Secret
from ..wire import LARGEST
from . import spot
from .base import (
    Classify,
    Driver,
    LaunchResult,
    Request,
    Translate,
    launch_time_from,
    minion_from_tags,
    plausible_size,
    tags_for,
)
from .errors import AuthFailure, CloudError, InsufficientCapacity, InvalidConfig, NotFound, QuotaExceeded, Transient

log = logging.getLogger(__name__)

Raw = dict[str, Any]  # one item of an EC2 answer (an instance, a spot request, a filter), as boto3 gives it

USERDATA_LIMIT = 16384  # bytes of raw user-data EC2 accepts

STATES = {
    "pending": model.InstanceState.PENDING,
    "running": model.InstanceState.RUNNING,
    "shutting-down": model.InstanceState.DELETING,
    "stopping": model.InstanceState.DELETING,
    "stopped": model.InstanceState.ERROR,
    "terminated": model.InstanceState.GONE,
}

_QUOTA = {
    "InstanceLimitExceeded",
    "VcpuLimitExceeded",
    "MaxSpotInstanceCountExceeded",
    "SpotInstanceCountExceeded",
    "VolumeLimitExceeded",
    "InsufficientFreeAddressesInSubnet",
    "AddressLimitExceeded",
}
_CAPACITY = {
    "InsufficientInstanceCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "InsufficientCapacity",
    "SpotMaxPriceTooLow",
    "capacity-not-available",
    "capacity-oversubscribed",
    "price-too-low",
}
_AUTH = {
    "AuthFailure",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "OptInRequired",
    "Blocked",
    "ExpiredToken",
    "AccessDenied",
    "AccessDeniedException",
    "MissingAuthenticationToken",
}
_TRANSIENT = {
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
}
_NOTFOUND = {"InvalidInstanceID.NotFound", "InvalidSpotInstanceRequestID.NotFound"}


def classify(
    message: str,
    *,
    status: int | None = None,
    code: str = "",
    secrets: Sequence[object] = (),
    retry_after: float = 0.0,
) -> CloudError:
    """The classified error of an EC2 error code (``ClientError.response["Error"]["Code"]``)."""
    kw: dict[str, Any] = {"cloud": "aws", "code": code, "secrets": secrets, "retry_after": retry_after}
    # EC2 answers capacity shortages with HTTP 500 (they are "server errors"): the code decides first.
    if code in _CAPACITY:
        return InsufficientCapacity(message, **kw)
    if code in _TRANSIENT or (status or 0) >= 500:
        return Transient(message, **kw)
    if code in _QUOTA or code.endswith("LimitExceeded"):
        return QuotaExceeded(message, **kw)
    if code in _AUTH:
        return AuthFailure(message, **kw)
    if code in _NOTFOUND:
        return NotFound(message, **kw)
    if (
        code.startswith(("Invalid", "Missing", "Unsupported"))
        or code in ("InvalidParameterValue",)
        or (status or 0) in (400, 404)
    ):
        return InvalidConfig(message, **kw)
    return Transient(message, **kw)


def translate(exc: BaseException, secrets: Sequence[object] = ()) -> CloudError:
    """Any boto3/botocore exception as a classified error."""
    from botocore import exceptions as bx

    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return classify(
            str(err.get("Message", "") or exc), status=status, code=str(err.get("Code", "")), secrets=secrets
        )
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AuthFailure(str(exc), cloud="aws", secrets=secrets)
    if isinstance(exc, (bx.ParamValidationError, bx.NoRegionError, bx.InvalidRegionError)):
        return InvalidConfig(str(exc), cloud="aws", secrets=secrets)
    if isinstance(
        exc,
        (
            bx.EndpointConnectionError,
            bx.ConnectTimeoutError,
            bx.ReadTimeoutError,
            bx.ConnectionClosedError,
            bx.HTTPClientError,
            bx.ProxyConnectionError,
        ),
    ):
        return Transient(str(exc), cloud="aws", secrets=secrets)
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return Transient(str(exc), cloud="aws", secrets=secrets)
    return Transient(f"{type(exc).__name__}: {exc}", cloud="aws", secrets=secrets)


INTERFACE: tuple[Classify, Translate] = (classify, translate)  # the signatures of dcluster.clouds.base (mypy)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _tags(obj: Raw) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in obj.get("Tags") or []}


def _ts(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return time.time()


class AwsDriver(Driver):
    type = "aws"
    settings = AwsConfig
    config: AwsConfig

    def __init__(
        self,
        resource: Resource,
        cluster_name: str,
        secret: Secret | str,
        *,
        client: Any = None,
        spot_view: Callable[[Raw], Raw] | None = None,
        poll_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """``spot_view`` is a test seam: it sees each DescribeSpotInstanceRequests entry
        before the fulfilment check does, and returns what the check should see.  moto
        fulfils every spot request at once, so the timeout-then-on-demand path is
        tested by a view that keeps requests 'open'.  Production passes None."""
        super().__init__(resource, cluster_name, secret)
        self._client = client
        self._spot_view = spot_view
        self._poll = poll_interval
        self._clock = clock
        self._sleep = sleep
        self._shape: tuple[int, int] | None = None

    # ------------------------------------------------------------ plumbing
    @property
    def _secrets(self) -> list[object]:
        return [self.config.secret_access_key, self.secret]

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        cfg = self.config
        proxies = None
        if cfg.proxy:
            host = cfg.proxy
            url = host if "://" in host else f"http://{host}"
            if cfg.proxy_port:
                url = f"{url}:{cfg.proxy_port}"
            proxies = {"http": url, "https": url}
        bcfg = Config(
            proxies=proxies,
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=20,
        )
        kwargs: dict[str, Any] = {
            "region_name": cfg.region_name,
            "config": bcfg,
            "verify": cfg.validate_certs,
        }
        if cfg.endpoint_url:
            kwargs["endpoint_url"] = cfg.endpoint_url
        if cfg.access_key_id:
            kwargs["aws_access_key_id"] = cfg.access_key_id
            sk = cfg.secret_access_key
            kwargs["aws_secret_access_key"] = sk.reveal() if sk is not None else None
        try:
            return boto3.session.Session().client("ec2", **kwargs)
        except Exception as exc:  # noqa: BLE001 - bad region, bad endpoint url ...: translated into a classified CloudError
            raise translate(exc, self._secrets) from None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _call(self, op: str, **params: Any) -> Any:
        try:
            return getattr(self.client, op)(**params)
        except Exception as exc:  # noqa: BLE001 - translated into a classified CloudError (secrets scrubbed)
            err = translate(exc, self._secrets)
            log.debug("aws %s failed: %s", op, err)
            raise err from None

    def _paged(self, op: str, key: str, **params: Any) -> list[Raw]:
        out: list[Raw] = []
        try:
            for page in self.client.get_paginator(op).paginate(**params):
                out += page.get(key, [])
        except Exception as exc:  # noqa: BLE001 - translated into a classified CloudError (secrets scrubbed)
            raise translate(exc, self._secrets) from None
        return out

    # ------------------------------------------------------------ shape
    def _instance_shape(self) -> tuple[int, int]:
        if self._shape is None:
            itype = self.config.instance_type
            answer = self._call("describe_instance_types", InstanceTypes=[itype]).get("InstanceTypes", [])
            if not answer:
                raise InvalidConfig(f"instance type {itype} is unknown in this region", cloud="aws")
            info = answer[0]
            self._shape = (
                plausible_size(
                    info.get("VCpuInfo", {}).get("DefaultVCpus", 0),
                    0,
                    model.MAX_NODE_CORES,
                    self.resource.name,
                    "cores",
                ),
                plausible_size(
                    info.get("MemoryInfo", {}).get("SizeInMiB", 0), 0, LARGEST, self.resource.name, "mem_mb"
                ),
            )
        return self._shape

    def cores(self) -> int:
        return self.resource.cores or self._instance_shape()[0]

    def mem_mb(self) -> int:
        return self.resource.mem_mb or self._instance_shape()[1]

    # ------------------------------------------------------------ listing
    def _filters(self) -> list[Raw]:
        return [
            {"Name": f"tag:{model.TAG_CLUSTER}", "Values": [self.cluster]},
            {"Name": f"tag:{model.TAG_RESOURCE}", "Values": [self.resource.name]},
        ]

    def _to_instance(self, raw: Raw, cores: int, mem: int) -> model.Instance | None:
        tags = _tags(raw)
        if not self.is_ours(tags):
            return None
        minion = minion_from_tags(tags, raw.get("AmiLaunchIndex"))
        if not self.verified(minion):
            log.debug("aws: %s carries our cluster tags but no minion id of ours; ignored", raw.get("InstanceId"))
            return None
        if self.config.use_public_ip_address:
            ip = raw.get("PublicIpAddress") or ""
        else:
            ip = raw.get("PrivateIpAddress") or ""
        return model.Instance(
            id=raw["InstanceId"],
            resource=self.resource.name,
            minion_id=minion,
            state=STATES.get(raw.get("State", {}).get("Name", ""), model.InstanceState.ERROR),
            launch_time=launch_time_from(tags, _ts(raw.get("LaunchTime"))),
            cluster=self.cluster,
            name=tags.get("Name", minion),
            ip=ip,
            cores=cores,
            mem_mb=mem,
            spot=raw.get("InstanceLifecycle") == "spot",
            tags=tags,
        )

    def instances(self) -> list[model.Instance]:
        cores, mem = self.cores(), self.mem_mb()
        out: list[model.Instance] = []
        seen = set()
        for res in self._paged("describe_instances", "Reservations", Filters=self._filters()):
            for raw in res.get("Instances", []):
                inst = self._to_instance(raw, cores, mem)
                if inst is not None:
                    out.append(inst)
                    seen.add(inst.id)
        if self.config.spot:
            # Open spot requests are instances to be: the policy must count them.
            for req in self._spot_requests(filters=self._filters() + [{"Name": "state", "Values": ["open", "active"]}]):
                if req.get("InstanceId") in seen:
                    continue
                tags = _tags(req)
                minion = tags.get(model.TAG_MINION, "")
                if not self.is_ours(tags) or not self.verified(minion):
                    continue
                out.append(
                    model.Instance(
                        id=req["SpotInstanceRequestId"],
                        resource=self.resource.name,
                        minion_id=minion,
                        state=model.InstanceState.PENDING,
                        launch_time=launch_time_from(tags, time.time()),
                        cluster=self.cluster,
                        name=minion,
                        cores=cores,
                        mem_mb=mem,
                        spot=True,
                        tags=tags,
                    )
                )
        return out

    def _spot_requests(self, ids: Sequence[str] = (), filters: list[Raw] | None = None) -> list[Raw]:
        params: dict[str, Any] = {}
        if ids:
            params["SpotInstanceRequestIds"] = list(ids)
        if filters:
            params["Filters"] = filters
        try:
            return self._paged("describe_spot_instance_requests", "SpotInstanceRequests", **params)
        except NotFound:
            return []

    # ------------------------------------------------------------ launching
    def _launch_spec(self) -> dict[str, Any]:
        cfg = self.config
        spec: dict[str, Any] = {"ImageId": cfg.image_id, "InstanceType": cfg.instance_type}
        if cfg.key_name:
            spec["KeyName"] = cfg.key_name
        if cfg.availability_zone:
            spec["Placement"] = {"AvailabilityZone": cfg.availability_zone}
        groups = list(cfg.security_groups)
        if cfg.subnet_id:
            nic: dict[str, Any] = {
                "DeviceIndex": 0,
                "SubnetId": cfg.subnet_id,
                "AssociatePublicIpAddress": cfg.use_public_ip_address,
            }
            if groups:
                nic["Groups"] = groups
            spec["NetworkInterfaces"] = [nic]
        elif groups:
            spec["SecurityGroupIds"] = groups
        if cfg.disk_map:
            spec["BlockDeviceMappings"] = [
                {
                    "DeviceName": d.device,
                    "Ebs": {
                        "VolumeSize": d.size,
                        "VolumeType": d.volume_type,
                        "DeleteOnTermination": d.delete_on_termination,
                    },
                }
                for d in cfg.disk_map.values()
            ]
        return spec

    def launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        """Launch and, for spot, wait here for the requests (the Salt module's launch; the engine's loop
        uses :meth:`start_launch` and polls instead)."""
        result = self.start_launch(count, minion_ids, userdata_for)
        if result.requests:
            spot.wait(
                self,
                result,
                userdata_for,
                timeout=self.config.spot_timeout,
                fallback=self.config.spot_fallback_on_demand,
                clock=self._clock,
                sleep=self._sleep,
                interval=self._poll,
            )
        return result

    def start_launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        """On demand: the instances.  Spot: the requests, left open in ``result.requests``; ids whose
        request was refused for quota or capacity are launched on demand here (if the fallback is on)."""
        return self._start(count, minion_ids, userdata_for, spot=self.config.spot)

    def launch_on_demand(
        self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]
    ) -> LaunchResult:
        """On demand whatever ``spot_bid`` says (the fallback of spot requests not fulfilled in time)."""
        return self._start(count, minion_ids, userdata_for, spot=False)

    def _start(
        self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str], spot: bool
    ) -> LaunchResult:
        ids = self.check_ids(count, minion_ids)
        result = LaunchResult(instances=[], requested=count)
        if not ids:
            return result
        try:
            cores, mem = self.cores(), self.mem_mb()
        except CloudError as exc:
            result.error = exc
            return result
        if spot:
            ids = self._request_spot(ids, userdata_for, result)
            if not ids:
                return result
            if not self.config.spot_fallback_on_demand:
                return result  # the refusal is the error
            result.extra["fallback_on_demand"] = len(ids)
            result.error = None
        self.launch_each(ids, lambda mid: self._run_one(mid, userdata_for, cores, mem), result)
        return result

    def _run_one(
        self, minion_id: str, userdata_for: Callable[[str], str], cores: int, mem: int
    ) -> model.Instance | None:
        """One ``RunInstances`` for one instance, with its own user-data and tags.

        ``ClientToken`` is the minion id: a call repeated after a timeout
        returns the instance the first call made instead of starting another.
        """
        userdata = userdata_for(minion_id)
        if len(userdata.encode()) > USERDATA_LIMIT:
            raise InvalidConfig(
                f"the user-data of {minion_id} is {len(userdata.encode())} bytes; EC2 takes at most {USERDATA_LIMIT}",
                cloud="aws",
                code="userdata-size",
            )
        tags = tags_for(self.cluster, self.resource.name, minion_id)
        tags["Name"] = self._name(minion_id)
        params = dict(
            self._launch_spec(),
            MinCount=1,
            MaxCount=1,
            UserData=userdata,
            ClientToken=minion_id,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": _tag_list(tags)},
                {
                    "ResourceType": "volume",
                    "Tags": _tag_list({model.TAG_CLUSTER: self.cluster, model.TAG_RESOURCE: self.resource.name}),
                },
            ],
        )
        answer = self._call("run_instances", **params)
        for raw in answer.get("Instances", []):
            raw.setdefault("Tags", _tag_list(tags))
            inst = self._to_instance(raw, cores, mem)
            if inst is not None:
                return inst
        return None

    def _name(self, minion_id: str) -> str:
        return self.config.name_for(minion_id)

    # ------------------------------------------------------------ spot
    def _request_spot(self, ids: list[str], userdata_for: Callable[[str], str], result: LaunchResult) -> list[str]:
        """One spot request per id, valid for ``spot_timeout``, into ``result.requests``; returns the
        ids whose request was refused for quota or capacity.  Any other error stops (the requests made
        so far stay in ``result.requests``: they exist)."""
        timeout = self.config.spot_timeout
        until = datetime.now(UTC) + timedelta(seconds=timeout)
        refused: list[str] = []
        for mid in ids:
            try:
                ud = userdata_for(mid)
            except Exception as exc:  # noqa: BLE001 - the requests made so far must stay in the result
                result.error = (
                    exc
                    if isinstance(exc, CloudError)
                    else InvalidConfig(f"the user-data of {mid}: {exc}", cloud="aws", code="userdata")
                )
                return []
            spec = self._launch_spec()
            spec["UserData"] = base64.b64encode(ud.encode()).decode()
            tags = tags_for(self.cluster, self.resource.name, mid)
            tags["Name"] = self._name(mid)
            try:
                answer = self._call(
                    "request_spot_instances",
                    SpotPrice=str(self.config.spot_bid),
                    InstanceCount=1,
                    Type="one-time",
                    ValidUntil=until,
                    LaunchSpecification=spec,
                    TagSpecifications=[{"ResourceType": "spot-instances-request", "Tags": _tag_list(tags)}],
                )
            except CloudError as exc:
                result.error = exc
                if exc.kind in ("quota", "capacity"):
                    refused.append(mid)
                    continue
                return []
            for req in answer.get("SpotInstanceRequests", [])[:1]:
                result.requests[mid] = req["SpotInstanceRequestId"]
        if refused:
            result.extra["spot_refused"] = len(refused)
        return refused

    def _request(self, raw: Raw) -> Request | None:
        seen = self._spot_view(dict(raw)) if self._spot_view else raw
        tags = _tags(seen)
        minion = tags.get(model.TAG_MINION, "")
        if not self.is_ours(tags) or not self.verified(minion):
            return None
        until = seen.get("ValidUntil")
        return Request(
            id=seen["SpotInstanceRequestId"],
            minion_id=minion,
            state=str(seen.get("State", "")),
            instance_id=seen.get("InstanceId") or "",
            valid_until=until.timestamp() if isinstance(until, datetime) else None,
        )

    def poll_requests(self, request_ids: Sequence[str], discover: bool = False) -> list[Request]:
        """One DescribeSpotInstanceRequests: by id (a filter: an id EC2 does not know yet fails no call),
        or with ``discover`` by our tags, every open or fulfilled request; the instances of fulfilled
        ones found that way are looked up in one more call to tell which are adopted (tagged) already."""
        out: dict[str, Request] = {}
        if discover:
            found = self._spot_requests(filters=self._filters() + [{"Name": "state", "Values": ["open", "active"]}])
        elif request_ids:
            found = []
            for n in range(0, len(request_ids), 200):  # a filter takes at most 200 values
                found += self._spot_requests(
                    filters=[{"Name": "spot-instance-request-id", "Values": list(request_ids[n : n + 200])}]
                )
        else:
            return []
        for raw in found:
            req = self._request(raw)
            if req is not None:
                out[req.id] = req
        if discover:
            ours = self._tagged_ours([r.instance_id for r in out.values() if r.instance_id])
            out = {k: dataclasses.replace(r, adopted=r.instance_id in ours) for k, r in out.items()}
        wanted = set(request_ids)
        return [r for r in out.values() if discover or r.id in wanted]

    def _tagged_ours(self, instance_ids: list[str]) -> set[str]:
        out = set()
        for n in range(0, len(instance_ids), 200):
            for res in self._paged(
                "describe_instances",
                "Reservations",
                Filters=[{"Name": "instance-id", "Values": instance_ids[n : n + 200]}],
            ):
                for raw in res.get("Instances", []):
                    if self._to_instance(raw, 0, 0) is not None:
                        out.add(raw["InstanceId"])
        return out

    def cancel_requests(self, request_ids: Sequence[str]) -> list[Request]:
        """Cancel, then look again: one fulfilled between the last poll and the cancel shows its
        instance (a cancel does not end it), which the caller adopts."""
        ids = list(request_ids)
        for n in range(0, len(ids), 200):
            try:
                self._call("cancel_spot_instance_requests", SpotInstanceRequestIds=ids[n : n + 200])
            except NotFound:
                pass
        return self.poll_requests(ids)

    def adopt(self, fulfilled: Mapping[str, str], requests: Mapping[str, str] | None = None) -> LaunchResult:
        """Tag the instances of fulfilled requests (EC2 cannot tag them at fulfilment) and report them;
        one whose tagging failed is not reported (adopted by a later call).  ``requests``: instance id ->
        the request id that named it."""
        result = LaunchResult(instances=[], requested=len(fulfilled))
        if not fulfilled:
            return result
        try:
            cores, mem = self.cores(), self.mem_mb()
            fulfilled = self._spot_instances_of(fulfilled, requests or {}, result.refused)
        except CloudError as exc:
            result.error = exc
            return result
        for iid, mid in fulfilled.items():
            tags = tags_for(self.cluster, self.resource.name, mid)
            tags["Name"] = self._name(mid)
            try:
                self._call("create_tags", Resources=[iid], Tags=_tag_list(tags))
            except CloudError as exc:
                result.error = exc
        try:
            found = self._paged(
                "describe_instances", "Reservations", Filters=[{"Name": "instance-id", "Values": list(fulfilled)}]
            )
        except CloudError as exc:
            result.error = exc
            return result
        for res in found:
            for raw in res.get("Instances", []):
                inst = self._to_instance(raw, cores, mem)
                if inst is not None and fulfilled.get(inst.id) == inst.minion_id:
                    result.instances.append(inst)
        return result

    def _spot_instances_of(
        self, fulfilled: Mapping[str, str], requests: Mapping[str, str], refused: dict[str, str]
    ) -> dict[str, str]:
        """The part of ``fulfilled`` (instance id -> minion id) that a spot request can have launched for
        that minion.  Tagging makes an instance ours, to drain and destroy: an instance id named by a
        buggy or hostile request listing must be a spot instance (of that request, where EC2 says which)
        that carries no other worker's tags, or an unrelated machine would be taken."""
        out: dict[str, str] = {}
        for res in self._paged(
            "describe_instances", "Reservations", Filters=[{"Name": "instance-id", "Values": list(fulfilled)}]
        ):
            for raw in res.get("Instances", []):
                iid = raw.get("InstanceId")
                mid = fulfilled.get(iid)
                if mid is None:
                    continue
                rid, tags = requests.get(iid), _tags(raw)
                why = None
                if raw.get("InstanceLifecycle") != "spot":
                    why = "it is not a spot instance"
                elif rid and raw.get("SpotInstanceRequestId") not in (None, rid):
                    why = f"it was launched by request {raw.get('SpotInstanceRequestId')}"
                elif (
                    tags.get(model.TAG_MINION, mid) != mid or tags.get(model.TAG_CLUSTER, self.cluster) != self.cluster
                ):
                    why = "it carries another worker's tags"
                if why:
                    log.warning(
                        "aws %s: not adopting instance %s for %s (request %s): %s",
                        self.resource.name,
                        iid,
                        mid,
                        rid or "?",
                        why,
                    )
                    refused[iid] = why
                    continue
                out[iid] = mid
        return out

    # ------------------------------------------------------------ destroying
    def destroy(self, ids: Sequence[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        sirs = [i for i in ids if i.startswith("sir-")]
        iids = [i for i in ids if not i.startswith("sir-")]
        if sirs:
            found = {r["SpotInstanceRequestId"]: r for r in self._spot_requests(ids=sirs)}
            cancel, also = [], []
            for rid in sirs:
                req = found.get(rid)
                if req is None:
                    out[rid] = "gone"
                elif not (self.is_ours(_tags(req)) and self.verified(_tags(req).get(model.TAG_MINION, ""))):
                    out[rid] = (
                        f"refused: {rid} is not an instance of cluster {self.cluster} resource {self.resource.name}"
                    )
                else:
                    cancel.append(rid)
                    if req.get("InstanceId"):
                        also.append(req["InstanceId"])
            if cancel:
                try:
                    self._call("cancel_spot_instance_requests", SpotInstanceRequestIds=cancel)
                    out.update(dict.fromkeys(cancel, "ok"))
                except CloudError as exc:
                    out.update(dict.fromkeys(cancel, str(exc)))
            iids += [i for i in also if i not in iids]
        cores = self.resource.cores or 0
        known: dict[str, Raw] = {}
        if len(iids) > 200:  # one listing by our tags beats many by id (filters take <= 200 values)
            for res in self._paged("describe_instances", "Reservations", Filters=self._filters()):
                for raw in res.get("Instances", []):
                    known[raw["InstanceId"]] = raw
        rest = [i for i in iids if i not in known]
        for n in range(0, len(rest), 200):  # ids not found above: someone else's, or gone
            for res in self._paged(
                "describe_instances", "Reservations", Filters=[{"Name": "instance-id", "Values": rest[n : n + 200]}]
            ):
                for raw in res.get("Instances", []):
                    known[raw["InstanceId"]] = raw
        for n in range(0, len(iids), 1000):
            chunk = iids[n : n + 1000]
            kill, spot_reqs = [], []
            for iid in chunk:
                raw = known.get(iid)
                if raw is None:
                    out[iid] = "gone"
                    continue
                inst = self._to_instance(raw, cores, 0)
                if inst is None:
                    out[iid] = (
                        f"refused: {iid} is not an instance of cluster {self.cluster} resource {self.resource.name}"
                    )
                elif inst.state == model.InstanceState.GONE:
                    out[iid] = "gone"
                else:
                    kill.append(iid)
                    if raw.get("SpotInstanceRequestId"):
                        spot_reqs.append(raw["SpotInstanceRequestId"])
            if kill:
                try:
                    self._call("terminate_instances", InstanceIds=kill)
                    out.update(dict.fromkeys(kill, "ok"))
                except CloudError as exc:
                    out.update(dict.fromkeys(kill, str(exc)))
            if spot_reqs:
                try:
                    self._call("cancel_spot_instance_requests", SpotInstanceRequestIds=spot_reqs)
                except CloudError as exc:
                    log.info("aws %s: cancelling spot requests of destroyed instances: %s", self.resource.name, exc)
        return {i: out.get(i, "gone") for i in ids}
