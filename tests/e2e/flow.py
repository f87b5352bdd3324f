"""The end-to-end scenarios, run by tests/e2e/test_e2e.py once for Slurm and once for Grid Engine.

One :class:`dcluster.demo.stack.Stack` per scheduler (salt-master with the
dcluster engine and reactors, the scheduler's controller on this host, the
``local`` cloud); its finalizer stops every daemon by PID and removes the
namespaces, the bridge and /etc/hosts lines even when a test fails.  The
resource ``demo`` serves the jobs; ``broken`` (reserved for an account no job
has, so the planner never picks it) boots instances whose user-data never
starts a salt-minion.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

import pytest

from dcluster import model, netns
from dcluster.clouds.local import HOSTS_MARK
from dcluster.demo import metrics
from dcluster.demo.procs import HOSTS
from dcluster.demo.stack import Options, Stack

MAX_IDLE = 15
MAX_LAUNCH = 60
JOB_SECONDS = 8
PREBOOT_LEAD = 20  # fixed, so the launch time is known whatever boots were seen (the default learns it)
BEGIN_IN = 45  # the job with a begin time may start this long after its submission
BROKEN_TEMPLATE = """#!/bin/sh
# An instance whose salt-minion never connects: it is handed its key, then the boot only sleeps.
: <<'DCLUSTER_KEY_EOF'
{{ minion_pem }}DCLUSTER_KEY_EOF
exec sleep 3600
"""


def skip_reason(scheduler: str) -> str | None:
    from dcluster.demo.__main__ import preflight

    return preflight(scheduler)


def make_stack(request, scheduler: str) -> Stack:
    why = skip_reason(scheduler)
    if why:
        pytest.skip(f"end-to-end {scheduler} tests skipped: {why}")
    state_dir = f"/var/tmp/dce2e-{scheduler}"
    os.makedirs(state_dir, exist_ok=True)
    tpl = os.path.join(state_dir, "broken.sh.j2")
    with open(tpl, "w") as fh:
        fh.write(BROKEN_TEMPLATE)
    broken = {
        "priority": 9,
        "reservation": {"account": "nobody"},
        "quantity": {"min": 0, "max": 1},
        "config": {"userdata_file": tpl},
    }
    stack = Stack(
        Options(
            scheduler=scheduler,
            state_dir=state_dir,
            max_idle_time=MAX_IDLE,
            max_launch_time=MAX_LAUNCH,
            preboot_lead=PREBOOT_LEAD,
            extra_resources={"broken": broken},
        )
    )
    request.addfinalizer(stack.stop)  # runs even when start() or a test fails
    stack.start()
    return stack


def wait(stack: Stack, pred, timeout: float, what: str, every: float = 0.5, on_poll=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if on_poll is not None:
            on_poll()
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}\n--- dcluster.status:\n{stack.status_text()}"
    )


def of(stack: Stack, resource: str) -> list[dict]:
    return [r for r in stack.instances() if r["tags"].get(model.TAG_RESOURCE) == resource]


def minion(rec: dict) -> str:
    return rec["tags"][model.TAG_MINION]


def events(stack: Stack, tag: str, **match) -> list[tuple[float, str, dict]]:
    return [e for e in stack.events.matching(tag) if e[1] == tag and all(e[2].get(k) == v for k, v in match.items())]


def worker_story(stack: Stack, name: str) -> list[tuple[float, str, str]]:
    """Every dcluster event about one worker (time, tag, reason or error), and the event listener's last error."""
    story = [
        (round(t, 1), tag, str(data.get("reason") or data.get("error") or ""))
        for t, tag, data in stack.events.matching("dcluster/")
        if name in (data.get("target"), data.get("name"), data.get("minion_id"))
    ]
    return story + [(0.0, "listener error", stack.events.error)]


def assert_gone(stack: Stack, names: set[str]) -> None:
    """Nothing of these workers is left: instance, namespace, key, scheduler node, hosts line."""
    left = {minion(r) for r in stack.instances()} & names
    assert not left, f"instances left: {left}"
    assert not set(stack.accepted_keys()) & names, f"keys left: {set(stack.accepted_keys()) & names}"
    assert not set(stack.scheduler_nodes()) & names, f"scheduler nodes left: {set(stack.scheduler_nodes()) & names}"
    with open(HOSTS) as fh:
        hosts = [ln for ln in fh.read().splitlines() if HOSTS_MARK in ln and any(n in ln for n in names)]
    assert not hosts, hosts


def wait_clean(stack: Stack, names: set[str]) -> None:
    """The scheduler nodes and keys of these (destroyed) workers go: a key goes after the instance."""
    wait(
        stack,
        lambda: not set(stack.scheduler_nodes()) & names and not set(stack.accepted_keys()) & names,
        15,
        "the scheduler and the keys to be clean",
    )


def burst_scales_up_runs_jobs_and_scales_down(stack: Stack) -> dict:
    """Six one-core jobs on two-core workers: exactly three workers, every job runs on one, all go away."""
    asked = time.time()  # before the launch: the instance's own launch time is later, never earlier
    r = stack.salt_run("dcluster.launch", "broken", "count=1")  # for the max_launch_time test, meanwhile
    assert r.get("ok"), r
    stack.broken = (r["minion_ids"][0], asked)
    ids = stack.submit(6, JOB_SECONDS)
    seen: set[str] = set()
    peak = [0]

    def poll():
        recs = of(stack, "demo")
        seen.update(minion(x) for x in recs)
        peak[0] = max(peak[0], len(recs))

    wait(stack, lambda: set(ids) <= set(stack.finished()), 150, "the burst's jobs to finish", on_poll=poll)
    done = stack.finished()
    assert {done[j]["host"] for j in ids} <= seen, "every job ran on one of our workers"
    assert peak[0] == 3 and len(seen) == 3, (peak[0], seen)  # 6 cores of demand, 2 per node, max 3
    wait(stack, lambda: not of(stack, "demo"), MAX_IDLE + 90, "the workers to idle out and be destroyed", on_poll=poll)
    wait_clean(stack, seen)
    assert len(seen) == 3, seen
    assert_gone(stack, seen)
    assert not [r for r in stack.instances() if netns.exists(r["namespace"]) and minion(r) in seen]
    # A worker leaves the cloud's listing and loses its key inside the destroy action, before that
    # action returns and fires destroy/done (a CI run checked in between): give the events time.
    with contextlib.suppress(AssertionError):  # the check below names the worker and its events
        wait(
            stack,
            lambda: all(events(stack, "dcluster/action/destroy/done", target=n) for n in seen),
            30,
            "every worker's destroy/done event",
        )
    for name in seen:  # each went idle -> held (ours) -> removed -> destroyed, in that order
        held = events(stack, "dcluster/action/hold/done", target=name)
        removed = events(stack, "dcluster/action/remove/done", target=name)
        destroyed = events(stack, "dcluster/action/destroy/done", target=name)
        assert held and removed and destroyed, (name, worker_story(stack, name))
        assert held[0][0] <= removed[0][0] <= destroyed[0][0]
    m = metrics.compute(stack.events.events, {j: stack.submitted[j] for j in ids}, done)
    record(stack, "burst", m)
    # Which worker runs which job is the scheduler's choice: a worker that registers after the
    # others have worked through the 8 s jobs may get none (seen on a loaded 2-core machine), and
    # is then retired idle like the rest.  dcluster's part, 3 launches for 6 cores, is checked above.
    assert m["jobs_run"] == 6 and 2 <= m["workers_with_jobs"] <= 3, m
    return m


def never_connecting_instance_is_destroyed(stack: Stack) -> None:
    name, launched = stack.broken
    # destroyed by the engine (its event), and gone from the cloud
    wait(
        stack,
        lambda: (
            not [r for r in of(stack, "broken") if minion(r) == name]
            and events(stack, "dcluster/action/destroy/done", target=name)
        ),
        max(5.0, launched + MAX_LAUNCH + 40 - time.time()),
        "the instance that never connected to be destroyed",
    )
    destroyed = events(stack, "dcluster/action/destroy/done", target=name)
    age = destroyed[0][0] - launched
    assert MAX_LAUNCH <= age <= MAX_LAUNCH + 30, f"destroyed {age:.0f} s after launch (max_launch_time {MAX_LAUNCH})"
    assert name not in stack.accepted_keys()  # its pre-accepted key went with it
    assert_gone(stack, {name})


def master_restart_mid_scale_up(stack: Stack) -> None:
    """Stop the salt-master right after it asked for workers; restart it: no orphan, no duplicate, all jobs run."""
    t0 = time.time()
    ids = stack.submit(4, JOB_SECONDS)  # 4 cores: two workers
    seen: set[str] = set()
    live_peak = [0]

    def poll():
        recs = [r for r in of(stack, "demo") if netns.exists(r["namespace"])]
        seen.update(minion(x) for x in of(stack, "demo"))
        live_peak[0] = max(live_peak[0], len(recs))

    wait(
        stack,
        lambda: [e for e in events(stack, "dcluster/action/launch/started") if e[0] >= t0],
        30,
        "a launch request",
        every=0.1,
        on_poll=poll,
    )
    time.sleep(0.5)
    stack.stop_master()
    stopped = time.time()
    for _ in range(6):
        poll()
        time.sleep(0.5)
    stack.start_master()
    wait(stack, lambda: set(ids) <= set(stack.finished()), 180, "every job after the restart", on_poll=poll)
    # Four one-core jobs on two-core workers: never more than two workers (no duplicate launch).  Fewer
    # is right too: the first poll may see only the first qsub's job (one node), and the restart may cut
    # the next launch short before its create call; its ids then count as a launch of unknown outcome
    # until listings agree it never happened, and the first worker can run all four jobs meanwhile.
    assert 1 <= live_peak[0] <= 2 and 1 <= len(seen) <= 2, f"expected one or two workers, saw {seen}"
    wait(stack, lambda: not of(stack, "demo"), MAX_IDLE + 90, "scale-down after the restart", on_poll=poll)
    wait_clean(stack, seen)
    assert_gone(stack, seen)
    assert not stack.instances(), f"orphans: {stack.instances()}"
    record(stack, "restart", {"stopped_at": stopped, "workers": sorted(seen)})


def begin_time_job_gets_its_worker_just_ahead(stack: Stack) -> dict:
    """A job that may start only BEGIN_IN s after its submission (sbatch --begin, qsub -a): its worker is
    launched when that time is PREBOOT_LEAD away, not at submission nor at the begin time, and runs it."""
    t0 = time.time()
    begin = float(int(t0) + BEGIN_IN)  # whole seconds: what --begin and -a take
    (jid,) = stack.submit(1, 2, begin=begin)  # a short job: what is measured is when it may start
    seen: set[str] = set()

    def poll():
        seen.update(minion(x) for x in of(stack, "demo"))

    wait(stack, lambda: jid in stack.finished(), BEGIN_IN + 150, "the job with a begin time to finish", on_poll=poll)
    launched = [e[0] for e in events(stack, "dcluster/action/launch/started", resource="demo") if e[0] >= t0]
    assert launched, "no launch for the job with a begin time"
    ahead = begin - launched[0]
    # Planned once begin - now <= the lead, so never sooner; on an idle machine a poll (1 s) and the
    # event's delivery later (29-30 s ahead), on a loaded one later still: what must hold is that it is
    # before the begin time (without pre-boot it is at or after it).
    assert 0 < ahead <= PREBOOT_LEAD + 1, f"launched {ahead:.1f} s before its begin time"
    done = stack.finished()[jid]
    assert done["host"] in seen and done["start"] >= begin - 1, (done, begin, seen)
    usable = [e[0] for n in seen for tag in ("idle", "busy") for e in events(stack, f"dcluster/worker/{tag}", name=n)]
    wait(stack, lambda: not of(stack, "demo"), MAX_IDLE + 90, "its worker to idle out and be destroyed", on_poll=poll)
    wait_clean(stack, seen)
    assert_gone(stack, seen)
    m = {
        "launched_before_begin_s": ahead,
        "usable_before_begin_s": begin - min(usable) if usable else None,
        "job_started_after_begin_s": done["start"] - begin,
        "workers": sorted(seen),
    }
    record(stack, "preboot", m)
    return m


def record(stack: Stack, name: str, data: dict) -> None:
    path = os.path.join(stack.dir, f"e2e-{name}.json")
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1, default=str)
