"""Issue 13's regression tests, run against another tree's ``dcluster`` package (docs/reliability.md).

    .venv/bin/python bench/regressions_on.py --rev 929499a      # export that commit and run on it
    .venv/bin/python bench/regressions_on.py --code DIR         # a tree with dcluster/ and pillar.example
    .venv/bin/python bench/regressions_on.py                    # this tree

This tree's tests (TESTS, one or more per cause) run with ``DIR`` first on the path (``python -P``: not the current directory); pytest's own
``pythonpath = ["."]`` is switched off and ``--import-mode=append`` puts this tree last, so ``import
dcluster`` is the tree under test (checked after the run: it stops if it was not).
Prints, per test, PASS or FAIL and the first line of the failed assertion.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# cause -> the test ids that hold it (the table in docs/reliability.md, "Each cause and its regression test")
SCEN = "tests/chaos/test_scenarios.py::test_scenario_keeps_every_promise"
TESTS = {
    "remove right after a failed scheduler poll": [f"{SCEN}[remove_after_failed_poll]"],
    "one sinfo missing a busy node": [f"{SCEN}[sinfo_missing_busy_node]"],
    "one listing missing an instance vacates its jobs": [f"{SCEN}[listing_missing_instance]"],
    "one listing missing a starting instance": [f"{SCEN}[listing_missing_starting_instance]"],
    "a byte flip that still parses": [f"{SCEN}[flip_renames_busy_node]"],
    "OpenStack lists only Nova's first page": [
        "tests/functional/test_openstack_fake.py::test_listing_follows_every_page_of_servers_already_there"
    ],
    "a failed listing: another resource launches": [f"{SCEN}[failed_listing_launches_elsewhere]"],
    "a launch created then timed out records nothing": [
        f"{SCEN}[launch_created_then_timeout]",
        f"{SCEN}[kill_mid_launch]",
    ],
    "a sibling batch's success clears the backoff": [
        "tests/chaos/test_scenarios.py::test_a_sibling_batch_s_success_keeps_the_failure_s_backoff"
    ],
    "orphans and deleting instances do not count toward max": [
        f"{SCEN}[deleting_not_counted_toward_max]",
        "tests/unit/controller/test_max.py::test_no_launch_above_max_beside_an_orphan_or_a_deleting_instance",
    ],
    "a start event right after a failed poll is refused": [f"{SCEN}[start_after_failed_poll]"],
    "a highstate return during a restart is lost": [
        "tests/chaos/test_scenarios.py::test_a_highstate_return_lost_in_a_restart_still_registers_the_worker"
    ],
    "a backward clock step stalls actions": [
        "tests/chaos/test_scenarios.py::test_clock_step_back_does_not_stall_idle_out"
    ],
    "a resource removed from the pillar": [f"{SCEN}[resource_removed_from_pillar]"],
    "a resource renamed in the pillar": [f"{SCEN}[resource_renamed_in_pillar]"],
    "secret changed (previous_secrets)": [
        "tests/chaos/test_scenarios.py::test_a_secret_rotated_with_previous_secrets_takes_effect_and_orphans_nothing"
    ],
    "cluster_name changed (documented)": [
        "tests/unit/test_pillar_docs.py::"
        "test_pillar_example_warns_that_changing_cluster_name_orphans_and_says_how_to_change_it"
    ],
    "a bad image relaunches forever (breaker)": [
        "tests/chaos/test_scenarios.py::test_bad_image_stops_after_the_breaker"
    ],
}

PLUGIN = """
import os
import sys


def pytest_sessionfinish(session):
    # the dcluster the tests imported, for the runner to check
    with open(os.environ["DCLUSTER_REGRESS_WHICH"], "w") as fh:
        fh.write(getattr(sys.modules.get("dcluster"), "__file__", "") or "")
"""


def export(rev: str, into: str) -> str:
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", rev, "dcluster", "pillar.example"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--code", help="a tree holding dcluster/ (and pillar.example)")
    src.add_argument("--rev", help="a commit of this repository to export and test")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dcluster-regress-") as tmp:
        code = os.path.abspath(args.code) if args.code else export(args.rev, tmp) if args.rev else ROOT
        with open(os.path.join(tmp, "which_dcluster.py"), "w") as fh:
            fh.write(PLUGIN)
        xml = os.path.join(tmp, "junit.xml")
        ids = [t for tests in TESTS.values() for t in tests]
        which = os.path.join(tmp, "which")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([code, tmp]), DCLUSTER_REGRESS_WHICH=which)
        # -P: no current directory on the path (it would put this tree's dcluster first)
        cmd = [
            sys.executable,
            "-P",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "which_dcluster",
            "-o",
            "pythonpath=",
            "--import-mode=append",
            "--tb=short",
            f"--junitxml={xml}",
            *ids,
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        used = open(which).read() if os.path.exists(which) else ""
        want = os.path.join(code, "dcluster", "__init__.py")
        if os.path.realpath(used) != os.path.realpath(want):
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            print(f"not the tree under test: imported {used or 'nothing'} (wanted {want})")
            return 2
        header = f"dcluster under test: {want}" + (f" ({args.rev})" if args.rev else "")
        results = {}
        for case in ET.parse(xml).iter("testcase"):
            path = case.get("classname", "").replace(".", "/") + ".py"
            failed = case.find("failure") if case.find("failure") is not None else case.find("error")
            msg = "" if failed is None else (failed.get("message") or "").splitlines()[0][:150]
            results[f"{path}::{case.get('name')}"] = ("FAIL" if failed is not None else "PASS", msg)
    print(header)
    for cause, tests in TESTS.items():
        for t in tests:
            verdict, msg = results.get(t, ("MISSING", "not collected"))
            print(f"{verdict:7} {cause}: {t.split('::', 1)[1]}" + (f"\n        {msg}" if msg else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
