"""A Pool remembers the place() calls that found no room (issue 15: 92,630 of 99,180 calls for
28,571 pending jobs found none).  Capacity only shrinks while a plan places jobs, except when a
node is added or a draining one turns live, which forget what was remembered: random sequences of
placements give the same answers and leave the same bins with and without the memory."""

import random

from dcluster.planner.packing import DRAINING, LIVE, Pool


class Forgetful(Pool):
    """The same pool without the memory: every call is worked out afresh."""

    def place(self, chunks, cores, mem, distinct, tiers, allow_new):
        return self._place(chunks, cores, mem, distinct, tiers, allow_new)


def _pools(rng):
    cores = rng.choice((2, 4, 8, 16))
    mem = rng.choice((0, 8000, 32000))
    headroom = rng.randrange(0, 6)
    pools = (Pool("r", cores, mem, headroom), Forgetful("r", cores, mem, headroom))
    for k in range(rng.randrange(0, 25)):
        free, node_mem = rng.randrange(0, cores + 1), rng.choice((-1, 1000, 4000, 16000, 32000))
        tier = DRAINING if rng.random() < 0.3 else LIVE
        for p in pools:
            p.add(free, node_mem, f"w{k}", tier)
    return pools


def _bins(pool):
    return [(b.free, b.mem, b.name, b.tier, b.used) for b in pool.bins]


def test_remembered_failures_change_no_placement():
    rng = random.Random(15)
    passes = (((LIVE,), False), ((LIVE, DRAINING), False), ((LIVE, DRAINING), True))
    remembered = 0
    for _ in range(400):
        memo, plain = _pools(rng)
        for _ in range(rng.randrange(1, 60)):
            shape = (rng.randrange(1, 5), rng.randrange(1, 10), rng.choice((0, 0, 500, 3000, 9000)), rng.random() < 0.7)
            for tiers, allow_new in passes:
                before = len(memo.failed)
                got = memo.place(*shape, tiers, allow_new)
                assert got == plain.place(*shape, tiers, allow_new)
                remembered += got is None and len(memo.failed) == before  # answered from memory
                assert _bins(memo) == _bins(plain)
                assert (memo.headroom, memo.new_nodes) == (plain.headroom, plain.new_nodes)
                if got is not None:
                    break
    assert remembered > 1000  # the memory was used, not only filled


def test_a_new_node_or_a_draining_node_turned_live_makes_remembered_failures_count_no_more():
    pool = Pool("r", 4, 0, headroom=2)
    pool.add(2, -1, "w", LIVE)
    assert pool.place(1, 3, 0, True, (LIVE,), False) is None  # no node has 3 cores free
    assert pool.place(2, 1, 0, True, (LIVE,), True) == [0, 1]  # one chunk on w, one on a new node
    assert pool.place(1, 3, 0, True, (LIVE,), False) == [1]  # the new node's 3 cores left
    pool.add(4, -1, "drained", DRAINING)
    assert pool.place(1, 4, 0, True, (LIVE,), False) is None and pool.failed
    assert pool.place(1, 4, 0, True, (LIVE, DRAINING), False) == [2]
    assert not pool.failed  # released for demand: it counts as live from now on
