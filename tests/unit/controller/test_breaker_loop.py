"""The bootstrap breaker through the real Controller (issue 13): instances that never join stop the relaunches.

In-memory scheduler and cloud (memory_ports): a worker is never configured unless a test says so,
which is what a bad image or user-data looks like to the engine.
"""

import pytest
from memory_ports import Loop, slurm_pillar

from dcluster.controller import commands as cmds
from dcluster.model import Job, JobState

SECRET = "breaker-test-secret-12345"
LAUNCH_TIME = 600
ROUND = LAUNCH_TIME + 60  # launch to destroy of an instance that never joins, at 60 s cycles


def pillar(**over):
    return (
        slurm_pillar(
            SECRET,
            r1={"quantity": {"min": 0, "max": 8}, "config": {"userdata_vars": {"image": "bad"}}},
            max_launch_time=LAUNCH_TIME,
        )
        | over
    )


class Env(Loop):
    """Loop, restarted at will, run for a while, with the launches and events counted."""

    def restart(self):
        self.c.shutdown()
        self.c = self.start()

    def run(self, seconds, dt=60):
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.step(dt)

    def launched(self):
        return sum(len(call) for call in self.cloud.launch_calls)

    def tags(self, tag):
        return [d for t, d in self.events if t == f"dcluster/{tag}"]


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path, pillar())
    e.sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(5)]
    yield e
    e.c.shutdown()


def test_instances_that_never_join_stop_the_resource_after_three(env):
    env.run(6 * 3600)  # the 6 hours: 90 launches for 5 jobs without a breaker
    # the first batch (5, one per job) never joins: at 3 it is protected and launches no more
    assert env.launched() == 5
    assert len(env.cloud.destroyed) == 5 and not env.cloud.instances_
    (ev,) = env.tags("resource/protected")
    assert ev["resource"] == "r1" and ev["failures"] >= 3 and ev["limit"] == 3
    assert "dcluster.restore r1" in ev["resume"]
    summary = env.c.state.last["resources"]["r1"]["bootstrap"]
    assert summary["protected"] and summary["failures"] == 5
    assert "never became a scheduler node" in summary["reason"]
    waiting = env.c.plan.waiting
    assert waiting and all("r1 protected" in why for _, why in waiting)


def test_after_the_first_failure_it_probes_within_the_limit(tmp_path):
    e = Env(tmp_path, pillar())
    e.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    try:
        e.run(6 * 3600)
        # one at a time, 3 in all: never more than bootstrap_failures instances that never join
        assert [len(call) for call in e.cloud.launch_calls] == [1, 1, 1]
        assert len(e.tags("resource/protected")) == 1
    finally:
        e.c.shutdown()


def test_the_breaker_survives_a_master_restart(env):
    env.run(2 * LAUNCH_TIME + 100)
    assert env.tags("resource/protected")
    before = env.launched()
    env.restart()
    env.run(3 * 3600)
    assert env.launched() == before
    assert env.c.state.bootstrap["r1"].failures == 5


def test_restore_lifts_it_and_says_so(env):
    env.run(2 * LAUNCH_TIME)
    before = env.launched()
    out = cmds.run(env.c, "restore", resource="r1")
    assert out["ok"] and "bootstrap breaker lifted" in out["message"]
    assert [e["resource"] for e in env.tags("resource/unprotected")] == ["r1"]
    env.step()
    assert env.launched() > before


def test_a_changed_image_lifts_it(env):
    env.run(2 * LAUNCH_TIME)
    before = env.launched()
    env.data = pillar(
        cloud={
            "r1": {
                "type": "local",
                "cores": 4,
                "quantity": {"min": 0, "max": 8},
                "config": {"userdata_vars": {"image": "fixed"}},
            }
        }
    )
    env.step()
    env.step()
    assert env.launched() > before
    assert "pillar changed" in env.tags("resource/unprotected")[0]["reason"]
    # a change of anything else (here max) does not
    env.run(2 * LAUNCH_TIME)
    before = env.launched()
    env.data["cloud"]["r1"]["quantity"]["max"] = 9
    env.run(3600)
    assert env.launched() == before


def test_a_worker_that_joins_resets_the_count(tmp_path):
    e = Env(tmp_path, pillar())
    e.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    try:
        e.run(2 * ROUND + 30)  # two launched, destroyed without joining, a third started
        assert e.c.state.bootstrap["r1"].failures == 2
        third = e.cloud.launch_calls[-1][0]
        e.c.mark_configured(third, True)
        e.step()
        assert "r1" not in e.c.state.bootstrap  # the image works after all
        # two more that never join do not stop it: the count started again
        e.c.state.configured.discard(third)
        e.sched.jobs_ = [Job("2", JobState.PENDING, chunk_cores=4)]
        e.cloud.instances_.clear()
        e.run(3 * ROUND)
        assert e.c.state.bootstrap["r1"].failures == 2  # 2, not 4
        assert not e.tags("resource/protected")
    finally:
        e.c.shutdown()


def test_zero_turns_it_off(tmp_path):
    e = Env(tmp_path, pillar(bootstrap_failures=0))
    e.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    try:
        e.run(5 * ROUND)
        assert e.launched() >= 5 and not e.tags("resource/protected")
    finally:
        e.c.shutdown()
