from __future__ import annotations

import pytest

from dcluster.config import ConfigError
from dcluster.glue.run import local_runner, salt_runner
from dcluster.glue.settings import cluster_settings
from dcluster.schedulers import ParseError, RefusedError, SchedulerError, make_adapter
from dcluster.schedulers._common import check_host, check_jobid, duration_s, iter_xml, mem_mb


def test_error_names_command_and_shows_output_head():
    err = SchedulerError(["/usr/bin/qstat", "-x"], 2, "x" * 1000)
    text = str(err)
    assert "/usr/bin/qstat -x" in text and "exited with 2" in text
    assert "x" * 300 in text and "x" * 301 not in text


def test_parse_error_is_a_scheduler_error():
    err = ParseError("pbsnodes -x", "<Data><Node>", "invalid XML")
    assert isinstance(err, SchedulerError)
    assert "cannot parse output: invalid XML" in str(err) and "<Data><Node>" in str(err)


@pytest.mark.parametrize("bad", ["", "   \n", "<Data><Node><name>a</name></Node>", "<html>x</html>", "not xml"])
def test_iter_xml_never_yields_an_empty_snapshot(bad):
    with pytest.raises(ParseError):
        list(iter_xml(bad, "Node", "Data", "pbsnodes -x"))


def test_iter_xml_streams_large_documents_in_chunks():
    doc = "<Data>" + "".join(f"<Node><name>n{i}</name></Node>" for i in range(100000)) + "</Data>"
    assert len(doc) > 2 * (1 << 20)
    names = [e.findtext("name") for e in iter_xml(doc, "Node", "Data", "x")]
    assert names[0] == "n0" and names[-1] == "n99999" and len(names) == 100000


@pytest.mark.parametrize("text,mb", [("4gb", 4096), ("5492kb", 6), ("93.1G", 95335), ("512", 1), ("1024mb", 1024),
                                     ("", 0), ("junk", 0), ("2tb", 2 * 1024 * 1024)])
def test_mem_mb(text, mb):
    assert mem_mb(text) == mb


@pytest.mark.parametrize("text,s", [("01:00:00", 3600), ("1:00:00:00", 86400), ("3600", 3600), ("INFINITY", 0),
                                    ("", 0), ("0:10:0", 600)])
def test_duration(text, s):
    assert duration_s(text) == s


@pytest.mark.parametrize("name", ["a;rm -rf /", "-o", "a b", "", "$(x)", "a|b", "../x", "a\nb"])
def test_bad_host_names_refused(name):
    with pytest.raises(RefusedError):
        check_host(name)


@pytest.mark.parametrize("job", ["12", "166[1]", "12.3", "45_7", "149.server.example"])
def test_good_job_ids(job):
    assert check_jobid(job) == job


@pytest.mark.parametrize("job", ["12;x", "-p", "1 2", "", "a"])
def test_bad_job_ids(job):
    with pytest.raises(RefusedError):
        check_jobid(job)


def test_cluster_settings_validates_with_paths():
    with pytest.raises(ConfigError) as exc:
        cluster_settings(lambda key: {"type": "torque", "config": {"qstat_command": "qstat -x | grep R"}})
    assert "dcluster:cluster:config:qstat_command" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        cluster_settings(lambda key: {"type": "torque", "config": {"pbsnodes_comand": "x"}})
    assert "dcluster:cluster:config:pbsnodes_comand: unknown key (did you mean 'pbsnodes_command'?)" in str(exc.value)


def test_cluster_settings_type_mismatch_and_defaults():
    with pytest.raises(ConfigError, match="this is the slurm module"):
        cluster_settings(lambda key: {"type": "sge"}, expect="slurm")
    cluster = cluster_settings(lambda key: None, expect="sge")
    assert cluster.type == "sge" and cluster.config["qconf_command"].argv == ("/usr/bin/qconf",)


def test_salt_runner_passes_argv_without_shell():
    seen = {}

    def run_all(cmd, **kwargs):
        seen.update(kwargs, cmd=cmd)
        return {"retcode": 3, "stdout": "out", "stderr": "err"}

    run = salt_runner(run_all, timeout=7, env={"A": "1"})
    assert run(["qstat", "-x"], stdin="in") == (3, "out", "err")
    assert seen["cmd"] == ["qstat", "-x"] and seen["python_shell"] is False
    assert seen["timeout"] == 7 and seen["stdin"] == "in" and seen["env"] == {"A": "1"}


def test_local_runner_runs_argv_and_reports_missing_programs():
    run = local_runner(timeout=5)
    assert run(["printf", "%s", "a;b"]) == (0, "a;b", "")
    with pytest.raises(SchedulerError, match="could not start"):
        run(["/nonexistent/qstat"])


def test_make_adapter_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown scheduler type"):
        make_adapter("pbspro", {}, lambda argv: (0, "", ""))
