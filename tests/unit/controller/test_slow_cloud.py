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
    env = Loop(
        tmp_path, slurm_pillar(SECRET, r1={"launch_batch": 1, "quantity": {"min": 0, "max": 3}}, worker_number=2)
    )
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
        while (first not in env.sched.nodes_ or cloud.waiting < 2) and time.monotonic() < deadline:
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


def test_a_hook_that_sleeps_does_not_delay_another_workers_destroy(tmp_path):
    """Hooks ran on the action pool: a post_add_node_command that hangs (up to hook_timeout) held an
    action thread, and the DESTROY of another worker waited behind it.  The registering worker's own
    chain still waits for its hook: its REGISTER is done only when the hook ended."""
    from dcluster.controller.ports import run_hook

    env = Loop(tmp_path, slurm_pillar(SECRET, worker_number=1, max_idle_time=100, max_launch_time=3600))
    env.c.ports.hook = run_hook  # real commands, as the engine runs them
    try:
        env.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4), Job("2", JobState.PENDING, chunk_cores=4)]
        env.step()
        a, b = env.cloud.launch_calls[0]
        env.c.mark_configured(b, True)
        env.step()
        assert b in env.sched.nodes_
        env.sched.jobs_ = []  # both jobs ran elsewhere: b idles out, a is still starting
        env.data = slurm_pillar(
            SECRET,
            worker_number=1,
            max_idle_time=100,
            max_launch_time=3600,
            cluster={"type": "slurm", "config": {"post_add_node_command": "/bin/sleep 6"}},
        )
        env.c.mark_configured(a, True)
        env.clock.t += 10
        env.c.cycle()  # registers a: its hook sleeps 6 s
        deadline = time.monotonic() + 5
        while a not in env.sched.nodes_ and time.monotonic() < deadline:
            time.sleep(0.02)
        assert a in env.sched.nodes_
        env.clock.t += 200  # b idle for longer than max_idle_time: held, removed and destroyed
        began = time.monotonic()
        env.c.cycle()
        while b not in env.cloud.destroyed and time.monotonic() - began < 4:
            time.sleep(0.02)
        assert b in env.cloud.destroyed, "the DESTROY waited behind another worker's hook"
        done = [d["target"] for t, d in env.events if t == "dcluster/action/register/done"]
        assert a not in done  # a's chain waits for its own hook
        assert env.c.wait_idle(20)
        done = [d["target"] for t, d in env.events if t == "dcluster/action/register/done"]
        hooks = [d for t, d in env.events if t == "dcluster/hook/post_add_node_command"]
        assert a in done and hooks and hooks[0]["rc"] == 0 and hooks[0]["argv"] == ["/bin/sleep", "6"]
    finally:
        env.c.shutdown()


def test_open_requests_are_saved_with_wall_times_and_malformed_ones_dropped():
    from dcluster.controller import state as st

    s = st.ControllerState()
    s.requests["sir-a"] = {
        "minion": "dc-r1-a",
        "resource": "r1",
        "since": 900.0,
        "deadline": 1200.0,
        "cancelled": False,
    }
    data = s.to_json(mono=1000.0, wall=1_800_000_000.0)
    assert data["requests"]["sir-a"]["deadline"] == 1_800_000_000.0 + 200
    data["requests"].update(
        {
            "sir-b": {"minion": "dc-r1-b", "resource": "r1", "since": "soon", "deadline": 1.0},
            "sir-c": {"minion": ["x"], "resource": "r1", "since": 1.0, "deadline": 1.0},
            "sir-d": "open",
            "sir-e": {"minion": "dc-r1-e", "resource": "r1", "since": 1.0, "deadline": float("nan")},
            # JSON's Infinity reads as a float: a request never due, its worker counted toward max for good
            "sir-f": {"minion": "dc-r1-f", "resource": "r1", "since": 1.0, "deadline": float("inf")},
            "sir-g": {"minion": "dc-r1-g", "resource": "r1", "since": -float("inf"), "deadline": 1.0},
        }
    )
    # loaded 50 s (wall) later, the monotonic clock reading 20: the cloud's deadline counts the downtime
    back = st.ControllerState.from_json(data, mono=20.0, wall=1_800_000_050.0)
    assert back.requests == {
        "sir-a": {
            "minion": "dc-r1-a",
            "resource": "r1",
            "since": 20.0 - 100,
            "deadline": 20.0 + 150,
            "cancelled": False,
        }
    }
