"""Issue 13's causes, one scripted scenario each (tests/support/chaos/scenarios.py).

Each asserts the promise its cause breaks.  Strict xfail while the cause is there; when a fix
lands its scenario passes (XPASS fails the run) and its mark goes.
"""

import pytest

from tests.support.chaos import scenarios


def _open(reason):
    return pytest.mark.xfail(strict=True, reason=f"issue 13: {reason}")


@pytest.mark.parametrize(
    "name",
    [
        "remove_after_failed_poll",  # fixed: remove refuses on an unknown or stale view (controller/commands.py)
        "sinfo_missing_busy_node",  # fixed by confirming absences (dcluster/absence.py)
        "listing_missing_instance",  # likewise
        "failed_listing_launches_elsewhere",  # the last good listing stays in the view (stale, unknown)
        "launch_created_then_timeout",  # ids of a timed-out create call count until listings tell
        "deleting_not_counted_toward_max",  # every instance counts toward max until gone
        "start_after_failed_poll",  # fixed: a start during an unknown view is deferred to the next good cycle
        "highstate_return_during_restart",  # fixed by the job-cache recheck (issue 12)
        "resource_removed_from_pillar",  # fixed: a dropped resource is retired, drained, destroyed (controller/retired.py)
        "listing_missing_starting_instance",  # what a good listing showed counts until listings agree (controller/listed.py)
        "kill_mid_launch",  # the ids of a create call are saved, as maybe launched, before it runs
        "flip_renames_busy_node",  # a flip that still parses is one observation: confirmed like an absence
        "resource_renamed_in_pillar",  # the old name is retired like a dropped resource
        "removed_before_listed",  # an instance destroyed before it was listed counts until listings agree
        "remove_right_after_register",  # remove refuses after a chain newer than the poll; asks the scheduler now
        "deleting_instance_node_removed",  # an instance the cloud is deleting is never "confirming" (absence.py)
        "node_left_after_its_instance_was_deleted",  # a node whose instance was seen deleting: gone at once
        # red team, stop 30: one wrong answer is no ground for a destroy (planner/policy.py _confirmed, in_error)
        "sinfo_shows_node_powering_up",  # a node not reporting goes as a down one: silent max_down_time, seen so
        "down_since_long_ago_after_failed_poll",  # down time counted from dcluster's own first sight of it
        "listing_shows_instance_in_error",  # ERROR needs a second listing, as DELETING does
        "listing_shows_starting_instance_gone",  # shown terminated once counts as missing (controller/merged.py)
        "first_listing_shows_launch_gone",  # ... also a launch no listing showed alive yet (merged.recent)
    ],
)
def test_scenario_keeps_every_promise(name):
    counters = getattr(scenarios, f"scenario_{name}")()
    assert counters.broken() == {}, counters.broken()


@pytest.mark.parametrize("while_down", [False, True])
def test_clock_step_and_restart_keeps_every_promise(while_down):
    # fixed: when we asked the cloud for each launch is persisted, and a restart puts when something of
    # ours began back at its age at the save (controller/timeline.py, controller/state.py)
    assert scenarios.scenario_clock_step_and_restart(while_down=while_down).broken() == {}


def test_bad_image_stops_after_the_breaker():
    # Both resources boot a bad image.  Each is its own breaker (the other's image may be good), so
    # each makes at most bootstrap_failures (3) instances that never join, then none for hours.
    extra = scenarios.scenario_bad_image_relaunches(hours=6).extra
    assert max(extra["by_resource"].values()) <= 3
    assert extra["launches"] <= 2 * 3
    assert extra["last_launch_s"] < 3600


def test_clock_step_back_does_not_stall_idle_out():
    # max_idle_time 120 s, plus the cycle that holds, removes and destroys
    assert scenarios.scenario_clock_step_back().extra["idle_out_s"] <= 120 + 30


def test_a_secret_rotated_with_previous_secrets_takes_effect_and_orphans_nothing():
    # previous_secrets keeps the worker signed under the old secret ours (drained, destroyed once idle);
    # the worker launched after the change is signed under the new one
    counters = scenarios.scenario_secret_rotated()
    assert counters.extra["launched_after"] >= 1
    assert counters.extra["under_new_secret"] == counters.extra["launched_after"]
    assert counters.broken() == {}


def test_a_secret_changed_without_previous_secrets_still_orphans():
    # What pillar.example warns of: without previous_secrets the running worker is no longer ours.
    assert scenarios.scenario_secret_rotated(previous=False).broken() == {"orphans_left": 1}


def test_a_sibling_batch_s_success_keeps_the_failure_s_backoff():
    # backoff.initial is 30 s: the failed call's resource is not called again before it ends
    counters = scenarios.scenario_sibling_batch_clears_backoff()
    assert counters.extra["relaunch_after_s"] >= 30
    assert counters.broken() == {}


def test_a_highstate_return_lost_in_a_restart_still_registers_the_worker():
    # the job cache is re-read after the restart: the configured worker joins and runs the job,
    # nothing is launched in its place
    extra = scenarios.scenario_highstate_return_during_restart().extra
    assert extra["configured_worker_ran_a_job"] == 1
    assert extra["launches"] == 1
