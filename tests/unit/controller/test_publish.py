"""Issue 15: what survives a restart is small and written when it changes; what the runners read is
published beside it as a summary, the workers and the first page of jobs; other pages come from the
engine's live view."""

import importlib.util
import json
import os

import pytest
from memory_ports import Clock, Loop, MemCloud, MemScheduler, key_pool, ports, registered_worker, slurm_pillar, step

from dcluster.controller import Controller, publish, queries
from dcluster.controller import commands as cmds
from dcluster.controller import state as st
from dcluster.model import Job, JobState
from tests.conftest import ROOT

SECRET = "publish-secret-0123456789"


def load_runner(cachedir):
    spec = importlib.util.spec_from_file_location("dcluster_runner_publish", ROOT / "_runners" / "dcluster_mod.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.__opts__ = {"cachedir": str(cachedir), "sock_dir": str(cachedir)}  # what Salt's loader injects
    return mod


def loop(tmp_path):
    (tmp_path / "dcluster").mkdir()
    return Loop(tmp_path / "dcluster", slurm_pillar(SECRET))


def written(path):
    return os.stat(path).st_mtime_ns, open(path).read()


def test_an_unchanged_state_is_not_written_again_and_a_change_is(tmp_path):
    env = loop(tmp_path)
    registered_worker(env.c, env.sched, env.cloud, env.clock)
    env.step()
    before = written(env.path)
    for _ in range(3):  # 30 s: nothing of what must survive changed
        env.step()
    assert written(env.path) == before
    assert cmds.run(env.c, "freeze", resource="r1")["ok"]
    after = json.loads(open(env.path).read())
    assert after["limits"]["r1"]["mode"] == "frozen"  # written at once: a restart keeps the freeze


def test_an_unchanged_state_is_written_again_after_a_while(tmp_path):
    """saved_at stays recent: after a restart the age of a starting worker is its age at the save."""
    env = loop(tmp_path)
    registered_worker(env.c, env.sched, env.cloud, env.clock)
    env.step()
    env.step()
    before = written(env.path)
    env.step(st.REFRESH + 1)
    assert written(env.path) != before and json.loads(before[1])["saved_at"] < env.clock.t
    assert json.loads(open(env.path).read())["saved_at"] == env.clock.t


def test_the_state_file_holds_no_view(tmp_path):
    env = loop(tmp_path)
    # the create call answers before the cycle saves (on the launch pool it may not have begun by then,
    # and a call not begun has made nothing a restart must know of)
    env.c.submit_launch = lambda fn: fn()
    env.sched.jobs_ = [Job(f"j{i}", JobState.PENDING, chunk_cores=4) for i in range(50)]
    env.step()
    text = open(env.path).read()
    data = json.loads(text)
    assert "last" not in data and "history" not in data
    assert '"j7"' not in text  # no job of the view
    assert data["recent_launches"]  # what the actuator needs is there


def test_runners_read_the_published_summary_workers_and_first_page(tmp_path, monkeypatch):
    env = loop(tmp_path)
    name = registered_worker(env.c, env.sched, env.cloud, env.clock)
    n = publish.PAGE + 500
    env.sched.jobs_ = [Job(str(1000 + i), JobState.PENDING, chunk_cores=64) for i in range(n)]  # fits no node
    env.step()
    runner = load_runner(tmp_path)
    status = runner.status()
    assert status["pending"]["jobs"] == n and status["pending"]["cores"] == 64 * n
    assert [line.split()[0] for lines in status["workers"].values() for line in lines] == [name]
    assert len(status["pending"]["unplaceable"]) == 10
    assert [w["name"] for w in runner.workers()] == [name]
    assert runner.workers(state="busy") == []
    assert [j["id"] for j in runner.jobs()] == [str(1000 + i) for i in range(30)]  # queued_job_number_to_display
    assert runner.jobs(id="1007")[0]["chunk_cores"] == 64
    jobs_file = json.loads((tmp_path / "dcluster" / publish.JOBS).read_text())
    assert len(jobs_file["by_state"]["pending"]) == publish.PAGE and jobs_file["counts"]["pending"] == n
    summary = json.loads((tmp_path / "dcluster" / publish.SUMMARY).read_text())
    assert "jobs" not in summary["last"]["view"] and "workers" not in summary["last"]["view"]
    assert len(summary["last"]["plan"]["unplaceable"]) == publish.SAMPLE
    assert summary["last"]["plan"]["unplaceable_count"] == n

    # beyond the published page: the engine's live view answers (the event bus is not what is tested here)
    asked = []

    def call(opts, cmd, args):
        asked.append(cmd)
        return cmds.run(env.c, cmd, **args)

    monkeypatch.setattr(runner.rc, "call", call)  # runner.rc is dcluster.glue.engine_client: restored after
    page = runner.jobs(offset=publish.PAGE + 10, limit=5)
    assert [j["id"] for j in page] == [str(1000 + publish.PAGE + 10 + i) for i in range(5)]
    assert runner.jobs(id=str(1000 + n - 1))[0]["id"] == str(1000 + n - 1)
    assert runner.jobs(id="nope") == []
    assert asked == ["jobs", "jobs", "jobs"]
    assert not [t for t, _ in env.events if t.startswith("dcluster/command/")]  # a query is no command


def test_the_jobs_query_checks_its_arguments(tmp_path):
    env = loop(tmp_path)
    env.sched.jobs_ = [Job("1", JobState.PENDING)]
    env.step()
    out = cmds.run(env.c, "jobs", state="{{bad}}")
    assert out["ok"] is False and "state must be" in out["message"]
    out = cmds.run(env.c, "jobs", limit=queries.MAX_PAGE + 1)
    assert out["ok"] is False and "limit must be between" in out["message"]
    out = cmds.run(env.c, "jobs", offset="x")
    assert out["ok"] is False and "offset must be a whole number" in out["message"]
    assert cmds.run(env.c, "jobs", state="all")["jobs"][0]["id"] == "1"


def test_history_carries_over_a_restart(tmp_path):
    env = loop(tmp_path)
    env.step()
    env.step()
    env.c.shutdown()
    again = env.start()
    assert [s["time"] for s in again.state.history] == [1010.0, 1020.0]


def test_a_wall_clock_step_rewrites_the_state(tmp_path):
    """The file holds monotonic times as wall times: after a step of the wall clock, an unchanged
    state written before the step would put a backoff's end elsewhere after a restart."""
    s = st.ControllerState()
    s.configured.add("w1")
    f, path = st.StateFile(), str(tmp_path / "state.json")
    assert f.save(s, path, mono=100.0, wall=1_000_000.0)
    assert not f.save(s, path, mono=110.0, wall=1_000_010.0)  # both clocks moved together: nothing to write
    assert f.save(s, path, mono=120.0, wall=1_000_620.0)  # the wall clock stepped 600 s forward
    assert json.loads(open(path).read())["saved_at"] == 1_000_620.0


def test_a_save_turns_the_state_into_text_once(tmp_path, monkeypatch):
    """Every start and every highstate return is saved at once (issue 15): a save that writes must not
    serialise the whole state twice, once to compare and once to write."""
    s = st.ControllerState()
    s.configured.add("w1")
    calls = []
    real = st.ControllerState.to_json
    monkeypatch.setattr(st.ControllerState, "to_json", lambda self, *a: calls.append(a) or real(self, *a))
    f, path = st.StateFile(), str(tmp_path / "state.json")
    assert f.save(s, path, mono=100.0, wall=1_000_000.4)
    assert len(calls) == 1
    saved = json.loads(open(path).read())
    assert saved["configured"] == ["w1"] and saved["saved_at"] == 1_000_000.0  # the offset in whole seconds
    again = st.ControllerState.from_json(saved, mono=200.0, wall=1_000_100.4)
    assert again.configured == {"w1"}


def test_history_counts_a_resource_s_workers_while_its_cloud_poll_fails(tmp_path):
    """The graphs' nodes by resource count the workers that count toward the resource's size: a failed
    cloud listing makes them "unknown", it does not take them away (nor from Graphite's resource.<r>.nodes)."""
    env = loop(tmp_path)
    registered_worker(env.c, env.sched, env.cloud, env.clock)
    env.step()
    assert env.c.state.history[-1]["by_resource"] == {"r1": 1}
    env.cloud.list_fails = True
    env.step()
    sample = env.c.state.history[-1]
    assert sample["nodes"]["unknown"] == 1 and env.c.view.current("r1") == 1
    assert sample["by_resource"] == {"r1": 1} and sample["cores_by_resource"]["r1"] > 0


def uptime_controller(tmp_path, pillar):
    """A Controller whose wall clock reads 1,800,000,000 and its monotonic one 1,000,000 (a host up that
    long): the two far apart, as on a real master, so a time on the wrong clock shows."""
    clock = Clock()
    clock.t = 1_800_000_000.0
    mono = lambda: clock.t - 1_799_000_000.0  # noqa: E731
    (tmp_path / "dcluster").mkdir()
    sched, cloud = MemScheduler(), MemCloud()
    cloud.clock = clock
    p = ports(pillar, sched, cloud, [], set())
    c = Controller(
        p, state_path=str(tmp_path / "dcluster" / "state.json"), clock=clock, keys=key_pool(), monotonic=mono
    )
    return c, sched, clock, mono, cloud


@pytest.mark.parametrize("delay", [0, 60])
def test_published_and_queried_jobs_show_the_scheduler_s_wall_clock_times(tmp_path, delay):
    """The view's job times are monotonic where the planner measures from them (a running job's start,
    a held job's begin time, submit times under scale_up_delay); what people read is on the wall clock
    (the dashboard's ages are Date.now() minus them: a monotonic submit time made a job 55 years old)."""
    c, sched, clock, mono, _ = uptime_controller(tmp_path, slurm_pillar(SECRET, scale_up_delay=delay))
    now = clock.t + 10
    sched.jobs_ = [
        Job("run", JobState.RUNNING, walltime_s=3600, submit_time=now - 900, start_time=now - 600),
        Job("held", JobState.HELD, submit_time=now - 60, begin_time=now + 7200),
        Job("pend", JobState.PENDING, submit_time=now - 30, chunk_cores=64),
    ]
    step(c, clock)
    assert c.view.jobs[1].begin_time == pytest.approx(mono() + 7200)  # the planner's clock
    fields = ("submit_time", "start_time", "begin_time")
    want = {(j.id, f): getattr(j, f) for j in sched.jobs_ for f in fields}
    shown = json.loads((tmp_path / "dcluster" / publish.JOBS).read_text())["all"]
    assert {(j["id"], f): j[f] for j in shown for f in fields} == pytest.approx(want)
    asked = cmds.run(c, "jobs", state="all")["jobs"]
    assert {(j["id"], f): j[f] for j in asked for f in fields} == pytest.approx(want)


@pytest.mark.parametrize(("before", "after"), [(60, 0), (0, 60)])
def test_jobs_kept_through_a_failed_poll_keep_their_clock_when_scale_up_delay_changes(tmp_path, before, after):
    """Whether the view's submit times are monotonic is how its jobs were polled, not the configuration
    now: a failed scheduler poll keeps the last jobs (reconcile), and scale_up_delay changed meanwhile
    showed them decades off (monotonic times as wall ones, or wall times moved by the clocks' offset)."""
    pillar = slurm_pillar(SECRET, scale_up_delay=before)
    c, sched, clock, _, _ = uptime_controller(tmp_path, pillar)
    submit = clock.t - 30
    sched.jobs_ = [Job("pend", JobState.PENDING, submit_time=submit, chunk_cores=64)]
    step(c, clock)
    pillar["scale_up_delay"], sched.fail = after, True
    step(c, clock)
    assert not c.view.scheduler_ok and c.config.scale_up_delay == after
    shown = json.loads((tmp_path / "dcluster" / publish.JOBS).read_text())["all"]
    assert [j["submit_time"] for j in shown] == [pytest.approx(submit)]
    assert [j["submit_time"] for j in cmds.run(c, "jobs", state="all")["jobs"]] == [pytest.approx(submit)]
