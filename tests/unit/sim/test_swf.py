"""The SWF reader on the bundled real traces (KTH-SP2, HPC2N) and on broken input."""

from __future__ import annotations

import gzip
import itertools

import pytest

from dcluster.sim import swf
from dcluster.sim.replay import jobs_from_swf
from dcluster.sim.simulation import trace_path

KTH = trace_path("kth")
HPC2N = trace_path("hpc2n")


def test_kth_header_comments():
    h = swf.header(KTH)
    assert h["MaxNodes"] == 100 and h["MaxProcs"] == 100
    assert h["MaxJobs"] == 28490 and h["MaxRecords"] == 28476
    assert h["UnixStartTime"] == 843480031
    assert h["Acknowledge"] == "Lars Malinowsky"
    assert h["Installation"] == "Swedish Royal Institute of Technology (KTH)"
    # Indented continuation lines belong to the key above them; repeated keys are joined.
    assert h["Information"].splitlines() == [
        "http://www.pdc.kth.se/",
        "http://www.cs.huji.ac.il/labs/parallel/workload/",
    ]
    assert "uses the EASY scheduler" in h["Note"] and "job<=14 (14 jobs removed)" in h["Note"]


def test_kth_records_and_missing_fields():
    jobs = list(swf.read(KTH))
    assert len(jobs) == 28476
    first = jobs[0]
    assert (first.job, first.submit, first.wait, first.run, first.procs, first.req_time) == (
        15,
        599850,
        192180,
        3477,
        4,
        53940,
    )
    assert first.cpu is None and first.mem is None and first.req_mem is None  # -1 in the file
    assert first.line == 25  # after 24 header lines
    broken = [j for j in jobs if j.processors is None]
    assert [j.job for j in broken] == [27313]
    sim, skipped = jobs_from_swf(jobs)
    assert len(sim) == 28475 and skipped == [(27313, "no processor count")]
    assert max(j.cores for j in sim) <= 100


def test_hpc2n_header_and_fields():
    h = swf.header(HPC2N)
    assert h["MaxNodes"] == 240 and h["MaxProcs"] == 240
    assert h["Note"] == "uses MAUI scheduler"
    assert h["Partition"].splitlines() == ["1 DEFAULT", "2 ALL"]
    jobs = list(swf.read(HPC2N))
    assert len(jobs) == 3170
    by_id = {j.job: j for j in jobs}
    assert by_id[12].cpu == pytest.approx(552.21)  # fractional average CPU time
    assert by_id[16].run is None and by_id[16].status is None
    assert by_id[7019].req_mem == 972800 and by_id[7019].mem_kb == 972800
    sim, skipped = jobs_from_swf(jobs, cores_per_node=2)
    assert len(skipped) == sum(1 for j in jobs if j.run is None) == 25
    mem = {j.id: j.mem_mb for j in sim}
    assert mem["7019"] == 950  # 972800 KB per processor, rounded up to MB


def test_gzip_and_plain_read_the_same(tmp_path):
    plain = tmp_path / "hpc2n.swf"
    with gzip.open(HPC2N, "rb") as src:
        plain.write_bytes(src.read())
    assert swf.header(plain) == swf.header(HPC2N)
    a = list(itertools.islice(swf.read(plain), 50))
    b = list(itertools.islice(swf.read(HPC2N), 50))
    assert a == b and len(a) == 50


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("1 0 -1 10 1", "5 fields, SWF has 18"),
        ("1 0 -1 ten 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1", "field 'run' is 'ten', not a number"),
        ("1 0 -1 10 -3 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1", "field 'procs' is '-3': negative and not -1"),
        ("1 0 -1 10.5 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1", "field 'run' is '10.5', not an integer"),
        ("1 -1 -1 10 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1", "job number and submit time are required"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line, why):
    path = tmp_path / "bad.swf"
    path.write_text("; MaxNodes: 4\n1 0 -1 10 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1\n" + line + "\n")
    with pytest.raises(swf.SwfError) as err:
        list(swf.read(path))
    assert str(err.value) == f"{path}:3: {why}"
    assert err.value.lineno == 3
