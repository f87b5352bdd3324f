"""The reference architectures' pillars (salt/pillar-examples/deploy/) stay valid as the schema and formulas change.

Each file is read as the master reads pillar SLS (Salt's own YAML loader).  Its ``dcluster:`` key must pass
``dcluster.config.load`` (secrets are placeholders, so only their form is checked); its ``dcluster_head:`` and
``dcluster_worker:`` keys must be keys the formulas read, and the settings the engine and the formulas must
agree on (Slurm partition and node feature, Grid Engine cell and ports) must agree; and the head and worker
formulas must render with it (state.show_sls through Salt's loader), so a document cannot describe a
deployment that would not come up.
"""

import pathlib
import re

import pytest
import salt.config
import salt.loader
import salt.utils.yaml

import dcluster
from dcluster.config import load

ROOT = pathlib.Path(dcluster.__file__).resolve().parents[1]
DEPLOY = ROOT / "salt" / "pillar-examples" / "deploy"
HEAD_FORMULA = ROOT / "salt" / "dcluster" / "head"
WORKER_FORMULA = ROOT / "salt" / "dcluster" / "worker"

# name -> (scheduler, the resources the document describes)
ARCHITECTURES = {
    "basic": ("slurm", {"nectar"}),
    "advanced": ("sge", {"melshort", "melbig", "tasphys", "ec2burst"}),
    "high-availability": ("slurm", {"nectar", "ec2"}),
}


def pillar(name):
    return salt.utils.yaml.safe_load((DEPLOY / f"{name}.sls").read_text())


def show_sls(tmp_path, sls, pillar, grains=None):
    """The formula rendered by Salt's own loader (state.show_sls) with this pillar, as the head would."""
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "cachedir": str(tmp_path / "cache"),
            "id": "head",
            "pillar": pillar,
            "state_dirs": [str(ROOT / "_states")],
            "file_roots": {"base": [str(ROOT / "salt")]},
        }
    )
    opts["grains"] = salt.loader.grains(opts)
    opts["grains"].update({"id": "head", "host": "head"}, **(grains or {}))
    low = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))["state.show_sls"](sls)
    assert isinstance(low, dict), low  # a list is Salt's list of render errors
    return low


def state_args(low, state_id):
    items = next(v for k, v in low[state_id].items() if not k.startswith("__") and k != "order")
    return {k: v for i in items if isinstance(i, dict) for k, v in i.items()}


def paths(tree, prefix=()):
    """Every key path of a nested mapping, e.g. ('share', 'clients')."""
    for key, value in tree.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from paths(value, prefix + (key,))


def test_every_pillar_in_the_folder_has_its_document():
    assert {p.stem for p in DEPLOY.glob("*.sls")} == set(ARCHITECTURES)
    for name in ARCHITECTURES:
        doc = (ROOT / "docs" / "deploy" / f"{name}.md").read_text()
        assert f"salt/pillar-examples/deploy/{name}.sls" in doc, name


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_dcluster_key_validates(name):
    scheduler, resources = ARCHITECTURES[name]
    cfg = load(pillar(name)["dcluster"])
    assert cfg.cluster.type == scheduler
    assert set(cfg.resources) == resources


def test_advanced_resources_are_projects_zones_and_flavors_with_reservations():
    cfg = load(pillar("advanced")["dcluster"])
    res = cfg.resources
    zones = {r.config.get("availability_zone") for r in res.values()}
    flavors = {r.config.get("flavor") or r.config.get("instance_type") for r in res.values()}
    projects = {
        r.config.get("application_credential_id") or r.config.get("project")
        for r in res.values()
        if r.type == "openstack"
    }
    assert len(zones) >= 3 and len(flavors) >= 3 and len(projects) == 2
    assert res["melshort"].reservation.queue == "short.q"
    assert res["melbig"].reservation.properties == ("bigmem",)
    assert (res["tasphys"].reservation.queue, res["tasphys"].reservation.account) == ("physics.q", "physics")
    # the overflow is tried last: its priority number is the highest
    assert res["ec2burst"].priority > max(r.priority for n, r in res.items() if n != "ec2burst")


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_head_keys_are_keys_the_head_formula_reads(name):
    """A key the formula does not know would be silently ignored: each must be in map.jinja's defaults or
    in a head-*.sls example (which documents every key)."""
    known = set()
    for example in (DEPLOY.parent).glob("head-*.sls"):
        known |= set(paths(salt.utils.yaml.safe_load(example.read_text())["dcluster_head"]))
    map_jinja = (HEAD_FORMULA / "map.jinja").read_text()
    unknown = [
        ":".join(p) for p in paths(pillar(name)["dcluster_head"]) if p not in known and f"'{p[-1]}'" not in map_jinja
    ]
    assert not unknown, f"{name}: dcluster_head keys no head formula part reads: {unknown}"


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_worker_keys_are_keys_the_worker_formula_reads(name):
    read = set()
    for sls in WORKER_FORMULA.glob("*.sls"):
        read |= set(re.findall(r"""(?:get\(|\[)'(\w+)'""", sls.read_text()))
    # the first level names a formula part (stats, share, slurm, sge, torque); below it, the keys it reads
    unknown = [":".join(p) for p in paths(pillar(name)["dcluster_worker"]) if len(p) > 1 and p[-1] not in read]
    assert not unknown, f"{name}: dcluster_worker keys the worker formula does not read: {unknown}"


@pytest.mark.parametrize("name", ["basic", "high-availability"])
def test_slurm_engine_head_and_workers_agree(name):
    data = pillar(name)
    cfg = load(data["dcluster"])
    head = data["dcluster_head"].get("slurm", {})
    worker = data["dcluster_worker"]["slurm"]
    feature = cfg.cluster.config.node_feature
    assert feature in worker["features"], "workers must register with the feature the partition's NodeSet selects"
    if head:  # basic: the head formula makes the partition (high availability: the site's slurmctld pair)
        assert head["partition"] == cfg.cluster.config.partition and head["node_feature"] == feature
        assert (
            worker["conf_server"].split(":")[0]
            == head["control_addr"]
            == data["dcluster_head"]["master"]["master_address"]
        )
    assert data["dcluster_worker"]["share"]["server"]


def test_sge_engine_head_and_workers_agree():
    data = pillar("advanced")
    env = load(data["dcluster"]).cluster.config.command_env
    head, worker = data["dcluster_head"]["sge"], data["dcluster_worker"]["sge"]
    assert env["SGE_ROOT"] == head["sge_root"] == worker["sge_root"]
    assert env["SGE_CELL"] == head["cell"] == worker["cell"]
    assert (head["qmaster_port"], head["execd_port"]) == (worker["qmaster_port"], worker["execd_port"])
    assert head["qmaster_host"] == worker["qmaster_host"]
    assert data["dcluster_worker"]["share"]["server"] == data["dcluster_head"]["master"]["master_address"]


def test_high_availability_masters_leave_services_to_the_cluster_manager():
    data = pillar("high-availability")
    cfg = load(data["dcluster"])
    # the scheduler's commands run in the engine's own process on whichever master is active
    assert cfg.cluster.head_minion == ""
    # the cluster manager, not the formula, starts salt-master and salt-api on the active node only
    assert data["dcluster_head"]["master"]["service"] == "" and data["dcluster_head"]["api"]["service"] == ""
    # the workers connect to the floating address, whichever master holds it
    assert data["dcluster_head"]["master"]["master_address"] == data["dcluster_head"]["api"]["host"]


# What each document tells the admin to apply: the whole head formula, or (high availability: the
# masters run no scheduler, share nor carbon) only its library and master parts.
HEAD_SLS = {
    "basic": "dcluster.head",
    "advanced": "dcluster.head",
    "high-availability": "dcluster.head.library,dcluster.head.master",
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_formulas_render_with_the_pillar(tmp_path, name):
    data = pillar(name)
    scheduler, _ = ARCHITECTURES[name]
    head = show_sls(tmp_path, HEAD_SLS[name], {"dcluster_head": data["dcluster_head"]})
    assert not [k for k, v in head.items() if "test" in v and "fail_without_changes" in v["test"]], head
    engine = state_args(head, "dcluster-master-engine")["dataset"]["engines"][0]["dcluster"]
    assert engine["master_address"] == data["dcluster_head"]["master"]["master_address"]
    services = {state_args(head, k).get("name") for k, v in head.items() if "service" in v}
    if name == "high-availability":
        assert not services & {"salt-master", "salt-api"}, services  # the cluster manager's alone
    else:
        assert "salt-master" in services
    worker = show_sls(
        tmp_path,
        "dcluster.worker",
        {"dcluster_worker": data["dcluster_worker"]},
        grains={"dcluster": {"scheduler": scheduler}},
    )
    share = data["dcluster_worker"]["share"]
    mounts = [state_args(worker, k) for k, v in worker.items() if "mount" in v]
    assert [(m["name"], m["device"]) for m in mounts] == [(share["path"], f"{share['server']}:{share['export']}")]
