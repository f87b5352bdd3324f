"""The replay's report: wait percentiles, wide-job waits and the oracle, computed by hand."""

from __future__ import annotations

import pytest

from dcluster.sim import metrics
from dcluster.sim.replay import Settings, jobs_from_swf, replay
from dcluster.sim.scheduler import SimJob
from dcluster.sim.simulation import machine_cores, simulate
from dcluster.sim.swf import parse_line

THREE = """\
1 0 -1 600 1 -1 -1 1 600 -1 1 1 1 -1 -1 -1 -1 -1
2 0 -1 300 1 -1 -1 1 300 -1 1 1 1 -1 -1 -1 -1 -1
3 60 -1 120 2 -1 -1 2 120 -1 1 1 1 -1 -1 -1 -1 -1
"""


def run(text, machine=None, **kw):
    records = [r for r in (parse_line(line, "t.swf", i) for i, line in enumerate(text.splitlines(), 1)) if r]
    jobs, skipped = jobs_from_swf(records, kw.get("cores_per_node", 1))
    opts = {"max_nodes": 2, "boot": 120, "idle": 60, "poll": 60, **kw}
    return metrics.summarise(replay(jobs, Settings(**opts), skipped), machine)


def job(start, end, *nodes):
    return SimJob(
        id="j",
        submit=0.0,
        cores=len(nodes),
        runtime=end - start,
        walltime=end - start,
        start=start,
        end=end,
        alloc={n: 1 for n in nodes},
    )


def test_oracle_is_each_node_s_union_of_run_intervals_clipped_to_the_span():
    jobs = [
        job(0, 100, "a"),
        job(50, 150, "a", "b"),
        job(200, 300, "a"),
        job(290, 400, "b"),
        SimJob(id="never", submit=0.0, cores=1, runtime=5, walltime=5),
    ]
    # a: [0,150) + [200,300) = 250; b: [50,150) + [290,350) clipped at 350 = 160
    assert metrics.oracle_node_seconds(jobs, 0, 350) == pytest.approx(250 + 160)
    assert metrics.oracle_node_seconds(jobs, 60, 350) == pytest.approx(90 + 100 + 90 + 60)


def test_report_of_three_jobs():
    # dcluster on THREE (see test_sim_policies): J1 J2 start at 120 on A and B, J3 at 840 on A + C.
    # Waits 120, 120, 780.  Oracle: A 120-720 + 840-960, B 120-420, C 840-960 = 1140 s, the work.
    m = run(THREE, machine=8, wide_protection=False)  # the schedule of test_dcluster_three_jobs
    assert m["p50_wait_s"] == 120 and m["p95_wait_s"] == 780 and m["max_wait_s"] == 780
    assert m["oracle_node_hours"] == pytest.approx(1140 / 3600, abs=1e-3) == m["work_node_hours"]
    assert m["over_oracle"] == pytest.approx((960 + 480 + 240) / 1140, abs=1e-3)
    # A quarter of 8 cores: J3 (2 cores) is the only wide job.
    assert (m["machine_cores"], m["wide_min_cores"], m["wide_jobs"]) == (8, 2, 1)
    assert m["wide_mean_wait_s"] == 780 and m["wide_max_wait_s"] == 780


def test_oracle_counts_a_shared_node_once():
    # 4-core nodes: J1, J2, J3 all on one node from 120; it is busy 120-720: 600 s, where the work is
    # (600 + 300 + 240) / 4 core-seconds per node.
    m = run(THREE, cores_per_node=4)
    assert m["oracle_node_hours"] == pytest.approx(600 / 3600, abs=1e-3)
    assert m["work_node_hours"] < m["oracle_node_hours"] <= m["node_hours"]
    assert m["machine_cores"] == 8 and m["wide_min_cores"] == 2  # no trace machine: max_nodes x cores


def test_wide_jobs_are_judged_against_the_trace_machine(tmp_path):
    trace = tmp_path / "t.swf"
    trace.write_text("; MaxProcs: 4\n" + THREE)
    assert machine_cores(str(trace)) == 4
    out = simulate(str(trace), max_nodes=8, boot=120, idle=60)
    assert (out["machine_cores"], out["wide_min_cores"], out["wide_jobs"]) == (4, 1, 3)
    trace.write_text("; MaxProcs: lots\n" + THREE)
    with pytest.raises(ValueError, match=r"t.swf: header MaxProcs 'lots' is not a positive integer"):
        simulate(str(trace), max_nodes=8)


def test_the_boot_oracle_pays_a_boot_per_stretch_and_keeps_a_node_through_a_short_gap():
    # One node's worth of busy stretches: [0,100) on a, [150,250) on b (the 50 s gap is kept: a stands
    # in for b), [1000,1100) on c (a gap of 750 s: booted again): 300 s of work, 2 boots of 120, 50 kept.
    # Beside them, [0,1100) on d: a second level, one boot.
    jobs = [job(0, 100, "a"), job(150, 250, "b"), job(1000, 1100, "c"), job(0, 1100, "d")]
    assert metrics.boot_oracle_node_seconds(jobs, 0, 1100, 120) == pytest.approx(300 + 240 + 50 + 1100 + 120)
    assert metrics.boot_oracle_node_seconds(jobs, 0, 1100, 0) == metrics.oracle_node_seconds(jobs, 0, 1100)
    # a node freed and another taken at the same moment: no boot, no gap
    assert metrics.boot_oracle_node_seconds([job(0, 100, "a"), job(100, 200, "b")], 0, 200, 120) == 200 + 120


def test_the_report_s_boot_oracle_lies_between_the_oracle_and_what_the_run_paid():
    m = run(THREE, machine=8, wide_protection=False)  # J1 J2 at 120 on A and B, J3 at 840 on A + C
    # levels: 2 nodes 120-420, 1 node 420-720, 2 nodes 840-960: level 1 boots once and keeps its node
    # 720-840 (120 s, as long as a boot); level 2 boots at 120 and again at 840 (gap 420 s)
    assert m["oracle_boot_node_hours"] == pytest.approx((1140 + 120 + 120 + 120 + 120) / 3600, abs=1e-3)
    assert m["oracle_node_hours"] < m["oracle_boot_node_hours"] <= m["node_hours"]
