"""The stats beacon's network rate on real interfaces that come and go (needs root and iproute2).

A veth that carried traffic inside a namespace keeps its kernel counters when it
is moved into the beacon's namespace: summed with the others, those counters
used to read as that many bytes per second (a new veth showed 1.6 GB/s).  Here
the interface really moves, the frames really go through the kernel, and the
beacon (loaded by Salt's own beacon loader) reads psutil as on a worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

salt_config = pytest.importorskip("salt.config")
salt_loader = pytest.importorskip("salt.loader")
psutil = pytest.importorskip("psutil")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEACONS = os.path.join(REPO, "_beacons")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="moving interfaces between namespaces needs root and iproute2",
)

FRAME = bytes.fromhex("ffffffffffff02000000000188b5") + b"\0" * 986  # 1000 bytes, local experimental ethertype

SEND = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
frame = bytes.fromhex(sys.argv[2])
for _ in range(int(sys.argv[3])):
    s.send(frame)
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def send_frames(iface: str, count: int, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run(
        [*prefix, sys.executable, "-c", SEND, iface, FRAME.hex(), str(count)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def take(beacon, config: list, context: dict) -> tuple[dict, float]:
    """One sample and the beacon's own interval since its previous one (what its rates divide by)."""
    before = context["dcluster_stats.last"]["mono"]
    (event,) = beacon(config)
    return event, context["dcluster_stats.last"]["mono"] - before


@pytest.fixture
def veth_in_namespace():
    """(namespace, veth end inside it, its peer): removed even when the test fails."""
    tag = f"{os.getpid() % 100000}"
    ns, end, peer = f"dcl-bcn{tag}", f"dcbA{tag}", f"dcbB{tag}"
    ip("netns", "add", ns)
    try:
        ip("link", "add", end, "type", "veth", "peer", "name", peer)
        ip("link", "set", end, "netns", ns)
        ip("link", "set", peer, "netns", ns)
        ip("-n", ns, "link", "set", end, "up")
        ip("-n", ns, "link", "set", peer, "up")
        yield ns, end, peer
    finally:
        subprocess.run(["ip", "link", "del", end], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def test_an_interface_moved_in_with_traffic_behind_it_is_not_counted_as_a_burst(veth_in_namespace):
    ns, end, _peer = veth_in_namespace
    opts = salt_config.minion_config(None)
    opts["beacons_dirs"] = [BEACONS]
    context: dict = {}
    beacon = salt_loader.beacons(opts, {}, context=context)["dcluster_stats.beacon"]
    config = [{"interfaces": [end, "lo"]}]

    # 20 MB through the veth while it is in its namespace: counters the host never saw go by
    send_frames(end, 20_000, netns=ns)
    beacon(config)
    lo_before = psutil.net_io_counters(pernic=True)["lo"].bytes_sent
    ip("-n", ns, "link", "set", end, "netns", str(os.getpid()))
    ip("link", "set", end, "up")
    carried = psutil.net_io_counters(pernic=True)[end].bytes_sent
    assert carried >= 20_000 * len(FRAME)  # the kernel kept them across the move
    moved_in, seconds = take(beacon, config, context)
    lo_bytes = psutil.net_io_counters(pernic=True)["lo"].bytes_sent - lo_before
    # only lo's own traffic in the interval, not the veth's history
    assert moved_in["network"]["bytes_out"] * seconds <= lo_bytes + 64 * 1024, (moved_in["network"], carried)

    # from now on its frames count, by their delta
    lo_before = psutil.net_io_counters(pernic=True)["lo"].bytes_sent
    send_frames(end, 2_000)
    next_sample, seconds = take(beacon, config, context)
    lo_bytes = psutil.net_io_counters(pernic=True)["lo"].bytes_sent - lo_before
    out = next_sample["network"]["bytes_out"] * seconds
    assert 2_000 * len(FRAME) <= out + 1 <= 2_000 * len(FRAME) + lo_bytes + 64 * 1024, next_sample["network"]

    # it goes back into its namespace: lo's rate is still reported, not dropped as "counters went backwards"
    ip("link", "set", end, "netns", ns)
    moved_out, _ = take(beacon, config, context)
    assert "network" in moved_out and moved_out["network"]["bytes_out"] >= 0
