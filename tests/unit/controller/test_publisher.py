"""Issue 15: the files the runners read are written off the cycle, newest first, never half (publisher.py)."""

import json
import threading
import time

from memory_ports import Loop, registered_worker, slurm_pillar

from dcluster.controller import publish
from dcluster.controller.publisher import Publisher

SECRET = "publisher-secret-0123456789"


def test_a_slow_write_does_not_hold_the_cycle_and_readers_see_whole_files(tmp_path):
    (tmp_path / "dcluster").mkdir()
    env = Loop(tmp_path / "dcluster", slurm_pillar(SECRET))
    registered_worker(env.c, env.sched, env.cloud, env.clock)
    summary_path = tmp_path / "dcluster" / publish.SUMMARY
    before = json.loads(summary_path.read_text())["time"]

    release, writing = threading.Event(), threading.Event()
    real = env.c.publisher._write

    def slow(*args):
        writing.set()
        assert release.wait(30)
        real(*args)

    env.c.publisher._write = slow
    env.clock.t += 10
    cycle = threading.Thread(target=env.c.cycle)
    cycle.start()
    cycle.join(10)
    try:
        assert not cycle.is_alive()  # the cycle ended while its files were still being written
        assert writing.wait(10)
        assert json.loads(summary_path.read_text())["time"] == before  # the previous cycle's, whole
        assert not env.c.publisher.flush(0.2)
    finally:
        release.set()
    assert env.c.wait_idle(10)  # waits for the files too
    assert json.loads(summary_path.read_text())["time"] == env.clock.t
    env.c.shutdown()


def test_a_writer_behind_writes_only_the_newest():
    written, release = [], threading.Event()

    def write(path, summary, view):
        if summary["n"] == 1:
            assert release.wait(30)
        written.append(summary["n"])

    p = Publisher(write)
    p.submit("s", {"n": 1}, None)
    deadline = time.monotonic() + 10
    while p._next is not None and time.monotonic() < deadline:  # the writer took the first one
        time.sleep(0.01)
    for n in (2, 3, 4):
        p.submit("s", {"n": n}, None)
    release.set()
    assert p.flush(10)
    assert written == [1, 4]


def test_stop_writes_what_is_pending_and_then_writes_at_once():
    written = []
    p = Publisher(lambda path, summary, view: written.append(summary["n"]))
    p.submit("s", {"n": 1}, None)
    p.stop()
    assert written == [1]
    p.submit("s", {"n": 2}, None)  # after a shutdown: nothing left to write it later
    assert written == [1, 2]


def test_a_failing_write_is_logged_and_the_writer_goes_on(caplog):
    written = []

    def write(path, summary, view):
        if summary["n"] == 1:
            raise RuntimeError("disk on fire")
        written.append(summary["n"])

    p = Publisher(write)
    p.submit("s", {"n": 1}, None)
    assert p.flush(10)
    p.submit("s", {"n": 2}, None)
    assert p.flush(10)
    assert written == [2] and "publishing failed" in caplog.text
