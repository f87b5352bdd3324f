"""The harness can count: each counter of the oracle sees 1 when its promise is broken on purpose."""

import json

import pytest

from dcluster import identity
from tests.support.chaos import Run
from tests.support.chaos.faults import Faults, _flip
from tests.support.chaos.harness import SECRET
from tests.support.chaos.scenarios import LONG, _busy


@pytest.fixture
def run():
    r = Run(0, None)
    yield r
    r.close()


def _new(run, resource="r1", will_join=True):
    mid = identity.make(run.cfg.cluster_name, resource, SECRET)
    return run.cloud.create(resource, mid, 4, run.master_clock(), will_join=will_join)


def test_busy_destroy_counts_the_node_and_its_jobs(run):
    job, name = _busy(run, LONG)
    run.cloud.delete(run.cloud.by_minion(name), "dcluster")
    c = run.oracle.settle(run.cfg, run.t)
    assert (c.busy_destroyed, c.jobs_lost) == (1, 1)
    assert job.state == "FAILED"


def test_a_vanished_busy_instance_is_not_dcluster_s_fault(run):
    job, name = _busy(run, LONG)
    run.cloud.delete(run.cloud.by_minion(name), "cloud")
    c = run.oracle.settle(run.cfg, run.t)
    assert (c.busy_destroyed, c.jobs_lost) == (0, 0) and job.state == "PENDING"


def test_requeue_counts_dcluster_s_not_the_operator_s(run):
    job, _name = _busy(run, LONG)
    run.slurm.operator = True
    assert run.slurm.run(["/usr/bin/scontrol", "requeue", str(job.id)])[0] == 0
    run.slurm.operator = False
    _job2, _ = _busy(run, LONG)
    assert run.slurm.run(["/usr/bin/scontrol", "requeue", str(_job2.id)])[0] == 0
    assert run.oracle.settle(run.cfg, run.t).requeued_by_dcluster == 1


def test_orphan_left_counts_an_old_instance_outside_the_scheduler(run):
    _new(run, will_join=False)
    assert run.oracle.settle(run.cfg, run.t).orphans_left == 0  # young: may still join
    run.t += run.cfg.max_launch_time + 1
    assert run.oracle.settle(run.cfg, run.t).orphans_left == 1


def test_above_max_counts_instances_in_any_state(run):
    made = [_new(run) for _ in range(run.cfg.resources["r1"].max + 1)]
    made[0].state = "deleting"
    made[1].visible_at = run.t + 1000  # not even listed yet
    run.oracle.count_above_max(run.cfg)
    assert run.oracle.c.cycles_above_max == 1


def test_a_launch_the_true_state_does_not_need_is_beyond_policy(run):
    run.step()
    run.oracle.before_cycle(run.cfg, run.master_clock(), run.ctrl)
    _new(run)
    run.oracle.after_cycle(run.cfg)
    assert run.oracle.c.launched_beyond_policy == 1


@pytest.mark.parametrize("restarts", [0, 1])
def test_good_instance_destroyed_unconfigured_is_split_by_restarts(run, restarts):
    inst = _new(run)
    inst.restarts_seen = restarts
    run.cloud.delete(inst, "dcluster")
    bad = _new(run, will_join=False)
    run.cloud.delete(bad, "dcluster")  # one that would never have joined is fair game
    c = run.oracle.c
    assert (c.good_destroyed_unconfigured, c.good_destroyed_unconfigured_restart) == (
        (1, 0) if restarts == 0 else (0, 1)
    )


def test_flips_are_detectable_or_still_parse_as_asked():
    import random

    text = json.dumps({"nodes": [{"name": "dc-r1-aaaaaa-bbbbbbbbbbbb", "state": "idle", "cpus": 4}]})
    for seed in range(20):
        with pytest.raises(ValueError):
            json.loads(_flip(random.Random(seed), text, parses=False))
        out = _flip(random.Random(seed), text, parses=True)
        assert out != text and json.loads(out)


def test_forced_faults_fire_and_are_counted_even_when_settling():
    f = Faults(0, "detectable", rates={"sched_exit": 0.0})
    f.active = False
    f.force("sched_exit")
    assert f.roll("sched_exit") and not f.roll("sched_exit")
    assert f.counts == {"sched_exit": 1}


def test_a_seed_replays_the_same_run():
    a = Run(3, "wrong", fault_time=300).run()
    b = Run(3, "wrong", fault_time=300).run()
    assert a.to_dict() == b.to_dict() and a.cycles > 50 and sum(a.faults.values()) > 0


def test_a_launch_standing_in_for_the_preferred_resource_is_not_beyond_policy(run):
    # The true plan launches on r1 (preferred); the controller, whose r1 listing failed (or which counts
    # ids of an r1 create call of unknown outcome toward its max), launches on r2 instead: the policy's
    # own fallback, no node more.  A second node on r2, or one on r1 the truth wanted on r2, is beyond.
    for planned, made, counted in (
        ({"r1": 1}, ("r2",), 0),
        ({"r1": 1}, ("r2", "r2"), 1),
        ({"r2": 1}, ("r1",), 1),
        ({"r1": 1, "r2": 1}, ("r2", "r2"), 0),
        ({"r1": 1, "r2": 1}, ("r2", "r2", "r2"), 1),
    ):
        run.oracle.c.launched_beyond_policy = 0
        run.oracle.true_launches = dict(planned)
        for res in made:
            _new(run, res)
        run.oracle.after_cycle(run.cfg)
        assert run.oracle.c.launched_beyond_policy == counted, (planned, made)


def test_the_true_view_confirms_an_orphan_across_polls_as_the_controller_does(run):
    # An instance that never joined is an orphan once older than max_launch_time; reconcile calls it
    # so only when polls across confirm_absence agree it is no scheduler node, which needs the previous
    # true view.  Without it every true view keeps it "confirming" (unknown, its cores free for jobs).
    inst = _new(run, will_join=False)
    run.t += run.cfg.max_launch_time + 1
    states = []
    for _ in range(8):
        run.t += run.cfg.cluster_poller_interval
        view = run.oracle.true_view(run.cfg, run.t)
        states += [w.state.value for w in view.workers if w.name == inst.minion_id]
    assert states[0] == "unknown" and states[-1] == "orphan"


@pytest.mark.parametrize("made, counted", [(1, 0), (2, 1)])
def test_the_true_plan_launches_for_a_job_beside_an_instance_being_deleted(run, made, counted):
    # The cloud deletes an idle worker's instance and dcluster removes its node: the true plan launches one
    # node for a new job (the dying instance's cores are no capacity); a second node is still beyond it.
    _job, name = _busy(run, 60, cpus=1)
    while run.slurm.running_on(name):
        run.step()
    inst = run.cloud.by_minion(name)
    run.cloud.delete(inst, "cloud")
    inst.gone_at = run.t + 300
    run.advance(20)
    assert name not in run.slurm.nodes and inst.state == "deleting"
    run.submit(cpus=1, duration=600)
    run.t += run.cfg.cluster_poller_interval
    run.oracle.before_cycle(run.cfg, run.oracle_now(), run.ctrl)
    assert run.oracle.true_launches == {"r1": 1}
    for _ in range(made):
        _new(run)
    run.oracle.after_cycle(run.cfg)
    assert run.oracle.c.launched_beyond_policy == counted
