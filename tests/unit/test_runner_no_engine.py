"""Read-only runners say clearly that the engine has not run, instead of raising."""

import importlib.util

from tests.conftest import ROOT


def load_runner(opts):
    spec = importlib.util.spec_from_file_location("dcluster_runner_under_test", ROOT / "_runners" / "dcluster.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.__opts__ = opts  # what Salt's loader injects
    return mod


def test_read_only_runners_report_a_missing_engine(tmp_path):
    mod = load_runner({"cachedir": str(tmp_path), "sock_dir": str(tmp_path)})
    for fn in (mod.workers, mod.jobs, mod.resources, mod.history, mod.config, mod.server_status):
        out = fn()
        assert out["ok"] is False and "is the dcluster engine configured" in out["message"], fn.__name__
    assert mod.status()["ok"] is False
    assert "CLI Example" in mod.workers.__doc__  # the wrapper keeps the documentation
