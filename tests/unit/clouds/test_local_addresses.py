"""The local cloud hands out never-used addresses first, then the one freed longest ago.

Found by the Grid Engine end-to-end run: qmaster caches host names by address,
so a new exec host at an address freed a moment before was rejected.
"""

import pytest

from dcluster import config
from dcluster.clouds.local import LocalDriver


def driver(tmp_path):
    c = config.load(
        {
            "secret": "0123456789abcdef0123",
            "cluster": {"type": "sge"},
            "cluster_name": "hpc",
            "cloud": {
                "loc": {
                    "type": "local",
                    "config": {"network": "127.200.0.208/29", "gateway": "127.200.0.209", "state_dir": str(tmp_path)},
                }
            },
        }
    )
    return LocalDriver(c.resources["loc"], "hpc", c.secret)


def test_fresh_addresses_first_then_least_recently_released(tmp_path):
    drv = driver(tmp_path)  # hosts .210-.214
    assert drv._allocate(set()) == "127.200.0.210"
    drv._release("127.200.0.210")
    assert drv._allocate(set()) == "127.200.0.211"  # not the one just freed
    for a in ("211", "212", "213", "214"):
        drv._release(f"127.200.0.{a}")
    assert drv._allocate(set()) == "127.200.0.210"  # every one used: the oldest release
    assert drv._allocate({"127.200.0.210"}) == "127.200.0.211"
    assert driver(tmp_path)._allocate(set()) == "127.200.0.210"  # remembered across restarts (state_dir)


def test_hosts_file_is_rewritten_in_place_longer_and_shorter(tmp_path):
    """Same file (inode: /etc/hosts may be a bind mount), exact new text whether it grows or shrinks."""
    from dcluster.clouds.local import _rewrite

    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost head\n")
    inode = path.stat().st_ino
    longer = "127.0.0.1 localhost head\n127.200.0.101 w1 # dcluster-local i-1\n"
    _rewrite(str(path), longer)
    assert path.read_text() == longer and path.stat().st_ino == inode
    _rewrite(str(path), "127.0.0.1 localhost head\n")
    assert path.read_text() == "127.0.0.1 localhost head\n" and path.stat().st_ino == inode


def test_a_reader_always_finds_the_lines_before_the_change(tmp_path):
    """What a resolver reading the hosts file during rewrites sees: never a file without the host's line."""
    import threading

    from dcluster.clouds.local import _rewrite

    path = tmp_path / "hosts"
    head = "127.0.0.1 localhost head\n"
    path.write_text(head)
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(path.read_text().startswith(head))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(3000):
            _rewrite(str(path), head + "".join(f"127.200.0.{k} w{k} # dcluster-local i-{k}\n" for k in range(i % 7)))
    finally:
        stop.set()
        t.join()
    assert seen and all(seen)


def test_names_go_into_the_hosts_file_and_out_again_leaving_other_lines(tmp_path):
    from dcluster import model
    from dcluster.clouds.local import HOSTS_MARK

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost head\n")
    c = config.load(
        {
            "secret": "0123456789abcdef0123",
            "cluster": {"type": "sge"},
            "cluster_name": "hpc",
            "cloud": {
                "loc": {
                    "type": "local",
                    "config": {
                        "network": "127.200.0.208/29",
                        "gateway": "127.200.0.209",
                        "state_dir": str(tmp_path),
                        "hosts_file": str(hosts),
                    },
                }
            },
        }
    )
    drv = LocalDriver(c.resources["loc"], "hpc", c.secret)
    a = {"id": "i-a", "address": "127.200.0.210", "tags": {model.TAG_MINION: "wa"}}
    b = {"id": "i-b", "address": "127.200.0.211", "tags": {model.TAG_MINION: "wb"}}
    drv._set_name(a, publish=True)
    drv._set_name(b, publish=True)
    drv._set_name(a, publish=True)  # again: still one line for it
    assert hosts.read_text() == (
        f"127.0.0.1 localhost head\n127.200.0.211 wb {HOSTS_MARK}i-b\n127.200.0.210 wa {HOSTS_MARK}i-a\n"
    )
    drv._set_name(a, publish=False)
    drv._set_name(a, publish=False)  # not there any more: nothing to do
    assert hosts.read_text() == f"127.0.0.1 localhost head\n127.200.0.211 wb {HOSTS_MARK}i-b\n"
    hosts.unlink()
    drv._set_name(b, publish=False)  # no hosts file: no line to take out
    with pytest.raises(FileNotFoundError):
        drv._set_name(b, publish=True)
