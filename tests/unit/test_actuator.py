"""The actuator on its own: narrow ports, no controller (issue 13's "one actuator")."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dcluster import config as dconfig
from dcluster.actuator import Actuator, ActuatorPorts, Busy
from dcluster.clouds.base import LaunchResult
from dcluster.clouds.errors import CloudError
from dcluster.keypairs import KeyPair
from dcluster.model import Instance, InstanceState
from dcluster.planner import Action, Kind, Plan

CFG = dconfig.load(
    {
        "secret": "s" * 24,
        "cluster": {"type": "slurm"},
        "cloud": {"r1": {"type": "local", "cores": 4, "launch_batch": 2, "quantity": {"max": 10}}},
    }
)


class Keys:
    def take(self, n):
        return [KeyPair("", f"pub{i}") for i in range(n)]


class Sched:
    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def _do(self, what, name, *rest):
        self.calls.append((what, name))
        if what in self.fail:
            raise RuntimeError(f"{what} {name} refused")

    def hold(self, name, reason=""):
        self._do("hold", name)

    def release(self, name, force=False):
        self._do("release", name)

    def remove(self, name):
        self._do("remove", name)

    def vacate(self, name):
        self._do("vacate", name)


class Driver:
    def __init__(self, error=None):
        self.launched, self.destroyed, self.error = [], [], error

    def launch(self, count, ids, userdata_for):
        self.launched.append(list(ids))
        if self.error:
            return LaunchResult([], count, error=self.error)
        return LaunchResult(
            [
                Instance(id=f"i-{m}", resource="r1", minion_id=m, state=InstanceState.PENDING, launch_time=0.0)
                for m in ids
            ],
            count,
        )

    def destroy(self, ids):
        self.destroyed += list(ids)
        return {i: "ok" for i in ids}


def actuator(sched=None, driver=None, queue=None, **ports):
    events = []
    ports = ActuatorPorts(
        scheduler=lambda cfg: sched or Sched(),
        driver=lambda cfg, res: driver or Driver(),
        keys=Keys(),
        clock=lambda: 100.0,
        monotonic=lambda: 5.0,
        fire=lambda tag, data: events.append(tag),
        **({"submit": queue.append} if queue is not None else {}),
        **ports,
    )
    return Actuator(ports), events


def test_it_imports_neither_the_controller_nor_salt():
    code = (
        "import sys, dcluster.actuator; bad = [m for m in sys.modules if m.startswith(('dcluster.controller', "
        "'dcluster.glue', 'dcluster.sim', 'salt'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_chain_stops_at_its_first_failure():
    sched, drv = Sched(fail={"remove"}), Driver()
    act, events = actuator(sched, drv)
    plan = Plan(
        actions=(
            Action(Kind.HOLD, "r1", "dcluster: idle", target="w"),
            Action(Kind.REMOVE, "r1", "idle", target="w"),
            Action(Kind.DESTROY, "r1", "idle", target="w", instance_id="i-w"),
        )
    )
    act.run(CFG, plan, {}, observed=0.0)
    assert sched.calls == [("hold", "w"), ("remove", "w")] and drv.destroyed == []
    assert "action/remove/failed" in events and "action/destroy/started" not in events
    assert act.records.counters == {"hold": 1, "remove_failed": 1}
    assert act.status().chains == frozenset() and act.status().ended == {"w": 5.0}


def test_one_chain_per_worker_whoever_asks():
    queue = []
    act, _ = actuator(queue=queue)
    act.run(CFG, Plan(actions=(Action(Kind.HOLD, "r1", "dcluster: idle", target="w"),)), {}, observed=0.0)
    assert act.status().chains == {"w"} and act.status().acting(0.0) == {"w"}
    with pytest.raises(Busy):
        act.perform(CFG, [Action(Kind.RELEASE, "r1", "operator", target="w")], None)
    assert act.run(CFG, Plan(actions=(Action(Kind.RELEASE, "r1", "demand", target="w"),)), {}, 0.0) == ["w"]
    queue.pop()()  # the hold's chain ends
    assert act.status().chains == frozenset()
    act.perform(CFG, [Action(Kind.RELEASE, "r1", "operator", target="w", force=True)], None)


def test_launches_are_in_flight_until_the_cloud_answers_and_batched():
    queue, drv = [], Driver()
    act, events = actuator(driver=drv, queue=queue)
    ids = act.launch(CFG, "r1", 5, "three jobs")
    assert len(ids) == 5 and act.status().in_flight == {"r1": 5} and not act.idle()
    assert events.count("action/launch/started") == 3  # batches of launch_batch 2
    for fn in list(queue):
        fn()
    assert [len(b) for b in drv.launched] == [2, 2, 1] and act.idle()
    assert set(act.records.recent_launches) == set(ids) and not act.records.maybe_launched


def test_a_timed_out_create_call_leaves_its_ids_maybe_launched_and_one_backoff():
    drv = Driver(error=CloudError("timed out", kind="transient"))
    act, events = actuator(driver=drv)
    ids = act.launch(CFG, "r1", 4, "jobs")  # two batches of one episode
    assert set(act.records.maybe_launched) == set(ids)
    assert act.records.backoff["r1"].failures == 1  # once per episode, not per batch
    assert events.count("action/launch/failed") == 2
