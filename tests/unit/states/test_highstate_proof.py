"""The highstate's proof: made by the dcluster_worker.highstate_proof state in a real state run
(Salt's loader, state.sls of a formula ending with it), checked as the engine checks it.

The job a state run belongs to is found as on a minion: ``<cachedir>/proc/<jid>`` written with
the job's pid and function (what salt.minion's _thread_return writes before running a job).
"""

import os

import pytest
import salt.config
import salt.loader
import salt.payload

from dcluster import highstate_proof, keypairs

NAME = "dc-loc-abcdef-0123456789ab"
SIBLING = "dc-loc-123456-abcdefabcdef"
JID = "20261205110000123456"

FORMULA = """\
marker:
  test.{first}:
    - name: marker
dcluster-highstate-proof:
  dcluster_worker.highstate_proof:
    - order: last
"""


@pytest.fixture(scope="module")
def pair():
    return keypairs.generate()


@pytest.fixture(scope="module")
def other_pair():
    return keypairs.generate()


def run(tmp_path, pair, first="succeed_without_changes", jid=JID, fun="state.sls", test=False):
    """state.sls of a formula whose last state is the proof, on a minion with ``pair`` as its key."""
    roots, pki, cache = tmp_path / "roots", tmp_path / "pki", tmp_path / "cache"
    for d in (roots, pki, cache / "proc"):
        d.mkdir(parents=True, exist_ok=True)
    (roots / "proof.sls").write_text(FORMULA.format(first=first))
    (pki / "minion.pem").write_text(pair.private_pem)
    if jid is not None:
        (cache / "proc" / jid).write_bytes(salt.payload.dumps({"pid": os.getpid(), "fun": fun, "jid": jid}))
    opts = salt.config.minion_config(None)
    opts.update(
        file_client="local",
        test=test,
        cachedir=str(cache),
        pki_dir=str(pki),
        # module_dirs, not state_dirs: its _states comes before the installed package's (the main tree's)
        module_dirs=[os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))],
        grains={"id": NAME},
        pillar={},
        file_roots={"base": [str(roots)]},
        id=NAME,
    )
    funcs = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))
    ret = funcs["state.sls"]("proof", test=test)
    assert isinstance(ret, dict), ret
    return ret


def test_the_state_signs_its_jobs_jid_and_its_minion_id_with_the_minions_key(tmp_path, pair, other_pair):
    ret = run(tmp_path, pair)
    proof = ret[highstate_proof.STATE_KEY]
    assert proof["result"] is True and proof["changes"]["proof"]["jid"] == JID, proof
    highstate_proof.check(pair.public_pem, JID, NAME, ret)  # what the engine checks: passes
    with pytest.raises(highstate_proof.ProofError, match="not .*'s over job"):
        highstate_proof.check(pair.public_pem, "20261205110000999999", NAME, ret)  # replayed for another job
    with pytest.raises(highstate_proof.ProofError, match="not .*'s over job"):
        highstate_proof.check(pair.public_pem, JID, SIBLING, ret)  # filed under a sibling's id
    with pytest.raises(highstate_proof.ProofError, match="not .*'s over job"):
        highstate_proof.check(other_pair.public_pem, JID, NAME, ret)  # not the accepted key's


def test_no_proof_when_an_earlier_state_failed(tmp_path, pair):
    ret = run(tmp_path, pair, first="fail_without_changes")
    proof = ret[highstate_proof.STATE_KEY]
    assert proof["result"] is False and not proof["changes"]
    assert "earlier state(s) did not succeed: test_|-marker_|-marker_|-fail_without_changes" in proof["comment"]
    with pytest.raises(highstate_proof.ProofError, match="made no proof"):
        highstate_proof.check(pair.public_pem, JID, NAME, ret)


def test_test_mode_signs_nothing(tmp_path, pair):
    proof = run(tmp_path, pair, test=True)[highstate_proof.STATE_KEY]
    assert proof["result"] is None and not proof["changes"]


@pytest.mark.parametrize("jid, fun", [(None, None), (JID, "cmd.run")])
def test_a_run_of_no_state_job_makes_no_proof(tmp_path, pair, jid, fun):
    # salt-call --local: no job of the master; a file of another function under our pid is not the run's
    ret = run(tmp_path, pair, jid=jid, fun=fun)
    proof = ret[highstate_proof.STATE_KEY]
    assert proof["result"] is True and not proof["changes"] and "no proof" in proof["comment"]
    with pytest.raises(highstate_proof.ProofError, match="made no proof"):
        highstate_proof.check(pair.public_pem, JID, NAME, ret)


def test_an_unreadable_minion_key_fails_the_state(tmp_path, pair):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "minion.pem").write_text("not a key")
    bad = keypairs.KeyPair("-----BEGIN RSA PRIVATE KEY-----\ngarbage\n-----END RSA PRIVATE KEY-----\n", "")
    proof = run(tmp_path, bad)[highstate_proof.STATE_KEY]
    assert proof["result"] is False and "cannot sign the highstate's proof" in proof["comment"]


def proven(pair, jid=JID, mid=NAME, **over):
    proof = {"jid": jid, "minion": mid, "signature": highstate_proof.sign(pair.private_pem, jid, mid), **over}
    return {highstate_proof.STATE_KEY: {"result": True, "changes": {"proof": proof}}}


@pytest.mark.parametrize(
    "signature, why",
    [
        (None, "NoneType, not a base64 string"),
        ("", "not a base64 string"),
        (12345, "int, not a base64 string"),
        ("%%%not base64%%%", "not base64"),
        ("QUJD", "is not dc-loc-abcdef-0123456789ab's over job"),  # base64, not a signature
        ("A" * 10**6, "has 1000000 characters (at most 1024)"),
    ],
)
def test_a_garbled_or_huge_signature_fails_cleanly(pair, signature, why):
    with pytest.raises(highstate_proof.ProofError, match=why.replace("(", r"\(").replace(")", r"\)")):
        highstate_proof.check(pair.public_pem, JID, NAME, proven(pair, signature=signature))


@pytest.mark.parametrize(
    "ret, why",
    [
        ({}, "no dcluster-highstate-proof state"),
        ({highstate_proof.STATE_KEY: "signed"}, "no dcluster-highstate-proof state"),
        ({highstate_proof.STATE_KEY: {"result": True, "changes": {}}}, "made no proof"),
        ({highstate_proof.STATE_KEY: {"result": True, "changes": {"proof": "x"}}}, "made no proof"),
        (["Pillar failed to render"], "list, not a state run's"),
    ],
)
def test_a_missing_proof_fails_cleanly(pair, ret, why):
    with pytest.raises(highstate_proof.ProofError, match=why):
        highstate_proof.check(pair.public_pem, JID, NAME, ret)


def test_the_proof_state_must_have_succeeded(pair):
    ret = proven(pair)
    ret[highstate_proof.STATE_KEY]["result"] = False
    with pytest.raises(highstate_proof.ProofError, match="made no proof"):
        highstate_proof.check(pair.public_pem, JID, NAME, ret)


@pytest.mark.parametrize(
    "public_pem, why",
    [
        (None, "no accepted key for"),
        ("", "no accepted key for"),
        ("-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n", "is unreadable"),
    ],
)
def test_no_or_a_garbled_accepted_key_fails_cleanly(pair, public_pem, why):
    with pytest.raises(highstate_proof.ProofError, match=why):
        highstate_proof.check(public_pem, JID, NAME, proven(pair))


def test_a_short_rsa_key_proves_nothing():
    weak = keypairs.generate(bits=1024)
    with pytest.raises(highstate_proof.ProofError, match="not an RSA key of 2048 bits or more"):
        highstate_proof.check(weak.public_pem, JID, NAME, proven(weak))


@pytest.mark.parametrize("jid, mid", [("", NAME), (JID, ""), (JID + "\x00" + JID, NAME), ("9" * 300, NAME), (1, NAME)])
def test_fields_that_could_run_together_are_refused(pair, jid, mid):
    with pytest.raises(highstate_proof.ProofError, match="is not a non-empty string"):
        highstate_proof.message(jid, mid)


def test_running_jid_finds_the_one_state_job_of_this_process(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()

    def job(jid, pid, fun="state.apply"):
        (proc / jid).write_bytes(salt.payload.dumps({"pid": pid, "fun": fun, "jid": jid}))

    find = highstate_proof.running_jid
    assert find(str(tmp_path / "missing"), 7, (), salt.payload.loads) is None
    job("1", 8)  # another process's
    job("2", 7, fun="test.ping")
    (proc / "3").write_bytes(b"\x00garbage")
    assert find(str(proc), 7, (), salt.payload.loads) is None
    job("4", 7)
    assert find(str(proc), 7, (), salt.payload.loads) == "4"
    job("5", 7, fun="state.sls")  # threaded minion: two jobs in this process, told apart by the thread's name
    assert find(str(proc), 7, ("MainThread",), salt.payload.loads) is None
    assert find(str(proc), 7, ("ProcessPayload(jid=5)",), salt.payload.loads) == "5"
