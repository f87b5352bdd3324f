"""The planner's bootstrap breaker (issue 13): a resource whose instances never join stops launching."""

from builders import NOW, config, inst, job, node, view, wid

from dcluster.model import NodeState
from dcluster.planner import Kind, plan
from dcluster.planner import backoff as bo
from dcluster.reconcile import BootstrapState


def launches(p):
    return p.launches()


def failed(cfg, n, resource="r1"):
    """The state after ``n`` instances of ``resource`` never joined, under the current pillar."""
    state = None
    for i in range(n):
        state = bo.never_joined(
            state, wid(resource, 900 + i), NOW - 5000, "never joined", bo.fingerprint(cfg.resources[resource])
        )
    return state


def _confirmed(cfg, *args, **kw):
    """The view after polls across confirm_absence (defaults: 3 polls, 60 s) that all agree."""
    v = None
    for ago in (60, 30, 0):
        v = view(cfg, *args, now=NOW - ago, previous=v, **kw)
    return v


def test_a_destroy_for_max_launch_time_says_whether_it_ever_joined():
    cfg = config(max_launch_time=600, max_down_time=50)  # the polls saw the registered one silent for 60 s
    silent, configured, registered = wid(n=1), wid(n=2), wid(n=3)
    insts = {"r1": [inst(silent, age=700), inst(configured, age=700), inst(registered, age=700)]}
    p = plan(
        _confirmed(cfg, nodes=[node(registered, NodeState.STARTING)], instances=insts, configured={configured}), cfg
    )
    flags = {a.target: a.never_joined for a in p.of(Kind.DESTROY)}
    assert flags == {silent: True, configured: False, registered: False}


def test_at_the_limit_the_resource_launches_nothing_and_says_why():
    cfg = config()
    p = plan(view(cfg, jobs=[job(1, cores=4)], bootstrap={"r1": failed(cfg, 3)}), cfg)
    assert launches(p) == {}
    ((_, why),) = p.waiting
    assert "r1 protected: 3 launch(es) in a row never joined" in why and "dcluster.restore r1" in why


def test_another_resource_takes_the_jobs_of_a_protected_one():
    cfg = config({"r1": {"priority": 1}, "r2": {"priority": 2}})
    p = plan(view(cfg, jobs=[job(1, cores=4)], bootstrap={"r1": failed(cfg, 3)}), cfg)
    assert launches(p) == {"r2": 1}


def test_min_is_not_topped_up_while_protected():
    cfg = config({"r1": {"quantity": {"min": 2, "max": 4}}})
    p = plan(view(cfg, bootstrap={"r1": failed(cfg, 3)}), cfg)
    assert launches(p) == {} and any("protected" in n for n in p.notes)


def test_below_the_limit_it_probes_with_what_is_left():
    cfg = config()
    p = plan(view(cfg, jobs=[job(i, cores=4) for i in range(5)], bootstrap={"r1": failed(cfg, 1)}), cfg)
    assert launches(p) == {"r1": 2}
    # an unproven starting instance uses one of them
    starting = wid(n=7)
    p = plan(
        view(
            cfg,
            jobs=[job(i, cores=4) for i in range(5)],
            instances={"r1": [inst(starting, age=50)]},
            bootstrap={"r1": failed(cfg, 1)},
        ),
        cfg,
    )
    assert launches(p) == {"r1": 1}


def test_never_joined_destroys_of_this_plan_count_at_once():
    cfg = config(max_launch_time=600)
    a, b = wid(n=1), wid(n=2)
    p = plan(
        _confirmed(
            cfg, jobs=[job(1, cores=4), job(2, cores=4)], instances={"r1": [inst(a, age=700), inst(b, age=700)]}
        ),
        cfg,
    )
    assert {x.target for x in p.of(Kind.DESTROY)} == {a, b}
    assert launches(p) == {"r1": 1}  # 2 failed + 1 probe = bootstrap_failures


def test_a_pillar_change_or_a_worker_launched_since_that_joined_ends_it():
    cfg = config()
    state = failed(cfg, 3)
    fixed = config({"r1": {"config": {"userdata_vars": {"image": "fixed"}}}})
    assert launches(plan(view(fixed, jobs=[job(1, cores=4)], bootstrap={"r1": state}), fixed)) == {"r1": 1}
    joined = wid(n=5)
    v = view(
        cfg,
        jobs=[job(1, cores=4)],
        nodes=[node(joined, NodeState.IDLE)],
        instances={"r1": [inst(joined, age=10)]},
        bootstrap={"r1": state},
    )
    assert bo.bootstrap_state(v, cfg.resources["r1"]) == (None, f"{joined} joined")
    # a worker launched before the failures proves nothing about them
    old = wid(n=6)
    v = view(
        cfg,
        jobs=[job(1, cores=4)],
        nodes=[node(old, NodeState.IDLE)],
        instances={"r1": [inst(old, age=90000)]},
        bootstrap={"r1": state},
    )
    assert bo.bootstrap_state(v, cfg.resources["r1"])[0] is state


def test_zero_turns_it_off():
    cfg = config(bootstrap_failures=0)
    p = plan(view(cfg, jobs=[job(1, cores=4)], bootstrap={"r1": failed(cfg, 30)}), cfg)
    assert launches(p) == {"r1": 1}


def openstack(password, image="img"):
    return config(
        {
            "r1": {
                "type": "openstack",
                "config": {
                    "auth_url": "https://keystone.example:5000/v3",
                    "username": "u",
                    "password": password,
                    "project": "p",
                    "image_uuid": image,
                    "flavor": "m1",
                    "network": "n",
                    "key_name": "k",
                },
            }
        }
    )


def test_each_instance_counts_once_and_the_fingerprint_hides_credentials():
    cfg = openstack("hunter2-very-secret")
    # a credential is masked before hashing (state.json keeps the fingerprint); the image is not
    assert bo.fingerprint(cfg.resources["r1"]) == bo.fingerprint(openstack("other-password-9999").resources["r1"])
    assert bo.fingerprint(cfg.resources["r1"]) != bo.fingerprint(openstack("x", image="img2").resources["r1"])
    s = bo.never_joined(None, "m1", 1.0, "r", bo.fingerprint(cfg.resources["r1"]))
    assert bo.never_joined(s, "m1", 1.0, "r", s.fingerprint) is s
    assert bo.never_joined(s, "m2", 0.5, "r", s.fingerprint) == BootstrapState(2, 0.5, ("m1", "m2"), "r", s.fingerprint)
    other = bo.never_joined(s, "m3", 2.0, "r", "another-pillar")
    assert other.failures == 1  # launched under another pillar: counting starts again
