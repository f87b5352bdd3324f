"""``--sweep``: every policy over the idle timeouts, a frontier PNG and a markdown table."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from dcluster.sim import cli, sweep

ROOT = pathlib.Path(__file__).resolve().parents[3]  # the worktree, whose dcluster/ the subprocess imports

TRACE = """\
; MaxProcs: 2
1 0 -1 600 1 -1 -1 1 600 -1 1 1 1 -1 -1 -1 -1 -1
2 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1
3 60 -1 120 2 -1 -1 2 120 -1 1 1 1 -1 -1 -1 -1 -1
4 2000 -1 120 1 -1 -1 1 120 -1 1 1 1 -1 -1 -1 -1 -1
"""


def test_sweep_writes_a_png_and_a_table_with_every_policy(tmp_path):
    trace = tmp_path / "t.swf"
    trace.write_text(TRACE)
    out = sweep.sweep(str(trace), idles=(0, 600), out_dir=str(tmp_path / "o"), max_nodes=2, boot=120)
    assert [(r["policy"], r["idle_s"]) for r in out["rows"]] == [
        ("dcluster", 0),
        ("dcluster", 600),
        ("powersave", 0),
        ("powersave", 600),
        ("static", None),
    ]
    png = (tmp_path / "o" / "sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    table = (tmp_path / "o" / "sweep.md").read_text()
    assert table == out["markdown"]
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| policy | idle s | node-hours | oracle node-h | / oracle | mean wait s | p50 | p95 |")
    assert len(lines) == 6 and lines[-1].startswith("| static | - |")
    # Idle 0 pays less for node-hours than idle 600, which keeps node A up between job 3 and job 4.
    r0, r600 = out["rows"][0], out["rows"][1]
    assert r0["node_hours"] < r600["node_hours"]


def test_frontier_drops_points_beaten_on_both_axes():
    a, b, c = (
        {"node_hours": 1, "mean_wait_s": 9},
        {"node_hours": 2, "mean_wait_s": 5},
        {"node_hours": 3, "mean_wait_s": 6},
    )
    assert sweep.frontier([c, b, a]) == [a, b]
    rows = [
        dict(
            p,
            policy="x",
            idle_s=i,
            oracle_node_hours=1,
            over_oracle=1,
            p50_wait_s=0,
            p95_wait_s=0,
            max_wait_s=0,
            wide_mean_wait_s=0,
            wide_max_wait_s=0,
            launches=0,
            launch_failures=0,
        )
        for i, p in enumerate((a, b, c))
    ]
    marks = [line.rstrip().endswith("| * |") for line in sweep.markdown(rows).splitlines()[2:]]
    assert marks == [True, True, False]


def test_sweep_refuses_what_it_varies_and_bad_idles(tmp_path, capsys):
    with pytest.raises(ValueError, match="option 'idle' is what a sweep varies"):
        sweep.sweep("kth", idle=60)
    assert cli.main(["kth", "--sweep", "--idles", "soon"]) == 2
    assert "--idles 'soon' is not a comma-separated list of seconds" in capsys.readouterr().err


def test_python_m_dcluster_sim_sweeps(tmp_path):
    trace = tmp_path / "t.swf"
    trace.write_text(TRACE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcluster.sim",
            str(trace),
            "--sweep",
            "--idles",
            "60",
            "--max-nodes",
            "2",
            "--boot",
            "120",
            "--scheduler",
            "slurm",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "scheduler slurm, boot 120 s" in done.stdout
    assert (tmp_path / "sweep.png").exists() and (tmp_path / "sweep.md").exists()
