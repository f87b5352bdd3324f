"""An open spot request's placeholder for a resource whose cores are asked from the cloud.

Until the request is resolved its worker counts toward max as a pending instance; the status
history and the metrics add up every worker's cores, so the placeholder must carry a number.
"""

from __future__ import annotations

from builders import NOW, view

from dcluster import config as dconfig
from dcluster.actuator import ActuatorPorts
from dcluster.actuator.records import Records
from dcluster.actuator.requests import OpenRequests
from dcluster.controller.status import history_sample
from dcluster.metrics import engine_metrics

CFG = dconfig.load(
    {
        "secret": "s" * 24,
        "cluster": {"type": "slurm"},
        "cloud": {
            # no "cores": the node's cores are the instance type's, asked from the cloud
            "ec2": {
                "type": "aws",
                "quantity": {"max": 4},
                "config": {"image_id": "ami-1", "instance_type": "t3.micro", "spot_bid": 0.05},
            }
        },
    }
)


def test_a_placeholder_without_configured_cores_is_summed_as_zero_cores():
    assert CFG.resources["ec2"].cores is None
    ports = ActuatorPorts(
        scheduler=lambda cfg: None, driver=lambda cfg, res: None, keys=None, clock=lambda: NOW, monotonic=lambda: 5.0
    )
    records = Records()
    OpenRequests(ports, records, launches=None).opened(CFG, "ec2", {"m-1": "sir-1"})

    placeholder = records.recent_launches["m-1"]
    assert placeholder.cores == 0
    v = view(CFG, nodes=[], instances={"ec2": [placeholder]})
    assert [w.cores for w in v.workers] == [0]
    assert history_sample(CFG, v, NOW)["cores"]["starting"] == 0
    metrics = {path: value for path, value, _ in engine_metrics(v, None, None, "dc")}
    assert metrics["dc.resource.ec2.cores"] == 0


def test_a_state_file_of_a_release_that_saved_cores_none_still_starts_the_engine(caplog):
    """Releases before the fix above saved the placeholder with ``"cores": null``; the state file's
    instances are checked field by field since (wire.from_dict), and that file failed the engine's
    start with a ModelError.  Read as 0 (unknown), as now; another malformed entry is dropped, logged."""
    from dcluster.controller.state import ControllerState

    placeholder = {
        "id": "sir-1",
        "resource": "ec2",
        "minion_id": "m-1",
        "state": "pending",
        "launch_time": 5.0,
        "cores": None,
        "spot": True,
        "tags": {},
    }
    bad = {**placeholder, "id": "i-2", "minion_id": "m-2", "cores": "4"}
    st = ControllerState.from_json(
        {"recent_launches": {"m-1": placeholder, "m-2": bad}, "listed": {"m-1": placeholder}}, 100.0, 1000.0
    )
    assert st.recent_launches["m-1"].cores == 0 and st.listed["m-1"].cores == 0
    assert "m-2" not in st.recent_launches
    assert "m-2" in caplog.text and "'cores'" in caplog.text
