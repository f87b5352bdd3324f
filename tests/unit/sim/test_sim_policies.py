"""Replays of tiny synthetic traces, with outcomes computed by hand for every policy.

The trace (``THREE``): J1 (1 proc, 600 s) and J2 (1 proc, 300 s) at t=0, J3 (2 procs, 120 s)
at t=60, on at most 2 one-core nodes; boot 120 s, idle timeout 60 s, decisions every 60 s.
Each test spells out the timeline it expects.
"""

from __future__ import annotations

import pytest

from dcluster.sim import metrics
from dcluster.sim.cloud import Faults
from dcluster.sim.replay import Replay, Settings, build_config, jobs_from_swf, replay
from dcluster.sim.swf import parse_line

THREE = """\
; MaxNodes: 2
1 0 -1 600 1 -1 -1 1 600 -1 1 1 1 -1 -1 -1 -1 -1
2 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1
3 60 -1 120 2 -1 -1 2 120 -1 1 1 1 -1 -1 -1 -1 -1
"""


def run(text, **kw):
    records = [r for r in (parse_line(line, "t.swf", i) for i, line in enumerate(text.splitlines(), 1)) if r]
    jobs, skipped = jobs_from_swf(records, kw.get("cores_per_node", 1))
    # the timelines below are the fixed idle timeout's (the adaptive one: test_sim_idle_adaptive.py)
    opts = {"max_nodes": 2, "boot": 120, "idle": 60, "poll": 60, "idle_policy": "fixed", **kw}
    result = replay(jobs, Settings(**opts), skipped)
    return result, metrics.summarise(result), {j.id: j for j in result.jobs}


class EveryCycle(Replay):
    """The reference for the replay's skipped cycles: one that decides at every engine cycle."""

    def _wakes(self, now, seen):
        return now + self.s.poll


def starts(jobs):
    return {jid: j.start for jid, j in jobs.items()}


def test_dcluster_three_jobs():
    # 0 launch 2 (J1, J2); 60 J3 arrives, no headroom: waiting; 120 both register, J1 J2 start;
    # 420 J2 ends, node B idle; 480 B idle 60 s and not wanted (J3 fits nowhere): HOLD, REMOVE
    # and DESTROY at once; 720 J1 ends: J3 fits on A + 1 new node: LAUNCH 1;
    # 840 C registers, J3 starts; 960 done.  (protect_wide_jobs off: see the test below)
    r, m, jobs = run(THREE, policy="dcluster", wide_protection=False)
    assert starts(jobs) == {"1": 120, "2": 120, "3": 840}
    assert m["jobs"] == 3 and m["jobs_completed"] == 3 and m["jobs_never_started"] == 0
    assert m["launches"] == 3 and m["peak_nodes"] == 2
    # A 0-960, B 0-540, C 720-960
    assert m["node_hours"] == pytest.approx((960 + 480 + 240) / 3600, abs=1e-3)
    assert m["work_node_hours"] == pytest.approx((600 + 300 + 240) / 3600, abs=1e-3)
    assert m["mean_wait_s"] == pytest.approx((120 + 120 + 780) / 3)
    assert m["p95_wait_s"] == 780
    assert r.action_counts == {"launch": 2, "register": 3, "hold": 1, "remove": 1, "destroy": 1}


def test_dcluster_three_jobs_keeps_the_node_the_blocked_job_needs():
    # protect_wide_jobs: at 480 B is idle past its timer, but J3 (2 cores) is blocked and the scheduler
    # can reserve for it only on the nodes it has: B stays, J3 starts on A + B when J1 ends at 720.
    r, m, jobs = run(THREE, policy="dcluster")
    assert starts(jobs) == {"1": 120, "2": 120, "3": 720}
    assert m["launches"] == 2 and r.action_counts == {"launch": 1, "register": 2}
    assert m["node_hours"] == pytest.approx(2 * 840 / 3600, abs=1e-3)  # A and B 0-840, no third boot
    # wide_job_idle release: at 120 J3's reserved start (720, J1's wall time) is 600 s
    # away, beyond 2 x 120 s boot + 60 s poll: A and B are held so that neither takes another job; at
    # 420 it is 300 s away, so B, empty, is kept and both are released for J3: the same schedule
    r, m, jobs = run(THREE, policy="dcluster", wide_idle="release")
    assert starts(jobs) == {"1": 120, "2": 120, "3": 720}
    assert r.action_counts == {"launch": 1, "register": 2, "hold": 2, "release": 2}
    assert m["node_hours"] == pytest.approx(2 * 840 / 3600, abs=1e-3)


def test_static_three_jobs():
    # Two nodes up before t=0: J1, J2 start at 0; J3 waits for both: J1 ends at 600.
    r, m, jobs = run(THREE, policy="static")
    assert starts(jobs) == {"1": 0, "2": 0, "3": 600}
    assert m["launches"] == 2 and m["peak_nodes"] == 2
    assert m["node_hours"] == pytest.approx(2 * 720 / 3600, abs=1e-3)
    assert m["mean_wait_s"] == pytest.approx(180)
    assert m["mean_bounded_slowdown"] == pytest.approx((1 + 1 + (540 + 120) / 120) / 3, abs=1e-3)


def test_dc1_three_jobs():
    # 0 launch 2; 60-120 starting: no allocation; 120 register, J1 J2 start; J3 never fits the
    # (max - current) x cores check while 2 nodes exist.  420 B idle; 540 B idle 120 s > 60: HOLD;
    # 600 REMOVE + DESTROY B; 720 J1 ends; 840 A idle > 60: HOLD; 900 A removed; 960 current 0:
    # LAUNCH 2 for J3; 1080 they register, J3 starts.
    r, m, jobs = run(THREE, policy="dc1")
    assert starts(jobs) == {"1": 120, "2": 120, "3": 1080}
    assert m["launches"] == 4
    assert m["node_hours"] == pytest.approx((900 + 600 + 240 + 240) / 3600, abs=1e-3)
    assert m["mean_wait_s"] == pytest.approx((120 + 120 + 1020) / 3)


def test_powersave_three_jobs():
    # 0 J1, J2 allocated to powered-down nodes: resume 2; 120 they register, J1 J2 start;
    # 420 B idle; 480 idle = SuspendTime: suspended at once (REMOVE + DESTROY, no drain);
    # 720 J1 ends: the scheduler allocates J3 to A + one powered-down node: resume 1; 840 J3 starts.
    r, m, jobs = run(THREE, policy="powersave")
    assert starts(jobs) == {"1": 120, "2": 120, "3": 840}
    assert m["launches"] == 3
    assert m["node_hours"] == pytest.approx((960 + 480 + 240) / 3600, abs=1e-3)
    assert "hold" not in r.action_counts


def test_jobs_too_big_never_start_and_the_replay_ends():
    text = THREE + "4 60 -1 100 5 -1 -1 5 100 -1 1 1 1 -1 -1 -1 -1 -1\n"
    for policy in ("dcluster", "static", "dc1", "powersave"):
        _, m, jobs = run(text, policy=policy)
        assert m["jobs_never_started"] == 1, policy
        assert jobs["4"].start is None
        assert m["jobs_completed"] == 3


def test_cores_per_node_packs_processors_onto_nodes():
    # 4-core nodes: J1 (1) + J2 (1) share one node, J3 (2) fits beside them: one launch in all.
    _, m, jobs = run(THREE, policy="dcluster", cores_per_node=4, max_nodes=2)
    assert m["launches"] == 1
    assert starts(jobs) == {"1": 120, "2": 120, "3": 120}
    assert m["work_node_hours"] == pytest.approx((600 + 300 + 240) / 4 / 3600, abs=1e-3)


def test_transient_launch_failure_backs_off_then_retries():
    # The launch at t=0 fails (transient): backoff 60 s (backoff.initial); retried at 60, nodes up at 180.
    faults = Faults(windows=((0, 1, "transient"),))
    r, m, jobs = run(THREE, policy="dcluster", faults=faults)
    assert [(t, kind) for t, _, kind in r.launch_failures] == [(0, "transient")]
    assert r.backoffs == 1
    assert jobs["1"].start == 180 and jobs["2"].start == 180
    assert m["launch_failures"] == 1


def test_capacity_error_falls_back_to_the_next_resource():
    # "sim" has no capacity: the launch fails with a capacity error, the resource rests for
    # capacity_pause and the planner falls back to "spare" (priority 2) in the next cycle.
    r, m, jobs = run(
        THREE, policy="dcluster", faults=Faults(capacity=0), extra_resources={"spare": {"max": 2, "priority": 2}}
    )
    assert {kind for _, res, kind in r.launch_failures} == {"capacity"}
    assert {res for _, res, _ in r.launch_failures} == {"sim"}
    assert m["jobs_completed"] == 3
    assert jobs["1"].start == 60 + 120  # fallback launch at the next cycle, t=60
    assert all("-spare-" in name for j in jobs.values() for name in j.alloc)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="max_nodes is 0"):
        Settings(max_nodes=0).check()
    with pytest.raises(ValueError, match="policy 'nope'"):
        Settings(policy="nope").check()
    with pytest.raises(ValueError, match="fault kind"):
        Faults(windows=((0, 1, "bogus"),))


def test_the_replay_acts_through_the_engine_s_actuator():
    # 120 one-core jobs at once on 120 one-core nodes: the actuator asks the cloud in batches of
    # launch_batch (50), as the engine does: three create calls.  The replay used to ask for all 120
    # in one call.
    trace = "; MaxNodes: 120\n" + "".join(
        f"{i} 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1\n" for i in range(1, 121)
    )
    r, m, jobs = run(trace, policy="dcluster", max_nodes=120)
    assert r.launch_requests == 3 and m["launches"] == 120
    assert m["jobs_completed"] == 120
    assert r.action_counts == {"launch": 1, "register": 120}


def test_a_refused_destroy_stops_its_chain_in_the_replay(monkeypatch):
    # The actuator's chain stops at its first failure: a node the scheduler will not remove is never
    # destroyed (the simulated driver also refuses to delete an instance that is still a node).
    from dcluster.sim import ports
    from dcluster.sim.scheduler import SchedulerError

    def stuck(self, name):
        raise SchedulerError(f"{name}: cannot remove")

    monkeypatch.setattr(ports.SimSchedulerPort, "remove", stuck)
    r, m, jobs = run(THREE, policy="dcluster", wide_protection=False)  # on: B is kept for J3, not removed
    assert r.action_counts.get("destroy", 0) == 0
    assert any("remove" in e and "cannot remove" in e for e in r.action_errors)


def test_backoffs_count_failure_episodes_not_failed_batches():
    # 120 jobs at t=0 on 120 nodes: three launch batches of one plan fail together (transient at t=0),
    # which is one backoff episode, as in the engine.
    trace = "; MaxNodes: 120\n" + "".join(
        f"{i} 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1\n" for i in range(1, 121)
    )
    r, m, jobs = run(trace, policy="dcluster", max_nodes=120, faults=Faults(windows=((0, 1, "transient"),)))
    assert len(r.launch_failures) == 3 and r.backoffs == 1
    assert m["jobs_completed"] == 120


TWO = """\
; MaxNodes: 2
1 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1
2 0 -1 900 1 -1 -1 1 900 -1 1 1 1 -1 -1 -1 -1 -1
"""


@pytest.mark.parametrize("policy", ["dcluster", "powersave"])
def test_an_idle_timer_due_now_is_acted_on_now(policy):
    # idle 0: 0 launch 2; 120 J1, J2 start; 420 J1 ends with nothing queued, node A's timer is
    # due at once (420 is on the 60 s grid): retired at 420.  The replay used to keep only timers
    # strictly after now, so A stayed up until the next event, J2's end at 1020 (A 0-1020).
    r, m, jobs = run(TWO, policy=policy, idle=0)
    assert starts(jobs) == {"1": 120, "2": 120}
    # A at 420; B at 1020, J2's end, the last of the replay's span (its destroy costs nothing)
    assert r.action_counts.get("destroy") == 2
    # A 0-420, B 0-1020
    assert m["node_hours"] == pytest.approx((420 + 1020) / 3600, abs=1e-3)


def test_the_replay_decides_at_the_engine_s_cadence_by_default():
    # The engine plans after every scheduler poll (cluster_poller_interval, 10 s).  J1 at 0 launches
    # a node; J2 arrives at 25: the next cycle, at 30, launches another, which takes J2 at 30 + 120.
    # At the old 60 s cadence that launch waited until t=60.
    text = "1 0 -1 100 1 -1 -1 1 100 -1 1 1 1 -1 -1 -1 -1 -1\n2 25 -1 100 1 -1 -1 1 100 -1 1 1 1 -1 -1 -1 -1 -1\n"
    records = [r for r in (parse_line(line, "t.swf", i) for i, line in enumerate(text.splitlines(), 1)) if r]
    s = Settings(max_nodes=2, boot=120, idle=60)
    assert s.poll == 10 and build_config(s).cluster_poller_interval == 10
    jobs, _ = jobs_from_swf(records)
    result = replay(jobs, s)
    assert {j.id: j.start for j in result.jobs} == {"1": 120, "2": 150}
    assert metrics.summarise(result)["poll_s"] == 10


def test_a_node_registered_idle_is_retired_at_the_next_cycle():
    # idle 0, 3 nodes: J1 (10 s) and J3 (1000 s) at 0 launch A and C; J2 (10 s) at 30 launches B at
    # the 60 s cycle.  120: A, C register, J1 on A, J3 on C; 130: J1 ends, J2 takes A; 140: J2 ends.
    # 180: the cycle registers B and retires A; B, idle from its registration, is retired by the
    # next cycle, 240.  The replay used to weigh B's due timer as seen by the tick that registered
    # it (which planned on the state before), so B stayed up until J3 ended at 1120.
    text = (
        "1 0 -1 10 1 -1 -1 1 10 -1 1 1 1 -1 -1 -1 -1 -1\n"
        "3 0 -1 1000 1 -1 -1 1 1000 -1 1 1 1 -1 -1 -1 -1 -1\n"
        "2 30 -1 10 1 -1 -1 1 10 -1 1 1 1 -1 -1 -1 -1 -1\n"
    )
    r, m, jobs = run(text, policy="dcluster", idle=0, max_nodes=3)
    assert starts(jobs) == {"1": 120, "2": 130, "3": 120}
    # A 0-180, B 60-240, C 0-1120
    assert m["node_hours"] == pytest.approx((180 + 180 + 1120) / 3600, abs=1e-3)


@pytest.mark.parametrize(
    "n, opts",
    [
        (300, {"idle": 0, "boot": 300, "poll": 60}),
        (300, {"idle": 0, "boot": 300, "poll": 60, "wide_protection": False}),
        # the default pillar's policy at the engine's cadence, against each scheduler model
        (80, {"idle": 600, "boot": 120, "poll": 10}),
        (80, {"idle": 600, "boot": 120, "poll": 10, "scheduler": "slurm"}),
        (80, {"idle": 600, "boot": 120, "poll": 10, "wide_idle": "release"}),
        (80, {"idle": 300, "boot": 120, "poll": 10, "delay": 120, "idle_policy": "fixed"}),
        (80, {"idle": 300, "boot": 120, "poll": 10, "policy": "powersave"}),
    ],
)
def test_skipping_ticks_changes_no_result_on_a_kth_slice(n, opts):
    # The replay skips cycles that cannot change anything; on the first n KTH jobs it must pay
    # exactly what a tick at every cycle pays, job by job.  It did not: a node registered idle
    # waited for an unrelated event (3.5 node-h at idle 0); a job that ran between two cycles on a
    # node the policy had seen idle (its view keeps the older idle time); a demand rate that keeps
    # one idle node fewer just after a recheck time; a job whose backfill window closed.
    import itertools

    from dcluster.sim import swf
    from dcluster.sim.simulation import trace_path

    records = list(itertools.islice(swf.read(trace_path("kth")), n))
    out = []
    for cls in (Replay, EveryCycle):
        jobs, skipped = jobs_from_swf(records)
        s = Settings(**{"policy": "dcluster", "max_nodes": 100, **opts})
        r = cls(jobs, s, skipped).run()
        out.append((r.node_seconds, [j.start for j in r.jobs], r.ticks))
    assert out[0][:2] == out[1][:2]
    assert out[0][2] * 4 < out[1][2]  # and it does skip


def test_a_job_passing_its_wall_time_is_a_pass_of_the_easy_scheduler():
    # 5 one-core static nodes.  X (2 cores, asks 100 s, runs 1,000), Y (1 core, asks 200, runs 1,000) and
    # Z start at 0; H (3 cores) waits for them.  The reservation counts a job past its wall time as ending
    # now: once Y passes its wall time too (200), X's and Y's cores make one more than H needs, so J (1
    # core, 100 s) backfills then.  The scheduler used to look again only at the next event or decision
    # tick (J at 1,000 in the replay, at 200 in one that decides every cycle).
    from dcluster.sim.scheduler import SimJob

    def trace():
        spec = [("X", 0, 2, 100, 1000), ("Y", 0, 1, 200, 1000), ("Z", 0, 1, 5000, 5000), ("H", 1, 3, 500, 500)]
        spec.append(("J", 2, 1, 10000, 100))
        jobs = [SimJob(id=i, submit=float(t), cores=c, walltime=float(w), runtime=float(r)) for i, t, c, w, r in spec]
        for k, j in enumerate(jobs):
            j.order = k
        return jobs

    out = []
    for cls in (Replay, EveryCycle):
        r = cls(trace(), Settings(policy="static", max_nodes=5, boot=120, poll=10)).run()
        out.append({j.id: j.start for j in r.jobs})
    assert out[0] == out[1] == {"X": 0, "Y": 0, "Z": 0, "H": 1000, "J": 200}


def test_against_the_slurm_model_the_planner_sees_its_priorities():
    # 2 nodes.  J1 (1 core) at 0 gets a node launched; J2 (2 cores) at 1 has the higher priority (size
    # weight): Slurm starts it first, and squeue shows the engine that priority, so the planner launches
    # J2's second node and holds the first back until both are up (protect_wide_jobs): J2 at 130, J1
    # after it.  The replay used to show every job at priority 0, and the planner served J1 first, by
    # submit time (J1 at 120, J2 at 1,120), which no engine polling this Slurm would do.
    text = "1 0 -1 1000 1 -1 -1 1 1000 -1 1 1 1 -1 -1 -1 -1 -1\n2 1 -1 1000 2 -1 -1 2 1000 -1 1 1 1 -1 -1 -1 -1 -1\n"
    r, m, jobs = run(text, policy="dcluster", scheduler="slurm", max_nodes=2, boot=120, poll=10, idle=60)
    assert starts(jobs) == {"1": 1130, "2": 130}
