"""The loop cycle by cycle: scale up, register, idle out, drain, remove, destroy; failures; commands."""

import pytest
from memory_ports import InsufficientCapacity, Loop, key_pool, registered_worker, slurm_pillar, step

from dcluster.controller import Controller
from dcluster.controller import commands as cmds
from dcluster.model import Job, JobState, Node, NodeState

SECRET = "controller-test-secret-123"


def pillar(**over):
    return (
        slurm_pillar(SECRET, max_idle_time=100, max_launch_time=600, backoff={"initial": 30, "capacity_pause": 300})
        | over
    )


@pytest.fixture
def env(tmp_path):
    lp = Loop(tmp_path, pillar())
    yield lp.c, lp.sched, lp.cloud, lp.events, lp.keys, lp.clock
    lp.c.shutdown()


def tags(events, prefix):
    return [t for t, _ in events if t.startswith(prefix)]


def test_full_lifecycle(env):
    c, sched, cloud, events, keys, clock = env
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4), Job("2", JobState.PENDING, chunk_cores=2)]
    step(c, clock)
    assert len(cloud.launch_calls) == 1 and len(cloud.launch_calls[0]) == 2
    # the same pending jobs do not cause a second launch on the next cycles
    step(c, clock)
    step(c, clock)
    assert len(cloud.launch_calls) == 1
    (a, b) = cloud.launch_calls[0]
    # each worker's key was accepted before its launch (see the key tests below)
    assert keys == {a, b}
    # highstate returned -> registered in the scheduler
    c.mark_configured(a, True)
    c.mark_configured(b, True)
    step(c, clock)
    assert {x[1] for x in sched.calls if x[0] == "add_node"} == {a, b}
    # the scheduler runs the jobs, then they finish
    sched.jobs_ = []
    step(c, clock)
    states = {w.name: w.state.value for w in c.view.workers}
    assert states == {a: "idle", b: "idle"}
    for _ in range(12):
        step(c, clock)
    held = [x for x in sched.calls if x[0] == "hold"]
    assert {x[1] for x in held} == {a, b} and all(x[2].startswith("dcluster") for x in held)
    step(c, clock)
    step(c, clock)
    assert sorted(cloud.destroyed) == sorted([a, b])
    assert [x[0] for x in sched.calls if x[1] == a][-2:] == ["hold", "remove"]
    assert a not in keys
    assert tags(events, "dcluster/action/destroy/done")
    # held, removed and destroyed in one cycle: the worker is never seen draining
    assert tags(events, "dcluster/worker/idle") and not tags(events, "dcluster/worker/draining")


def test_failed_polls_delete_nothing_and_cycle_survives(env):
    c, sched, cloud, events, keys, clock = env
    c.ports.pillar = lambda: pillar(max_idle_time=0)
    registered_worker(c, sched, cloud, clock)
    sched.fail = True
    for _ in range(3):
        assert step(c, clock, 100)["ok"]
    assert not [x for x in sched.calls if x[0] in ("hold", "remove")] and not cloud.destroyed
    assert tags(events, "dcluster/poll/failed")
    sched.fail = False
    cloud.list_fails = True
    c.cloud_changed("r1")
    for _ in range(3):
        step(c, clock, 100)
    assert not cloud.destroyed and not [x for x in sched.calls if x[0] == "remove"]
    assert any(e["where"] == "cloud:r1" for e in c.state.errors)


def test_capacity_error_backs_off_and_is_shown(env):
    c, sched, cloud, events, keys, clock = env
    cloud.refuse = InsufficientCapacity("No valid host was found")
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    step(c, clock)
    assert len(cloud.launch_calls) == 1  # resting, not retrying every cycle
    assert c.state.backoff["r1"].kind == "capacity"
    assert "backing off" in c.state.last["plan"]["waiting"][0]["reason"]
    clock.t += 301
    cloud.refuse = None
    step(c, clock)
    assert len(cloud.launch_calls) == 2 and "r1" not in c.state.backoff


def test_invalid_pillar_keeps_the_last_good_config_and_fires(env):
    c, sched, cloud, events, keys, clock = env
    step(c, clock)
    c.ports.pillar = lambda: pillar(max_idel_time=3)
    assert step(c, clock)["ok"]
    assert tags(events, "dcluster/config/invalid")
    assert "max_idel_time" in c.state.errors[-1]["message"]


def test_operator_commands(env):
    c, sched, cloud, events, keys, clock = env
    step(c, clock)
    assert not cmds.run(c, "launch", resource="r1", count=5)["ok"]  # max 4
    assert cmds.run(c, "launch", resource="r1", count=2)["ok"]
    c.wait_idle(5)
    assert not cmds.run(c, "launch", resource="nope")["ok"]
    assert cmds.run(c, "freeze", resource="r1")["message"].startswith("r1: min 2, max 2")
    assert cmds.run(c, "restore", resource="r1")["message"] == "r1: min 0, max 4 (normal)"
    assert cmds.run(c, "auto", enable="false")["auto_mode"] is False
    sched.nodes_["cn01"] = Node("cn01", NodeState.IDLE, cores=8)
    step(c, clock)
    assert not cmds.run(c, "remove", name="cn01")["ok"]  # physical
    assert cmds.run(c, "hold", name="cn01")["ok"]
    assert sched.calls[-1] == ("hold", "cn01", cmds.OPERATOR_HOLD)
    assert not cmds.OPERATOR_HOLD.lower().startswith("dcluster")
    # the real adapters refuse other characters in a hold reason (a hold over salt-api once failed on "(")
    from dcluster.schedulers.validate import HOLD_REASON_RE

    assert HOLD_REASON_RE.match(cmds.OPERATOR_HOLD)
    # the operator's release lifts the operator's hold: forced, since the adapters keep others' holds
    assert cmds.run(c, "release", name="cn01")["ok"]
    assert sched.calls[-1] == ("release", "cn01", "force")
    assert cmds.run(c, "nonsense")["message"].startswith("unknown command")


def test_state_survives_a_restart(env, tmp_path):
    c, sched, cloud, events, keys, clock = env
    step(c, clock)
    cmds.run(c, "drain", resource="r1")
    cmds.run(c, "auto", enable=False)
    c.mark_configured("x", True)
    c2 = Controller(c.ports, state_path=c.state_path, clock=clock, keys=key_pool())
    assert c2.state.limits["r1"].mode == "draining" and c2.state.auto_mode is False and "x" in c2.state.configured
    c2.shutdown()


def test_hooks_run_as_argument_lists_with_their_output_logged(tmp_path):
    calls = []
    lp = Loop(
        tmp_path,
        pillar(
            max_idle_time=0,
            post_vm_destroy_command="/usr/local/bin/gone {0} {1} {2} {3}",
            cluster={"type": "slurm", "config": {"post_remove_node_command": "/usr/local/bin/removed {0} {1}"}},
        ),
    )
    c, sched, cloud, events, clock = lp.c, lp.sched, lp.cloud, lp.events, lp.clock
    c.ports.hook = lambda argv, timeout: calls.append((list(argv), timeout)) or (3, "hook said no")
    try:
        a = registered_worker(c, sched, cloud, clock)
        for _ in range(4):
            step(c, clock)
        assert cloud.destroyed == [a]
        assert (["/usr/local/bin/removed", a, "127.200.0.250"], 120) in calls
        # the instance has no name here: its place stays, empty, so "$4" is still the resource
        assert (["/usr/local/bin/gone", a, "127.200.0.250", "", "r1"], 120) in calls
        hook_events = [d for t, d in events if t == "dcluster/hook/post_vm_destroy_command"]
        assert hook_events and hook_events[0]["rc"] == 3 and "hook said no" in hook_events[0]["output"]
    finally:
        c.shutdown()


def test_run_hook_has_a_timeout_and_never_uses_a_shell(tmp_path):
    from dcluster.controller.ports import run_hook

    rc, out = run_hook(["/bin/sleep", "5"], 1)
    assert rc == -1 and "timed out after 1 s" in out
    # a value with shell syntax stays one literal argument
    marker = tmp_path / "x"
    rc, out = run_hook(["/bin/echo", f"a; touch {marker}"], 5)
    assert rc == 0 and out.strip() == f"a; touch {marker}" and not marker.exists()
    rc, out = run_hook(["/nonexistent/hook"], 5)
    assert rc == -1 and "No such file" in out


def test_a_job_started_between_the_poll_and_the_hold_keeps_its_node(env):
    """Hold, remove and destroy run as one chain: the removal is refused when the scheduler started a
    job on the node meanwhile, so nothing is destroyed; the node stays held until the job ends."""
    c, sched, cloud, events, keys, clock = env
    c.ports.pillar = lambda: pillar(max_idle_time=0)
    a = registered_worker(c, sched, cloud, clock)
    hold = sched.hold

    def racing_hold(name, reason="dcluster"):
        hold(name, reason)  # ...and the scheduler had just started job 2 on it
        n = sched.nodes_[name]
        sched.nodes_[name] = Node(name, NodeState.HELD, cores=n.cores, jobs=("2",), cores_used=4, hold_reason=reason)

    sched.hold = racing_hold
    step(c, clock)
    assert [x[0] for x in sched.calls if x[1] == a][-2:] == ["hold", "remove"]
    assert cloud.destroyed == [] and a in sched.nodes_
    assert tags(events, "dcluster/action/remove/failed") and not tags(events, "dcluster/action/destroy")
    sched.hold = hold
    step(c, clock)
    assert {w.name: w.state.value for w in c.view.workers} == {a: "draining"}  # ours, held, the job runs on
    assert cloud.destroyed == []
    n = sched.nodes_[a]
    sched.nodes_[a] = Node(a, NodeState.HELD, cores=n.cores, hold_reason=n.hold_reason)  # job 2 ended
    step(c, clock)
    step(c, clock)
    assert cloud.destroyed == [a] and a not in sched.nodes_


def test_a_plan_from_a_view_older_than_a_worker_s_last_chain_leaves_it_alone(env):
    """A chain that ended while the view was being observed (a destroy, say) may leave the view showing
    the worker half done; actions planned from it wait for the next view."""
    from dcluster.planner import Kind
    from dcluster.planner.actions import Action, Plan

    c, sched, cloud, events, keys, clock = env
    a = registered_worker(c, sched, cloud, clock)
    workers, cfg = {w.name: w for w in c.view.workers}, c.config
    release = Action(Kind.RELEASE, "r1", "demand came back", target=a)
    c.actuator.perform(cfg, [release], workers[a])  # a chain that ends now, at clock.t
    hold = Plan(actions=(Action(Kind.HOLD, "r1", "dcluster: idle", target=a),))
    assert a in c.actuator.status().acting(clock.t - 0.5)  # what reconcile folds into the view
    assert c.actuator.run(cfg, hold, workers, observed=clock.t - 0.5) == [a]  # its view began before it ended
    assert c.wait_idle(10) and not [x for x in sched.calls if x[:2] == ("hold", a)]
    assert c.actuator.run(cfg, hold, workers, observed=clock.t + 1) == []  # a view observed after that
    assert c.wait_idle(10) and [x for x in sched.calls if x[:2] == ("hold", a)]
    assert a not in c.actuator.status().acting(clock.t + 1)


def test_the_planner_plans_nothing_for_a_worker_being_acted_on(env):
    from dataclasses import replace

    from dcluster.planner import plan

    c, sched, cloud, events, keys, clock = env
    a = registered_worker(c, sched, cloud, clock)
    view, later = c.view, c.view.now + 3600  # idle far past max_idle_time: a plan then holds it
    assert [x.target for x in plan(view, c.config, later).actions if x.target == a]
    out = plan(replace(view, acting=frozenset({a})), c.config, later)
    assert not [x for x in out.actions if x.target == a]
    assert any(a in n and "under way" in n for n in out.notes)


def test_an_operator_command_waits_for_the_chain_under_way(env):
    """One chain per worker, whoever asks: an operator's hold during the loop's chain is refused."""
    import threading

    from dcluster.actuator import Busy
    from dcluster.planner import Kind
    from dcluster.planner.actions import Action, Plan

    c, sched, cloud, events, keys, clock = env
    a = registered_worker(c, sched, cloud, clock)
    step(c, clock)  # a view that shows it idle
    workers = {w.name: w for w in c.view.workers}
    gate, inside = threading.Event(), threading.Event()
    hold = sched.hold

    def slow_hold(name, reason=""):
        inside.set()
        gate.wait(10)
        return hold(name, reason)

    sched.hold = slow_hold
    c.actuator.run(
        c.config, Plan(actions=(Action(Kind.HOLD, "r1", "dcluster: idle", target=a),)), workers, observed=clock.t + 1
    )
    assert inside.wait(10)
    try:
        with pytest.raises(Busy):
            c.actuator.perform(c.config, [Action(Kind.RELEASE, "r1", "x", target=a)], workers[a])
        refused = cmds.run(c, "hold", name=a)
        assert refused["ok"] is False and "under way" in refused["message"]
    finally:
        gate.set()
    assert c.wait_idle(10)


def test_the_status_shows_when_a_backoff_ends_on_the_wall_clock(tmp_path):
    """Backoffs run on the monotonic clock; the runners and the dashboard (``new Date(until * 1000)``)
    need the wall time it ends at."""
    from memory_ports import Clock, key_pool, ports

    lp = Loop(tmp_path, pillar())
    wall = Clock()
    wall.t = 1_800_000_000.0  # the wall clock far from the monotonic one, as on a real master
    c = Controller(
        ports(lp.data, lp.sched, lp.cloud, lp.events, lp.keys),
        state_path=lp.path,
        clock=wall,
        monotonic=lp.clock,
        keys=key_pool(),
    )
    lp.cloud.refuse = InsufficientCapacity("No valid host was found")
    lp.sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    for _ in range(2):
        lp.clock.t += 10
        wall.t += 10
        c.cycle()
        assert c.wait_idle(10)
    shown = c.state.last["resources"]["r1"]["backoff"]
    assert shown["kind"] == "capacity"
    assert wall.t < shown["until"] <= wall.t + 300  # capacity_pause 300 s from the failure
    c.shutdown()
