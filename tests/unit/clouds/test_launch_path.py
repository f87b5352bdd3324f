"""One launch path, one rule for the master's address, whoever launches (the engine's actuator or a module)."""

from __future__ import annotations

import pytest

from dcluster import config as dconfig
from dcluster.actuator import Actuator, ActuatorPorts
from dcluster.clouds import launch
from dcluster.clouds.base import LaunchResult, master_address, own_address
from dcluster.clouds.local import LocalDriver
from dcluster.keypairs import KeyPair

CFG = dconfig.load(
    {
        "secret": "s" * 24,
        "cluster": {"type": "slurm"},
        "cloud": {
            "loc": {"type": "local", "cores": 2, "quantity": {"max": 4}, "config": {"gateway": "127.200.0.9"}},
            "ec2": {
                "type": "aws",
                "cores": 2,
                "quantity": {"max": 4},
                "config": {"image_id": "a", "instance_type": "t"},
            },
        },
    }
)
PEM = "-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\nCCCC\n-----END PRIVATE KEY-----\n"


class Keys:
    def take(self, n):
        return [KeyPair(PEM, "pub") for _ in range(n)]


class RecordingLocal(LocalDriver):
    """The local driver with its create call replaced by a record of each instance's user-data (no namespace)."""

    rendered: dict[str, str]

    def launch(self, count, minion_ids, userdata_for):
        self.rendered = {mid: userdata_for(mid) for mid in minion_ids}
        return LaunchResult([], count)


def master_line(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith("MASTER=")]
    return line


@pytest.mark.parametrize(
    ("explicit", "want"),
    [(None, "MASTER=127.200.0.9"), ("10.1.2.3", "MASTER=10.1.2.3")],
)
def test_the_engines_launch_of_a_local_worker_gets_its_gateway_unless_an_address_is_given(explicit, want):
    drv = RecordingLocal(CFG.resources["loc"], CFG.cluster_name, CFG.secret)
    ports = ActuatorPorts(
        scheduler=lambda cfg: None,
        driver=lambda cfg, res: drv,
        keys=Keys(),
        clock=lambda: 100.0,
        monotonic=lambda: 5.0,
        master_address=explicit,
        master_default="master.example",
    )
    Actuator(ports).launch(CFG, "loc", 1, "test")
    (text,) = drv.rendered.values()
    assert master_line(text) == want


def test_one_rule_for_every_cloud():
    local = LocalDriver(CFG.resources["loc"], CFG.cluster_name, CFG.secret)
    assert master_address(local, None, "m") == "127.200.0.9"
    assert master_address(local, "10.0.0.1", "m") == "10.0.0.1"

    class Other:  # a cloud that fixes no address (a double offering only launch)
        pass

    assert master_address(Other(), None, "m") == "m"
    assert own_address({"interface": "10.0.0.5", "id": "master"}) == "10.0.0.5"
    assert own_address({"interface": "0.0.0.0", "id": "master"}) == "master"
    assert own_address({"interface": "::", "__role": "minion", "master": "salt.example", "id": "w1"}) == "salt.example"
    assert own_address(None) == "salt"


def test_the_renderer_gives_a_local_instance_its_private_directory(tmp_path):
    template = tmp_path / "ud.j2"
    template.write_text("{{ instance_dir }} {{ master }} {{ resource_type }}")
    data = {
        "secret": "s" * 24,
        "cluster": {"type": "slurm"},
        "cloud": {"loc": {"type": "local", "config": {"userdata_file": str(template)}}},
    }
    cfg = dconfig.load(data)
    drv = LocalDriver(cfg.resources["loc"], cfg.cluster_name, cfg.secret)
    text = launch.renderer(drv, cfg, cfg.resources["loc"], explicit_master=None, default_master="m")("w1")
    assert text == f"{drv.instance_root('w1')} 127.200.0.1 local"
