"""The local cloud hands out never-used addresses first, then the one freed longest ago.

Found by the Grid Engine end-to-end run: qmaster caches host names by address,
so a new exec host at an address freed a moment before was rejected.
"""

from dcluster import config
from dcluster.clouds.local import LocalDriver


def driver(tmp_path):
    c = config.load({"secret": "0123456789abcdef0123", "cluster": {"type": "sge"}, "cluster_name": "hpc",
                     "cloud": {"loc": {"type": "local", "config": {
                         "network": "127.200.0.208/29", "gateway": "127.200.0.209", "state_dir": str(tmp_path)}}}})
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
