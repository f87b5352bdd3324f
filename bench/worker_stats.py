"""The engine's intake of the workers' beacon statistics: events per CPU second, and its memory when full.

    PYTHONPATH=. .venv/bin/python bench/worker_stats.py

One real ``dcluster_stats`` event (the beacon run through Salt's loader on this
machine, psutil) is offered to :class:`dcluster.worker_stats.WorkerStats` as the
engine's loop offers it: kept (1,000 workers, a clock that lets each through),
kept and written to carbon (what the engine does with a kept sample when a graphite
plugin is configured: :meth:`dcluster.metrics.reporter.GraphiteReporter.send_stats`
to a line receiver on 127.0.0.1, another process, that discards what it reads),
refused by its rate, refused for a forged id, for a NaN, and for a 1 MB tag.
Then every one of the 1,000 worker slots is filled with 240 samples and the
memory the store holds is measured with tracemalloc, against its stated bound.
CPU times are the process's own (``time.process_time``), best of 3.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from dcluster import identity
from dcluster.metrics import GraphiteSettings
from dcluster.metrics.reporter import GraphiteReporter
from dcluster.worker_stats import MAX_WORKERS, SAMPLES, WorkerStats

N = 20_000


def real_event() -> dict:
    import salt.config
    import salt.loader

    opts = salt.config.minion_config(None)
    opts["beacons_dirs"] = [os.path.join(os.path.dirname(HERE), "_beacons")]
    opts["file_client"] = "local"
    beacon = salt.loader.beacons(opts, {}, context={})["dcluster_stats.beacon"]
    beacon([{"disks": ["/"]}])
    time.sleep(0.5)
    (data,) = beacon([{"disks": ["/"]}])
    return data


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


RECEIVER = """
import socket, sys, threading
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4)
print(listener.getsockname()[1], flush=True)
def drain(conn):
    while conn.recv(1 << 20):
        pass
while True:
    conn, _ = listener.accept()
    threading.Thread(target=drain, args=(conn,), daemon=True).start()
"""


def discarding_receiver() -> tuple[subprocess.Popen, int]:
    """A process listening on 127.0.0.1 that reads and throws away what it gets: its CPU is not counted."""
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def rate(label: str, offer, events) -> None:
    best = math.inf
    for _ in range(3):
        t0 = time.process_time()
        for tag, data in events:
            offer(tag, data)
        best = min(best, time.process_time() - t0)
    print(f"{label:<34} {len(events) / best:>10,.0f} events per CPU second")


def main() -> None:
    base = real_event()
    ids = [identity.make("dc", "r1", "bench-secret-0123456789", nonce=f"{i:06x}") for i in range(MAX_WORKERS)]

    def event(mid, **changes):
        d = copy.deepcopy(base)
        d.update(id=mid, _stamp="2026-12-05T04:30:00.000000", **changes)
        return d

    clock = Clock()
    keep = WorkerStats(monotonic=clock, min_interval=1e-9, burst=10**9)
    keep.known(ids)
    good = [(f"salt/beacon/{ids[i % len(ids)]}/dcluster_stats/", event(ids[i % len(ids)])) for i in range(N)]
    rate("kept", keep.offer, good)
    receiver, port = discarding_receiver()
    reporter = GraphiteReporter(GraphiteSettings("127.0.0.1", port, "bench.dc"))
    to_carbon = WorkerStats(monotonic=clock, min_interval=1e-9, burst=10**9)
    to_carbon.known(ids)

    def offer_and_send(tag, data):
        if to_carbon.offer(tag, data) is None:
            reporter.send_stats(tag.split("/")[2], data)

    rate("kept, then written to carbon", offer_and_send, good)
    assert reporter.client.pending == 0 and reporter.client.dropped == 0, reporter.client.last_error
    reporter.close()
    receiver.kill()
    receiver.wait()
    limited = WorkerStats(monotonic=clock)
    limited.known(ids)
    one = [good[0]] * N
    rate("refused: over its rate", limited.offer, one)
    rate("refused: another worker's id", limited.offer, [(f"salt/beacon/{ids[1]}/dcluster_stats/", event(ids[0]))] * N)
    nan = event(ids[0], load={"1m": math.nan, "5m": 0.0, "15m": 0.0})
    rate("refused: a NaN", limited.offer, [(good[0][0], nan)] * N)
    rate("refused: a 1 MB tag", limited.offer, [("salt/beacon/" + "d" * 1_000_000 + "/dcluster_stats/", base)] * 200)

    tracemalloc.start()
    full = WorkerStats(monotonic=clock, min_interval=1e-9, burst=10**9)
    full.known(ids)
    data = {mid: event(mid) for mid in ids}
    after_events = tracemalloc.get_traced_memory()[0]
    for _ in range(SAMPLES + 10):
        for mid in ids:
            full.offer(f"salt/beacon/{mid}/dcluster_stats/", data[mid])
    held = tracemalloc.get_traced_memory()[0] - after_events
    tracemalloc.stop()
    assert full.counts()["workers"] == MAX_WORKERS and full.counts()["accepted"] == MAX_WORKERS * (SAMPLES + 10)
    print(
        f"full store: {MAX_WORKERS} workers x {SAMPLES} samples held {held / 1e6:.1f} MB "
        f"(bound {full.capacity_bytes / 1e6:.1f} MB of samples)"
    )


if __name__ == "__main__":
    main()
