"""Signed operator commands: what the engine obeys and what it refuses (dcluster.glue.command_auth)."""

import logging
import os
import stat
import threading

import pytest

from dcluster.glue import command_auth as ca

KEY = b"k" * 32
REPLY = "dcluster/reply/" + "ab" * 16


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def verifier(clock):
    return ca.Verifier(lambda: KEY, clock=clock, monotonic=clock)


def signed(clock, cmd="launch", args=None, key=KEY, **kw):
    return ca.sign(key, cmd, {"resource": "r1", "count": 1} if args is None else args, REPLY, now=clock(), **kw)


def refused(verifier, cmd, data):
    with pytest.raises(ca.Refused) as exc:
        verifier.verify(cmd, data)
    return str(exc.value)


def test_a_signed_command_is_accepted_with_its_args_and_reply(verifier, clock):
    data = signed(clock, args={"resource": "r1", "count": 2, "names": ("a", "b")})
    data["_stamp"] = "2026-01-01T00:00:00"  # Salt adds this to every event
    assert verifier.verify("launch", data) == ({"resource": "r1", "count": 2, "names": ["a", "b"]}, REPLY)


@pytest.mark.parametrize(
    "field,value",
    [
        ("args", {"resource": "r1", "count": 5}),
        ("args", {"resource": "r2", "count": 1}),
        ("reply", "dcluster/reply/" + "cd" * 16),
        ("issued", 1_000_000.5),
        ("nonce", "ef" * 16),
    ],
)
def test_any_tampered_field_is_refused(verifier, clock, field, value):
    data = signed(clock)
    data[field] = value
    assert refused(verifier, "launch", data) == "bad MAC"


def test_a_command_signed_for_another_command_is_refused(verifier, clock):
    assert refused(verifier, "remove", signed(clock, cmd="launch")) == "bad MAC"


def test_missing_mac_and_wrong_key_are_refused(verifier, clock):
    data = signed(clock)
    del data["mac"]
    assert refused(verifier, "launch", data) == "no MAC"
    assert refused(verifier, "launch", {"args": {"resource": "r1", "count": 1}, "reply": "x"}) == "no MAC"
    assert refused(verifier, "launch", signed(clock, key=b"w" * 32)) == "bad MAC"


def test_stale_and_future_commands_are_refused(verifier, clock):
    old = signed(clock)
    clock.t += 61
    assert refused(verifier, "launch", old).startswith("stale")
    future = ca.sign(KEY, "launch", {}, REPLY, now=clock.t + 61)
    assert "future" in refused(verifier, "launch", future)
    # within the window either way: accepted
    assert verifier.verify("launch", ca.sign(KEY, "launch", {}, REPLY, now=clock.t - 59))
    assert verifier.verify("launch", ca.sign(KEY, "launch", {}, REPLY, now=clock.t + 59))


def test_a_replayed_command_is_refused(verifier, clock):
    data = signed(clock)
    verifier.verify("launch", dict(data))
    clock.t += 30
    assert refused(verifier, "launch", dict(data)) == "replayed nonce"


def test_the_replay_cache_is_bounded_and_forgets_only_stale_nonces(clock):
    v = ca.Verifier(lambda: KEY, clock=clock, cache_size=3, monotonic=clock)
    for _ in range(3):
        v.verify("auto", signed(clock, "auto", {}))
    assert refused(v, "auto", signed(clock, "auto", {})) == "too many commands in the replay window"
    clock.t += 121  # beyond the window of issued times (2 x 60 s): dropped, a replay of them is stale
    v.verify("auto", signed(clock, "auto", {}))
    assert len(v._seen) == 1


def test_a_wall_clock_stepped_forward_and_back_does_not_make_a_seen_command_new():
    # nonces were forgotten by their issued time: a step of +1 h dropped them, and once the clock was set
    # back the same signed command verified again (red team).  They are kept by when they arrived.
    wall, mono = Clock(), Clock()
    v = ca.Verifier(lambda: KEY, clock=wall, monotonic=mono)
    data = signed(wall, "remove", {"name": "w1"})
    v.verify("remove", dict(data))
    wall.t += 3_600
    mono.t += 1
    with pytest.raises(ca.Refused, match="stale"):
        v.verify("remove", dict(data))
    wall.t -= 3_600
    mono.t += 1
    assert refused(v, "remove", dict(data)) == "replayed nonce"


@pytest.mark.parametrize(
    "data,reason",
    [
        (None, "event data is NoneType, not a mapping"),
        (["launch"], "event data is list, not a mapping"),
        ("launch", "event data is str, not a mapping"),
    ],
)
def test_non_mapping_payloads_are_refused(verifier, data, reason):
    assert refused(verifier, "launch", data) == reason


def test_an_oversized_payload_is_refused_before_any_mac(clock):
    calls = []
    v = ca.Verifier(lambda: calls.append(1) or KEY, clock=clock)
    data = signed(clock, args={"resource": "x" * (ca.MAX_PAYLOAD + 1)})
    assert refused(v, "launch", data).startswith("payload of")
    assert calls == []


@pytest.mark.parametrize(
    "mutate,reason",
    [
        (lambda d: d.update(reply="salt/job/1/ret/victim"), "no valid reply tag"),
        (lambda d: d.update(args=["r1"]), "args is not a mapping of names"),
        (lambda d: d.update(issued="now"), "no issued time"),
        (lambda d: d.update(issued=True), "no issued time"),
        (lambda d: d.update(issued=float("nan")), "no issued time"),
        (lambda d: d.update(nonce=""), "no nonce"),
    ],
)
def test_malformed_fields_are_refused(verifier, clock, mutate, reason):
    data = signed(clock)
    mutate(data)
    assert refused(verifier, "launch", data) == reason


def test_a_bad_command_name_is_refused(verifier, clock):
    assert refused(verifier, "../launch", signed(clock)) == "not a command name"


def test_no_key_file_refuses_everything_without_saying_more(tmp_path, clock):
    v = ca.Verifier(ca.FileKey(str(tmp_path / "missing.key")), clock=clock)
    assert refused(v, "launch", signed(clock)) == "no command key: FileNotFoundError"


def test_key_file_is_created_0600_and_reused(tmp_path):
    path = ca.key_path(str(tmp_path))
    key = ca.load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ca.load_or_create_key(path) == key
    assert os.listdir(os.path.dirname(path)) == ["command.key"]  # no temp file left behind
    assert ca.FileKey(path)() == key


def test_concurrent_creators_agree_on_one_key(tmp_path):
    path = ca.key_path(str(tmp_path))
    keys, barrier = [], threading.Barrier(8)

    def make():
        barrier.wait()
        keys.append(ca.load_or_create_key(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys) == 8


def test_a_key_readable_by_others_or_of_the_wrong_size_is_not_used(tmp_path):
    path = ca.key_path(str(tmp_path))
    key = ca.load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(ca.CommandKeyError) as exc:
        ca.load_or_create_key(path)
    assert key.hex() not in str(exc.value)
    os.chmod(path, 0o600)
    with open(path, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ca.CommandKeyError):
        ca.load_or_create_key(path)


def test_file_key_follows_a_remade_key(tmp_path, clock):
    path = ca.key_path(str(tmp_path))
    first = ca.load_or_create_key(path)
    fk = ca.FileKey(path)
    assert fk() == first
    os.unlink(path)
    second = ca.load_or_create_key(path)
    assert second != first and fk() == second


def test_refusal_log_is_rate_limited(caplog):
    t = Clock(0.0)
    rl = ca.RateLimitedLog(logging.getLogger("t.refusals"), burst=3, period=60, clock=t)
    with caplog.at_level(logging.WARNING, logger="t.refusals"):
        for i in range(100):
            rl.warning("refused %d", i)
        assert [r.getMessage() for r in caplog.records] == ["refused 0", "refused 1", "refused 2"]
        t.t = 61
        rl.warning("refused %d", 100)
    assert [r.getMessage() for r in caplog.records][3:] == [
        "dcluster: 97 more refusals were not logged in the last 60 s",
        "refused 100",
    ]
