#!py
"""Pillar: the cluster's munge key, for dcluster's own workers only.

Put this file in the master's pillar_roots and target it at every minion ('*'): it gives
``dcluster_worker:munge_key`` (the key, base64) to a minion only when its id is one the
dcluster engine made for CLUSTER_NAME (the HMAC under ``dcluster:secret`` checks, with
the secret read from SECRET_FILES), and nothing to any other minion.  A minion gets
pillar only once its key is accepted, and the engine accepts a key under one of its ids
only for the instance it launched; so the key never reaches a physical node, another
cluster's worker, or a minion that merely chose a name like ours.  The key is never put
on the Salt file server, which serves every file to every minion.

SECRET_FILES: root-only files holding the value of ``dcluster:secret`` (and of each
``previous_secrets``), one value a file.  Keep the engine's pillar in step by reading the
same file there: ``secret: {{ salt['file.read']('/etc/salt/dcluster/secret') | trim | json }}``.
KEY_STORE is where the head formula keeps the key (dcluster_head:munge:key_store).
"""

import base64
import logging

log = logging.getLogger(__name__)

KEY_STORE = "/etc/salt/dcluster/munge.key"
CLUSTER_NAME = "mycluster"
SECRET_FILES = ["/etc/salt/dcluster/secret"]


def _read(path, binary=False):
    with open(path, "rb" if binary else "r") as fh:
        return fh.read()


def munge_key_pillar(minion_id, cluster, secret_files, key_store):
    """The pillar for ``minion_id``: the key when the id verifies, else {}."""
    from dcluster import identity

    if not identity.well_formed(minion_id):
        return {}
    try:
        secrets = [_read(path).strip() for path in secret_files]
    except OSError as exc:
        log.error("dcluster munge key pillar: cannot read a secret file: %s", exc.strerror)
        return {}
    if not secrets or not all(secrets):
        log.error("dcluster munge key pillar: no secret in %s", secret_files)
        return {}
    if identity.parse(minion_id, secrets, cluster=cluster) is None:
        return {}
    try:
        key = _read(key_store, binary=True)
    except OSError as exc:
        log.error("dcluster munge key pillar: cannot read %s: %s", key_store, exc.strerror)
        return {}
    return {"dcluster_worker": {"munge_key": base64.b64encode(key).decode("ascii")}}


def run():
    return munge_key_pillar(__opts__["id"], CLUSTER_NAME, SECRET_FILES, KEY_STORE)  # noqa: F821
