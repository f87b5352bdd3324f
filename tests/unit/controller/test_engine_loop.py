"""The engine's loop (glue/engine_loop.py): cycles on the monotonic clock, events between, an early cycle
when a worker became configured (issue 15: a burst of new workers waited up to a whole interval for their
REGISTER)."""

from __future__ import annotations

from memory_ports import Loop, slurm_pillar

from dcluster import identity
from dcluster.glue import engine_loop
from dcluster.glue.engine_loop import EngineLoop
from dcluster.model import Job, JobState

SECRET = "0123456789abcdef0123"


class Bus:
    """No events; each wait moves the test's clock by what the loop would have waited."""

    def __init__(self, clock):
        self.clock, self.waits = clock, []

    def __call__(self, wait):
        self.waits.append(wait)
        self.clock.t += wait
        return None


def make(tmp_path, interval=10):
    env = Loop(tmp_path, slurm_pillar(SECRET, cluster_name="dc", cluster_poller_interval=interval))
    cycles = []
    real = env.c.cycle
    env.c.cycle = lambda: cycles.append(env.clock.t) or real()
    loop = EngineLoop(env.c, None, lambda tag, data: None, monotonic=env.clock)
    return env, loop, cycles, Bus(env.clock)


def run_until(loop, bus, clock, t):
    while clock.t < t:
        loop.step(bus)


def test_cycles_come_every_interval(tmp_path):
    env, loop, cycles, bus = make(tmp_path)
    start = env.clock.t
    run_until(loop, bus, env.clock, start + 35)
    assert [round(t - start) for t in cycles] == [0, 10, 20, 30]


def test_a_configured_worker_brings_the_next_cycle_forward_and_is_registered(tmp_path):
    env, loop, cycles, bus = make(tmp_path)
    env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    start = env.clock.t
    loop.step(bus)  # the first cycle launches a worker
    assert env.c.wait_idle(10)
    (name,) = env.cloud.launch_calls[0]
    run_until(loop, bus, env.clock, start + 13)  # the second cycle at 10 sees it starting
    env.c.mark_configured(name, True, "highstate succeeded")
    at = env.clock.t
    run_until(loop, bus, env.clock, at + 0.5)
    assert cycles[-1] == at  # at once: the last cycle ended more than EARLY_GAP ago
    assert env.c.wait_idle(10) and name in env.sched.nodes_  # that cycle registered it
    run_until(loop, bus, env.clock, at + 9)
    assert cycles[-1] == at  # nothing else early: the next one is a whole interval later


def test_early_cycles_are_spaced(tmp_path):
    env, loop, cycles, bus = make(tmp_path)
    start = env.clock.t
    loop.step(bus)
    mid = identity.make("dc", "r1", SECRET)
    env.c.mark_configured(mid, True)  # right after a cycle: the early one waits for EARLY_GAP
    run_until(loop, bus, env.clock, start + engine_loop.EARLY_GAP + 1)
    assert [t - start for t in cycles] == [0, engine_loop.EARLY_GAP]


def test_a_failed_configuration_brings_nothing_forward(tmp_path):
    env, loop, cycles, bus = make(tmp_path)
    start = env.clock.t
    loop.step(bus)
    env.c.mark_configured(identity.make("dc", "r1", SECRET), False, "highstate failed")
    run_until(loop, bus, env.clock, start + 9.5)
    assert cycles == [start]
