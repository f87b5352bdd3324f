"""The dry-run's reasons (issue 16): each is the one the planner wrote while deciding, per job and per worker.

Every case builds the planner situation that produces a reason and checks both the decision
(launches, actions) and the code the dry-run reports, so a reason that drifts from what the
planner does fails here.
"""

from dataclasses import replace

import pytest
from builders import NOW, config, inst, job, node, view, wid, worker

from dcluster.model import JobState, NodeState
from dcluster.planner import Kind, plan
from dcluster.planner import explain as ex
from dcluster.planner.backoff import fingerprint as fp
from dcluster.planner.backoff import never_joined
from dcluster.reconcile import BackoffState, Limits


def jobs_of(p, v):
    return {r["job"]: (r["reason"], r["why"]) for r in ex.job_reasons(p, v)}


def workers_of(p, v):
    return {r["worker"]: (r["reason"], r["why"], r["actions"]) for r in ex.worker_reasons(p, v)}


def busy(name, resource="r1", jobs=("run",)):
    return worker(name, resource, state=NodeState.BUSY, used=4, jobs=jobs)


def at(cfg, pairs, jobs=(), **kw):
    """A view of (node, instance) pairs of r1 and ``jobs``."""
    nodes = [n for n, _ in pairs]
    insts = {r: [] for r in cfg.resources}
    for _, i in pairs:
        insts[i.resource].append(i)
    return view(cfg, nodes, insts, jobs=jobs, **kw)


# ----------------------------------------------------------------- pending jobs
def test_a_job_on_a_new_node_names_the_resource_launched():
    cfg = config()
    v = at(cfg, [], [job(1, cores=4)])
    p = plan(v, cfg)
    assert p.launches() == {"r1": 1}
    assert jobs_of(p, v)["1"] == (ex.LAUNCH, "r1: on new node(s) this plan launches")


def test_a_job_that_fits_an_idle_worker_names_it_and_launches_nothing():
    cfg = config()
    a = wid()
    v = at(cfg, [worker(a, since=NOW - 10)], [job(1, cores=2)])
    p = plan(v, cfg)
    assert p.actions == ()
    code, why = jobs_of(p, v)["1"]
    assert code == ex.EXISTING and a in why
    assert workers_of(p, v)[a][0] == ex.WANTED


@pytest.mark.parametrize("in_flight", [False, True])
def test_a_job_waits_for_a_node_already_booting(in_flight):
    cfg = config()
    a = wid()
    if in_flight:
        v = view(cfg, jobs=[job(1, cores=4)], in_flight={"r1": 1})
    else:
        v = view(cfg, [], {"r1": [inst(a, age=30)]}, jobs=[job(1, cores=4)])
    p = plan(v, cfg)
    assert p.launches() == {}
    code, why = jobs_of(p, v)["1"]
    assert code == ex.BOOTING and ("a launch under way" if in_flight else a) in why
    if not in_flight:
        wcode, wwhy, _ = workers_of(p, v)[a]
        assert wcode == ex.BOOTING and "launched 30 s ago" in wwhy and "1170 s more" in wwhy


def test_a_job_that_releases_a_draining_worker_says_so():
    cfg = config()
    a = wid()
    v = at(cfg, [worker(a, state=NodeState.HELD, reason="dcluster: idle 700 s")], [job(1, cores=4)])
    p = plan(v, cfg)
    assert [x.kind for x in p.actions] == [Kind.RELEASE]
    assert jobs_of(p, v)["1"][0] == ex.RELEASE and workers_of(p, v)[a][0] == "release"


def test_at_max_names_the_max():
    cfg = config({"r1": {"quantity": {"min": 0, "max": 1}}})
    v = at(cfg, [busy(wid())], [job(1, cores=4)])
    p = plan(v, cfg)
    assert p.launches() == {}
    assert jobs_of(p, v)["1"] == (ex.AT_MAX, "r1 at max (1)")


def test_backoff_says_for_how_long_more():
    cfg = config()
    v = at(cfg, [], [job(1, cores=4)], backoff={"r1": BackoffState(2, NOW + 240, "quota", "quota exceeded")})
    p = plan(v, cfg)
    assert p.launches() == {}
    code, why = jobs_of(p, v)["1"]
    assert code == ex.BACKOFF and "quota error for 240 s more: quota exceeded" in why


def test_frozen_and_drained_resources():
    cfg = config()
    frozen = at(cfg, [busy(wid())], [job(1, cores=4)], limits={"r1": Limits(1, 1, "frozen")})
    p = plan(frozen, cfg)
    assert p.launches() == {}
    code, why = jobs_of(p, frozen)["1"]
    assert code == ex.FROZEN and "frozen at 1 node(s)" in why and "dcluster.restore r1" in why
    drained = at(cfg, [], [job(1, cores=4)], limits={"r1": Limits(0, 0, "draining")})
    p = plan(drained, cfg)
    assert p.launches() == {} and jobs_of(p, drained)["1"][0] == ex.DRAINED


def test_the_code_is_the_best_resources_and_the_text_names_each():
    cfg = config({"a": {"priority": 1}, "b": {"priority": 2, "quantity": {"min": 0, "max": 1}}})
    v = at(
        cfg,
        [busy(wid("b"), "b")],
        [job(1, cores=4)],
        backoff={"a": BackoffState(1, NOW + 60, "capacity", "no valid host")},
    )
    p = plan(v, cfg)
    code, why = jobs_of(p, v)["1"]
    assert p.launches() == {}
    assert code == ex.BACKOFF and why.startswith("a backing off") and "b at max (1)" in why


@pytest.mark.parametrize(
    "kw, part",
    [
        ({"queue": "other"}, "queue other"),
        ({"account": "acct9"}, "account acct9"),
        ({"props": ("gpu",)}, "properties gpu"),
    ],
)
def test_a_reservation_mismatch_names_what_the_job_asks_for(kw, part):
    cfg = config({"r1": {"reservation": {"queue": "q1", "account": "acct1", "property": "big"}}})
    v = at(cfg, [], [job(1, **kw)])
    p = plan(v, cfg)
    code, why = jobs_of(p, v)["1"]
    assert p.launches() == {} and code == ex.RESERVATION and part in why


def test_a_shape_no_node_can_hold():
    cfg = config({"r1": {"cores": 4, "mem_mb": 8000}})
    v = at(cfg, [], [job(1, cores=8), job(2, cores=2, mem=16000)])
    p = plan(v, cfg)
    why = jobs_of(p, v)
    assert p.launches() == {} and why["1"][0] == why["2"][0] == ex.SHAPE
    assert "needs 8 cores" in why["1"][1] and "16000 MB" in why["2"][1]


def test_scale_up_delay_and_protected():
    cfg = config(scale_up_delay=120)
    v = at(cfg, [], [job(1, cores=4, submit=NOW - 10)])
    p = plan(v, cfg)
    assert p.launches() == {} and jobs_of(p, v)["1"][0] == ex.SCALE_UP_DELAY
    cfg = config()
    state = None
    for k in range(3):
        state = never_joined(state, wid(n=k), NOW - 5000, "never joined", fp(cfg.resources["r1"]))
    v = at(cfg, [], [job(1, cores=4)], bootstrap={"r1": state})
    p = plan(v, cfg)
    assert p.launches() == {} and jobs_of(p, v)["1"][0] == ex.PROTECTED


def test_a_job_behind_the_head_jobs_reservation():
    """Max 2 one-core nodes: A busy until NOW+900, B idle; the head job needs both, so the scheduler keeps
    B for it and will not start a long job there (once B is retired, with protect_wide_jobs off)."""
    cfg = config({"r1": {"cores": 1, "quantity": {"min": 0, "max": 2}}}, max_idle_time=0, protect_wide_jobs=False)
    a, b = wid(n=1), wid(n=2)
    running = replace(job("run", state=JobState.RUNNING), nodes=(a,), start_time=NOW - 100, walltime_s=1000)
    pending = [replace(job("head", chunks=2), walltime_s=100), replace(job("long", submit=1.0), walltime_s=5000)]
    v = at(
        cfg,
        [worker(a, state=NodeState.BUSY, cores=1, used=1, jobs=("run",)), worker(b, cores=1, since=NOW - 5000)],
        [running, *pending],
    )
    p = plan(v, cfg)
    why = jobs_of(p, v)
    assert why["head"][0] == ex.AT_MAX
    assert why["long"] == (ex.BEHIND_RESERVATION, "behind job head, for which the scheduler reserves the free cores")
    assert [x.kind for x in p.actions if x.target == b] == [Kind.HOLD, Kind.REMOVE, Kind.DESTROY]


def test_jobs_outside_queue_to_monitor_are_no_demand():
    cfg = config(cluster={"type": "slurm", "config": {"queue_to_monitor": ["work"]}})
    v = at(cfg, [], [job(1, cores=4, queue="work"), job(2, cores=4, queue="debug")])
    p = plan(v, cfg)
    assert p.launches() == {"r1": 1}
    rows = {r["job"]: r["reason"] for r in ex.job_reasons(p, v, ("work",))}
    assert rows == {"1": ex.LAUNCH, "2": ex.NOT_MONITORED}


# ----------------------------------------------------------------- workers
def test_why_each_worker_is_kept_or_retired():
    cfg = config({"r1": {"quantity": {"min": 1, "max": 10}}}, max_idle_time=600)
    young, old1, old2, b, held = (wid(n=k) for k in range(5))
    pairs = [
        worker(young, since=NOW - 100),
        worker(old1, since=NOW - 5000),
        worker(old2, since=NOW - 4000),
        busy(b),
        worker(held, state=NodeState.HELD, reason="maintenance"),
    ]
    v = at(cfg, pairs)
    p = plan(v, cfg)
    why = workers_of(p, v)
    assert why[young][:2] == (ex.IDLE_TIME, "idle 100 s, within max_idle_time (600 s): 500 s more")
    # min 1: the busy worker and the young idle one count, so both old ones go, the longest idle first
    assert why[old1][0] == "hold" and why[old1][2] == ["hold", "remove", "destroy"]
    assert "idle 5000 s" in why[old1][1]
    assert why[b][:2] == (ex.BUSY, "runs job(s) run")
    assert why[held][0] == ex.HELD and "maintenance" in why[held][1]
    assert [a.target for a in p.of(Kind.HOLD)] == [old1, old2]


def test_an_idle_worker_kept_for_min():
    cfg = config({"r1": {"quantity": {"min": 1, "max": 10}}}, max_idle_time=0)
    a = wid()
    v = at(cfg, [worker(a, since=NOW - 5000)])
    p = plan(v, cfg)
    assert p.actions == ()
    code, why, _ = workers_of(p, v)[a]
    assert code == ex.MIN and "min (1)" in why


def test_auto_mode_off_shows_what_it_would_do_and_still_runs_safety():
    cfg = config(max_idle_time=0)
    idle, orphan = wid(n=1), wid(n=2)
    v = None
    for ago in (60, 30, 0):  # the orphan's absence from the scheduler confirmed across polls
        v = view(
            cfg,
            [node(idle, since=NOW - 5000)],
            {"r1": [inst(idle), inst(orphan, age=99999)]},
            jobs=[job(1, cores=4), job(2, cores=4)],
            now=NOW - ago,
            previous=v,
            auto_mode=False,
        )
    p = plan(v, cfg)
    assert [(x.kind, x.target) for x in p.actions] == [(Kind.DESTROY, orphan)]  # leak prevention only
    assert p.launches() == {} and [x.kind for x in p.suppressed] == [Kind.LAUNCH]
    why = jobs_of(p, v)
    assert why["1"][0] == ex.EXISTING  # it fits the idle worker: no auto mode needed for that
    assert why["2"][0] == ex.AUTO_OFF and "with it on: r1: on new node(s)" in why["2"][1]
    assert workers_of(p, v)[orphan][0] == "destroy"
    out = ex.dry_run(p, v)
    assert out["not_done_total"] == 1 and out["actions_total"] == 1
    assert out["summary"]["jobs"] == {ex.EXISTING: 1, ex.AUTO_OFF: 1}


def test_auto_mode_off_names_the_retirement_it_does_not_do():
    cfg = config(max_idle_time=0)
    a = wid()
    v = at(cfg, [worker(a, since=NOW - 5000)], auto_mode=False)
    p = plan(v, cfg)
    assert p.actions == ()
    code, why, _ = workers_of(p, v)[a]
    assert code == ex.AUTO_OFF and why.startswith("auto mode is off; with it on: hold + remove + destroy")


def test_a_worker_under_an_action_chain_is_left_to_the_next_cycle():
    cfg = config(max_idle_time=0)
    a = wid()
    v = at(cfg, [worker(a, since=NOW - 5000)], acting=frozenset({a}))
    p = plan(v, cfg)
    assert p.actions == () and workers_of(p, v)[a][0] == ex.ACTING


def test_a_failed_scheduler_poll_plans_nothing_and_says_so():
    cfg = config()
    a = wid()
    v = at(cfg, [worker(a)], [job(1)])
    v = replace(v, scheduler_ok=False)
    p = plan(v, cfg)
    assert p.actions == ()
    assert {r["reason"] for r in ex.job_reasons(p, v)} == {ex.NO_PLAN}
    assert workers_of(p, v)[a][0] == ex.NO_PLAN


# ----------------------------------------------------------------- the answer: bounded, counted, filtered
def test_the_dry_run_pages_counts_and_filters():
    cfg = config({"r1": {"quantity": {"min": 0, "max": 2}}})
    v = at(cfg, [], [job(k, cores=4, submit=float(k)) for k in range(10)] + [job("big", cores=64)])
    p = plan(v, cfg)
    out = ex.dry_run(p, v, offset=0, limit=3)
    assert out["summary"]["jobs"] == {ex.AT_MAX: 8, ex.LAUNCH: 2, ex.SHAPE: 1}
    assert out["jobs"]["total"] == 11 and len(out["jobs"]["rows"]) == 3
    assert [r["job"] for r in out["jobs"]["rows"]] == ["0", "1", "2"]
    page = ex.dry_run(p, v, offset=2, limit=3, reason=ex.AT_MAX)["jobs"]
    assert page["total"] == 8 and [r["job"] for r in page["rows"]] == ["4", "5", "6"]
    one = ex.dry_run(p, v, job="big")["jobs"]
    assert one["total"] == 1 and one["rows"][0]["reason"] == ex.SHAPE
    assert [a["kind"] for a in out["actions"]] == ["launch"] and out["actions"][0]["count"] == 2


def test_every_code_the_planner_files_is_a_known_one():
    cfg = config(scale_up_delay=5)
    v = at(cfg, [], [job(1, cores=4), job(2, cores=99), job(3, queue="x", props=("y",))])
    p = plan(v, cfg)
    assert set(p.codes.values()) <= ex.CODES


def test_auto_mode_off_stops_exactly_scale_up_and_scale_down():
    """What README and pillar.example say auto_mode False stops, and what it still runs, on one view."""
    from dcluster.model import InstanceState

    cfg = config(
        {"r1": {}, "r2": {"quantity": {"min": 2, "max": 10}, "reservation": {"property": "gpu"}}}, max_idle_time=0
    )
    orphan, joined, broken, idle, drained = (wid(n=k) for k in range(5))
    nodes = [node(idle, since=NOW - 5000), node(drained, NodeState.HELD, reason="dcluster: idle 700 s")]

    def insts():  # each poll's listing is new snapshots (one that says ERROR is confirmed by the next)
        return {
            "r1": [
                inst(orphan, age=99999),
                inst(joined, age=100),
                inst(broken, state=InstanceState.ERROR),
                inst(idle),
                inst(drained),
            ],
            "r2": [],
        }

    def planned(auto):
        v = None
        for ago in (60, 30, 0):  # absences confirmed across polls, as reconcile needs
            v = view(
                cfg,
                nodes,
                insts(),
                jobs=[job("gpu", cores=4, props=("gpu",))],
                now=NOW - ago,
                previous=v,
                configured={joined},
                auto_mode=auto,
            )
        return plan(v, cfg)

    on, off = planned(True), planned(False)
    still = [(a.kind, a.target) for a in off.actions]
    assert still == [(Kind.DESTROY, orphan), (Kind.REGISTER, joined), (Kind.DESTROY, broken)]
    stopped = [(a.kind, a.target or a.resource) for a in off.suppressed]
    assert stopped == [
        (Kind.LAUNCH, "r2"),
        (Kind.LAUNCH, "r2"),  # for the job, then the top-up to min
        (Kind.REMOVE, drained),
        (Kind.DESTROY, drained),
        (Kind.HOLD, idle),
        (Kind.REMOVE, idle),
        (Kind.DESTROY, idle),
    ]
    assert list(on.actions) == list(off.actions) + list(off.suppressed)  # the same decisions, set aside
