"""Red-team regressions for issue 12: attacks on the new trust boundary that still work.

Each test drives the real code an attacker reaches: Salt 3008's own
``masterapi.RemoteFuncs._minion_event`` (what the master runs for a minion's
``_minion_event`` load), the reactors through Salt's real ``Reactor``, the
controller's commands and the log filter.  The only doubles are the
controller's in-memory ports (tests/unit/controller/memory_ports.py) and a
recorder standing in for the master's event bus.

A worker's root can send a ``_minion_event`` load carrying an ``events`` list
(``salt-call event.fire_master '{}' x preload='{"events": [...]}'`` or a raw
channel send): the master verifies the load's own id and token, then fires
each listed event with its tag *and data* as given, so ``data['id']`` can name
any other minion, and ``salt/minion/*/start``, ``salt/auth`` and
``salt/beacon/*`` are not on Salt's minion event blacklist.
"""

import sys
import time
from pathlib import Path

import pytest
import salt.daemons.masterapi

sys.path.insert(0, str(Path(__file__).parent / "controller"))
from memory_ports import MemCloud, MemScheduler, ports

from dcluster import scrub
from dcluster.controller import Controller, highstate_jobs
from dcluster.controller import commands as cmds
from dcluster.glue.engine_loop import EngineLoop
from dcluster.glue.log_filter import ScrubFilter
from tests.conftest import ROOT
from tests.support.reactor import master_reactor
from tests.support.reactor import react as recorded

SECRET = "redteam-12-test-secret-456"
REACTORS = ROOT / "reactor"


# ------------------------------------------------------------------ the attacker's reach
class _Bus:
    def __init__(self):
        self.fired = []

    def fire_event(self, data, tag):
        self.fired.append((tag, data))
        return True


class _Master:
    """What RemoteFuncs._minion_event uses of the master: its event bus."""

    def __init__(self):
        self.event = _Bus()


def forged_by(attacker_id, tag, data):
    """The events the master fires for a ``_minion_event`` load from ``attacker_id`` (already verified)."""
    master = _Master()
    load = {"id": attacker_id, "cmd": "_minion_event", "tag": "x", "data": {}, "events": [{"tag": tag, "data": data}]}
    assert salt.daemons.masterapi.RemoteFuncs._minion_event(master, load) is True
    return master.event.fired


@pytest.fixture(scope="module")
def reactor(tmp_path_factory):
    with master_reactor(tmp_path_factory.mktemp("reactor")) as r:
        yield r


def react(reactor, sls, tag, data):
    """[(fun, kwarg)] of each client call the reaction to one event would make (runner or not)."""
    return [(fun, kwarg) for _, fun, _, kwarg in recorded(reactor, REACTORS / sls, tag, data)]


@pytest.fixture
def env(tmp_path):
    events, keys = [], set()
    pillar = {
        "secret": SECRET,
        "cluster_name": "dc",
        "cluster": {"type": "slurm"},
        "cloud": {"r1": {"type": "local", "cores": 4, "quantity": {"min": 0, "max": 4}}},
    }
    cloud = MemCloud()
    cloud.clock = time.time  # launched now: the workers are starting
    p = ports(pillar, MemScheduler(), cloud, events, keys)
    rejected, published = [], []
    p.reject_key = rejected.append
    c = Controller(p, state_path=str(tmp_path / "state.json"))

    def publish(mids):
        published.extend(mids)
        return f"2026010100000000{len(published):04d}"

    p.highstate = highstate_jobs.tracked(c, publish)
    c.cycle()
    assert c.wait_idle(10) and c.config is not None
    yield c, events, keys, rejected, published
    c.shutdown()


def _starting_worker(c):
    out = cmds.run(c, "launch", resource="r1", count=2)
    assert out["ok"], out
    assert c.wait_idle(10)
    c.cycle()
    assert {w.name: w.state.value for w in c.view.workers} == dict.fromkeys(out["minion_ids"], "starting")
    return out["minion_ids"]


# ------------------------------------------------------------------ 1. forged minion start
def test_a_start_event_forged_by_a_sibling_does_not_republish_the_highstate(env):
    """Attack: root on worker A fires ``salt/minion/<B>/start`` with ``{"id": B}`` (an ``events`` load).

    The tag and the data agree, so the engine (which reads start events off the bus
    itself since issue 15; start.sls called a runner for it before) would publish
    ``state.apply`` to B again and record one more jid each time: A could make B run
    highstate over and over (a second ``state.apply`` while one runs returns an
    error, judged a failed highstate), erase B's recorded configuration failure, and
    grow ``highstate_jobs`` (every cycle re-reads the job cache once per jid).
    Expected: at most one outstanding highstate per worker; a further start event
    while one is outstanding changes nothing.
    """
    c, _, _, _, published = env
    a, b = _starting_worker(c)
    loop = EngineLoop(c, None, lambda tag, data: None)
    loop.handle({"tag": f"salt/minion/{b}/start", "data": {"id": b}})  # B's own start: one highstate
    assert published == [b]
    c.state.config_failed[b] = "highstate failed: slurmd"
    for tag, data in forged_by(a, f"salt/minion/{b}/start", {"id": b}) * 50:
        loop.handle({"tag": tag, "data": data})
    assert published == [b]
    assert len(c.state.highstate_jobs) == 1
    assert c.state.config_failed.get(b) == "highstate failed: slurmd"


# ------------------------------------------------------------------ 2. forged salt/auth
def test_a_salt_auth_event_forged_by_a_worker_raises_no_false_alarm(env, reactor):
    """Attack: root on worker A fires ``salt/auth`` with ``{"act": "pend", "id": B}`` for a sibling B.

    B's key is accepted (pre-accepted by the engine) and no pending or denied
    key exists under B, yet auth.sls -> ``dcluster_reactor.pending_key(B)`` -> the
    engine calls ``key.reject``, fires ``dcluster/key/refused`` ("someone
    claims to be B") and counts ``keys_refused``: any worker can raise this
    alert for every worker at will, and drown a real one.  (The same event
    costs the master a reactor runner, a signed command and a state.json
    write.)  Expected: the engine checks the master's key cache and ignores a
    ``salt/auth`` event for an id that holds no pending or denied key.
    """
    c, events, keys, rejected, _ = env
    a, b = _starting_worker(c)
    assert b in keys  # accepted before the launch: no pending key under B exists
    before = len(events)
    for tag, data in forged_by(a, "salt/auth", {"act": "pend", "id": b, "result": True, "pub": "x"}):
        for fun, kwarg in react(reactor, "auth.sls", tag, data):
            assert fun == "dcluster_reactor.pending_key"
            cmds.run(c, "pending_key", minion_id=kwarg["minion_id"])
    assert not [t for t, _ in events[before:] if t.endswith("key/refused")]
    assert "keys_refused" not in c.state.counters
    assert rejected == []


# ------------------------------------------------------------------ 3. amplification from port 4506
def test_a_refused_pending_key_does_not_rewrite_the_state_file(env):
    """Attack: anyone who reaches 4506 repeats an auth request under a well-formed id that is not ours.

    Salt fires ``salt/auth`` (act ``pend``) for every attempt; each one runs a
    reactor runner, a signed command and, in the engine loop, a full
    ``state.json`` rewrite (history, view, plan: megabytes at scale) for a
    command that changed nothing.  Expected: a refusal writes nothing.
    """
    c, _, _, _, _ = env
    path = Path(c.state_path)
    stamp = path.stat().st_mtime_ns
    time.sleep(0.01)
    out = cmds.run(c, "pending_key", minion_id="dc-r1-abcdef-0123456789ab")
    assert out["ok"] is False and "left for the admin" in out["message"]
    assert path.stat().st_mtime_ns == stamp


# ------------------------------------------------------------------ 4. the scrubber's worst case
ADVERSARIAL = {
    "dotted words (URL scheme regex)": "a." * 50_000,
    "dashed words (URL scheme regex)": "a-" * 50_000,
    "quoted scheme separators (URL-encoded userinfo regex)": "%3A%2F%2F%3A" * 8_000,
}


@pytest.mark.parametrize("message", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_the_log_filter_is_linear_on_hostile_text(message):
    """Attack: a 20-36 KB log message of a crafted shape blocks the engine for seconds.

    The filter sits on every handler of the engine process, and at ``trace``
    level Salt logs every event the engine receives (``get_event() received =
    %s``), whoever fired it; ``state.error`` scrubs a message before cutting
    it to 1,000 characters.  Measured: 100 KB of ``a.`` takes 65 s, 96 KB of
    ``%3A%2F%2F%3A`` 15 s; a realistic 100 KB cloud listing takes 50 ms.
    Expected: linear time.  The bound is loose on purpose (a loaded 2-core CI): the filter keeps 64 KB
    of these 96-100 KB texts, which take about 0.1 s linearly and tens of seconds quadratically.
    """
    record = __import__("logging").LogRecord("x", 30, __file__, 1, "received %s", (message,), None)
    start = time.perf_counter()
    ScrubFilter().filter(record)
    assert time.perf_counter() - start < 5.0


def test_the_filter_still_masks_a_proxy_password():
    """Guard for the fix above: bounding the URL regexes must keep masking userinfo passwords."""
    out = scrub.text("proxy http://user:pa55word@proxy.example:3128/ and http%3A%2F%2Fu%3Apa55word%40h")
    assert "pa55word" not in out
