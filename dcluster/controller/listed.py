"""Our instances as good listings last showed them: counted until listings agree they are gone.

One listing may leave out a live instance (eventual consistency, a cloud's
bug, a page lost), and a listing may fail.  Neither makes the instance go
away: it still exists and is paid for.  So each instance a good listing showed
is remembered (in the persisted state, so a restart remembers it too) and:

- while its resource's listing fails, it is part of the stale listing the view
  keeps (controller/merged.py ``Merged.stale``);
- when a good listing misses it, it stays in the view as unknown (counted
  toward max, nothing destructive) until good listings across
  :func:`~.unlisted.listing_grace` agree it is not there.  One last seen being
  deleted, or that we destroyed, is forgotten at once: its absence is expected.

Only counting depends on this; no action is ever based on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Instance, InstanceState
from .state import ControllerState


class Listed:
    """The only writer of ``state.listed`` once the state is loaded (its per-resource index relies on it)."""

    def __init__(self, state: ControllerState):
        self.state = state
        self._missing: dict[str, float] = {}  # minion id -> the first good listing that missed it (monotonic)
        # resource -> its minion ids in state.listed: a listing of one resource looks at its own
        # instances only (20 listings of 250 each walked all 5,000 every cycle: 0.3 s)
        self._by_resource: dict[str, dict[str, None]] | None = None

    def _index(self) -> dict[str, dict[str, None]]:
        if self._by_resource is None:
            self._by_resource = {}
            for mid, inst in self.state.listed.items():
                self._by_resource.setdefault(inst.resource, {})[mid] = None
        return self._by_resource

    def saw(self, resource: str, items: Iterable[Instance], now: float, grace: float) -> None:
        """A good listing of ``resource`` (as the cloud answered: launch-time tags as listed)."""
        shown = {i.minion_id: i for i in items if i.state != InstanceState.GONE}
        with self.state.lock:
            index = self._index()
            listed = self.state.listed
            for mid in list(index.get(resource, ())):
                inst = listed.get(mid)
                if inst is None or inst.resource != resource:  # not through us: the index was stale
                    index[resource].pop(mid, None)
                    continue
                if mid in shown:
                    continue
                since = self._missing.setdefault(mid, now)
                if inst.state == InstanceState.DELETING or now - since >= grace:
                    self.forget(mid)
            mine = index.setdefault(resource, {})
            for mid, inst in shown.items():
                old = listed.get(mid)
                if old is not None and old.resource != resource:
                    index.get(old.resource, {}).pop(mid, None)
                listed[mid] = inst
                mine[mid] = None
                self._missing.pop(mid, None)

    def forget(self, minion_id: str) -> None:
        """It is gone (we destroyed it, or listings agree): it counts no more."""
        with self.state.lock:
            inst = self.state.listed.pop(minion_id, None)
            if inst is not None and self._by_resource is not None:
                self._by_resource.get(inst.resource, {}).pop(minion_id, None)
            self._missing.pop(minion_id, None)

    def of(self, resource: str) -> list[Instance]:
        """Every instance of ``resource`` we know of, missing from the last listing or not."""
        with self.state.lock:
            return [i for i in self.state.listed.values() if i.resource == resource]

    def missing(self, resource: str) -> list[Instance]:
        """Instances of ``resource`` the last good listing missed, not yet agreed gone."""
        with self.state.lock:
            if not self._missing:  # the usual case: the last listings missed nothing
                return []
            return [i for mid, i in self.state.listed.items() if i.resource == resource and mid in self._missing]
