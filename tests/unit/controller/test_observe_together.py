"""Issue 15: the scheduler's poll and the cloud's listings run at the same time.

They are independent observations; the scheduler's (a large output read from a
command and parsed, mostly outside the interpreter) took 1.4 s of a 50,000-job
cycle with the 20 listings after it.  Each test's ports block until the other
side has started, so run one after the other they would wait out the timeout.
"""

import threading

from memory_ports import Loop, MemCloud, MemScheduler, slurm_pillar

from dcluster.model import Job, JobState

SECRET = "observe-together-secret-0123456789"


class WaitingScheduler(MemScheduler):
    """Its jobs() answers only once the cloud is being listed (or after 10 s: the test then fails)."""

    def __init__(self, listing: threading.Event):
        super().__init__()
        self.listing = listing
        self.saw_listing = None

    def jobs(self):
        self.saw_listing = self.listing.wait(10)
        return super().jobs()


class SignallingCloud(MemCloud):
    def __init__(self, listing: threading.Event):
        super().__init__()
        self.listing = listing

    def instances(self):
        self.listing.set()
        return super().instances()


def _loop(tmp_path, listing):
    env = Loop(tmp_path, slurm_pillar(SECRET))
    env.sched = WaitingScheduler(listing)
    env.cloud = SignallingCloud(listing)
    env.cloud.clock = env.clock
    env.c.ports.scheduler = lambda cfg: env.sched
    env.c.ports.driver = lambda cfg, res: env.cloud
    return env


def test_the_cloud_is_listed_while_the_scheduler_is_polled(tmp_path):
    env = _loop(tmp_path, threading.Event())
    try:
        env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
        out = env.step()
        assert env.sched.saw_listing is True, "the scheduler's poll ended before the cloud was listed"
        assert out["ok"] and len(env.cloud.launch_calls) == 1  # the cycle used both observations
    finally:
        env.c.shutdown()


def test_a_failed_scheduler_poll_still_plans_nothing_destructive(tmp_path):
    env = _loop(tmp_path, threading.Event())
    try:
        env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
        env.step()
        (first,) = env.cloud.launch_calls[0]
        env.sched.fail = True  # from now on the poll raises, after the listing started
        env.sched.jobs_ = []
        for _ in range(3):
            env.clock.t += 4000  # long past any idle or launch limit
            out = env.c.cycle()
            assert env.c.wait_idle(10)
        assert out["ok"] and env.c.view.scheduler_ok is False
        assert env.cloud.destroyed == [] and first in env.cloud.instances_
        assert any(tag == "dcluster/poll/failed" and data["what"] == "scheduler" for tag, data in env.events)
    finally:
        env.c.shutdown()


class BothAtOnce(MemScheduler):
    """An adapter whose nodes and jobs may be asked at once: nodes() answers once jobs() has started
    (asked in turn, nodes first, it waits 10 s for nothing)."""

    queries_in_parallel = True

    def __init__(self):
        super().__init__()
        self.jobs_started = threading.Event()
        self.saw_jobs = None
        self.fail_nodes = self.fail_jobs = False

    def nodes(self):
        self.saw_jobs = self.jobs_started.wait(10)
        if self.fail_nodes:
            raise RuntimeError("pbsnodes: cannot connect to server")
        return super().nodes()

    def jobs(self):
        self.jobs_started.set()
        if self.fail_jobs:
            raise RuntimeError("qstat: cannot connect to server")
        return super().jobs()


def _both(tmp_path):
    env = Loop(tmp_path, slurm_pillar(SECRET))
    env.sched = BothAtOnce()
    env.c.ports.scheduler = lambda cfg: env.sched
    return env


def test_nodes_and_jobs_are_asked_at_once_where_the_adapter_allows(tmp_path):
    env = _both(tmp_path)
    try:
        env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
        out = env.step()
        assert env.sched.saw_jobs is True, "jobs() was asked only after nodes() had answered"
        assert out["ok"] and env.c.view.scheduler_ok and len(env.cloud.launch_calls) == 1
    finally:
        env.c.shutdown()


def test_either_query_failing_fails_the_poll_with_the_nodes_error_first(tmp_path):
    env = _both(tmp_path)
    try:
        for fail_nodes, fail_jobs, want in (
            (True, False, "pbsnodes"),
            (False, True, "qstat"),
            (True, True, "pbsnodes"),
        ):
            env.sched.fail_nodes, env.sched.fail_jobs = fail_nodes, fail_jobs
            env.sched.jobs_started.clear()
            del env.events[:]
            env.step()
            assert env.c.view.scheduler_ok is False
            (error,) = [d["error"] for tag, d in env.events if tag == "dcluster/poll/failed"]
            assert error.startswith(want), error
    finally:
        env.c.shutdown()


def test_the_engine_asks_its_local_adapter_both_at_once_and_the_others_in_turn():
    from dcluster.config import load
    from dcluster.glue.engine_ports import local_scheduler
    from dcluster.schedulers import make_adapter

    cfg = load({**slurm_pillar(SECRET), "cluster": {"type": "torque"}})
    assert local_scheduler(cfg).queries_in_parallel is True  # its commands are subprocesses
    assert make_adapter("slurm", {}, lambda argv, stdin=None: (0, "", "")).queries_in_parallel is False
