"""Salt's real Reactor pipeline without a master: the client calls a reaction would make, recorded.

``Reactor.reactions`` renders, verifies and compiles a reactor file (what the
master's Reactor process runs, with real master opts) and ``ReactWrap.run``
turns each chunk into the client call; only the last step, handing the call to
a Runner/Wheel/Local client, is replaced by a recorder.
"""

from __future__ import annotations

import contextlib
import sys

import salt.config
import salt.utils.reactor


class RecordingWrap(salt.utils.reactor.ReactWrap):
    """ReactWrap's own argument handling; the calls are recorded instead of sent to a client."""

    def __init__(self, opts):  # no thread pool, no clients
        self.opts, self.calls = opts, []

    def populate_client_cache(self, low):
        pass

    def runner(self, fun, **kwargs):
        self.calls.append(("runner", fun, tuple(kwargs.get("arg", ())), dict(kwargs.get("kwarg", {}))))

    def wheel(self, fun, **kwargs):
        self.calls.append(("wheel", fun, tuple(kwargs.get("arg", ())), dict(kwargs.get("kwarg", {}))))

    def local(self, fun, tgt, **kwargs):
        self.calls.append(("local", fun, tgt, dict(kwargs.get("kwarg", {}))))

    def caller(self, fun, **kwargs):
        self.calls.append(("caller", fun, tuple(kwargs.get("arg", ())), dict(kwargs.get("kwarg", {}))))


@contextlib.contextmanager
def master_reactor(tmp):
    """A ``salt.utils.reactor.Reactor`` on master opts whose directories are under ``tmp``."""
    opts = salt.config.master_config(None)
    for key in ("root_dir", "cachedir", "pki_dir", "sock_dir", "extension_modules"):
        opts[key] = str(tmp / key)
    opts["log_file"] = str(tmp / "master.log")
    before = set(sys.modules)
    yield salt.utils.reactor.Reactor(opts)
    for name in set(sys.modules) - before:  # Salt's py renderer registers each file as a module
        if name in ("auth", "start", "stats"):
            del sys.modules[name]


def react(reactor, path, tag, data):
    """[(client, fun, args or tgt, kwargs)] the reaction to one event would call."""
    chunks = reactor.reactions(tag, data, [str(path)])
    wrap = RecordingWrap(reactor.opts)
    for chunk in chunks:
        wrap.run(chunk)
    assert len(wrap.calls) == len(chunks)  # every chunk made exactly one call: none failed silently
    return wrap.calls
