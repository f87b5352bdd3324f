"""Read-only runners fail clearly when the engine has not run: CommandExecutionError naming the function.

Raised, not returned as data, so ``salt-run`` exits non-zero (tests/integration/test_packaging.py
runs the real ``salt-run``).
"""

import importlib.util

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import ROOT


def load_runner(opts, file="dcluster_mod.py"):
    spec = importlib.util.spec_from_file_location(f"dcluster_runner_under_test_{file[:-3]}", ROOT / "_runners" / file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.__opts__ = opts  # what Salt's loader injects
    return mod


def test_read_only_runners_report_a_missing_engine(tmp_path):
    mod = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path)})
    for fn in (mod.workers, mod.jobs, mod.resources, mod.history, mod.config, mod.server_status, mod.status):
        with pytest.raises(CommandExecutionError, match="is the dcluster engine configured") as exc:
            fn()
        assert str(exc.value).startswith(f"dcluster.{fn.__name__}: "), fn.__name__
    assert "CLI Example" in mod.workers.__doc__  # the wrapper keeps the documentation


def test_a_refused_or_unanswered_command_raises(tmp_path, monkeypatch):
    mod = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path)})
    monkeypatch.setattr(mod.rc, "call", lambda opts, cmd, args: {"ok": False, "message": "no worker 'w9'"})
    with pytest.raises(CommandExecutionError, match=r"^dcluster.hold: no worker 'w9'$"):
        mod.hold("w9")

    def silent(opts, cmd, args):
        raise mod.rc.EngineUnavailable("the dcluster engine did not answer 'launch' within 60 s; is it running?")

    monkeypatch.setattr(mod.rc, "call", silent)
    with pytest.raises(CommandExecutionError, match=r"^dcluster.launch: the dcluster engine did not answer"):
        mod.launch("r1", count=2)
    monkeypatch.setattr(mod.rc, "call", lambda opts, cmd, args: {"ok": True, "message": "held"})
    assert mod.hold("w9") == {"ok": True, "message": "held"}


def test_a_failed_simulation_raises(tmp_path):
    mod = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path)})
    with pytest.raises(CommandExecutionError, match=r"^dcluster.simulate: "):
        mod.simulate(str(tmp_path / "no-such-trace.swf"))


@pytest.mark.parametrize("bad", [0, -5, 3601, "60", True, None, float("nan")])
def test_a_bad_command_timeout_option_is_refused_by_name(tmp_path, bad):
    from dcluster.glue import engine_client

    opts = {"cachedir": str(tmp_path), "sock_dir": str(tmp_path), "dcluster_command_timeout": bad}
    with pytest.raises(
        engine_client.EngineUnavailable, match=r"master option dcluster_command_timeout is .* from 1 to"
    ):
        engine_client.call(opts, "hold", {"name": "w1"})
    mod = load_runner(opts)
    with pytest.raises(CommandExecutionError, match=r"^dcluster.hold: master option dcluster_command_timeout"):
        mod.hold("w1")


def test_the_command_timeout_option_sets_how_long_a_runner_waits(tmp_path):
    from dcluster.glue import engine_client

    assert engine_client.command_timeout({}) == 60.0
    assert engine_client.command_timeout({"dcluster_command_timeout": 5}) == 5.0
    assert engine_client.command_timeout({"dcluster_command_timeout": 900.5}) == 900.5


def test_a_wall_clock_step_back_does_not_stretch_a_runners_wait(tmp_path, monkeypatch):
    # the deadline was on the wall clock: stepped back a day during the wait, a runner waited a day (red team)
    import contextlib
    import types

    import salt.utils.event

    from dcluster.glue import engine_client

    true = {"t": 0.0, "step": 0.0}

    class Bus:  # no engine: nothing ever answers; each wait takes its time
        def subscribe(self, tag):
            pass

        def fire_event(self, data, tag):
            pass

        def get_event(self, wait=0, tag=None, full=False):
            true["t"] += wait
            if true["t"] >= 5:
                true["step"] = -86_400.0
            return None

    monkeypatch.setattr(
        engine_client,
        "time",
        types.SimpleNamespace(time=lambda: 1.8e9 + true["t"] + true["step"], monotonic=lambda: true["t"]),
    )
    monkeypatch.setattr(salt.utils.event, "get_master_event", contextlib.contextmanager(lambda *a, **k: (yield Bus())))
    opts = {"cachedir": str(tmp_path), "sock_dir": str(tmp_path), "dcluster_command_timeout": 60}
    with pytest.raises(engine_client.EngineUnavailable, match="did not answer"):
        engine_client.call(opts, "status")
    assert true["t"] <= 61
