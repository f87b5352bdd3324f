"""``salt-run dcluster.status``'s screen, made of a published summary (dcluster.glue.operator_views)."""

from dcluster.glue import operator_views as views

NOW = 1_700_000_000.0


def summary():
    return {
        "engine_age_s": 4.2,
        "engine_stale": False,
        "config_failed": {"w2": "state.apply failed: pkg slurmd"},
        "retired": {"old": {"count": 1, "left": ["w9"], "settings": "memory"}, "junk": "not a dict"},
        "errors": [{"time": NOW - 5, "where": "cloud:r1", "message": "x" * 400}],
        "last": {
            "view": {"now": NOW, "auto_mode": True, "scheduler_ok": True, "job_counts": {"pending": 3}},
            "resources": {
                "r1": {"current": 2, "max": 4, "min": 0, "mode": "normal", "cloud_ok": True, "backoff": None},
                "r2": {
                    "current": 0,
                    "max": 2,
                    "min": 1,
                    "mode": "frozen",
                    "cloud_ok": False,
                    "backoff": {"kind": "quota", "last_error": "quota exceeded"},
                    "bootstrap": {"protected": True, "failures": 3, "last": ["a", "b", "c", "d"], "reason": "no join"},
                },
            },
            "plan": {"actions": [{"kind": "launch", "count": 1, "reason": "3 jobs wait"}], "waiting": [1, 2]},
        },
    }


def test_the_status_screen():
    workers = [
        {"name": "w1", "resource": "r1", "state": "busy", "since": NOW - 3725, "reason": "runs jobs", "jobs": ["7"]},
        {"name": "w2", "resource": "r1", "state": "idle", "since": NOW - 65, "reason": "not yet a node"},
        {"name": "cn1", "resource": None, "state": "physical", "since": None, "reason": "not ours"},
    ]
    out = views.status(summary(), workers)
    assert out["engine"] == {"auto_mode": True, "last_cycle_age_s": 4.2, "stale": False, "scheduler_ok": True}
    assert out["resources"]["r1"] == "2/4 (min 0)"
    r2 = out["resources"]["r2"]
    assert r2.startswith("0/2 (min 1, frozen); backing off (quota): quota exceeded; protected, no launches: 3 in a row")
    assert "(last b, c, d: no join)" in r2 and "salt-run dcluster.restore r2" in r2
    assert r2.endswith("; cloud poll failing")
    assert out["retired"] == [
        "old: retired (settings kept in memory until it is empty); draining and destroying 1 worker(s): w9"
    ]
    assert out["workers"] == {
        "busy": ["w1 [r1] 1h02m: runs jobs (jobs 7)"],
        "idle": ["w2 [r1] 1m05s: configuration failed: state.apply failed: pkg slurmd"],
        "physical": ["cn1 [physical] 0m00s: not ours"],
    }
    assert out["pending"] == {"jobs": 3, "cores": 0, "unplaceable": [], "waiting": 2}
    assert out["planned"] == ["launch 1: 3 jobs wait"]
    assert len(out["recent_errors"]) == 1 and out["recent_errors"][0].endswith("cloud:r1: " + "x" * 300)


def test_ages():
    assert views.age(NOW, NOW - 59) == "0m59s"
    assert views.age(NOW, NOW - 7200) == "2h00m"
    assert views.age(NOW, NOW + 10) == "0m00s"  # a clock step back is no negative age
