"""Intervals are measured on a monotonic clock: a wall-clock step, either way, changes no decision (issue 13).

The controller has two clocks: ``clock`` (the wall clock, stepped here as NTP or ``date -s``
would) and ``monotonic`` (never stepped).  A backward step used to stall actions on recently
touched workers for the size of the step; a forward one made starting workers look older than
``max_launch_time`` at once, ended backoffs early and made the view look stale.
"""

import inspect

import pytest
from memory_ports import InsufficientCapacity, MemCloud, MemScheduler, key_pool, ports

from dcluster.controller import Controller
from dcluster.controller import commands as cmds
from dcluster.controller import state as st
from dcluster.model import Job, JobState, WorkerState
from dcluster.reconcile import BackoffState

SECRET = "q7-monotonic-test-s3cret-0123456789"
STEP = 900.0  # larger than max_launch_time, max_idle_time and the backoff


def pillar():
    return {
        "secret": SECRET,
        "cluster": {"type": "slurm"},
        "max_idle_time": 120,
        "max_launch_time": 600,
        "cluster_poller_interval": 10,
        "cloud_poller_interval": 10,
        "backoff": {"capacity_pause": 300},
        "cloud": {"r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}}},
    }


class Clocks:
    """True time; the wall clock is true time plus ``offset`` (the steps), the monotonic one is not stepped."""

    def __init__(self, mono_origin=5_000.0):
        self.t, self.offset, self.origin = 1_800_000_000.0, 0.0, mono_origin

    def wall(self):
        return self.t + self.offset

    def mono(self):
        return self.t - 1_800_000_000.0 + self.origin


def controller(sched, cloud, clocks, path, events=None):
    # written against the Controller's interface before and after the fix: without a monotonic clock
    # the controller measures with the wall clock, which is what these tests show to be wrong
    kw = {"monotonic": clocks.mono} if "monotonic" in inspect.signature(Controller).parameters else {}
    return Controller(
        ports(pillar(), sched, cloud, [] if events is None else events, set()),
        state_path=str(path / "state.json"),
        clock=clocks.wall,
        keys=key_pool(),
        **kw,
    )


@pytest.fixture
def env(tmp_path):
    sched, cloud, clocks = MemScheduler(), MemCloud(), Clocks()
    cloud.clock = clocks.wall  # the launch-time tag: what the master's wall clock said
    c = controller(sched, cloud, clocks, tmp_path)
    yield c, sched, cloud, clocks
    c.shutdown()


def step(c, clocks, dt=10.0):
    clocks.t += dt
    out = c.cycle()
    assert c.wait_idle(10)
    assert out["ok"], out
    return out


def worker(c, name):
    return next((w for w in c.view.workers if w.name == name), None)


def launched(c, sched, cloud, clocks):
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clocks)
    (name,) = cloud.launch_calls[0]
    return name


def registered(c, sched, cloud, clocks):
    """A worker launched for a 4-core job, configured and registered (its chain just ended); queue empty."""
    name = launched(c, sched, cloud, clocks)
    c.mark_configured(name, True)
    sched.jobs_ = []
    step(c, clocks)
    assert ("add_node", name, 4) in sched.calls
    return name


def seconds_until_held(c, sched, cloud, clocks, name, limit=3000.0):
    start = clocks.t
    while clocks.t - start < limit:
        step(c, clocks)
        if any(x[:2] == ("hold", name) for x in sched.calls):
            return clocks.t - start
    return None


@pytest.mark.parametrize("jump", [-STEP, STEP])
@pytest.mark.parametrize("idle_cycles", [0, 1])
def test_step_does_not_change_when_an_idle_worker_goes(env, jump, idle_cycles):
    c, sched, cloud, clocks = env
    name = registered(c, sched, cloud, clocks)
    for _ in range(idle_cycles):  # 0: right after its register chain ended; 1: once seen idle
        step(c, clocks)
    clocks.offset += jump
    took = seconds_until_held(c, sched, cloud, clocks, name) + 10 * idle_cycles
    # max_idle_time 120 s from when it went idle: not 120 + 900 (back), not at once (forward)
    assert took is not None and 100 <= took <= 120 + 20, took


@pytest.mark.parametrize("jump", [-STEP, STEP])
def test_step_while_starting_does_not_change_when_it_counts_as_never_joined(env, jump):
    c, sched, cloud, clocks = env
    name = launched(c, sched, cloud, clocks)  # its launch-time tag says the wall clock of then
    step(c, clocks)
    assert worker(c, name).state == WorkerState.STARTING
    clocks.offset += jump
    start = clocks.t
    while name not in cloud.destroyed and clocks.t - start < 3000:
        step(c, clocks)
        if name not in cloud.destroyed:
            assert worker(c, name).state in (WorkerState.STARTING, WorkerState.ORPHAN)
    # launched 20 s before the step: destroyed after max_launch_time (600 s) of true time, not 900 s off
    lived = clocks.t - start + 20
    assert name in cloud.destroyed and 600 <= lived <= 600 + 60, lived


def test_forward_step_before_its_first_listing_does_not_age_our_own_launch(env):
    c, sched, cloud, clocks = env
    name = launched(c, sched, cloud, clocks)  # listed from the next cycle on, after the step
    clocks.offset += STEP
    for _ in range(5):
        step(c, clocks)
        assert name not in cloud.destroyed
        assert worker(c, name).state == WorkerState.STARTING, worker(c, name).reason


@pytest.mark.parametrize("jump", [-STEP, STEP])
def test_step_does_not_change_how_long_a_resource_backs_off(env, jump):
    c, sched, cloud, clocks = env
    cloud.refuse = InsufficientCapacity("no capacity (test)")
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clocks)
    assert len(cloud.launch_calls) == 1 and c.state.backoff["r1"].failures == 1
    cloud.refuse = None
    clocks.offset += jump
    start = clocks.t
    while len(cloud.launch_calls) == 1 and clocks.t - start < 3000:
        step(c, clocks)
    # the backoff is 300 s: launching again neither 900 s later nor at once
    assert 300 - 20 <= clocks.t - start <= 300 + 20, clocks.t - start


def test_forward_step_does_not_make_the_view_stale(env):
    c, sched, cloud, clocks = env
    step(c, clocks)
    clocks.offset += STEP
    out = cmds.run(c, "launch", resource="r1", count=1)
    assert out["ok"] is True, out


def test_a_restart_with_another_monotonic_origin_keeps_the_remaining_backoff(tmp_path):
    sched, cloud, clocks = MemScheduler(), MemCloud(), Clocks(mono_origin=5_000.0)
    cloud.clock = clocks.wall
    c = controller(sched, cloud, clocks, tmp_path)
    cloud.refuse = InsufficientCapacity("no capacity (test)")
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clocks)
    c.shutdown()
    # down 100 s; the machine rebooted (a new monotonic origin) and the wall clock stepped back meanwhile
    clocks.t += 100
    clocks.offset -= STEP
    clocks.origin = 70.0
    cloud.refuse = None
    c = controller(sched, cloud, clocks, tmp_path)
    try:
        b = c.state.backoff["r1"]
        # 300 s of backoff, 100 s of it spent while down (the step back counts as no downtime: at most
        # the backoff is not shortened by it)
        assert 190 <= b.until - clocks.mono() <= 300, b.until - clocks.mono()
        start = clocks.t
        while len(cloud.launch_calls) == 1 and clocks.t - start < 3000:
            step(c, clocks)
        assert clocks.t - start <= 300 + 20, clocks.t - start
    finally:
        c.shutdown()


def test_saved_times_are_wall_times_and_come_back_on_the_monotonic_clock():
    s = st.ControllerState()
    s.maybe_launched["dc-r1-x"] = {"resource": "r1", "since": 900.0}  # monotonic: 100 s before 1000
    s.deferred_starts["dc-r1-y"] = 990.0
    s.launched["dc-r1-z"] = 950.0  # when we asked the cloud for it
    s.backoff["r1"] = BackoffState(failures=1, until=1200.0, kind="capacity")  # 200 s left
    data = s.to_json(mono=1000.0, wall=1_800_000_000.0)
    assert data["maybe_launched"]["dc-r1-x"]["since"] == 1_800_000_000.0 - 100
    # loaded 50 s (wall) later on a machine whose monotonic clock now reads 20.  When something began
    # comes back at its age at the save: 50 s by the wall clock may be a forward step while down, which
    # must not make a starting worker look old.  A backoff's end counts them (a step only retries sooner).
    back = st.ControllerState.from_json(data, mono=20.0, wall=1_800_000_050.0)
    assert back.maybe_launched["dc-r1-x"]["since"] == 20.0 - 100
    assert back.deferred_starts["dc-r1-y"] == 20.0 - 10
    assert back.launched["dc-r1-z"] == 20.0 - 50
    assert back.backoff["r1"].until == 20.0 + 150
    # a wall clock stepped back while down: no downtime, and nothing lands in the future
    back = st.ControllerState.from_json(data, mono=20.0, wall=1_800_000_000.0 - 3600)
    assert back.maybe_launched["dc-r1-x"]["since"] == 20.0 - 100
    assert back.backoff["r1"].until == 20.0 + 200


def restarted_keeps_it_starting(sched, cloud, clocks, tmp_path, name):
    """A master restarted on the same state file: ten cycles later the worker is still starting."""
    c = controller(sched, cloud, clocks, tmp_path)
    try:
        for _ in range(10):
            step(c, clocks)
            assert name not in cloud.destroyed
            assert worker(c, name).state == WorkerState.STARTING, worker(c, name).reason
    finally:
        c.shutdown()


def test_forward_step_then_restart_does_not_age_our_own_launch(tmp_path):
    # Chaos seed 120: a worker launched just before a forward step is still starting when the master
    # restarts.  The restarted master anchors its launch-time tag from the stepped wall clock: it looks
    # older than max_launch_time and was destroyed as an orphan while its highstate ran.  When this
    # master asked the cloud for it is saved, so no instance of ours is older than its create call.
    sched, cloud, clocks = MemScheduler(), MemCloud(), Clocks(mono_origin=5_000.0)
    cloud.clock = clocks.wall
    c = controller(sched, cloud, clocks, tmp_path)
    name = launched(c, sched, cloud, clocks)
    step(c, clocks)
    assert worker(c, name).state == WorkerState.STARTING
    clocks.offset += STEP
    step(c, clocks)
    c.shutdown()
    clocks.t += 30  # down 30 s; the machine rebooted: a new monotonic origin
    clocks.origin = 70.0
    restarted_keeps_it_starting(sched, cloud, clocks, tmp_path, name)


def test_forward_step_while_the_master_is_down_does_not_age_our_own_launch(tmp_path):
    # Chaos seed 669: the wall clock stepped +600 s during a 40 s restart.  The restarted master counted
    # the step as downtime: a worker launched 130 s before looked 840 s old and was destroyed as never
    # joined (its deferred start dropped as older than max_launch_time) while it was starting.
    sched, cloud, clocks = MemScheduler(), MemCloud(), Clocks(mono_origin=5_000.0)
    cloud.clock = clocks.wall
    c = controller(sched, cloud, clocks, tmp_path)
    name = launched(c, sched, cloud, clocks)
    step(c, clocks)
    c.shutdown()
    clocks.t += 30  # down 30 s, during which the wall clock is stepped; the machine rebooted
    clocks.offset += STEP
    clocks.origin = 70.0
    restarted_keeps_it_starting(sched, cloud, clocks, tmp_path, name)
