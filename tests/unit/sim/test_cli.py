"""dcluster-sim and the runner's simulate(): arguments, JSON, plot, errors."""

from __future__ import annotations

import json

import pytest

from dcluster.sim import cli
from dcluster.sim.simulation import settings_from, simulate

REQUIRED = (
    "jobs",
    "jobs_completed",
    "jobs_never_started",
    "node_hours",
    "work_node_hours",
    "mean_wait_s",
    "p95_wait_s",
    "mean_bounded_slowdown",
    "launches",
    "peak_nodes",
)

TRACE = """\
; MaxNodes: 2
; MaxProcs: 2
1 0 -1 600 1 -1 -1 1 600 -1 1 1 1 -1 -1 -1 -1 -1
2 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1
3 60 -1 120 2 -1 -1 2 120 -1 1 1 1 -1 -1 -1 -1 -1
"""


def test_cli_writes_json_and_plot(tmp_path, capsys):
    trace = tmp_path / "three.swf"
    trace.write_text(TRACE)
    out_json, out_png = tmp_path / "m.json", tmp_path / "p.png"
    rc = cli.main(
        [
            str(trace),
            "--policy",
            "static",
            "--max-nodes",
            "2",
            "--boot",
            "120",
            "--idle",
            "60",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
        ]
    )
    assert rc == 0
    data = json.loads(out_json.read_text())
    for key in REQUIRED:
        assert key in data, key
    assert data["jobs"] == 3 and data["policy"] == "static" and data["launches"] == 2
    assert data["mean_wait_s"] == pytest.approx(180)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 5000
    printed = json.loads(capsys.readouterr().out)
    assert printed["node_hours"] == data["node_hours"]


def test_cli_reports_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.swf"
    bad.write_text("1 2 3\n")
    assert cli.main([str(bad)]) == 2
    assert f"{bad}:1: 3 fields, SWF has 18" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "missing.swf")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_progress_bar_draws_to_its_stream():
    import io

    stream = io.StringIO()
    bar = cli.Bar(stream, width=10)
    bar(5, 10)
    bar(10, 10)
    assert "[#####-----]  50.0% 5/10 jobs" in stream.getvalue()
    assert stream.getvalue().endswith("\n") and "[##########] 100.0%" in stream.getvalue()


def test_runner_simulate_bundled_trace_and_string_options():
    out = simulate("hpc2n", limit=150, policy="dcluster", idle="300", boot="120")
    assert out["trace"] == "hpc2n.swf.gz"
    assert out["cores_per_node"] == 2 and out["max_nodes"] == 120  # the bundled trace's machine
    assert out["idle_s"] == 300 and out["boot_s"] == 120.0
    assert out["jobs"] + out["jobs_skipped"] == 150
    assert out["jobs_completed"] + out["jobs_never_started"] == out["jobs"]
    assert out["node_hours"] >= out["work_node_hours"] > 0


def test_runner_rejects_unknown_and_malformed_options():
    with pytest.raises(ValueError, match="unknown option 'idel'"):
        settings_from("kth", {"idel": 5})
    with pytest.raises(ValueError, match="option idle='soon'"):
        settings_from("kth", {"idle": "soon"})


def test_cli_greedy_turns_respect_reservations_off(tmp_path, capsys):
    trace = tmp_path / "three.swf"
    trace.write_text(TRACE)
    assert cli.main([str(trace), "--max-nodes", "2", "--boot", "120"]) == 0
    assert json.loads(capsys.readouterr().out)["respect_reservations"] is True
    assert cli.main([str(trace), "--max-nodes", "2", "--boot", "120", "--greedy"]) == 0
    assert json.loads(capsys.readouterr().out)["respect_reservations"] is False
    assert settings_from(str(trace), {"reservations": "false"}).reservations is False  # the runner's string form


def test_cli_scheduler_cloud_and_slurm_options(tmp_path, capsys):
    trace = tmp_path / "three.swf"
    trace.write_text(TRACE)
    assert (
        cli.main(
            [
                str(trace),
                "--max-nodes",
                "2",
                "--boot",
                "120",
                "--scheduler",
                "slurm",
                "--bf-interval",
                "60",
                "--bf-window",
                "7200",
                "--prio-size",
                "0",
                "--boot-p95",
                "400",
                "--launch-failure-rate",
                "0.5",
                "--capacity-refusal-rate",
                "0.25",
                "--seed",
                "7",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["scheduler"] == "slurm" and out["boot_p95_s"] == 400.0
    assert (out["slurm"]["bf_interval"], out["slurm"]["bf_window"], out["slurm"]["prio_size"]) == (60, 7200, 0)
    assert (out["launch_failure_rate"], out["capacity_refusal_rate"]) == (0.5, 0.25)
    assert out["jobs_completed"] == 3
    assert cli.main([str(trace), "--scheduler", "slurm", "--bf-interval", "0"]) == 2
    assert "slurm bf_interval is 0; it must be at least 1" in capsys.readouterr().err
    assert cli.main([str(trace), "--boot", "120", "--boot-p95", "60"]) == 2
    assert "boot_p95 60.0 is below boot 120.0 (the median)" in capsys.readouterr().err


LONG_ONE_CORE_JOB = """\
; MaxProcs: 16
1 0 -1 3600 1 -1 -1 1 3600 -1 1 1 1 -1 -1 -1 -1 -1
"""


@pytest.mark.parametrize("choice, cores", [("waste", 1), ("priority", 16)])
def test_node_sizes_let_the_planner_choose_and_core_hours_weigh_each_node_by_its_cores(tmp_path, choice, cores):
    trace = tmp_path / "one.swf"
    trace.write_text(LONG_ONE_CORE_JOB)
    out = simulate(str(trace), node_sizes="1,4,16", size_choice=choice, boot=120, max_nodes=2, cores_per_node=8)
    assert out["node_sizes"] == [1, 4, 16] and out["node_size_choice"] == choice
    # a one-core hour-long job: one node, paid from its launch at the submit to the job's end
    assert out["launches"] == 1
    assert out["node_hours"] == pytest.approx(3720 / 3600, abs=0.001)
    assert out["core_hours"] == pytest.approx(cores * 3720 / 3600, abs=0.001)  # priority: the expander's first, c16
    assert out["work_core_hours"] == pytest.approx(1.0)


def test_node_sizes_give_each_size_the_machines_cores():
    s = settings_from("kth", {"node_sizes": "1,4,16"})  # KTH: 100 one-core nodes
    assert (s.cores_per_node, s.max_nodes) == (1, 100)
    assert s.extra_resources == {
        "c4": {"cores": 4, "max": 25, "priority": 1},
        "c16": {"cores": 16, "max": 7, "priority": 1},
    }
    s = settings_from("hpc2n", {"node_sizes": [4, 1]})  # HPC2N: 120 two-core nodes
    assert (s.cores_per_node, s.max_nodes, s.extra_resources["c1"]["max"]) == (4, 60, 240)


@pytest.mark.parametrize("bad", ["1,x", "0,4", "4,4", ""])
def test_node_sizes_that_make_no_sense_are_refused_naming_the_option(bad):
    with pytest.raises(ValueError, match="node_sizes"):
        settings_from("kth", {"node_sizes": bad})
