"""The simulated cloud: boot times drawn from a lognormal, launch failures and capacity refusals at a set rate."""

from __future__ import annotations

import pytest

from dcluster.sim.cloud import Cloud, Faults, SimResource
from dcluster.sim.metrics import percentile
from dcluster.sim.replay import Settings, jobs_from_swf, replay
from dcluster.sim.swf import parse_line

N = 20000


def boots(median, p95, seed=0, n=N):
    cloud = Cloud("c", "secret", [SimResource("r", 1, boot=median, boot_p95=p95)], seed=seed)
    names = [f"n{i}" for i in range(n)]
    return [i.ready - i.launched for i in cloud.launch("r", n, 0.0, names=names)]


def test_boot_times_have_the_configured_median_and_p95():
    draws = boots(120.0, 300.0)
    assert percentile(draws, 50) == pytest.approx(120.0, rel=0.03)
    assert percentile(draws, 95) == pytest.approx(300.0, rel=0.05)
    assert min(draws) > 0


def test_boot_draws_are_seeded():
    assert boots(120.0, 300.0, seed=1, n=50) == boots(120.0, 300.0, seed=1, n=50)
    assert boots(120.0, 300.0, seed=1, n=50) != boots(120.0, 300.0, seed=2, n=50)


def test_without_a_p95_every_boot_takes_the_median():
    assert set(boots(120.0, 0.0, n=100)) == {120.0}


def test_a_p95_below_the_median_is_refused():
    with pytest.raises(ValueError, match="resource r: boot_p95 60.0 is below the median boot 120.0"):
        SimResource("r", 1, boot=120.0, boot_p95=60.0)
    with pytest.raises(ValueError, match="boot_p95 60.0 is below boot 120.0"):
        Settings(boot=120.0, boot_p95=60.0).check()


def failures(faults, n=N):
    cloud = Cloud("c", "secret", [SimResource("r", 1, faults=faults)])
    kinds = []
    for i in range(n):
        try:
            cloud.launch("r", 1, float(i), names=[f"n{i}"])
        except Exception as exc:  # noqa: BLE001 - the classified error is what is counted
            kinds.append(type(exc).__name__)
    return kinds


def test_launch_failures_and_capacity_refusals_come_at_their_rates():
    kinds = failures(Faults(rate=0.1, capacity_rate=0.2, seed=3))
    transient = sum(1 for k in kinds if "Capacity" not in k)
    capacity = sum(1 for k in kinds if "Capacity" in k)
    assert transient / N == pytest.approx(0.1, abs=0.01)
    assert capacity / N == pytest.approx(0.9 * 0.2, abs=0.01)  # drawn after the transient draw passed
    assert failures(Faults()) == []
    with pytest.raises(ValueError, match="fault capacity_rate 1.5 is not within 0..1"):
        Faults(capacity_rate=1.5)


JOBS = "\n".join(f"{i} {i * 400} -1 100 1 -1 -1 1 100 -1 1 1 1 -1 -1 -1 -1 -1" for i in range(1, 41))


def test_failures_flow_through_the_actuator_s_backoff_in_a_replay():
    records = [r for r in (parse_line(line, "t.swf", i) for i, line in enumerate(JOBS.splitlines(), 1)) if r]
    jobs, _ = jobs_from_swf(records)

    def run(faults):
        for j in jobs:
            j.start = j.end = None
            j.alloc = {}
        return replay(jobs, Settings(max_nodes=4, boot=120, idle=0, poll=10, faults=faults))

    clean = run(Faults())
    assert clean.launch_failures == [] and clean.backoffs == 0
    r = run(Faults(rate=0.3, capacity_rate=0.2, seed=5))
    kinds = {k for _, _, k in r.launch_failures}
    assert kinds == {"transient", "capacity"}
    assert r.backoffs > 0  # each failure episode put the resource in backoff, as in the engine
    assert len(r.launch_failures) / r.launch_requests == pytest.approx(1 - 0.7 * 0.8, abs=0.15)
    assert all(j.start is not None for j in r.jobs)  # the retries after the backoff launched them


def test_static_nodes_are_up_at_the_first_submit_whatever_boot_time_is_drawn():
    wide = "1 0 -1 100 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1"  # all 4 nodes at the first submit
    jobs, _ = jobs_from_swf([parse_line(wide, "t.swf", 1)])
    r = replay(jobs, Settings(policy="static", max_nodes=4, boot=120, boot_p95=600, seed=1))
    assert r.jobs[0].start == 0.0
