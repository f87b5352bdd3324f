"""A cycle runs with the cyclic garbage collector paused (dcluster/gcpause.py; issue 15) and leaves it
as it found it."""

import gc

from memory_ports import Loop, slurm_pillar


def test_a_cycle_runs_with_the_collector_off_and_restores_it(tmp_path):
    was = gc.isenabled()
    gc.enable()
    env = Loop(tmp_path, slurm_pillar("gc-pause-secret-0123456789"))
    seen = []
    jobs = env.sched.jobs
    env.sched.jobs = lambda: seen.append(gc.isenabled()) or jobs()
    try:
        env.step()
        assert seen == [False] and gc.isenabled()
    finally:
        env.c.shutdown()
        (gc.enable if was else gc.disable)()
