"""Grid Engine jobs submitted with ``qsub -a``: held until their start time (issue 17, pre-boot).

``qstat -u * -xml -r`` lists them as plain ``qw``; only ``qstat -j LIST -xml`` shows the time.  Parsers on
outputs of a real Son of Grid Engine 8.1.9 (tests/data/scheduler-output/sge/README.md); the adapter over the
recorder.  tests/integration/test_sge_daemons.py does the same against a real qmaster.
"""

from __future__ import annotations

from dcluster.model import JobState
from dcluster.schedulers import sge
from dcluster.schedulers.sge_begin import PER_CALL, PER_POLL, REASK_AFTER, ExecutionTimes, parse_execution_times
from tests.unit.schedulers.sched_helpers import cluster_config, data

WHEN = 1796498440.0  # the capture's start time (2026-12-05 19:20:40 UTC)
QSTAT_J = data("sge/dcsched-sge819-qstat-xml-j-begin.xml")


def test_qstat_j_gives_each_jobs_start_time_and_leaves_out_those_it_does_not_know():
    assert parse_execution_times(QSTAT_J) == {"671": WHEN, "673": WHEN}  # 672 had ended: not listed
    unknown = "<?xml version='1.0'?>\n<unknown_jobs >\n    <ST_name>99999</ST_name>\n</unknown_jobs>\n"
    assert parse_execution_times(unknown) == {}  # what SGE prints when it knows none of them


def test_a_time_that_is_no_positive_number_is_no_time():
    doc = QSTAT_J.replace(f"<JB_execution_time>{WHEN:.0f}<", "<JB_execution_time>inf<", 1)
    assert parse_execution_times(doc) == {"671": 0.0, "673": WHEN}


def asker(answers):
    asked = []

    def ask(numbers):
        asked.append(list(numbers))
        return answers(numbers) if callable(answers) else answers

    return ask, asked


def listing(*numbers, submit=100.0):
    """Pending job numbers as the adapter lists them: number -> submit time."""
    return {n: submit for n in numbers}


def test_the_cache_asks_about_new_jobs_and_forgets_ended_ones():
    times = ExecutionTimes()
    ask, asked = asker({"1": 0.0, "2": 2000.0, "3": 0.0})
    times.update(listing("1", "2"), 1000.0, ask)
    assert asked == [["1", "2"]] and times.begin("2", 1000.0) == 2000.0 and times.begin("1", 1000.0) == 0.0
    times.update(listing("1", "2", "3"), 1000.0 + REASK_AFTER / 2, ask)
    assert asked[-1] == ["3"]  # 1 and 2 were asked just now
    times.update(listing("3"), 2500.0, ask)
    assert "2" not in times.known and times.begin("2", 2500.0) == 0.0  # ended: forgotten


def test_a_failed_ask_leaves_the_jobs_pending_and_asks_again_next_poll():
    times = ExecutionTimes()
    ask, asked = asker(None)
    times.update(listing("1"), 0.0, ask)
    assert times.begin("1", 0.0) == 0.0 and "1" not in times.known
    times.update(listing("1"), 0.0, ask)
    assert asked == [["1"], ["1"]]


def test_a_burst_is_asked_about_in_bounded_calls_over_several_polls():
    times = ExecutionTimes()
    ask, asked = asker(lambda numbers: dict.fromkeys(numbers, 0.0))
    numbers = [str(n) for n in range(PER_POLL + 7)]
    times.update(listing(*numbers), 0.0, ask)
    assert sum(len(a) for a in asked) == PER_POLL and max(len(a) for a in asked) == PER_CALL
    times.update(listing(*numbers), 0.0, ask)
    assert asked[-1] == numbers[PER_POLL:]


def test_a_backlog_of_far_jobs_does_not_keep_a_new_job_from_being_asked():
    # More jobs with a far start time than a poll asks about: asked again and again, they must not take a
    # new job's turn, or it counts as pending for good and its nodes idle until its own far time.
    times = ExecutionTimes()
    far = [str(n) for n in range(PER_POLL + 100)]
    ask, asked = asker(lambda numbers: dict.fromkeys(numbers, 10**9))
    t = 0.0
    for _ in range(3):  # each asked once at least, some twice
        times.update(listing(*far), t, ask)
        t += REASK_AFTER
    before = len(asked)
    times.update(listing(*far, "new"), t, ask)
    assert "new" in sum(asked[before:], []) and times.begin("new", t) == 10**9
    assert sum(len(a) for a in asked[before:]) <= PER_POLL  # and the poll's cost stays bounded


def test_a_start_time_set_later_with_qalter_a_is_seen_within_reask_after():
    # qalter -a on a job asked before (no time then): not asked again, it would stay demand, its nodes
    # idling until its time (and relaunched after each idle timeout).
    times = ExecutionTimes()
    answer = {"7": 0.0}
    ask, asked = asker(lambda numbers: {n: answer[n] for n in numbers})
    times.update(listing("7"), 0.0, ask)
    assert times.begin("7", 0.0) == 0.0
    answer["7"] = 10**9  # qalter -a
    times.update(listing("7"), REASK_AFTER, ask)
    assert times.begin("7", REASK_AFTER) == 10**9
    answer["7"] = REASK_AFTER + 5  # and moved earlier again
    times.update(listing("7"), 2 * REASK_AFTER, ask)
    assert times.begin("7", 2 * REASK_AFTER) == 0.0 and times.known["7"][1] == REASK_AFTER + 5


def test_a_wall_clock_step_back_does_not_stop_the_asking():
    times = ExecutionTimes()
    ask, asked = asker({"7": 0.0})
    times.update(listing("7"), 10_000.0, ask)
    times.update(listing("7"), 10_000.0 - 3600, ask)  # date -s an hour back
    assert len(asked) == 2


def test_a_job_number_reused_after_the_numbers_wrap_is_asked_afresh():
    times = ExecutionTimes()
    answer = {"5": 0.0}
    ask, asked = asker(lambda numbers: {n: answer[n] for n in numbers})
    times.update(listing("5", submit=100.0), 0.0, ask)
    answer["5"] = 10**9  # job 5 ended; a new job 5 (qsub -a) was submitted before the next poll
    times.update(listing("5", submit=200.0), 1.0, ask)
    assert times.begin("5", 1.0) == 10**9 and len(asked) == 2


def test_a_job_missing_from_the_answer_is_asked_again_not_taken_as_having_no_time():
    # An empty answer parses as no jobs (allow_empty); a truncated one lists some: neither says "no time".
    times = ExecutionTimes()
    answers = [{}, {"9": 10**9}]
    ask, asked = asker(lambda numbers: answers.pop(0))
    times.update(listing("9"), 0.0, ask)
    times.update(listing("9"), 1.0, ask)
    assert times.begin("9", 1.0) == 10**9


def test_foreign_job_numbers_in_the_answer_are_not_taken():
    times = ExecutionTimes()
    ask, _ = asker({"1": 0.0, "666": 10**9})
    times.update(listing("1"), 0.0, ask)
    assert set(times.known) == {"1"}


def test_the_adapter_holds_a_pending_job_until_its_start_time(rec):
    rec.on(r"qstat -u", data("sge/dcsched-sge819-qstat-u-all-xml-r.xml")).on(r"-spl", "mpi\nfour\n")
    rec.on(r"-sp mpi", data("sge/dcsched-sge819-qconf-sp-mpi.txt"))
    rec.on(r"-sp four", data("sge/dcsched-sge819-qconf-sp-four.txt"))
    # job 3 of that listing asked for a start time; 6's pending tasks did not (6 is not in this answer)
    rec.on(r"qstat -xml -j", QSTAT_J.replace("<JB_job_number>671<", "<JB_job_number>3<"))
    a = sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None)
    a.clock = lambda: WHEN - 600
    jobs = {j.id: j for j in a.jobs()}
    assert (jobs["3"].state, jobs["3"].begin_time) == (JobState.HELD, WHEN)
    assert jobs["5"].state == JobState.PENDING and jobs["6.4"].begin_time == 0.0
    assert ["/usr/bin/qstat", "-xml", "-j", "3,5,4,6"] in rec.calls  # pending job numbers, each once
    a.clock = lambda: WHEN + 1  # its time has come: pending, demand as any
    assert {j.id: j for j in a.jobs()}["3"].state == JobState.PENDING


def test_a_failing_qstat_j_leaves_the_jobs_pending_and_the_poll_answers(rec):
    rec.on(r"qstat -u", data("sge/dcsched-sge819-qstat-u-all-xml-r.xml")).on(r"-spl", "")
    rec.on(r"qstat -xml -j", "", rc=1, stderr="error: qmaster busy")
    jobs = {j.id: j for j in sge.SgeAdapter(cluster_config("sge"), rec, sleep=lambda s: None).jobs()}
    assert jobs["3"].state == JobState.PENDING
