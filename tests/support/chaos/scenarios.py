"""Issue 13's causes, each reproduced on its own: one scripted run per function, returning its Counters.

No random fault fires here (``Run(seed, family=None)``); each scenario forces
exactly the fault it is about (``run.faults.force(name)``) at the moment it
matters, then lets the cluster settle.  A scenario "reproduces" its cause when
the counter named in its docstring is above 0; once the cause is fixed it is 0,
which is what tests/chaos/test_scenarios.py asserts (xfail until then).
"""

from __future__ import annotations

from dcluster import config as dconfig

from .harness import T0, Run, pillar
from .oracle import Counters

LONG = 3000.0  # a job that outlives max_launch_time


def _busy(run: Run, duration: float, cpus: int = 4, limit: float = 900.0):
    """Submit one job and step until it runs; returns (job, its node's name)."""
    job = run.submit(cpus=cpus, duration=duration)
    end = run.t + limit
    while run.t < end and job.state != "RUNNING":
        run.step()
    assert job.state == "RUNNING", "scenario set-up: the job never started"
    return job, job.node


def _finish(run: Run) -> Counters:
    try:
        return run.settle()
    finally:
        run.close()


def scenario_remove_after_failed_poll(seed: int = 1) -> Counters:
    """``remove`` right after a failed scheduler poll destroys a busy node (busy_destroyed, jobs_lost)."""
    run = Run(seed, None)
    _job, name = _busy(run, LONG)
    run.faults.force("sched_exit")
    run.step()
    run.operator("remove", name=name)
    return _finish(run)


def scenario_sinfo_missing_busy_node(seed: int = 2) -> Counters:
    """One ``sinfo`` missing a node destroys it as an orphan though squeue shows its job (busy_destroyed)."""
    run = Run(seed, None)
    _job, _name = _busy(run, LONG)
    run.advance(run.cfg.max_launch_time + 60)  # old enough to look like an orphan
    run.faults.force("sinfo_missing_node")
    run.step()
    return _finish(run)


def scenario_listing_missing_instance(seed: int = 3) -> Counters:
    """One cloud listing missing a live instance vacates its jobs (requeued_by_dcluster)."""
    run = Run(seed, None)
    _busy(run, LONG)
    run.faults.force("listing_missing_instance")
    run.step()
    return _finish(run)


def scenario_failed_listing_launches_elsewhere(seed: int = 4) -> Counters:
    """A failed listing of r1 hides its starting instance; r2 launches for the same job (launched_beyond_policy)."""
    run = Run(seed, None)
    run.submit(cpus=4, duration=600)
    run.step()  # r1 launches
    run.faults.force("cloud_list_5xx")
    run.step()
    return _finish(run)


def scenario_launch_created_then_timeout(seed: int = 5) -> Counters:
    """A launch that created its instance and then timed out is launched again (launched_beyond_policy)."""
    run = Run(seed, None)
    run.faults.force("launch_created_then_timeout")
    run.faults.force("listing_lag")  # not listed yet when the controller looks again
    run.submit(cpus=4, duration=600)
    run.advance(60)
    return _finish(run)


def scenario_listing_missing_starting_instance(seed: int = 10) -> Counters:
    """One listing leaves out a starting instance that is no scheduler node yet: it vanishes from the view and
    a second one is launched above max (cycles_above_max, launched_beyond_policy)."""
    data = pillar()
    data["cloud"] = {"r1": dict(data["cloud"]["r1"], quantity={"min": 0, "max": 1})}
    run = Run(seed, None, pillar_data=data)
    run.submit(cpus=4, duration=600)
    run.step()  # r1 launches
    run.step()  # listed: no longer a recent launch of the controller, only the listing shows it
    run.submit(cpus=4, duration=600)
    run.faults.force("listing_missing_instance")
    run.step()
    return _finish(run)


def scenario_kill_mid_launch(seed: int = 11) -> Counters:
    """The master dies while its create call runs; the instance exists but the listing lags the restart: the
    restarted master forgot the id and launches again for the same job (launched_beyond_policy)."""
    run = Run(seed, None)
    run.faults.force("kill_mid_launch")
    run.submit(cpus=4, duration=600)
    run.step()  # r1 launches and the master is killed after the create
    assert run.ctrl is None and run.kills == ["mid-launch"], "scenario set-up: the master was not killed"
    (inst,) = run.cloud.instances.values()
    run.down_until = run.t + 20
    inst.visible_at = run.t + 120  # listed only well after the restart
    run.advance(200)
    return _finish(run)


def scenario_deleting_not_counted_toward_max(seed: int = 6) -> Counters:
    """An instance being deleted does not count toward max: a new launch goes above it (cycles_above_max)."""
    data = pillar()
    data["cloud"] = {"r1": dict(data["cloud"]["r1"], quantity={"min": 0, "max": 1})}
    run = Run(seed, None, pillar_data=data)
    job, name = _busy(run, 60)
    end = run.t + 1200
    inst = run.cloud.by_minion(name)
    while run.t < end and inst.state != "deleting":
        run.step()
    inst.gone_at = run.t + 120  # a slow delete
    run.submit(cpus=4, duration=300)
    run.advance(60)
    return _finish(run)


def scenario_start_after_failed_poll(seed: int = 7) -> Counters:
    """A start event right after a failed poll is refused; the worker is destroyed unconfigured
    (good_destroyed_unconfigured)."""
    run = Run(seed, None)
    run.submit(cpus=4, duration=600)
    run.step()
    inst = next(iter(run.cloud.instances.values()))
    inst.boot_at = run.t + 5
    run.faults.force("sched_exit")  # the cycle of the step in which its key is accepted
    run.step()
    return _finish(run)


def scenario_highstate_return_during_restart(seed: int = 8) -> Counters:
    """A highstate return that arrives while the master restarts is lost; the worker is destroyed
    unconfigured (good_destroyed_unconfigured_restart)."""
    run = Run(seed, None)
    run.submit(cpus=4, duration=600)
    end = run.t + 600
    while run.t < end and not run.highstates:
        run.step()
    jid, (mid, _done) = next(iter(run.highstates.items()))
    run.highstates[jid] = (mid, run.t + 5)
    run.ctrl.state_path = None  # killed: the state file keeps its last save
    run._down()
    run.down_until = run.t + 30
    return _finish(run)


def scenario_resource_removed_from_pillar(seed: int = 9) -> Counters:
    """Removing a resource from the pillar leaves its instances running, unmanaged (orphans_left)."""
    run = Run(seed, None)
    run.submit(cpus=4, duration=60)
    run.step()
    run.advance(300)
    data = pillar()
    data["cloud"] = {"r2": data["cloud"]["r2"]}
    run.pillar = data  # the controller reads it next cycle, the oracle judges by it
    run.cfg = dconfig.load(data)
    return _finish(run)


def scenario_bad_image_relaunches(seed: int = 10, hours: float = 1.0) -> Counters:
    """Instances that never join are relaunched without end; ``extra['launches']`` counts them
    (issue 13: 90 launches in 6 hours for 5 jobs); a breaker would stop at N (default 3).
    ``extra['by_resource']`` counts them per resource (each resource is its own breaker: its
    image may be the only bad one), ``extra['last_launch_s']`` is when the last one was made."""
    run = Run(seed, None)
    run.faults.rates["never_joins"] = 1.0
    by_resource: dict[str, int] = {}
    last = [0.0]
    counted = run.cloud.on_launch

    def on_launch(inst):
        by_resource[inst.resource] = by_resource.get(inst.resource, 0) + 1
        last[0] = run.t - T0  # true seconds since the start
        counted(inst)

    run.cloud.on_launch = on_launch
    for _ in range(2):
        run.submit(cpus=4, duration=600)
    run.advance(hours * 3600)
    counters = run.oracle.c
    counters.extra["launches"] = counters.launches
    counters.extra["by_resource"] = by_resource
    counters.extra["last_launch_s"] = last[0]
    run.close()
    return counters


def scenario_clock_step_back(seed: int = 11, step: float = -600.0) -> Counters:
    """A backward clock step right after a worker's chain stalls actions on it for the size of the step;
    ``extra['idle_out_s']`` is how long the idle worker lived past its job (max_idle_time is 120 s)."""
    run = Run(seed, None)
    job, name = _busy(run, 60)
    while job.state == "RUNNING":
        run.step()
    idle_from = run.t
    run.offset += step
    inst = run.cloud.by_minion(name)
    end = run.t + 3000
    while run.t < end and inst.alive():
        run.step()
    lived = run.t - idle_from
    counters = _finish(run)
    counters.extra["idle_out_s"] = lived
    return counters


ALL = {
    name[len("scenario_"):]: fn for name, fn in sorted(globals().items())
    if name.startswith("scenario_") and callable(fn)
}
