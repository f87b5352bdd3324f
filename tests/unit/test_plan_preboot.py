"""Pre-boot for a job held until its begin time (issue 17: pre-boot on predictable demand).

A job submitted with ``sbatch --begin`` (Slurm reason BeginTime) or ``qsub -a`` (Torque state W) is
held, not demand, until its begin time.  Without pre-boot its nodes are launched only once the scheduler
makes it pending, so it waits a boot; launched at submit, they would idle for hours.  With
``preboot_begin_jobs`` (the default) it counts as pending once its begin time is within the lead: the
slowest recent boot + a poll (300 s before any boot is seen), or ``preboot_lead``.  Each behaviour test
fails with ``preboot_begin_jobs: false`` or with the job's begin time ignored.
"""

import dataclasses
from dataclasses import replace

import pytest
from builders import NOW, config, job, view, wid, worker

from dcluster.config import ConfigError
from dcluster.demand import Demand
from dcluster.model import JobState, NodeState
from dcluster.planner import Kind, plan
from dcluster.planner.explain import job_reasons


def cfg_of(**top):
    return config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 4}}}, idle_policy="fixed", **top)


def begins(jid, in_s, chunks=1):
    """A job held until NOW + in_s."""
    return replace(job(jid, chunks=chunks, state=JobState.HELD), begin_time=NOW + in_s)


def test_a_job_whose_begin_time_is_within_the_lead_gets_its_nodes_launched_now():
    cfg = cfg_of()
    p = plan(view(cfg, jobs=[begins("b1", 120, chunks=2)]), cfg)  # no boot seen: the lead is 300 s
    assert p.launches() == {"r1": 2}
    assert any("job b1 may start in 120 s" in n and "300 s (no boot seen yet" in n for n in p.notes), p.notes
    off = cfg_of(preboot_begin_jobs=False)
    assert plan(view(off, jobs=[begins("b1", 120, chunks=2)]), off).launches() == {}


def test_a_job_whose_begin_time_is_far_launches_nothing_and_the_plan_says_when_to_look_again():
    cfg = cfg_of()
    p = plan(view(cfg, jobs=[begins("b1", 3600)]), cfg)
    assert p.launches() == {}
    assert p.recheck == pytest.approx(NOW + 3600 - 300)


def test_a_held_job_without_a_begin_time_is_no_demand():
    cfg = cfg_of()
    p = plan(view(cfg, jobs=[job("h1", state=JobState.HELD)]), cfg)
    assert p.launches() == {} and p.recheck is None


def test_a_begin_time_that_has_passed_while_the_scheduler_still_holds_the_job_is_demand():
    cfg = cfg_of()
    assert plan(view(cfg, jobs=[begins("b1", -30)]), cfg).launches() == {"r1": 1}


def test_the_lead_is_the_slowest_recent_boot_and_a_poll():
    cfg = cfg_of()  # poll 10 s
    seen = {"r1": Demand(boots=(80.0, 200.0))}  # lead 210 s
    near = dataclasses.replace(view(cfg, jobs=[begins("b1", 205)]), demand=seen)
    far = dataclasses.replace(view(cfg, jobs=[begins("b1", 215)]), demand=seen)
    assert plan(near, cfg).launches() == {"r1": 1}
    p = plan(far, cfg)
    assert p.launches() == {} and p.recheck == pytest.approx(NOW + 215 - 210)


def test_preboot_lead_sets_the_lead():
    cfg = cfg_of(preboot_lead=1000)
    assert plan(view(cfg, jobs=[begins("b1", 900)]), cfg).launches() == {"r1": 1}
    assert plan(view(cfg, jobs=[begins("b1", 1100)]), cfg).launches() == {}


def test_an_idle_node_is_kept_for_a_job_about_to_begin_and_released_for_one_far_off():
    cfg = cfg_of(max_idle_time=60)
    name = wid(n=1)
    n, i = worker(name, cores=1, since=NOW - 500, state=NodeState.IDLE)
    insts = {"r1": [replace(i, cores=1)]}
    soon = plan(view(cfg, [n], insts, jobs=[begins("b1", 100)], configured={name}), cfg)
    assert not soon.of(Kind.DESTROY) and soon.launches() == {}
    later = plan(view(cfg, [n], insts, jobs=[begins("b1", 5000)], configured={name}), cfg)
    assert [a.target for a in later.of(Kind.DESTROY)] == [name]


def test_thousands_of_due_jobs_make_one_note_and_launch_no_more_than_max():
    # an array of 5,000 tasks, all with the same begin time: one summary note, not 5,000 (the plan's notes
    # are published whole every cycle), and launches bounded by max
    cfg = cfg_of()
    jobs = [begins(f"a_{i}", 60 + i % 7) for i in range(5000)]
    p = plan(view(cfg, jobs=jobs), cfg)
    assert p.launches() == {"r1": 4}
    notes = [n for n in p.notes if "preboot" in n]
    assert len(notes) == 1 and len(notes[0]) < 400, notes[:3]
    assert "job a_0 and 4999 more (a_1, a_10, a_100, a_1000, a_1001, ...) may start in 60 s" in notes[0]


def test_a_due_wide_job_reserves_from_its_begin_time_so_a_short_job_behind_it_is_launched_for():
    # B (4 nodes) may start in 250 s; the 2 busy nodes free in 30 s.  The scheduler cannot start B before
    # its begin time, so P (100 s) ends before B could start and delays nothing: it gets a node.  Reserved
    # from when the busy nodes free, P was refused as "behind job B" and waited for B's whole run.
    cfg = cfg_of()
    nodes, insts, running = [], [], []
    for k in (1, 2):
        name = wid(n=k)
        n, i = worker(name, cores=1, used=1, jobs=(f"R{k}",), state=NodeState.BUSY)
        nodes.append(n)
        insts.append(replace(i, cores=1))
        running.append(replace(job(f"R{k}", state=JobState.RUNNING), nodes=(name,), start_time=NOW - 30, walltime_s=60))
    wide = replace(begins("B", 250, chunks=4), submit_time=1.0)
    short = replace(job("P", submit=2.0), walltime_s=100)
    v = view(cfg, nodes, {"r1": insts}, jobs=[*running, wide, short], configured={n.name for n in nodes})
    p = plan(v, cfg)
    rows = {r["job"]: r for r in job_reasons(p, v)}
    assert rows["P"]["reason"] == "launch", rows
    assert p.launches() == {"r1": 2}  # P's node and one of B's: at max, B gets P's when P ends


def test_the_dry_run_lists_the_job_it_launches_for():
    cfg = cfg_of()
    v = view(cfg, jobs=[begins("b1", 60), job("p1")])
    rows = {r["job"]: r for r in job_reasons(plan(v, cfg), v)}
    assert set(rows) == {"b1", "p1"}


@pytest.mark.parametrize("bad", [-1, "soon", 1.5])
def test_a_bad_preboot_lead_is_refused_by_name(bad):
    with pytest.raises(ConfigError, match="preboot_lead"):
        cfg_of(preboot_lead=bad)


def test_manual_mode_launches_nothing_for_a_due_job_and_the_dry_run_shows_what_it_would():
    cfg = cfg_of()
    p = plan(view(cfg, jobs=[begins("b1", 60)], auto_mode=False), cfg)
    assert p.launches() == {} and [a.kind for a in p.suppressed] == [Kind.LAUNCH]


def test_a_due_job_in_no_monitored_queue_is_no_demand():
    cfg = cfg_of(cluster={"type": "slurm", "config": {"queue_to_monitor": ["batch"]}})
    other = replace(begins("b1", 60), queue="debug")
    assert plan(view(cfg, jobs=[other]), cfg).launches() == {}
    assert plan(view(cfg, jobs=[replace(other, queue="batch")]), cfg).launches() == {"r1": 1}


def test_scale_up_delay_counts_from_submission_so_a_job_submitted_long_before_its_begin_time_launches():
    cfg = cfg_of(scale_up_delay=120)
    old = replace(begins("b1", 60), submit_time=NOW - 3600)
    fresh = replace(begins("b2", 60), submit_time=NOW - 10)  # submitted a minute before its begin time
    p = plan(view(cfg, jobs=[old, fresh]), cfg)
    assert p.launches() == {"r1": 1} and [j for j, _ in p.waiting] == ["b2"]


def test_a_job_far_from_its_begin_time_is_in_the_notes_and_the_dry_run_says_why_nothing_boots_for_it():
    """Without them an operator sees nothing launched for a job submitted with a begin time and no word
    of it anywhere in salt-run dcluster.plan (held jobs are no demand, so no list held it)."""
    cfg = cfg_of()
    v = view(cfg, jobs=[begins("b1", 3600), begins("b2", 7200), job("h1", state=JobState.HELD)])
    p = plan(v, cfg)
    assert p.launches() == {}
    far = [n for n in p.notes if "no demand until its begin time" in n]
    assert far == [
        "job b1 and 1 more (b2) may start in 3600 s: no demand until its begin time is within the preboot lead "
        "of 300 s (no boot seen yet; preboot_begin_jobs)"
    ], p.notes
    rows = {r["job"]: r for r in job_reasons(p, v)}
    assert set(rows) == {"b1", "b2"}  # h1 is held for another reason: not the planner's to explain
    assert rows["b1"]["reason"] == "begin_time" and "3600 s from now: not demand until then" in rows["b1"]["why"]
    failed = replace(v, scheduler_ok=False)  # a failed poll: the jobs shown are the last known, nothing planned
    rows = {r["job"]: r for r in job_reasons(plan(failed, cfg), failed)}
    assert {r["reason"] for r in rows.values()} == {"no_plan"}, rows


def test_a_held_job_in_no_monitored_queue_is_in_no_note_and_no_dry_run_row():
    cfg = cfg_of(cluster={"type": "slurm", "config": {"queue_to_monitor": ["batch"]}})
    for away in (60, 3600):  # due and far
        v = view(cfg, jobs=[replace(begins("b1", away), queue="debug")])
        p = plan(v, cfg)
        assert not [n for n in p.notes if "b1" in n], p.notes
        assert job_reasons(p, v, ("batch",)) == []
        v = view(cfg, jobs=[replace(begins("b1", away), queue="batch")])
        p = plan(v, cfg)
        assert [n for n in p.notes if "job b1" in n], p.notes
