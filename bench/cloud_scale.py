"""Launch and destroy 1,000 instances through the AWS driver against moto (server mode, 127.0.0.1).

    .venv/bin/python bench/cloud_scale.py [--count 1000] [--threads 8]

Each instance is launched as the engine launches it: its own key pair (from
a :class:`dcluster.keypairs.KeyPool` filled beforehand, as the engine fills
it between launches), its own user-data rendered from the default template
with that key, and its own ``RunInstances`` call, ``--threads`` at a time.
The pool's fill time is reported too (``keygen_s``): it is what a launch
would wait for keys with an empty pool.  Starts its own moto_server on a
free port (stopped by PID at the end), warms it up with one launch+destroy
(moto loads its AMI and instance-type tables on first use), then times
``launch(count)``, ``instances()`` and ``destroy(all)``.  The last line is
``launch_1000_s=<s>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dcluster import config, identity, keypairs, model
from dcluster.clouds import base, userdata
from dcluster.clouds.aws import AwsDriver
from tests.support.moto import MotoServer

SECRET = "bench-secret-0123456789"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=base.LAUNCH_THREADS, help="create calls under way at once")
    args = ap.parse_args()
    base.LAUNCH_THREADS = args.threads
    with MotoServer() as moto:
        cfg = config.load(
            {
                "secret": SECRET,
                "cluster": {"type": "slurm"},
                "cluster_name": "bench",
                "cloud": {
                    "ec2": {
                        "type": "aws",
                        "quantity": {"max": args.count},
                        "config": {
                            "image_id": "ami-12c6146b",
                            "instance_type": "t3.micro",
                            "access_key_id": "testing",
                            "secret_access_key": "testing",
                            "endpoint_url": moto.url,
                        },
                    }
                },
            }
        )
        drv = AwsDriver(cfg.resources["ec2"], cfg.cluster_name, cfg.secret)
        calls: list[str] = []
        drv.client.meta.events.register("before-call.ec2.*", lambda model, **kw: calls.append(model.name))

        def renderer(ids, pairs):
            return userdata.renderer(
                None,
                master="127.0.0.1",
                resource="ec2",
                scheduler="slurm",
                cluster="bench",
                resource_type="aws",
                keys=dict(zip(ids, pairs, strict=True)),
            )

        warm_ids = [identity.make("bench", "ec2", SECRET)]
        warm = drv.launch(1, warm_ids, renderer(warm_ids, [keypairs.generate()]))
        drv.destroy([i.id for i in warm.instances])
        calls.clear()

        t0 = time.monotonic()
        pool = keypairs.KeyPool(target=args.count)
        if not pool.fill(timeout=600):
            print("the key pool did not fill within 600 s", file=sys.stderr)
            return 1
        keygen_s = time.monotonic() - t0

        ids = [identity.make("bench", "ec2", SECRET) for _ in range(args.count)]
        t0 = time.monotonic()
        pairs = pool.take(args.count)
        result = drv.launch(args.count, ids, renderer(ids, pairs))
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

    print(f"count={args.count} threads={args.threads}")
    print(f"keygen_s={keygen_s:.2f} (RSA-{keypairs.KEY_BITS}, the pool filled ahead of the launch)")
    print(f"launch_s={launch_s:.2f} api_calls={launch_calls}")
    print(f"list_s={list_s:.2f}")
    print(f"destroy_s={destroy_s:.2f} api_calls={destroy_calls}")
    print(f"launch_{args.count}_s={launch_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
