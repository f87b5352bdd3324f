"""An OpenStack proxy's password never shows in the redacted configuration (dashboard, state.json,
runner output), whatever characters it holds unencoded that Python's URL reader still takes as the
password: an '@' (the password is up to the last '@'), quotes, '<' '>' or a blank."""

import json

import pytest

from dcluster import config
from dcluster.config import keys
from dcluster.config.secret import REDACTED


def pillar(proxy):
    return {
        "secret": "0123456789abcdef-hmac",
        "cluster": {"type": "slurm"},
        "cloud": {
            "os": {
                "type": "openstack",
                "config": {
                    "auth_url": "https://keystone.example:5000/v3",
                    "username": "u",
                    "password": "os-password-1",
                    "project": "p",
                    "image_uuid": "img",
                    "flavor": "m1",
                    "proxy": proxy,
                },
            }
        },
    }


@pytest.mark.parametrize(
    "password", ["Qz7k@Wm4x", "Qz7k'Wm4x", 'Qz7k"Wm4x', "Qz7k<Wm4x>", "Qz7k Wm4x", "Qz7k@Wm4x'Rt9\"Lp"]
)
def test_the_proxy_password_is_masked_whatever_it_holds(password):
    proxy = f"http://dcuser:{password}@proxy.example:3128"
    assert keys._proxy_problem(proxy) is None  # the pillar takes it, so the redaction must hold
    cfg = config.load(pillar(proxy)).redacted()
    shown = cfg["resources"]["os"]["config"]["proxy"]
    for part in ("Qz7k", "Wm4x", "Rt9", "Lp"):
        assert part not in shown, f"{part!r} of the proxy password shows in the redacted config: {shown}"
    assert shown == f"http://dcuser:{REDACTED}@proxy.example:3128"
    assert "Qz7k" not in json.dumps(cfg)
