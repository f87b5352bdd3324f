"""dcluster.gcpause: the collector is off while any pause is held, on again after the last one ends,
whatever the order in which overlapping pauses (of different threads) end."""

import gc
import threading

import pytest

from dcluster import gcpause


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_overlapping_pauses_of_two_threads_leave_the_collector_on_whichever_ends_first(collector_on):
    for first_ends in ("thread", "main"):
        inside, release = threading.Event(), threading.Event()

        def other(inside=inside, release=release):
            with gcpause.paused():
                inside.set()
                release.wait(10)

        t = threading.Thread(target=other)
        t.start()
        assert inside.wait(10)
        with gcpause.paused():
            if first_ends == "thread":  # the other pause ends under ours: still off
                release.set()
                t.join(10)
            assert not gc.isenabled()
        if first_ends == "main":  # ours ended under the other's: still off until it ends
            assert not gc.isenabled()
            release.set()
            t.join(10)
        assert gc.isenabled(), f"left off when the {first_ends}'s pause ended first"


def test_a_pause_restores_the_collector_even_on_error_and_leaves_it_off_if_it_was(collector_on):
    with pytest.raises(RuntimeError), gcpause.paused():
        with gcpause.paused():
            raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()
