"""Issue 15: a slow cloud never delays a REGISTER of another worker.

A spot request waits for its fulfilment inside the driver's create call, up to
``spot_timeout`` (300 s).  With the create calls on the same pool as every other
action (``worker_number``: 2 threads), two pending spot requests held both
threads and a configured worker waited minutes to be registered.
"""

import threading
import time

from memory_ports import Loop, MemCloud, slurm_pillar

from dcluster.model import Job, JobState

SECRET = "slow-cloud-secret-0123456789"


class SpotCloud(MemCloud):
    """Create calls wait, as a spot request does until it is fulfilled, while ``pending`` is set."""

    def __init__(self):
        super().__init__()
        self.pending = threading.Event()
        self.fulfil = threading.Event()
        self.waiting = 0

    def launch(self, count, minion_ids, userdata_for):
        if self.pending.is_set():
            self.waiting += 1
            self.fulfil.wait(60)
        return super().launch(count, minion_ids, userdata_for)


def test_two_pending_spot_requests_do_not_delay_a_registration(tmp_path):
    env = Loop(tmp_path, slurm_pillar(SECRET, r1={"launch_batch": 1, "quantity": {"min": 0, "max": 3}},
                                      worker_number=2))
    cloud = SpotCloud()
    cloud.clock = env.clock
    env.cloud = cloud
    env.c.ports.driver = lambda cfg, res: cloud
    try:
        env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
        env.step()
        (first,) = cloud.launch_calls[0]
        # two more jobs: two create calls (launch_batch 1), each a spot request that is not fulfilled
        cloud.pending.set()
        env.sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(1, 4)]
        env.c.mark_configured(first, True)  # the first worker finished its highstate: register it
        env.clock.t += 10
        env.c.cycle()
        deadline = time.monotonic() + 10
        while first not in env.sched.nodes_ and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cloud.waiting == 2  # both spot requests are still pending
        assert first in env.sched.nodes_, "the registration waited behind the spot requests"
    finally:
        cloud.fulfil.set()
        env.c.wait_idle(20)
        env.c.shutdown()


def test_a_port_check_that_does_not_answer_does_not_stall_the_cycle(tmp_path):
    """The port config checker connected to each starting worker in turn inside the cycle."""
    env = Loop(tmp_path, slurm_pillar(SECRET, config_checker={"port": {"number": 15002}}))
    answer = threading.Event()
    calls = []

    def port_open(host, port):
        calls.append((host, port))
        return answer.wait(60)  # a host that does not answer (yet)

    env.c.ports.port_open = port_open
    try:
        env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
        env.step()
        (first,) = env.cloud.launch_calls[0]
        for _ in range(2):
            env.clock.t += 10
            cycle = threading.Thread(target=env.c.cycle)
            cycle.start()
            cycle.join(10)
            assert not cycle.is_alive(), "the cycle waited for the port check"
        assert calls == [("127.200.0.250", 15002)]  # one check at a time per worker, not one per cycle
        assert first not in env.c.state.configured
        answer.set()  # the port answers: the next cycle takes it, the one after registers the worker
        time.sleep(0.1)
        env.step()
        assert first in env.c.state.configured
        env.step()
        assert first in env.sched.nodes_
    finally:
        answer.set()
        env.c.shutdown()
