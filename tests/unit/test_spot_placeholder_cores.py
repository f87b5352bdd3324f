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
