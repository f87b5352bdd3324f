"""A Slurm array throttled with ``%N`` and submitted with ``--begin``: how many nodes pre-boot launches.

Slurm runs at most N of its tasks at once (the others wait with reason JobArrayTaskLimit), but while the
whole array waits for its begin time squeue lists it as one record ("1-3%1", array_max_tasks 1).  Expanded
into every task, each due at the same time, it made the planner launch a node for each, up to max, all but
N idling from the begin time until their idle timeout; the same for a throttled array without --begin in
the polls between its submission and its first tasks' start.  Only N, less its running tasks, are demand.
The record is the real Slurm 22.05 array of tests/data/scheduler-output/slurm (job 6, "1-3"), its
throttle, reason and eligible_time set as ``sbatch --array=1-3%1 --begin=...`` leaves them.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from builders import NOW, config, view

from dcluster.model import JobState
from dcluster.planner import plan
from dcluster.schedulers import slurm
from tests.unit.schedulers.sched_helpers import data


def throttled_array(throttle: int, running: int = 0, in_string: bool = False):
    """The array's pending tasks as parsed (the ``running`` first ones run, each a record of its own), those
    with a begin time due in 60 s on the planner's clock (as Timeline.ahead puts it)."""
    doc = json.loads(data("slurm/dcsched-slurm2205-squeue-all-json.json"))
    rec = next(j for j in doc["jobs"] if j.get("array_task_string"))
    tasks = f"{running + 1}-{running + 3}"
    rec.update(array_task_string=f"{tasks}%{throttle}", array_max_tasks=0 if in_string else throttle)
    rec.update(state_reason="BeginTime", eligible_time=1)
    runs = [
        {**rec, "job_id": 100 + t, "array_task_id": t, "array_task_string": "", "job_state": "RUNNING"}
        for t in range(1, running + 1)
    ]
    jobs = [j for j in slurm.parse_squeue(json.dumps({**doc, "jobs": [rec, *runs]})) if j.state != JobState.RUNNING]
    assert len(jobs) == 3
    return [dataclasses.replace(j, begin_time=NOW + 60) if j.begin_time else j for j in jobs]


def test_an_unthrottled_array_due_soon_gets_a_node_per_task():
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 8}}}, idle_policy="fixed")
    assert plan(view(cfg, jobs=throttled_array(0)), cfg).launches() == {"r1": 3}


@pytest.mark.parametrize(
    ("throttle", "running", "in_string", "launched"),
    [(1, 0, False, 1), (2, 0, True, 2), (2, 1, False, 1), (2, 2, False, 0), (5, 0, False, 3)],
)
def test_a_throttled_array_due_soon_gets_no_more_nodes_than_may_run_at_once(throttle, running, in_string, launched):
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 8}}}, idle_policy="fixed")
    jobs = throttled_array(throttle, running, in_string)
    assert plan(view(cfg, jobs=jobs), cfg).launches() == ({"r1": launched} if launched else {})
    waiting = [j for j in jobs if j.begin_time == 0.0]
    assert len(waiting) == 3 - min(3, max(0, throttle - running))
    assert all(j.state == JobState.HELD and j.extra["reason"] == "JobArrayTaskLimit" for j in waiting)
