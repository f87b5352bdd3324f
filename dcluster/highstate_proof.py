"""A worker's proof that a highstate return is its own: an RSA signature over (jid, minion id).

Salt's master files a job return under the load's ``resource_id`` without checking that the
sending minion manages that resource, so the job cache does not prove who returned: root on one
worker, which sees every publish and so every jid, can file a "successful" highstate return for a
sibling.  The worker formula's last state (``dcluster_worker.highstate_proof``) therefore signs
the running job's jid and its own minion id with the minion's private key (``minion.pem``, made
by the engine and put only into that instance's user-data), once every earlier state of the run
succeeded; the engine takes a successful highstate only when that signature verifies with the
public key it accepted for that minion.  RSA-PSS with SHA-256, through ``cryptography`` (which
Salt itself uses for its RSA keys).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable, Mapping
from typing import Any

# The formula's state id and name (salt/dcluster/worker/init.sls): the proof's key in the return.
STATE_ID = "dcluster-highstate-proof"
STATE_KEY = f"dcluster_worker_|-{STATE_ID}_|-{STATE_ID}_|-highstate_proof"
MAX_SIGNATURE_CHARS = 1024  # base64 of a 4096-bit signature is 684 characters
MAX_FIELD = 256  # jids are 20 digits, our minion ids at most 63 characters
MIN_KEY_BITS = 2048
STATE_FUNS = ("state.apply", "state.highstate", "state.sls")
_DOMAIN = b"dcluster highstate proof v1\x00"


class ProofError(ValueError):
    """The proof is missing, malformed or does not verify; the message says which and why."""


def message(jid: str, minion_id: str) -> bytes:
    """What is signed: a fixed prefix, the jid and the minion id, each field checked."""
    for what, value in (("jid", jid), ("minion id", minion_id)):
        if not isinstance(value, str) or not value or len(value) > MAX_FIELD or "\x00" in value:
            raise ProofError(f"{what} {str(value)[:80]!r} is not a non-empty string of at most {MAX_FIELD} characters")
    return _DOMAIN + jid.encode() + b"\x00" + minion_id.encode()


def _padding() -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def private_key(private_pem: bytes | str) -> Any:
    """The RSA private key in ``private_pem`` (loading checks the key: tens of ms; a signer may keep it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = private_pem.encode() if isinstance(private_pem, str) else private_pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ProofError(f"the minion's private key is unreadable: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ProofError(f"the minion's private key is {type(key).__name__}, not RSA")
    return key


def sign(key: Any, jid: str, minion_id: str) -> str:
    """The base64 signature of (jid, minion_id) with an RSA private key (PEM, or :func:`private_key`'s)."""
    from cryptography.hazmat.primitives import hashes

    if isinstance(key, (bytes, str)):
        key = private_key(key)
    return base64.b64encode(key.sign(message(jid, minion_id), _padding(), hashes.SHA256())).decode()


def verify(public_pem: bytes | str, jid: str, minion_id: str, signature: Any) -> None:
    """Raise :class:`ProofError` unless ``signature`` is ``minion_id``'s over (jid, minion_id)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not isinstance(signature, str) or not signature:
        raise ProofError(f"the signature is {type(signature).__name__}, not a base64 string")
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise ProofError(f"the signature has {len(signature)} characters (at most {MAX_SIGNATURE_CHARS})")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError("the signature is not base64") from None
    data = public_pem.encode() if isinstance(public_pem, str) else public_pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ProofError(f"the accepted public key of {minion_id} is unreadable: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_BITS:
        raise ProofError(f"the accepted public key of {minion_id} is not an RSA key of {MIN_KEY_BITS} bits or more")
    try:
        key.verify(raw, message(jid, minion_id), _padding(), hashes.SHA256())
    except InvalidSignature:
        raise ProofError(f"the signature is not {minion_id}'s over job {jid}") from None


def signature_in(ret: Any) -> Any:
    """The signature in a state run's return (``{state key: {result, changes, ...}}``); ProofError if absent."""
    if not isinstance(ret, Mapping):
        raise ProofError(f"the return is {type(ret).__name__}, not a state run's")
    proof_state = ret.get(STATE_KEY)
    if not isinstance(proof_state, Mapping):
        raise ProofError(f"no {STATE_ID} state in the return (the worker formula's last state)")
    changes = proof_state.get("changes")
    proof = changes.get("proof") if isinstance(changes, Mapping) else None
    if proof_state.get("result") is not True or not isinstance(proof, Mapping):
        raise ProofError(f"the {STATE_ID} state made no proof: {str(proof_state.get('comment'))[:200]}")
    return proof.get("signature")


def check(public_pem: bytes | str | None, jid: str, minion_id: str, ret: Any) -> None:
    """Raise :class:`ProofError` unless the state run ``ret`` holds ``minion_id``'s proof for job ``jid``."""
    if not public_pem:
        raise ProofError(f"the master has no accepted key for {minion_id}")
    verify(public_pem, jid, minion_id, signature_in(ret))


def failed_states(running: Any) -> list[str]:
    """The states of a run so far (Salt's ``__running__``) whose result is not True."""
    if not isinstance(running, Mapping):
        return []
    return [str(k) for k, v in running.items() if k != STATE_KEY and not (isinstance(v, Mapping) and v.get("result"))]


def running_jid(proc_dir: str, pid: int, names: Iterable[str], load: Any) -> str | None:
    """The jid of the state job this process runs, from the minion's proc dir (one file a job, named by its jid).

    A state function is not told its job's jid; the minion writes ``<cachedir>/proc/<jid>`` with the
    job's pid and function before running it.  With ``multiprocessing`` (the default) exactly one
    state job runs in this process; with threads, the job's thread is named after its jid (``names``:
    the current thread's and process's names).  ``load`` reads a file's payload (salt.payload.loads).
    None when no single job is found (a ``salt-call --local`` run has none).
    """
    try:
        entries = os.listdir(proc_dir)
    except OSError:
        return None
    found = []
    for jid in entries:
        try:
            with open(os.path.join(proc_dir, jid), "rb") as fh:
                data = load(fh.read(65536))
        except Exception:  # noqa: BLE001 - a job file removed or half written meanwhile: not ours
            continue
        if isinstance(data, Mapping) and data.get("pid") == pid and data.get("fun") in STATE_FUNS:
            found.append(jid)
    if len(found) > 1:
        tagged = [jid for jid in found if any(jid in name for name in names)]
        found = tagged
    return found[0] if len(found) == 1 else None
