"""The ``qsub -a`` start times the Grid Engine module asked are kept from call to call.

A Salt minion runs each call of ``dcluster_sge.jobs`` in a process of its own, with a new adapter: a cache
in memory only would be empty at every poll, so every pending job (up to PER_POLL) would be asked about at
every poll, and beyond PER_POLL the same first ones each time.  The module keeps it in the minion's
cachedir.  Salt's ``__salt__`` is given as a dict (config.get, cmd.run_all over the recorder); the
outputs are a real SoGE 8.1.9's (tests/data/scheduler-output/sge/README.md).
"""

from __future__ import annotations

import json
import logging
import os

import pytest

from dcluster.glue.scheduler_module import SchedulerModule
from dcluster.schedulers import sge_begin
from tests.unit.schedulers.sched_helpers import Recorder, data


@pytest.fixture()
def minion(tmp_path):
    rec = Recorder()
    rec.on(r"qstat -u", data("sge/dcsched-sge819-qstat-u-all-xml-r.xml")).on(r"-spl", "mpi\nfour\n")
    rec.on(r"-sp mpi", data("sge/dcsched-sge819-qconf-sp-mpi.txt"))
    rec.on(r"-sp four", data("sge/dcsched-sge819-qconf-sp-four.txt"))
    qstat_j = data("sge/dcsched-sge819-qstat-xml-j-begin.xml").replace("<JB_job_number>671<", "<JB_job_number>3<")
    qstat_j = qstat_j.replace("<JB_job_number>673<", "<JB_job_number>5<")  # of 3,5,4,6 it answers for 3 and 5
    rec.on(r"qstat -xml -j", qstat_j)
    settings = {"dcluster:cluster": {"type": "sge"}, "cachedir": str(tmp_path)}

    def run_all(argv, **kwargs):
        rc, out, err = rec(argv, kwargs.get("stdin"))
        return {"retcode": rc, "stdout": out, "stderr": err}

    salt = {"config.get": lambda key, default=None: settings.get(key, default), "cmd.run_all": run_all}
    return salt, rec, tmp_path


def asked(rec):
    return [c for c in rec.calls if "-j" in c]


def test_a_second_poll_asks_qstat_j_about_no_job_answered_just_before(minion):
    salt, rec, tmp = minion
    module = SchedulerModule("sge", logging.getLogger(__name__))
    module.jobs(salt)
    assert len(asked(rec)) == 1
    module.jobs(salt)  # a new adapter, as a new minion process has
    assert asked(rec)[1:] == [["/usr/bin/qstat", "-xml", "-j", "4,6"]]  # only those it had no answer for
    kept = json.loads((tmp / "dcluster" / "sge_begin.json").read_text())
    assert set(kept) == {"3", "5"} and oct(os.stat(tmp / "dcluster" / "sge_begin.json").st_mode)[-3:] == "600"


@pytest.mark.parametrize(
    "content", ["not json", "[1, 2]", '{"3": [1, 2]}', '{"3": ["a", 1, 2]}', '{"x": [1, 2, 3]}', '{"3": [1, 2, 1e999]}']
)
def test_a_cache_file_that_is_unreadable_or_odd_is_ignored_and_the_jobs_asked_afresh(minion, content):
    salt, rec, tmp = minion
    (tmp / "dcluster").mkdir()
    (tmp / "dcluster" / "sge_begin.json").write_text(content)
    assert sge_begin.load(str(tmp / "dcluster" / "sge_begin.json")).known == {}
    SchedulerModule("sge", logging.getLogger(__name__)).jobs(salt)
    assert asked(rec) == [["/usr/bin/qstat", "-xml", "-j", "3,5,4,6"]]


def test_a_cache_that_cannot_be_written_fails_no_poll(minion, caplog):
    salt, rec, tmp = minion
    (tmp / "dcluster").write_text("a file where the folder goes")
    jobs = SchedulerModule("sge", logging.getLogger(__name__)).jobs(salt)
    assert jobs and "could not keep the start times" in caplog.text
