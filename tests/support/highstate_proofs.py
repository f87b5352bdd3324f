"""Highstate returns as a worker makes them, for the doubles of Salt's job cache.

The engine takes a successful highstate only with the worker's signature over (jid, minion id)
by the key it accepted for that minion (dcluster/highstate_proof.py; the worker formula's last
state makes it).  The doubles share one real RSA-2048 pair for every worker, made once per
process; the signature still binds each return to its own jid and minion.
"""

from __future__ import annotations

import functools
from typing import Any

from dcluster import highstate_proof, keypairs


@functools.cache
def _pair() -> tuple[keypairs.KeyPair, Any]:
    pair = keypairs.generate()
    return pair, highstate_proof.private_key(pair.private_pem)


def accepted_key(minion_id: str) -> str:
    """The ``accepted_key`` port of the doubles: every worker's accepted key is the shared one."""
    return _pair()[0].public_pem


def proof_state(jid: str, minion_id: str) -> dict[str, Any]:
    """The formula's last state as it returns: its changes carry the signature."""
    signature = highstate_proof.sign(_pair()[1], jid, minion_id)
    proof = {"jid": jid, "minion": minion_id, "signature": signature}
    return {highstate_proof.STATE_KEY: {"result": True, "changes": {"proof": proof}, "comment": "signed"}}


def signed(entry: dict[str, Any], jid: str, minion_id: str) -> dict[str, Any]:
    """A job-cache entry ({return, retcode, success}) whose state run ends with ``minion_id``'s proof for ``jid``."""
    return {**entry, "return": {**entry["return"], **proof_state(jid, minion_id)}}
