"""Bin packing of job chunks onto node capacity: existing, draining and new nodes.

A :class:`Pool` holds one resource's capacity.  Bins are nodes with free
cores and memory, kept in buckets by free-core count so a chunk finds the
tightest fitting bin in O(cores per node), not O(nodes): planning 100,000 jobs
over thousands of workers stays well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import MAX_NODE_CORES

LIVE, DRAINING = 0, 1


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a job's chunks would go: (bin index, chunks) on existing bins, then chunks per new node."""

    existing: list[tuple[int, int]]
    new: list[int]


@dataclass(slots=True)
class Bin:
    free: int
    mem: int  # free memory in MB; -1: unknown (never limits)
    name: str  # worker name; "" for a node this plan launches
    tier: int  # LIVE or DRAINING
    used: bool = False  # got demand in this plan


@dataclass
class Pool:
    resource: str
    cores: int  # cores of a new node
    mem: int  # memory of a new node (MB), 0: unknown
    headroom: int  # new nodes this plan may still launch
    bins: list[Bin] = field(default_factory=list)
    # buckets[tier][free] = stack of bin indexes (lazy deletion: entries may be stale)
    buckets: list[list[list[int]]] = field(default_factory=list)
    top: list[int] = field(default_factory=lambda: [0, 0])  # the largest free count ever added, per tier
    new_nodes: int = 0
    # place() arguments that found no room.  Free cores and memory, headroom and the candidates only
    # shrink while a plan places jobs, so they find none later either, until a bin is added or a
    # draining one turns live (which clears this): 28,571 pending jobs made 92,630 such calls.
    failed: set[tuple[int, int, int, bool, tuple[int, ...], bool]] = field(default_factory=set)

    def __post_init__(self) -> None:
        # A bucket per free-core count: a size beyond MAX_NODE_CORES (a cloud's or a node's claim) counts
        # as that many, or the buckets alone would take memory and time in proportion to the claim.
        self.cores = min(self.cores, MAX_NODE_CORES)
        size = max(self.cores, 1) + 1
        self.buckets = [[[] for _ in range(size)] for _ in (LIVE, DRAINING)]

    def _grow(self, free: int) -> None:
        for tier in (LIVE, DRAINING):
            while len(self.buckets[tier]) <= free:
                self.buckets[tier].append([])

    def add(self, free: int, mem: int, name: str, tier: int) -> int:
        free = min(free, MAX_NODE_CORES)  # a node's claim, as for the pool's own size
        idx = len(self.bins)
        self.bins.append(Bin(free, mem, name, tier))
        self.failed.clear()
        if free > 0:
            self._grow(free)
            self.buckets[tier][free].append(idx)
            self.top[tier] = max(self.top[tier], free)
        return idx

    def _live_entry(self, idx: int, tier: int, free: int) -> bool:
        b = self.bins[idx]
        return b.free == free and b.tier == tier

    def _candidates(self, tier: int, cores: int, mem: int, want: int, taken: set[int]) -> list[int]:
        """Up to ``want`` distinct bins of ``tier`` with room for a chunk, tightest first.

        Buckets are stacks with lazy deletion: a bin moved to another bucket
        leaves a stale entry behind, dropped when it reaches the top.
        """
        out: list[int] = []
        buckets = self.buckets[tier]
        top = min(self.top[tier], len(buckets) - 1)
        for free in range(cores, top + 1):
            bucket = buckets[free]
            while bucket and not self._live_entry(bucket[-1], tier, free):
                bucket.pop()
            for pos in range(len(bucket) - 1, -1, -1):
                idx = bucket[pos]
                if idx in taken or not self._live_entry(idx, tier, free):
                    continue
                b = self.bins[idx]
                if mem and b.mem >= 0 and b.mem < mem:
                    continue
                out.append(idx)
                if len(out) >= want:
                    return out
        if not out and not taken and not mem:
            # Nothing in this tier has ``cores`` free, and free counts only
            # shrink: later, larger chunks can skip the scan.
            self.top[tier] = min(self.top[tier], cores - 1)
        return out

    def _take(self, idx: int, cores: int, mem: int) -> None:
        b = self.bins[idx]
        b.free -= cores
        if b.mem >= 0 and mem:
            b.mem -= mem
        b.used = True
        if b.tier == DRAINING:
            # A draining node that gets demand is released and counts as live from now on.
            b.tier = LIVE
            self.top[LIVE] = max(self.top[LIVE], b.free)  # or the live scan stops below its free cores
            self.failed.clear()
        if b.free > 0:
            self.buckets[b.tier][b.free].append(idx)

    def can_ever_fit(self, chunk_cores: int, chunk_mem: int) -> bool:
        return chunk_cores <= self.cores and (not self.mem or not chunk_mem or chunk_mem <= self.mem)

    def place(
        self, chunks: int, cores: int, mem: int, distinct: bool, tiers: tuple[int, ...], allow_new: bool
    ) -> list[int] | None:
        """Place a job's chunks; returns the bins used (new nodes included), or None and changes nothing."""
        layout = self.layout(chunks, cores, mem, distinct, tiers, allow_new)
        return None if layout is None else self.commit(layout, cores, mem)

    def layout(
        self, chunks: int, cores: int, mem: int, distinct: bool, tiers: tuple[int, ...], allow_new: bool
    ) -> Layout | None:
        """Where place() would put a job's chunks, changing nothing; None when they do not fit."""
        key = (chunks, cores, mem, distinct, tiers, allow_new)
        if key in self.failed:
            return None
        found = self._layout(chunks, cores, mem, distinct, tiers, allow_new)
        if found is None:
            self.failed.add(key)
        return found

    def _place(
        self, chunks: int, cores: int, mem: int, distinct: bool, tiers: tuple[int, ...], allow_new: bool
    ) -> list[int] | None:
        """place() without the memory of failed calls."""
        layout = self._layout(chunks, cores, mem, distinct, tiers, allow_new)
        return None if layout is None else self.commit(layout, cores, mem)

    def _layout(
        self, chunks: int, cores: int, mem: int, distinct: bool, tiers: tuple[int, ...], allow_new: bool
    ) -> Layout | None:
        if cores > max(self.top[LIVE], self.top[DRAINING], self.cores if allow_new else 0):
            return None  # fast path: nothing here is big enough
        if distinct:
            chosen: list[int] = []
            taken: set[int] = set()
            for tier in tiers:
                if len(chosen) < chunks:
                    got = self._candidates(tier, cores, mem, chunks - len(chosen), taken)
                    chosen += got
                    taken.update(got)
            missing = chunks - len(chosen)
            if missing and not (allow_new and self.can_ever_fit(cores, mem) and missing <= self.headroom):
                return None
            return Layout([(idx, 1) for idx in chosen], [1] * missing)
        # Chunks may share nodes: work out the whole placement first, then commit,
        # so a placement that does not fit changes nothing.
        alloc: list[tuple[int, int]] = []
        left = chunks
        for tier in tiers:
            if not left:
                break
            for idx in self._candidates(tier, cores, mem, left, set()):
                b = self.bins[idx]
                per = b.free // cores
                if mem and b.mem > 0:
                    per = min(per, b.mem // mem)
                n = min(max(per, 1), left)
                alloc.append((idx, n))
                left -= n
                if not left:
                    break
        new: list[int] = []
        if left:
            per_node = self.cores // cores if cores else left
            if self.mem and mem:
                per_node = min(per_node, self.mem // mem)
            if not allow_new or not per_node:
                return None
            if -(-left // per_node) > self.headroom:
                return None
            while left:
                new.append(min(per_node, left))
                left -= new[-1]
        return Layout(alloc, new)

    def commit(self, layout: Layout, cores: int, mem: int) -> list[int]:
        """Carry out a layout of this pool's (from layout(), with nothing placed since); returns the bins used."""
        used = []
        for idx, n in layout.existing:
            self._take(idx, cores * n, mem * n)
            used.append(idx)
        for n in layout.new:
            idx = self.add(self.cores, self.mem if self.mem else -1, "", LIVE)
            self.headroom -= 1
            self.new_nodes += 1
            self._take(idx, cores * n, mem * n)
            used.append(idx)
        return used

    def might_fit(self, cores: int, tiers: tuple[int, ...], allow_new: bool) -> bool:
        """A cheap upper bound: False means place() would surely fail."""
        if allow_new and self.headroom > 0 and cores <= self.cores:
            return True
        return any(cores <= self.top[t] for t in tiers)
