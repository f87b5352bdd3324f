"""``salt-run dcluster.plan``: the engine answers the dry-run from its live view and plan, changing nothing;
the runner raises on every failure so ``salt-run`` exits non-zero."""

import os

import pytest
from memory_ports import Loop, registered_worker, slurm_pillar
from salt.exceptions import CommandExecutionError

from dcluster.controller import commands as cmds
from dcluster.model import Job, JobState
from dcluster.planner import explain as ex
from tests.unit.test_runner_no_engine import load_runner

SECRET = "plan-query-secret-0123456789"


@pytest.fixture
def env(tmp_path):
    (tmp_path / "dcluster").mkdir()
    env = Loop(tmp_path / "dcluster", slurm_pillar(SECRET, max_idle_time=600))
    env.worker = registered_worker(env.c, env.sched, env.cloud, env.clock)
    # 4-core nodes, max 4, one up: three more launch, the rest waits; one job fits no node
    env.sched.jobs_ = [Job(str(100 + i), JobState.PENDING, chunk_cores=4, submit_time=float(i)) for i in range(8)]
    env.sched.jobs_.append(Job("big", JobState.PENDING, chunk_cores=64))
    env.step()
    return env


def test_the_engine_answers_the_dry_run_of_its_live_plan_and_changes_nothing(env):
    events, launches = len(env.events), len(env.cloud.launch_calls)
    saved = os.stat(env.path).st_mtime_ns
    out = cmds.run(env.c, "plan", limit=3)
    assert out["ok"] is True and out["auto_mode"] is True
    # the cycle placed 100 on the idle worker, launched for 101-103, and the rest waits at max
    assert out["summary"]["jobs"] == {ex.AT_MAX: 4, ex.LAUNCH: 3, ex.EXISTING: 1, ex.SHAPE: 1}
    assert out["jobs"]["total"] == 9 and len(out["jobs"]["rows"]) == 3
    assert out["workers"]["rows"] == [
        {
            "worker": env.worker,
            "state": "idle",
            "resource": "r1",
            "reason": ex.WANTED,
            "why": "a pending job would run on it",
            "actions": [],
        }
    ]
    assert [a["kind"] for a in out["actions"]] == ["launch"] and out["actions"][0]["count"] == 3
    big = cmds.run(env.c, "plan", job="big")["jobs"]["rows"]
    assert big[0]["reason"] == ex.SHAPE and "needs 64 cores" in big[0]["why"]
    # a query: no event, no write, no action
    assert len(env.events) == events and len(env.cloud.launch_calls) == launches
    assert os.stat(env.path).st_mtime_ns == saved


@pytest.mark.parametrize(
    "args, part",
    [
        ({"limit": ex.MAX_LIMIT + 1}, "limit must be between 1 and 1000"),
        ({"offset": "x"}, "offset must be a whole number"),
        ({"reason": "{{bad}}"}, "reason must be one of"),
        ({"job": "x" * 300}, "job must be a job id or worker name"),
        ({"worker": ["a"]}, "worker must be a job id or worker name"),
        ({"verbose": True}, "unexpected keyword argument"),
    ],
)
def test_the_query_checks_its_arguments(env, args, part):
    out = cmds.run(env.c, "plan", **args)
    assert out["ok"] is False and part in out["message"]


def test_a_query_that_fails_is_answered_with_why(env):
    env.c.plan = object()  # not a Plan: the dry-run cannot read it
    out = cmds.run(env.c, "plan")
    assert out["ok"] is False and out["message"].startswith("plan failed: ") and "attribute" in out["message"]


def test_before_a_cycle_the_engine_says_so(tmp_path):
    (tmp_path / "dcluster").mkdir()
    env = Loop(tmp_path / "dcluster", slurm_pillar(SECRET))
    out = cmds.run(env.c, "plan")
    assert out == {"ok": False, "message": "the engine has not completed a cycle yet"}


def test_the_runner_asks_the_engine_and_raises_on_a_refusal(env, tmp_path, monkeypatch):
    runner = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path)})
    asked = []

    def call(opts, cmd, args, timeout=60.0):  # the event bus is not what is tested here
        asked.append((cmd, dict(args)))
        return cmds.run(env.c, cmd, **args)

    monkeypatch.setattr(runner.rc, "call", call)  # runner.rc is dcluster.glue.engine_client: restored after
    out = runner.plan(reason="at_max", limit=2)
    assert [r["job"] for r in out["jobs"]["rows"]] == ["104", "105"] and out["jobs"]["total"] == 4
    assert asked == [("plan", {"offset": 0, "limit": 2, "reason": "at_max"})]
    with pytest.raises(CommandExecutionError, match="dcluster.plan: plan: reason must be one of"):
        runner.plan(reason="nope")
    monkeypatch.setattr(runner.rc, "call", lambda *a, **k: {"ok": False})
    with pytest.raises(CommandExecutionError, match="the engine gave no answer"):
        runner.plan()


def test_the_runner_raises_when_no_engine_published_anything(tmp_path, monkeypatch):
    runner = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path)})
    monkeypatch.setattr(runner.rc, "call", lambda *a, **k: pytest.fail("asked an engine that published nothing"))
    with pytest.raises(CommandExecutionError, match="is the dcluster engine configured"):
        runner.plan()
    assert "CLI Example" in runner.plan.__doc__
