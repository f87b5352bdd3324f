"""The loop asks Torque's adapter for MAUI's health each cycle; a failed check is a failed poll."""

import pytest
from memory_ports import Loop, registered_worker, slurm_pillar, step

SECRET = "health-test-secret-0123456789"
MAUI_DOWN = {"healthy": False, "scheduler": "torque",
             "problems": ["maui: 'diagnose -p': exited with 1; output starts: 'ERROR:    cannot connect to maui'"]}


def torque_pillar(**over):
    return slurm_pillar(SECRET, max_idle_time=0, max_launch_time=600) | {"cluster": {"type": "torque"}} | over


@pytest.fixture
def loop(tmp_path):
    lp = Loop(tmp_path, torque_pillar())
    lp.health = {"healthy": True, "scheduler": "torque", "problems": []}
    lp.checks = 0

    def check():
        lp.checks += 1
        return lp.health

    lp.sched.check = check
    yield lp
    lp.c.shutdown()


def destructive(lp):
    return [x for x in lp.sched.calls if x[0] in ("hold", "remove")] + list(lp.cloud.destroyed)


def test_maui_down_holds_back_retiring_an_idle_worker_until_it_answers(loop):
    name = registered_worker(loop.c, loop.sched, loop.cloud, loop.clock)
    assert loop.checks >= 2  # every cycle
    loop.health = MAUI_DOWN
    for _ in range(3):
        assert loop.step(100)["ok"]
    # idle for 300 s with max_idle_time 0, but the view could not be trusted: nothing held, removed, destroyed
    assert destructive(loop) == []
    assert loop.c.view.scheduler_ok is False
    errors = [e for e in loop.c.state.errors if e["where"] == "scheduler"]
    assert errors and "torque health check failed: maui: 'diagnose -p'" in errors[-1]["message"]
    failed = [d for t, d in loop.events if t == "dcluster/poll/failed"]
    assert failed and failed[-1]["what"] == "scheduler" and "cannot connect to maui" in failed[-1]["error"]
    # MAUI answers again: the idle worker is retired as usual
    loop.health = {"healthy": True, "scheduler": "torque", "problems": []}
    for _ in range(3):
        loop.step(100)
    assert ("hold", name) in [x[:2] for x in loop.sched.calls]


@pytest.mark.parametrize("answer", [{"ok": True}, None, "healthy", {"healthy": "yes"}, {"healthy": False}])
def test_a_health_answer_that_is_not_a_clear_yes_is_a_failed_poll(loop, answer):
    registered_worker(loop.c, loop.sched, loop.cloud, loop.clock)
    loop.health = answer
    loop.step(100)
    loop.step(100)
    assert destructive(loop) == [] and loop.c.view.scheduler_ok is False
    assert any(e["where"] == "scheduler" and "torque health check" in e["message"] for e in loop.c.state.errors)


def test_slurm_and_grid_engine_polls_are_their_own_check(tmp_path):
    lp = Loop(tmp_path, slurm_pillar(SECRET))
    lp.sched.check = lambda: pytest.fail("check() called for slurm")
    try:
        assert step(lp.c, lp.clock)["ok"] and lp.c.view.scheduler_ok
    finally:
        lp.c.shutdown()
