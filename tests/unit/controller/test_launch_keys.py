"""Keys bound to the machine we launched: made by the master, accepted before the launch, one instance each.

The controller runs with the in-memory ports of memory_ports; the key pairs
are real RSA keys (see memory_ports.key_pool).  The Salt side of the same
port (the master's key cache) is exercised with a real master in
tests/integration/test_engine.py.
"""

from memory_ports import Loop, slurm_pillar, step

from dcluster.clouds.base import LaunchResult
from dcluster.clouds.errors import QuotaExceeded, Transient
from dcluster.model import Job, JobState

SECRET = "controller-test-secret-123"


def pillar():
    return slurm_pillar(SECRET, r1={"quantity": {"min": 0, "max": 6}}, max_launch_time=600, cloud_poller_interval=20)


class Recorder:
    """The key and launch ports in call order, with the public key each id was accepted with."""

    def __init__(self, cloud):
        self.order: list[tuple[str, str]] = []
        self.accepted: dict[str, str] = {}
        self.deleted: list[str] = []
        self.fail_on: str | None = None
        launch = cloud.launch

        def recording_launch(count, minion_ids, userdata_for):
            self.order += [("launch", m) for m in minion_ids]
            return launch(count, minion_ids, userdata_for)

        cloud.launch = recording_launch

    def preaccept(self, mid, pub):
        if self.fail_on == "preaccept" and self.accepted:
            raise OSError("the key cache is not writable")
        self.order.append(("accept", mid))
        self.accepted[mid] = pub

    def delete(self, mid):
        self.deleted.append(mid)
        self.accepted.pop(mid, None)


def make(tmp_path):
    lp = Loop(tmp_path, pillar())
    rec = Recorder(lp.cloud)
    p = lp.c.ports
    p.preaccept_key, p.delete_key, p.accepted_keys = rec.preaccept, rec.delete, lambda: set(rec.accepted)
    return lp.c, lp.sched, lp.cloud, lp.clock, rec


def test_each_worker_gets_its_own_key_accepted_before_its_launch(tmp_path):
    c, sched, cloud, clock, rec = make(tmp_path)
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(3)]
    step(c, clock)
    ids = cloud.launch_calls[0]
    assert len(ids) == 3
    # every id's key was accepted before the cloud was asked for anything
    first_launch = rec.order.index(("launch", ids[0]))
    assert {m for kind, m in rec.order[:first_launch] if kind == "accept"} == set(ids)
    pubs = {rec.accepted[m] for m in ids}
    assert len(pubs) == 3  # three different key pairs
    for mid in ids:
        text = cloud.userdata[mid]
        # its own private key (that it is the half the master accepted: the next test) ...
        assert text.count("BEGIN RSA PRIVATE KEY") == 1
        # ... and nothing of its siblings: neither their ids nor their keys
        for other in ids:
            if other != mid:
                assert other not in text
                assert rec.accepted[other] not in text
    c.shutdown()


def test_user_data_holds_the_private_half_of_the_accepted_key(tmp_path):
    from cryptography.hazmat.primitives import serialization

    c, sched, cloud, clock, rec = make(tmp_path)
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    (mid,) = cloud.launch_calls[0]
    text = cloud.userdata[mid]
    pem = text[text.index("-----BEGIN RSA PRIVATE KEY-----") : text.index("-----END RSA PRIVATE KEY-----") + 29]
    public = (
        serialization.load_pem_private_key(pem.encode(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert public == rec.accepted[mid]
    # the private key is in no state the master keeps
    assert "PRIVATE KEY" not in (tmp_path / "state.json").read_text()
    c.shutdown()


def test_a_refused_launch_deletes_the_keys_it_accepted(tmp_path):
    c, sched, cloud, clock, rec = make(tmp_path)
    cloud.refuse = QuotaExceeded("Quota exceeded for instances", cloud="test")
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4), Job("2", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    ids = cloud.launch_calls[0]
    assert set(rec.deleted) == set(ids) and not rec.accepted


def test_a_timed_out_launch_keeps_its_keys_until_listings_agree_they_are_unused(tmp_path):
    c, sched, cloud, clock, rec = make(tmp_path)
    cloud.refuse = Transient("read timed out", cloud="test")  # the instance may exist all the same
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    (mid,) = cloud.launch_calls[0]
    assert mid in rec.accepted and not rec.deleted
    sched.jobs_ = []
    cloud.refuse = None
    step(c, clock, dt=10)  # listed without it once: not yet
    step(c, clock, dt=30)
    assert mid in rec.accepted
    # its id may have been launched: kept until listings across the maybe-launched grace (180 s) agree
    # it does not exist, then its key until listings across the key grace (max(60 s, 2 cloud polls)) agree
    for _ in range(6):
        step(c, clock, dt=20)
    assert mid in rec.accepted and c.state.maybe_launched
    for _ in range(6):
        step(c, clock, dt=20)
    assert rec.deleted == [mid] and not rec.accepted and not c.state.maybe_launched


def test_a_key_that_cannot_be_accepted_launches_nothing_and_leaves_no_key(tmp_path):
    c, sched, cloud, clock, rec = make(tmp_path)
    rec.fail_on = "preaccept"  # the first key goes in, the second fails
    sched.jobs_ = [Job("1", JobState.PENDING, chunk_cores=4), Job("2", JobState.PENDING, chunk_cores=4)]
    step(c, clock)
    assert cloud.launch_calls == [] and not rec.accepted and len(rec.deleted) == 1
    assert any("key cache" in e["message"] for e in c.state.errors)
    assert c.state.backoff.get("r1") is not None


def test_partial_launch_keeps_exactly_the_keys_of_instances_that_exist(tmp_path):
    c, sched, cloud, clock, rec = make(tmp_path)
    real = cloud.launch

    def half(count, minion_ids, userdata_for):
        made = real(1, minion_ids[:1], userdata_for)
        return LaunchResult(made.instances, count, QuotaExceeded("Quota exceeded", cloud="test"))

    cloud.launch = half
    sched.jobs_ = [Job(str(i), JobState.PENDING, chunk_cores=4) for i in range(3)]
    step(c, clock)
    made = set(cloud.instances_)
    assert len(made) == 1 and set(rec.accepted) == made
