"""Reservation properties (several per resource) and each scheduler's matching rule, through plan()."""

import dataclasses

import pytest
from builders import config, job, view

from dcluster.planner import plan


def launches(p):
    return p.launches()


def slurm_job(jid, constraint, **kw):
    return dataclasses.replace(job(jid, cores=4, **kw), constraint=constraint)


RESOURCES = {
    "both": {"priority": 5, "reservation": {"properties": ["bigmem", "ssd"]}},
    "big": {"priority": 1, "reservation": {"property": "bigmem"}},
    "fast": {"priority": 1, "reservation": {"properties": ["ssd"]}},
    "plain": {"priority": 0},
}


@pytest.mark.parametrize(
    "j, where",
    [
        # Torque nodes=1:ppn=4:bigmem:ssd, Grid Engine -l bigmem -l ssd: every property on the node
        (job(1, cores=4, props=("bigmem", "ssd")), "both"),
        (job(2, cores=4, props=("bigmem",)), "big"),  # both fit; big is cheaper (priority)
        (job(3, cores=4), "plain"),  # no property: anywhere, lowest priority number first
        # Slurm: the constraint decides
        (slurm_job(4, "bigmem&ssd"), "both"),
        (slurm_job(5, "[bigmem|ssd]"), "big"),  # every property resource matches; priority, then name
        (slurm_job(6, "ssd|gpu"), "fast"),
        (slurm_job(7, "[bigmem*1&ssd*1]"), "both"),
        (slurm_job(8, "(bigmem&ssd)|gpu"), "both"),
    ],
)
def test_a_job_goes_where_the_properties_satisfy_its_scheduler_rule(j, where):
    cfg = config(RESOURCES)
    assert launches(plan(view(cfg, jobs=[j]), cfg)) == {where: 1}, j


def test_several_properties_a_single_property_resource_cannot_serve_are_unplaceable_with_the_reason():
    cfg = config({"big": {"reservation": {"property": "bigmem"}}})
    p = plan(view(cfg, jobs=[job(1, props=("bigmem", "ssd")), slurm_job(2, "bigmem&gpu")]), cfg)
    assert launches(p) == {}
    assert dict(p.unplaceable) == {
        "1": "no resource's reservation accepts properties bigmem,ssd",
        "2": "no resource's reservation accepts constraint bigmem&gpu",
    }


@pytest.mark.parametrize(
    "constraint, why",
    [
        ("bigmem&", "expected a feature name, found the end at character 8"),
        ("[bigmem|ssd", "expected ']'"),
        ("[bigmem&ssd]", "needs a count"),
    ],
)
def test_an_unreadable_constraint_makes_the_job_unplaceable_naming_job_and_constraint(constraint, why):
    cfg = config(RESOURCES)
    p = plan(view(cfg, jobs=[slurm_job(9, constraint), job(10, cores=4)]), cfg)
    assert launches(p) == {"plain": 1}  # the readable job still gets its node; none for the other
    (unplaceable,) = p.unplaceable
    assert unplaceable[0] == "9"
    assert unplaceable[1].startswith(f"job 9: cannot read its constraint {constraint!r}: ") and why in unplaceable[1]


def test_a_constraint_is_never_read_as_its_names_alone():
    # the names bigmem and ssd are both on "big"+"fast" together, but no single resource carries both
    cfg = config({k: v for k, v in RESOURCES.items() if k in ("big", "fast")})
    p = plan(view(cfg, jobs=[slurm_job(1, "bigmem&ssd")]), cfg)
    assert launches(p) == {} and p.unplaceable[0][0] == "1"


def test_on_slurm_the_features_every_registered_node_gets_count_too():
    # the Slurm adapter gives each node node_feature ("dcluster" by default) and its reserved queue's name
    cfg = config({"big": {"reservation": {"property": "bigmem", "queue": "long"}}, "plain": {"priority": 0}})
    jobs = [slurm_job(1, "dcluster&bigmem", queue="long"), slurm_job(2, "dcluster"), slurm_job(3, "long&bigmem")]
    assert launches(plan(view(cfg, jobs=jobs), cfg)) == {"big": 2, "plain": 1}
    torque = config({"big": {"reservation": {"property": "bigmem"}}}, cluster_type="torque")
    p = plan(view(torque, jobs=[job(1, cores=4, props=("dcluster", "bigmem"))]), torque)
    assert launches(p) == {} and p.unplaceable[0][0] == "1"  # Torque nodes get no such property
