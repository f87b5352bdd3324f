"""What every cloud driver offers, and the tags that make an instance ours.

An instance is ours when its tags (AWS) or metadata (OpenStack, local) carry
our cluster name and the resource name, and its minion id verifies under our
HMAC secret (:mod:`dcluster.identity`).  Listing selects on exactly that,
never on a name pattern: an unanchored ``prefix-*`` regex also lists other
people's instances (``prefix-foo``), which a cleanup at startup would destroy.

One instance, one API call
--------------------------
Each instance gets its own user-data, which carries its own minion key
(:mod:`dcluster.keypairs`), and its own tags with its minion id, so no
instance ever sees another's id or key.  EC2 ``RunInstances`` and Nova
``POST /servers`` could start many instances in one call, but every
instance of such a call gets the same user-data and tags; so the drivers
make one call per instance, :data:`LAUNCH_THREADS` at a time
(:meth:`Driver.launch_each`).  Every instance is identifiable from the
moment it exists (its tags are part of the create call), and the call is
idempotent where the cloud allows it (EC2 ``ClientToken`` = minion id).

Instances that dcluster launched in batches before this (tags
``dcluster-batch`` and ``dcluster-ids-<n>``) are still recognised by their
launch index, so an upgrade leaks none of them.

The interface
-------------
Every driver offers the operations of :class:`Driver`, each with one
signature; a driver over a cloud's SDK (aws, openstack) also offers, in its
module, ``classify`` and ``translate`` with the signatures of :class:`Classify`
and :class:`Translate`.  Where new minions find
the master is decided by :func:`master_address` alone (an explicit address, else
the one the cloud fixes, else the master's own), and every launch renders its
user-data through :mod:`dcluster.clouds.launch`.
"""

from __future__ import annotations

import abc
import logging
import math
import reprlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeAlias

from .. import identity, model
from ..config.clouds import CloudConfig
from ..config.model import Resource
from ..config.secret import Secret
from .errors import CloudError, InvalidConfig, Transient

log = logging.getLogger(__name__)


def plausible_size(value: Any, least: int, most: int, resource: str, key: str) -> int:
    """A node's size as the cloud tells it (a flavor's vCPUs or RAM, an instance type's: the pillar's
    ``key`` when it is not set) as a whole number from ``least`` to ``most``; anything else (infinity,
    10**9 vCPUs, text) is 0, unknown, and logged naming the key to set.  The cloud's answer is input:
    raised, it failed every listing, and taken as given it sized the planner's nodes and the scheduler's."""
    try:
        n = int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    except (OverflowError, ValueError):  # int() of an infinity or NaN
        n = None
    if n is None or not least <= n <= most:
        log.warning(
            "dcluster: cannot learn the node size of %s: the cloud answers %s %s, not a whole number from %d "
            "to %d (set dcluster:cloud:%s:%s)",
            resource,
            reprlib.repr(value),
            key,
            least,
            most,
            resource,
            key,
        )
        return 0
    return n


# Tags of instances launched in batches by earlier releases (read, never written any more).
TAG_BATCH = "dcluster-batch"
TAG_IDS = "dcluster-ids-"  # + n: space-separated "<nonce>-<mac>" of the batch, in launch-index order
LAUNCH_THREADS = 8  # create calls under way at once per launch (each call starts one instance)


@dataclass(frozen=True)
class Request:
    """A request for an instance the cloud answers later (an EC2 spot request), as one poll saw it."""

    id: str
    minion_id: str
    state: str  # "open" (waiting), "active" (fulfilled), "closed", "cancelled", "failed"
    instance_id: str = ""  # the instance that fulfilled it, if any
    valid_until: float | None = None  # wall clock: the cloud closes it then
    adopted: bool = False  # its instance already carries our tags (found again after a restart)


@dataclass
class LaunchResult:
    """What a launch did: exactly the instances that exist, and why the rest do not."""

    instances: list[model.Instance]
    requested: int
    error: CloudError | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # minion id -> request id of each instance asked for and not made yet (an open spot request): the
    # caller polls them (:meth:`Driver.poll_requests`) and adopts, cancels or replaces them
    requests: dict[str, str] = field(default_factory=dict)
    # instance id -> why, of each instance a request listing named that adoption refused as not ours
    # (:meth:`adopt`): the request is cancelled and replaced at its deadline, never adopted
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def launched(self) -> int:
        return len(self.instances)

    @property
    def partial(self) -> bool:
        return 0 < len(self.instances) < self.requested

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "launched": self.launched,
            "partial": self.partial,
            "instances": [i.to_dict() for i in self.instances],
            "error": self.error.to_dict() if self.error else None,
            **({"requests": dict(self.requests)} if self.requests else {}),
            **({"extra": self.extra} if self.extra else {}),
        }


class Classify(Protocol):
    """A driver module's ``classify``: the classified error of one answer of its cloud's API."""

    def __call__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        secrets: Sequence[object] = (),
        retry_after: float = 0.0,
    ) -> CloudError: ...


class Translate(Protocol):
    """A driver module's ``translate``: any exception of its SDK as a classified error."""

    def __call__(self, exc: BaseException, secrets: Sequence[object] = ()) -> CloudError: ...


SettingsClass: TypeAlias = "type[CloudConfig]"  # (named here: in Driver, ``type`` is an attribute)


class Driver(abc.ABC):
    """One resource of one cloud.  Methods raise :class:`CloudError` subclasses only."""

    type: ClassVar[str] = ""
    settings: ClassVar[SettingsClass] = CloudConfig  # the class of ``resource.config`` it takes
    # Secrets the pillar used before ``secret`` (``previous_secrets``): instances whose ids verify under
    # one of them are still ours, so they are listed and may be destroyed.  Set by registry.driver_for;
    # new ids (check_ids) must verify under ``secret`` alone.
    previous_secrets: tuple[Secret | str, ...] = ()
    config: CloudConfig

    def __init__(self, resource: Resource, cluster_name: str, secret: Secret | str):
        if not isinstance(resource.config, self.settings):
            raise InvalidConfig(
                f"dcluster:cloud:{resource.name}:config: {type(resource.config).__name__} given to the "
                f"{self.type} driver, which takes {self.settings.__name__}",
                cloud=self.type,
                code="type",
            )
        self.resource = resource
        self.cluster = cluster_name
        self.secret = secret
        self.config = resource.config

    @abc.abstractmethod
    def instances(self) -> list[model.Instance]:
        """Every instance of this resource that carries our tags (including ones being deleted)."""

    @abc.abstractmethod
    def launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        """Launch ``count`` instances named ``minion_ids``; never raises for a cloud refusal (see ``error``)."""

    @abc.abstractmethod
    def destroy(self, ids: Sequence[str]) -> dict[str, str]:
        """Delete instances by cloud id: ``{id: "ok" | "gone" | error text}``; refuses ids that are not ours."""

    @abc.abstractmethod
    def cores(self) -> int:
        """Cores of one instance (``resource.cores`` overrides the cloud's answer)."""

    @abc.abstractmethod
    def mem_mb(self) -> int:
        """Memory of one instance in MB (``resource.mem_mb`` overrides the cloud's answer)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (optional)."""

    def instance_root(self, minion_id: str) -> str:
        """A directory private to the instance on this machine (the template's ``instance_dir``); empty
        on clouds whose instances run elsewhere."""
        return ""

    def own_master(self) -> str | None:
        """The master's address this cloud's instances must use, where the cloud fixes one (the local
        cloud: its bridge's gateway, the only address its namespace hosts reach); None: the master's own."""
        return None

    # ------------------------------------------------------------ requests answered later (spot)
    # A create call that only asks (an EC2 spot request) returns at once with the requests open
    # (``LaunchResult.requests``); the engine's loop polls them each cycle, all in one call, and
    # adopts, cancels or replaces them (dcluster.actuator.requests).  Clouds that answer a create
    # call with the instance keep these defaults.
    def start_launch(self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]) -> LaunchResult:
        """As :meth:`launch`, but requests the cloud fulfils later are left open in ``result.requests``."""
        return self.launch(count, minion_ids, userdata_for)

    def launch_on_demand(
        self, count: int, minion_ids: Sequence[str], userdata_for: Callable[[str], str]
    ) -> LaunchResult:
        """Launch with no request left open (the fallback of requests not fulfilled in time)."""
        return self.launch(count, minion_ids, userdata_for)

    def poll_requests(self, request_ids: Sequence[str], discover: bool = False) -> list[Request]:
        """The requests of ``request_ids`` the cloud knows, in one call; ``discover``: also every open
        or fulfilled request of ours that is not adopted (found again after a restart)."""
        return []

    def cancel_requests(self, request_ids: Sequence[str]) -> list[Request]:
        """Cancel; returns the requests as they are after it (one fulfilled meanwhile shows its instance)."""
        return []

    def adopt(self, fulfilled: Mapping[str, str], requests: Mapping[str, str] | None = None) -> LaunchResult:
        """Make the instances of fulfilled requests (instance id -> minion id) ours: tagged, listed;
        ``requests``: instance id -> the request that named it (checked where the cloud tells)."""
        return LaunchResult(instances=[], requested=len(fulfilled))

    # ------------------------------------------------------------ helpers
    def check_ids(self, count: int, minion_ids: Sequence[str]) -> list[str]:
        if count < 0:
            raise ValueError("count must not be negative")
        ids = list(minion_ids)[:count]
        if len(ids) != count:
            raise ValueError(f"launch of {count} needs {count} minion ids, got {len(list(minion_ids))}")
        for mid in ids:
            ident = identity.parse(mid, self.secret, self.cluster)
            if ident is None or ident.resource != self.resource.name:
                raise ValueError(f"{mid!r} is not a minion id of cluster {self.cluster} resource {self.resource.name}")
        return ids

    def launch_each(
        self,
        ids: Sequence[str],
        launch_one: Callable[[str], model.Instance | None],
        result: LaunchResult,
        threads: int | None = None,
    ) -> None:
        """Start each of ``ids`` with its own call, ``threads`` at a time, into ``result``.

        ``launch_one(minion_id)`` returns the instance (None: the cloud made
        nothing) or raises :class:`CloudError`.  After the first error no new
        call is started (calls under way finish and count); the first error
        becomes ``result.error``, so the result lists exactly what exists.
        """
        ids = list(ids)
        stop = False
        found: dict[str, model.Instance] = {}

        def one(mid: str) -> None:
            nonlocal stop
            if stop:
                return
            try:
                inst = launch_one(mid)
            except Exception as exc:  # noqa: BLE001 - an unexpected error must not lose what exists
                stop = True
                if result.error is None:
                    result.error = (
                        exc
                        if isinstance(exc, CloudError)
                        else Transient(f"{type(exc).__name__}: {exc}", cloud=self.type)
                    )
                return
            if inst is not None:
                found[mid] = inst

        threads = threads or LAUNCH_THREADS
        with ThreadPoolExecutor(
            max_workers=max(1, min(threads, len(ids))), thread_name_prefix=f"dcluster-launch-{self.resource.name}"
        ) as pool:
            for fut in [pool.submit(one, mid) for mid in ids]:
                fut.result()
        result.instances.extend(found[mid] for mid in ids if mid in found)

    def is_ours(self, tags: Mapping[str, str]) -> bool:
        return tags.get(model.TAG_CLUSTER) == self.cluster and tags.get(model.TAG_RESOURCE) == self.resource.name

    def verified(self, minion_id: str) -> bool:
        ident = identity.parse(minion_id, (self.secret, *self.previous_secrets), self.cluster)
        return ident is not None and ident.resource == self.resource.name


def own_address(opts: Mapping[str, Any] | None) -> str:
    """The master's own address from Salt's opts: its interface, unless it listens on every address;
    on a minion (an execution module run there) the master it talks to; else the master's id."""
    opts = opts or {}
    iface = opts.get("interface")
    if iface and iface not in ("0.0.0.0", "::"):
        return str(iface)
    if opts.get("__role") == "minion":
        return str(opts.get("master") or "salt")
    return str(opts.get("id") or "salt")


def master_address(drv: Driver, explicit: str | None, default: str) -> str:
    """Where new minions of ``drv``'s resource find the master: the address given explicitly (the
    engine's ``master_address``, the module's ``master=``), else the one the cloud fixes
    (:meth:`Driver.own_master`), else ``default`` (:func:`own_address` of the master's opts)."""
    own = getattr(drv, "own_master", None)  # doubles of a driver may lack it: the Driver default then
    return explicit or (own() if own is not None else None) or default


def tags_for(cluster: str, resource: str, minion_id: str, launch_time: float | None = None) -> dict[str, str]:
    """The tags of one instance launched on its own."""
    return {
        model.TAG_CLUSTER: cluster,
        model.TAG_RESOURCE: resource,
        model.TAG_MINION: minion_id,
        model.TAG_LAUNCHED: _fmt_time(time.time() if launch_time is None else launch_time),
    }


def batch_ids(tags: Mapping[str, str]) -> list[str]:
    """The minion ids of a batch, in launch-index order, from its tags."""
    stem = f"{tags.get(model.TAG_CLUSTER, '')}-{tags.get(model.TAG_RESOURCE, '')}-"
    out: list[str] = []
    n = 0
    while f"{TAG_IDS}{n}" in tags:
        out += [stem + t for t in tags[f"{TAG_IDS}{n}"].split()]
        n += 1
    return out


def minion_from_tags(tags: Mapping[str, str], launch_index: int | None) -> str:
    """An instance's minion id: its own tag, or its place in its batch's id list."""
    if tags.get(model.TAG_MINION):
        return tags[model.TAG_MINION]
    ids = batch_ids(tags)
    if launch_index is not None and 0 <= launch_index < len(ids):
        return ids[launch_index]
    return ""


def launch_time_from(tags: Mapping[str, str], fallback: float) -> float:
    try:
        value = float(tags[model.TAG_LAUNCHED])
    except (KeyError, TypeError, ValueError):
        return fallback
    # "nan" and "inf" parse too: with one, no age is ever past max_launch_time and no rate is a number
    return value if math.isfinite(value) else fallback


def _fmt_time(t: float) -> str:
    return f"{t:.3f}"
