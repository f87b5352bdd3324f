"""What every cloud driver offers, and the tags that make an instance ours.

An instance is ours when its tags (AWS) or metadata (OpenStack, local) carry
our cluster name and the resource name, and its minion id verifies under our
HMAC secret (:mod:`dcluster.identity`).  Listing selects on exactly that,
never on a name pattern: the original's unanchored ``prefix-*`` regex listed
(and at startup destroyed) other people's instances.

Batches
-------
EC2 ``RunInstances`` and Nova ``POST /servers`` launch ``count`` instances in
one call, but every instance of such a call gets the *same* tags and the same
user-data, while each of ours needs its own minion id.  So a batch carries:

* the common tags (cluster, resource, launch time) plus ``dcluster-batch``
  and the batch's minion ids in launch-index order, packed into
  ``dcluster-ids-<n>`` tags (only the ``<nonce>-<mac>`` part, 12 per tag);
* a user-data wrapper (:func:`batch_userdata`) that asks the instance
  metadata service for the instance's launch index, picks its id from the
  same list, and runs the user-data rendered for that id.

The driver maps an instance to its id with its launch index
(:func:`minion_from_tags`), so every instance is identifiable from the
moment it exists; no second tagging call is needed (the original's tag-after
-launch race, where a crash left untagged instances, cannot happen).
"""

from __future__ import annotations

import abc
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import identity, model
from ..config.model import Resource
from ..config.secret import Secret
from .errors import CloudError

log = logging.getLogger(__name__)

TAG_BATCH = "dcluster-batch"
TAG_IDS = "dcluster-ids-"  # + n: space-separated "<nonce>-<mac>" of the batch, in launch-index order
IDS_PER_TAG = 12  # 12 ids of 19 characters and their spaces: 239 < 255, the Nova metadata limit (EC2: 256)
MAX_BATCH = IDS_PER_TAG * 40  # stays under EC2's 50 tags per resource
PLACEHOLDER = "@DCLUSTER_MINION_ID@"


@dataclass
class LaunchResult:
    """What a launch did: exactly the instances that exist, and why the rest do not."""

    instances: list[model.Instance]
    requested: int
    error: CloudError | None = None
    extra: dict[str, Any] = field(default_factory=dict)

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
            **({"extra": self.extra} if self.extra else {}),
        }


class Driver(abc.ABC):
    """One resource of one cloud.  Methods raise :class:`CloudError` subclasses only."""

    type = ""

    def __init__(self, resource: Resource, cluster_name: str, secret: Secret | str):
        self.resource = resource
        self.cluster = cluster_name
        self.secret = secret
        self.config: Mapping[str, Any] = resource.config

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

    def is_ours(self, tags: Mapping[str, str]) -> bool:
        return tags.get(model.TAG_CLUSTER) == self.cluster and tags.get(model.TAG_RESOURCE) == self.resource.name

    def verified(self, minion_id: str) -> bool:
        ident = identity.parse(minion_id, self.secret, self.cluster)
        return ident is not None and ident.resource == self.resource.name


def tags_for(cluster: str, resource: str, minion_id: str, launch_time: float | None = None) -> dict[str, str]:
    """The tags of one instance launched on its own."""
    return {
        model.TAG_CLUSTER: cluster,
        model.TAG_RESOURCE: resource,
        model.TAG_MINION: minion_id,
        model.TAG_LAUNCHED: _fmt_time(time.time() if launch_time is None else launch_time),
    }


def batch_tags(cluster: str, resource: str, minion_ids: Sequence[str], batch: str,
               launch_time: float | None = None) -> dict[str, str]:
    """The tags every instance of one multi-instance API call carries (see the module docstring)."""
    if len(minion_ids) == 1:
        return tags_for(cluster, resource, minion_ids[0], launch_time)
    stem = f"{cluster}-{resource}-"
    tails = []
    for mid in minion_ids:
        if not mid.startswith(stem):
            raise ValueError(f"{mid!r} does not belong to {stem}*")
        tails.append(mid[len(stem):])
    tags = {
        model.TAG_CLUSTER: cluster,
        model.TAG_RESOURCE: resource,
        model.TAG_LAUNCHED: _fmt_time(time.time() if launch_time is None else launch_time),
        TAG_BATCH: batch,
    }
    for n in range(0, len(tails), IDS_PER_TAG):
        tags[f"{TAG_IDS}{n // IDS_PER_TAG}"] = " ".join(tails[n:n + IDS_PER_TAG])
    return tags


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
        return float(tags[model.TAG_LAUNCHED])
    except (KeyError, TypeError, ValueError):
        return fallback


def _fmt_time(t: float) -> str:
    return f"{t:.3f}"


# Commands that print the instance's launch index, per metadata service.
INDEX_COMMANDS = {
    "aws": (
        "tok=$(curl -sf -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "
        "http://169.254.169.254/latest/api/token || true)\n"
        "    idx=$(curl -sf -m 5 ${tok:+-H \"X-aws-ec2-metadata-token: $tok\"} "
        "http://169.254.169.254/latest/meta-data/ami-launch-index || true)"
    ),
    "openstack": (
        "idx=$(curl -sf -m 5 http://169.254.169.254/openstack/latest/meta_data.json "
        "| sed -n 's/.*\"launch_index\": *\\([0-9][0-9]*\\).*/\\1/p' || true)"
    ),
}

_WRAPPER = """#!/bin/sh
# dcluster batch user-data: one API call launched {count} instances.  Each asks
# the metadata service for its launch index, takes its minion id from the list
# below (the same list is in the instance's dcluster-ids-* tags) and runs the
# user-data rendered for that id.
ids='{ids}'
idx=
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do
    {index_command}
    case "$idx" in ''|*[!0-9]*) sleep 5 ;; *) break ;; esac
done
case "$idx" in ''|*[!0-9]*) echo "dcluster: no launch index from the metadata service" >&2; exit 1 ;; esac
set -f
set -- $ids
shift "$idx" || exit 1
DCLUSTER_MINION_ID=$1
export DCLUSTER_MINION_ID
umask 077
f=/run/dcluster-userdata-$$
sed "s/{placeholder}/$DCLUSTER_MINION_ID/g" > "$f" <<'DCLUSTER_USERDATA_EOF'
{body}DCLUSTER_USERDATA_EOF
chmod 700 "$f"
exec "$f"
"""


def batch_userdata(minion_ids: Sequence[str], userdata_for: Callable[[str], str], cloud: str) -> str | None:
    """One user-data for a whole batch, or None when the batch cannot share one.

    The user-data rendered for each id must be the same text with the id in
    the same places, and be a ``#!`` script (a ``#cloud-config`` document
    cannot be wrapped): then the wrapper substitutes the id at boot, which is
    the same text the template would have produced for it.
    """
    if len(minion_ids) == 1:
        return userdata_for(minion_ids[0])
    bodies = set()
    for mid in minion_ids:
        bodies.add(userdata_for(mid).replace(mid, PLACEHOLDER))
        if len(bodies) > 1:
            return None
    body = bodies.pop()
    if not body.startswith("#!") or "DCLUSTER_USERDATA_EOF" in body:
        return None
    if not body.endswith("\n"):
        body += "\n"
    stem = minion_ids[0].rsplit("-", 2)[0]
    if not all(re.fullmatch(r"[a-z0-9-]+", m) and m.startswith(stem) for m in minion_ids):
        return None
    return _WRAPPER.format(count=len(minion_ids), ids=" ".join(minion_ids), index_command=INDEX_COMMANDS[cloud],
                           placeholder=PLACEHOLDER, body=body)
