"""Node-size choice (issue 17): among eligible resources of the same priority the planner launches the node
size that wastes least for the job's shape and wall time (``node_size_choice: waste``, the default);
``priority`` keeps the expander's order (fewer nodes, then name).  The resources are named so that the
expander's order puts the biggest node first: each test fails with the choice switched off."""

import dataclasses
import random

import pytest
from builders import config, job, view, wid, worker

from dcluster.model import NodeState
from dcluster.planner import plan
from dcluster.planner.explain import job_reasons

SIZES = {"big": 16, "mid": 4, "small": 1}


def cfg_of(choice="waste", sizes=SIZES, **per_resource):
    resources = {}
    for name, cores in sizes.items():
        spec = {"cores": cores, "quantity": {"min": 0, "max": 10}}
        spec.update(per_resource.get(name, {}))
        resources[name] = spec
    return config(resources, node_size_choice=choice, max_idle_time=300)


def timed(j, walltime):
    return dataclasses.replace(j, walltime_s=walltime)


def test_a_one_core_job_launches_a_one_core_node_not_a_sixteen_core_one():
    jobs = [timed(job(1), 36_000)]
    assert plan(view(cfg_of(), jobs=jobs), cfg_of()).launches() == {"small": 1}
    # the fixed behaviour stays available: the expander's first resource
    assert plan(view(cfg_of("priority"), jobs=jobs), cfg_of("priority")).launches() == {"big": 1}


def test_the_dry_run_says_why_the_size_was_chosen():
    cfg = cfg_of()
    v = view(cfg, jobs=[timed(job(1, cores=3), 3600)])
    p = plan(v, cfg)
    assert p.launches() == {"mid": 1}
    (row,) = job_reasons(p, v)
    assert row["reason"] == "launch"
    # chosen: 1 spare core x 3600 s + 4 cores x 300 s idle tail; big: 13 x 3600 + 16 x 300
    assert "mid: on 1 new node(s) of 4 cores" in row["why"], row
    assert "1x3 cores, 3600 s wall time: 4,800 idle core-s against big 51,600" in row["why"], row
    assert "node_size_choice waste" in row["why"]


def test_a_job_wider_than_the_small_node_gets_the_size_it_fills_best():
    jobs = [job(1, cores=3)]  # one chunk of 3 cores: not on a 1-core node; a 4-core one leaves 1 idle
    assert plan(view(cfg_of(), jobs=jobs), cfg_of()).launches() == {"mid": 1}
    assert plan(view(cfg_of("priority"), jobs=jobs), cfg_of("priority")).launches() == {"big": 1}


def test_spare_cores_of_a_node_the_plan_launches_take_the_jobs_behind_before_another_launch():
    jobs = [job(1, cores=3), job(2)]  # the one-core job rides on the 4-core node launched for the first
    assert plan(view(cfg_of(), jobs=jobs), cfg_of()).launches() == {"mid": 1}


def test_the_admins_priorities_come_first():
    cfg = cfg_of(big={"priority": 1}, mid={"priority": 2}, small={"priority": 2})
    assert plan(view(cfg, jobs=[job(1)]), cfg).launches() == {"big": 1}


def test_a_size_at_its_max_yields_to_the_next_best_of_the_same_priority():
    cfg = cfg_of(small={"quantity": {"min": 0, "max": 0}})
    assert plan(view(cfg, jobs=[job(1)]), cfg).launches() == {"mid": 1}


def test_the_wall_time_weighs_spare_cores_against_a_resources_idle_tail():
    # big nodes are retired the moment they idle, small ones after an hour: a short job wastes less on
    # a big node (15 idle cores for 60 s) than on a small one (an hour's tail); a long one the other way
    cfg = cfg_of(sizes={"big": 16, "small": 1}, big={"max_idle_time": 0}, small={"max_idle_time": 3600})
    assert plan(view(cfg, jobs=[timed(job(1), 60)]), cfg).launches() == {"big": 1}
    assert plan(view(cfg, jobs=[timed(job(1), 3600)]), cfg).launches() == {"small": 1}


def test_the_pillar_knob_is_validated():
    with pytest.raises(ValueError, match="node_size_choice: 'smallest' is not one of waste, priority"):
        cfg_of("smallest")


# ----------------------------------------------------------------- properties over random plans
def _random_case(rng):
    names = rng.sample(["a", "b", "c", "d"], rng.randint(2, 4))
    sizes, specs = {}, {}
    for name in names:
        sizes[name] = rng.choice((1, 2, 4, 8, 16))
        specs[name] = {"quantity": {"min": 0, "max": rng.randint(0, 6)}, "priority": rng.choice((1, 1, 2))}
        if rng.random() < 0.3:
            specs[name]["max_idle_time"] = rng.choice((0, 60, 3600))
    jobs = []
    for k in range(rng.randint(1, 12)):
        cores = rng.choice((1, 1, 2, 3, 4, 8, 12))
        j = job(k, chunks=rng.randint(1, 4), cores=cores, distinct=rng.random() < 0.5, submit=float(k))
        jobs.append(timed(j, rng.choice((0, 60, 3600, 86_400))))
    return sizes, specs, jobs


def _plan(sizes, specs, jobs, choice="waste", workers=(), order=None):
    names = order or list(sizes)
    cfg = cfg_of(choice, {n: sizes[n] for n in names}, **specs)
    nodes, insts = [], {n: [] for n in names}
    for name, res, used in workers:
        nd, inst = worker(name, res, state=NodeState.BUSY if used else NodeState.IDLE, used=used, cores=sizes[res])
        nodes.append(nd)
        insts[res].append(dataclasses.replace(inst, cores=sizes[res]))
    return plan(view(cfg, nodes, insts, jobs=jobs), cfg)


@pytest.mark.parametrize("seed", range(300))
def test_launches_stay_within_max_and_repeat_exactly_whatever_the_pillars_order(seed):
    rng = random.Random(seed)
    sizes, specs, jobs = _random_case(rng)
    p = _plan(sizes, specs, jobs)
    for name, n in p.launches().items():
        assert n <= specs[name]["quantity"]["max"], (seed, p.launches())
    again = _plan(sizes, specs, list(jobs), order=list(reversed(list(sizes))))
    assert [a.to_dict() for a in again.actions] == [a.to_dict() for a in p.actions], seed
    assert again.placed == p.placed


@pytest.mark.parametrize("seed", range(200))
def test_nothing_is_launched_for_jobs_that_fit_on_existing_nodes(seed):
    rng = random.Random(seed)
    sizes, specs, _ = _random_case(rng)
    # an idle node for every job, each job a single chunk that fits any of them (where a job would fit only
    # some, packing jobs onto existing nodes in priority order is greedy, whichever node_size_choice)
    workers, jobs = [], []
    n = rng.randint(1, 8)
    for k in range(n):
        res = rng.choice(list(sizes))
        workers.append((wid(res, n=k), res, 0))
    smallest = min(sizes[res] for _, res, _ in workers)
    for k in range(n):
        jobs.append(timed(job(k, cores=rng.randint(1, smallest)), rng.choice((0, 3600))))
    for k in range(rng.randint(0, 3)):  # and some busy nodes with free cores, which may take them too
        res = rng.choice(list(sizes))
        workers.append((wid(res, n=100 + k), res, rng.randint(0, sizes[res])))
    for _, res, _ in workers:  # no resource above its max (a job is never placed beyond a max of 0)
        quantity = specs[res]["quantity"]
        quantity["max"] = max(quantity["max"], sum(1 for w in workers if w[1] == res))
    p = _plan(sizes, specs, jobs, workers=workers)
    assert p.launches() == {}, (seed, p.launches())


@pytest.mark.parametrize("seed", range(300))
def test_a_lone_job_gets_the_size_with_fewest_idle_cores_among_the_best_priority(seed):
    rng = random.Random(seed)
    sizes, specs, jobs = _random_case(rng)
    for spec in specs.values():
        spec.pop("max_idle_time", None)  # one idle tail for all: the spare cores decide
    j = jobs[0]
    p = _plan(sizes, specs, [j])

    def spare(name):
        """Idle cores of the new nodes ``name`` would need, or None when it cannot take the job."""
        cores, most = sizes[name], specs[name]["quantity"]["max"]
        if j.chunk_cores > cores:
            return None
        per = 1 if j.distinct else cores // j.chunk_cores
        nodes = -(-j.chunks // per)
        return nodes * cores - j.cores if nodes <= most and (not j.distinct or j.chunks <= most) else None

    able = {n: s for n in sizes if (s := spare(n)) is not None}
    if not able:
        assert p.launches() == {}, seed
        return
    best = min(specs[n]["priority"] for n in able)
    group = {n: s for n, s in able.items() if specs[n]["priority"] == best}
    (chosen,) = p.launches()
    assert chosen in group, (seed, chosen, group)
    assert group[chosen] == min(group.values()), (seed, chosen, group)
