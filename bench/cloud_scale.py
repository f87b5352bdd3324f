"""Launch and destroy 1,000 instances through the AWS driver against moto (server mode, 127.0.0.1).

    .venv/bin/python bench/cloud_scale.py [--count 1000] [--batch 50]

Starts its own moto_server on a free port (stopped by PID at the end), warms
it up with one launch+destroy (moto loads its AMI and instance-type tables
on first use), then times ``launch(count)``, ``instances()`` and
``destroy(all)``.  moto's own time dominates: about 5-6 ms per instance
created, on this 2-core machine.  The last line is ``launch_1000_s=<s>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dcluster import config, identity, model  # noqa: E402
from dcluster.clouds.aws import AwsDriver  # noqa: E402
from tests.support.moto import MotoServer  # noqa: E402

SECRET = "bench-secret-0123456789"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=50, help="launch_batch of the resource (the default is 50)")
    args = ap.parse_args()
    with MotoServer() as moto:
        cfg = config.load({"secret": SECRET, "cluster": {"type": "slurm"}, "cluster_name": "bench", "cloud": {
            "ec2": {"type": "aws", "launch_batch": args.batch, "quantity": {"max": args.count}, "config": {
                "image_id": "ami-12c6146b", "instance_type": "t3.micro", "access_key_id": "testing",
                "secret_access_key": "testing", "endpoint_url": moto.url}}}})
        drv = AwsDriver(cfg.resources["ec2"], cfg.cluster_name, cfg.secret)
        calls: list[str] = []
        drv.client.meta.events.register("before-call.ec2.*", lambda model, **kw: calls.append(model.name))

        def userdata_for(mid: str) -> str:
            return f"#!/bin/sh\necho {mid}\n"

        warm = drv.launch(1, [identity.make("bench", "ec2", SECRET)], userdata_for)
        drv.destroy([i.id for i in warm.instances])
        calls.clear()

        ids = [identity.make("bench", "ec2", SECRET) for _ in range(args.count)]
        t0 = time.monotonic()
        result = drv.launch(args.count, ids, userdata_for)
        launch_s = time.monotonic() - t0
        launch_calls = len(calls)
        if result.error is not None or result.launched != args.count:
            print(f"launch failed: {result.launched}/{args.count}: {result.error}", file=sys.stderr)
            return 1

        t0 = time.monotonic()
        listed = [i for i in drv.instances() if i.state != model.InstanceState.GONE]
        list_s = time.monotonic() - t0
        assert sorted(i.minion_id for i in listed) == sorted(ids), "listing does not match the launch"

        calls.clear()
        t0 = time.monotonic()
        out = drv.destroy([i.id for i in listed])
        destroy_s = time.monotonic() - t0
        destroy_calls = len(calls)
        assert set(out.values()) == {"ok"}, "destroy incomplete"

    print(f"count={args.count} launch_batch={args.batch}")
    print(f"launch_s={launch_s:.2f} api_calls={launch_calls}")
    print(f"list_s={list_s:.2f}")
    print(f"destroy_s={destroy_s:.2f} api_calls={destroy_calls}")
    print(f"launch_{args.count}_s={launch_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
