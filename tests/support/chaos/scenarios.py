"""Issue 13's causes, each reproduced on its own: one scripted run per function, returning its Counters.

No random fault fires here (``Run(seed, family=None)``); each scenario forces
exactly the fault it is about (``run.faults.force(name)``) at the moment it
matters, then lets the cluster settle.  A scenario "reproduces" its cause when
the counter named in its docstring is above 0; once the cause is fixed it is 0,
which is what tests/chaos/test_scenarios.py asserts (xfail until then).
"""

from __future__ import annotations

from dcluster import config as dconfig
from dcluster import identity
from dcluster.model import InstanceState

from .harness import SECRET, T0, Run, pillar
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


def scenario_remove_right_after_register(seed: int = 12) -> Counters:
    """``remove`` in the step after the node's register: the view, polled before the register, shows the
    worker starting without a node, but the node came up and its job started since (busy_destroyed,
    jobs_lost; wrong-family seeds 446, 600, 869)."""
    run = Run(seed, None)
    job = run.submit(cpus=4, duration=LONG)
    end = run.t + 900
    while run.t < end and not run.slurm.nodes:
        run.step()
    (name,) = run.slurm.nodes
    # The next step up to its operator command (as Run.step: time, cloud, Slurm): slurmd registers, the job starts.
    run.t += run.cfg.cluster_poller_interval
    run.cloud.tick()
    run.slurm.tick()
    assert job.state == "RUNNING" and job.node == name, "scenario set-up: the job did not start on the new node"
    run.operator("remove", name=name)
    return _finish(run)


def scenario_removed_before_listed(seed: int = 13) -> Counters:
    """An operator removes a starting instance that no listing has shown yet (they lag): forgotten at its
    destroy though it exists, deleting, it is replaced at once above max (cycles_above_max,
    launched_beyond_policy; wrong-family seeds 255, 904)."""
    data = pillar()
    data["cloud"] = {"r1": dict(data["cloud"]["r1"], quantity={"min": 0, "max": 1})}
    run = Run(seed, None, pillar_data=data)
    run.submit(cpus=4, duration=600)
    run.step()  # r1 launches
    (inst,) = run.cloud.instances.values()
    inst.visible_at = run.t + 120  # listed only later (eventual consistency)
    run.step()
    run.operator("remove", name=inst.minion_id)
    assert inst.state == "deleting", "scenario set-up: the remove did not destroy it"
    inst.gone_at = run.t + 30  # a slow delete
    run.advance(60)
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


def scenario_flip_renames_busy_node(seed: int = 12) -> Counters:
    """One ``sinfo`` with one byte of a busy node's name flipped (still valid JSON, the job list still
    names the node) destroys it as an orphan (busy_destroyed, jobs_lost)."""
    run = Run(seed, None)
    _job, name = _busy(run, LONG)
    run.advance(run.cfg.max_launch_time + 60)  # old enough to look like an orphan
    flipped = name[:-1] + ("0" if name[-1] != "0" else "1")
    hits = []

    def flip(rng, text, parses):
        # aimed at the node's name in sinfo's answer; the job list (squeue) is left as it is
        if '"nodes": [' not in text:
            return text
        hits.append(1)
        return text.replace(f'"name": "{name}"', f'"name": "{flipped}"', 1)

    run.faults.flip = flip
    run.faults.force("flip_still_parses", 2)  # squeue's turn (unchanged) and sinfo's, in either order
    run.step()
    assert hits, "scenario set-up: no sinfo answer was flipped"
    return _finish(run)


def scenario_sibling_batch_clears_backoff(seed: int = 13) -> Counters:
    """Three launch calls of one resource in a cycle (launch_batch 1): the first fails (5xx), its siblings
    succeed, and their success clears the failure's backoff, so the resource is called again the next
    cycle.  ``extra['relaunch_after_s']``: seconds from the failure to the next instance made
    (backoff.initial is 30 s)."""
    data = pillar()
    data["cloud"] = {
        "r1": dict(data["cloud"]["r1"], launch_batch=1),
        "r2": dict(data["cloud"]["r2"], quantity={"min": 0, "max": 0}),
    }
    run = Run(seed, None, pillar_data=data)
    made: list[float] = []
    counted = run.cloud.on_launch

    def on_launch(inst):
        made.append(run.t)
        counted(inst)

    run.cloud.on_launch = on_launch
    for _ in range(3):
        run.submit(cpus=4, duration=600)
    run.faults.force("cloud_launch_5xx")
    run.step()  # three calls: the first fails before creating anything, the other two create theirs
    assert len(made) == 2, f"scenario set-up: {len(made)} instances made in the failing cycle"
    failed_at = run.t
    run.advance(60)
    counters = _finish(run)
    counters.extra["relaunch_after_s"] = min((t - failed_at for t in made[2:]), default=float("inf"))
    return counters


def scenario_resource_renamed_in_pillar(seed: int = 14) -> Counters:
    """Renaming a resource in the pillar (r1 -> r3, same settings) while its worker runs a job leaves that
    instance running, unmanaged (orphans_left)."""
    run = Run(seed, None)
    _busy(run, 600)
    data = pillar()
    data["cloud"] = {"r3": data["cloud"]["r1"], "r2": data["cloud"]["r2"]}
    run.pillar = data  # the controller reads it next cycle, the oracle judges by it
    run.cfg = dconfig.load(data)
    return _finish(run)


ROTATED = "chaos-rotated-secret-9876543210"


def scenario_secret_rotated(seed: int = 15, previous: bool = True) -> Counters:
    """The pillar's ``secret`` changes while a worker runs a job, the old value moved to ``previous_secrets``
    as pillar.example says (``previous=False``: just changed); a second job then needs a new worker.  The
    old worker must still be drained and destroyed once idle, not left unlisted (orphans_left), and the
    new one must be signed under the new secret: ``extra['launched_after']`` instances were made after the
    change, ``extra['under_new_secret']`` of them verify under it.  The oracle judges by the configuration
    the controller loaded (a pillar it refuses leaves it on the old one)."""
    run = Run(seed, None)
    _busy(run, 600)
    data = pillar(secret=ROTATED)
    if previous:
        data["previous_secrets"] = [SECRET]
    after: list[str] = []
    counted = run.cloud.on_launch

    def on_launch(inst):
        after.append(inst.minion_id)
        counted(inst)

    run.cloud.on_launch = on_launch
    run.pillar = data  # the controller reads it next cycle
    run.step()
    run.submit(cpus=4, duration=300)
    counters = _finish(run)
    counters.extra["launched_after"] = len(after)
    counters.extra["under_new_secret"] = sum(
        identity.parse(mid, ROTATED, run.cfg.cluster_name) is not None for mid in after
    )
    return counters


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


def _kept_idle(seed: int) -> Run:
    """A run whose one worker is up, idle, older than max_launch_time and kept by min 1."""
    data = pillar()
    data["cloud"] = {"r1": dict(data["cloud"]["r1"], quantity={"min": 1, "max": 2})}
    run = Run(seed, None, pillar_data=data)
    end = run.t + 900
    while run.t < end and not any(n.up for n in run.slurm.nodes.values()):
        run.step()
    assert any(n.up for n in run.slurm.nodes.values()), "scenario set-up: no node came up"
    run.advance(run.cfg.max_launch_time + 60)
    return run


def scenario_sinfo_shows_node_powering_up(seed: int = 30) -> Counters:
    """One ``sinfo`` shows a long-used idle node as powering up (as after a restart of the scheduler): it was
    taken for one never usable past max_launch_time, removed and destroyed at once (healthy_destroyed)."""
    run = _kept_idle(seed)
    run.faults.wrong_node_state = "powering_up"
    run.faults.force("sinfo_wrong_state")
    run.step()
    return _finish(run)


def scenario_down_since_long_ago_after_failed_poll(seed: int = 31) -> Counters:
    """After a failed poll, one ``sinfo`` shows an idle node not responding since long ago: the scheduler's
    old timestamp made it look down past max_down_time, and it was destroyed at once (healthy_destroyed)."""
    run = _kept_idle(seed)
    run.faults.force("sched_exit")
    run.step()
    run.faults.wrong_node_state = "down_long_ago"
    run.faults.force("sinfo_wrong_state")
    run.step()
    return _finish(run)


def scenario_listing_shows_instance_in_error(seed: int = 32) -> Counters:
    """One listing shows an idle worker's instance in ERROR (stopped): it was removed and destroyed at once
    (healthy_destroyed)."""
    run = _kept_idle(seed)
    run.faults.wrong_instance_state = InstanceState.ERROR
    run.faults.force("listing_wrong_state")
    run.step()
    return _finish(run)


def _shown_gone(seed: int, listed_first: bool) -> Counters:
    """Max 1, one job's instance starting, a second job queued: one listing shows the instance terminated."""
    data = pillar()
    data["cloud"] = {"r1": dict(data["cloud"]["r1"], quantity={"min": 0, "max": 1})}
    run = Run(seed, None, pillar_data=data)
    run.submit(cpus=4, duration=600)
    run.step()  # r1 launches
    if listed_first:
        run.step()  # listed: no longer a recent launch of the controller, only the listing shows it
    run.submit(cpus=4, duration=600)
    run.faults.wrong_instance_state = InstanceState.GONE
    run.faults.force("listing_wrong_state")
    run.step()
    return _finish(run)


def scenario_listing_shows_starting_instance_gone(seed: int = 33) -> Counters:
    """One listing shows a starting instance terminated: it vanished from the view and a second one was
    launched above max (cycles_above_max, launched_beyond_policy)."""
    return _shown_gone(seed, listed_first=True)


def scenario_first_listing_shows_launch_gone(seed: int = 34) -> Counters:
    """The first listing after a launch shows the new instance terminated: the launch record was dropped as
    listed, the instance vanished from the view, and a second one was launched above max (cycles_above_max,
    launched_beyond_policy; wrong-family seed 40058 of bench/chaos.py)."""
    return _shown_gone(seed, listed_first=False)


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
    """A highstate return that arrives while the master restarts is lost; the worker is never registered and
    is destroyed after max_launch_time, and another is launched for its job.  The oracle does not count
    that destroy (the highstate did finish in truth), so the scenario measures it:
    ``extra['configured_worker_ran_a_job']`` (1 or 0) and ``extra['launches']``."""
    run = Run(seed, None)
    run.submit(cpus=4, duration=600)
    end = run.t + 600
    while run.t < end and not run.highstates:
        run.step()
    (jid, mid), _done = next(iter(run.highstates.items()))
    run.highstates[(jid, mid)] = run.t + 5
    ran: set[str] = set()
    tick = run.slurm.tick

    def tick_and_note():
        tick()
        ran.update(j.node for j in run.slurm.jobs.values() if j.state == "RUNNING")

    run.slurm.tick = tick_and_note
    run.ctrl.state_path = None  # killed: the state file keeps its last save
    run._down()
    run.down_until = run.t + 30
    counters = _finish(run)
    counters.extra["configured_worker_ran_a_job"] = int(mid in ran)
    counters.extra["launches"] = counters.launches
    return counters


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


def scenario_clock_step_and_restart(seed: int = 12, while_down: bool = False) -> Counters:
    """A forward clock step (600 s, more than max_launch_time) just before a master restart, or while the
    master is down, with a worker starting: the restarted master took its launch for 600 s older and
    destroyed it as never joined (good_destroyed_unconfigured_restart, launched_beyond_policy)."""
    run = Run(seed, None)
    run.submit(cpus=4, duration=600)
    run.step()  # r1 launches
    run.step()
    if not while_down:
        run.offset += 600.0
        run.step()
    run.ctrl.state_path = None  # killed between cycles: the state file keeps its last save
    run._down()
    run.down_until = run.t + 30
    if while_down:
        run.offset += 600.0
    return _finish(run)


ALL = {
    name[len("scenario_") :]: fn
    for name, fn in sorted(globals().items())
    if name.startswith("scenario_") and callable(fn)
}


def scenario_deleting_instance_node_removed(seed: int = 16) -> Counters:
    """The cloud deletes an idle worker's instance (slowly); dcluster removes its node; the next scheduler
    poll fails, then a job arrives.  The plan on the true state "confirmed" the node's absence and packed the
    job onto the dying instance's cores, so the launch dcluster made for it counted as beyond the policy
    (launched_beyond_policy; chaos seeds 8045 detectable, 8006 wrong)."""
    run = Run(seed, None)
    _job, name = _busy(run, 60, cpus=1)
    while run.slurm.running_on(name):
        run.step()
    inst = run.cloud.by_minion(name)
    run.cloud.delete(inst, "cloud")
    inst.gone_at = run.t + 300  # a slow delete
    run.step()  # one listing says deleting: no proof, the node stays
    assert name in run.slurm.nodes, "the node of an instance one listing called deleting was removed"
    run.step()  # the next listing says so too: the controller removes its node
    assert name not in run.slurm.nodes, "scenario set-up: the node of the deleting instance was not removed"
    run.faults.force("sched_exit")
    run.step()
    run.submit(cpus=1, duration=600)
    run.advance(30)
    return _finish(run)


def scenario_node_left_after_its_instance_was_deleted(seed: int = 17) -> Counters:
    """The cloud deletes a busy worker's instance while the scheduler poll fails, so its node is not removed;
    the instance is gone a cycle later; then one ``sinfo`` leaves the dead node out.  The plan on the true
    state kept the node "confirming" (counted toward max 1), so the launch dcluster made for the requeued job
    once the node was out of its view counted as beyond the policy (launched_beyond_policy; chaos seed 8085
    wrong)."""
    data = pillar()
    data["cloud"] = {"r1": dict(data["cloud"]["r1"], quantity={"min": 0, "max": 1})}
    run = Run(seed, None, pillar_data=data)
    job, name = _busy(run, LONG)
    inst = run.cloud.by_minion(name)
    run.cloud.delete(inst, "cloud")  # the job is requeued: it wants a node again
    inst.gone_at = run.t + 15
    run.faults.force("sched_exit")
    run.step()  # listed deleting; the failed poll plans nothing, so the node stays
    assert inst.state == "deleting" and job.state == "PENDING", "scenario set-up: not deleting, or the job not requeued"
    assert name in run.slurm.nodes, "scenario set-up: the node was removed while its instance was deleting"
    run.step()  # gone: the node, down, is left without an instance
    assert inst.state == "gone", "scenario set-up: the instance is not gone"
    run.faults.force("sinfo_missing_node")
    run.step()
    run.advance(30)
    return _finish(run)
