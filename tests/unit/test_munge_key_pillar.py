"""salt/pillar-examples/dcluster_munge_key.sls: the munge key goes to dcluster's own workers only."""

import base64
import importlib.util
import os

import pytest

from dcluster import identity

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SECRET = "s3cret-of-the-engine"
KEY = os.urandom(1024)


@pytest.fixture
def pillar_file():
    path = os.path.join(REPO, "salt", "pillar-examples", "dcluster_munge_key.sls")
    loader = importlib.machinery.SourceFileLoader("dcluster_munge_key_pillar", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def files(tmp_path):
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "old").write_text("the-previous-secret\n")
    (tmp_path / "munge.key").write_bytes(KEY)
    return tmp_path


def give(module, files, minion_id, secrets=("secret",), cluster="hpc"):
    return module.munge_key_pillar(minion_id, cluster, [str(files / s) for s in secrets], str(files / "munge.key"))


def test_a_worker_the_engine_named_gets_the_key(pillar_file, files):
    ours = identity.make("hpc", "nectar", SECRET)
    got = give(pillar_file, files, ours)
    assert base64.b64decode(got["dcluster_worker"]["munge_key"]) == KEY


def test_an_id_signed_under_a_previous_secret_still_gets_it(pillar_file, files):
    ours = identity.make("hpc", "nectar", "the-previous-secret")
    assert give(pillar_file, files, ours, secrets=("secret", "old"))["dcluster_worker"]["munge_key"]


@pytest.mark.parametrize(
    "minion_id",
    [
        "headnode",  # a physical node or the head
        "hpc-nectar-abcdef-0123456789ab",  # our shape, a forged MAC
        identity.make("other", "nectar", SECRET),  # another cluster's worker
        identity.make("hpc", "nectar", "not-ours"),  # signed under another secret
        identity.make("hpc", "nectar", SECRET) + "\n",
    ],
)
def test_any_other_minion_gets_nothing(pillar_file, files, minion_id):
    assert give(pillar_file, files, minion_id) == {}


def test_no_readable_secret_gives_nothing(pillar_file, files):
    (files / "empty").write_text("\n")
    ours = identity.make("hpc", "nectar", SECRET)
    assert give(pillar_file, files, ours, secrets=("missing",)) == {}
    assert give(pillar_file, files, ours, secrets=("empty",)) == {}
    assert give(pillar_file, files, ours, secrets=()) == {}


def test_run_uses_the_minion_id_salt_compiles_the_pillar_for(pillar_file, files):
    pillar_file.__opts__ = {"id": identity.make("hpc", "nectar", SECRET)}
    pillar_file.CLUSTER_NAME = "hpc"
    pillar_file.SECRET_FILES = [str(files / "secret")]
    pillar_file.KEY_STORE = str(files / "munge.key")
    assert base64.b64decode(pillar_file.run()["dcluster_worker"]["munge_key"]) == KEY
    pillar_file.__opts__ = {"id": "headnode"}
    assert pillar_file.run() == {}
