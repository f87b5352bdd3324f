"""The head formula (salt/dcluster/head) and the worker formula's common part, rendered.

Rendered through Salt's own loader with the shipped pillar examples (state.show_sls):
what each scheduler's head sets up, the failures bad pillar gets, and the worker's
beacon, share mount and munge key.  tests/integration/test_head_formula.py applies the
Slurm head for real; Torque is not packaged in Debian 12, so its head is only rendered here.
"""

import os

import pytest
import salt.config
import salt.loader
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EXAMPLES = os.path.join(REPO, "salt", "pillar-examples")
NAME = "dc-loc-abcdef-0123456789ab"


def show_sls(tmp_path, sls, pillar, grains=None):
    opts = salt.config.minion_config(None)
    opts.update(
        {
            "file_client": "local",
            "cachedir": str(tmp_path / "cache"),
            "id": NAME,
            "state_dirs": [os.path.join(REPO, "_states")],
            "pillar": pillar,
            "file_roots": {"base": [os.path.join(REPO, "salt")]},
        }
    )
    opts["grains"] = salt.loader.grains(opts)
    opts["grains"].update({"id": NAME, "host": "headnode"}, **(grains or {}))
    funcs = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))
    low = funcs["state.show_sls"](sls)
    assert isinstance(low, dict), low
    return low


def args(low, state_id):
    """The arguments of state ``state_id`` as one dict, and its function (e.g. 'file.managed')."""
    chunk = low[state_id]
    mod = next(k for k in chunk if not k.startswith("__") and k != "order")
    items = chunk[mod]
    fun = next(i for i in items if isinstance(i, str))
    return f"{mod}.{fun}", {k: v for i in items if isinstance(i, dict) for k, v in i.items()}


def example(name):
    with open(os.path.join(EXAMPLES, name)) as fh:
        return yaml.safe_load(fh)


def test_slurm_head_renders_every_part(tmp_path):
    low = show_sls(tmp_path, "dcluster.head", example("head-slurm.sls"))
    fun, lib = args(low, "dcluster-library")
    assert fun == "pip.installed"
    # a named direct reference: pip knows it is installed, so a second run changes nothing
    assert lib["name"] == "dcluster @ file:///srv/dcluster" and lib["bin_env"] == "/opt/saltstack/salt/bin/pip3"
    fun, engine = args(low, "dcluster-master-engine")
    assert fun == "file.serialize" and engine["dataset"] == {"engines": [{"dcluster": {"master_address": "10.0.0.1"}}]}
    _, reactor = args(low, "dcluster-master-reactor")
    assert reactor["dataset"]["reactor"] == [{"salt/auth": ["/srv/reactor/dcluster/auth.sls"]}]
    _, export = args(low, "dcluster-share-export")
    assert "/shared 10.0.0.0/24(rw,sync,no_subtree_check,root_squash)" in export["contents"]
    assert args(low, "dcluster-nfs-server")[0] == "service.running"
    assert args(low, "dcluster-slurmctld")[0] == "service.running"
    assert args(low, "dcluster-munged")[0] == "service.running"
    assert args(low, "dcluster-carbon-cache")[0] == "service.running"
    fun, keygen = args(low, "dcluster-munge-key-created")
    # no shell: cmd.run_all with an argument list, made once
    assert fun == "module.run" and keygen["creates"] == "/etc/salt/dcluster/munge.key"
    assert {"cmd": ["mungekey", "--create", "--keyfile", "/etc/salt/dcluster/munge.key"]} in keygen["cmd.run_all"]
    _, key = args(low, "dcluster-munge-key")
    assert key["mode"] == "0400" and key["user"] == "munge" and key["show_changes"] is False
    # the salt-master restarts when a drop-in changes; no salt-api unless asked
    assert args(low, "dcluster-salt-master")[0] == "service.running"
    assert "dcluster-master-api" not in low and "dcluster-salt-api" not in low


def test_api_drop_in_serves_the_dashboard_with_anchored_acls(tmp_path):
    pillar = example("head-slurm.sls")
    pillar["dcluster_head"]["api"]["enable"] = True
    low = show_sls(tmp_path, "dcluster.head.master", pillar)
    _, api = args(low, "dcluster-master-api")
    conf = api["dataset"]
    assert conf["rest_cherrypy"]["static"].endswith("/dcluster/data/dashboard")
    assert conf["rest_cherrypy"]["host"] == "127.0.0.1"
    ro = conf["external_auth"]["pam"]["dcluster-ro%"][0]["@runner"]
    admin = conf["external_auth"]["pam"]["dcluster-admin%"][0]["@runner"]
    assert "dcluster\\.status$" in ro and "dcluster\\.remove$" not in ro
    assert "dcluster\\.remove$" in admin and all(r.startswith("dcluster\\.") and r.endswith("$") for r in admin)


def test_sge_head_renders_the_qmaster(tmp_path):
    low = show_sls(tmp_path, "dcluster.head", example("head-sge.sls"))
    _, env = args(low, "dcluster-sge-environment")
    assert "export SGE_QMASTER_PORT=6444" in env["contents"].splitlines()
    # Debian's init script starts no qmaster without it
    assert "SGE_START_MASTERD=yes" in env["contents"].splitlines()
    _, act = args(low, "dcluster-sge-act-qmaster")
    assert act["name"] == "/var/lib/gridengine/default/common/act_qmaster" and act["contents"] == "headnode"
    assert args(low, "dcluster-sge-qmaster")[0] == "service.running"
    assert "dcluster-slurmctld" not in low and "dcluster-munged" not in low


def test_sge_head_makes_the_cell_dcluster_uses(tmp_path):
    # Debian's package makes no submit host, host group or queue: qsub on the head is refused and
    # the engine's add_node needs the host group and the queue; the formula makes them after qmaster.
    low = show_sls(tmp_path, "dcluster.head", example("head-sge.sls"))
    cell = {
        "SGE_ROOT": "/var/lib/gridengine",
        "SGE_CELL": "default",
        "SGE_QMASTER_PORT": "6444",
        "SGE_EXECD_PORT": "6445",
    }
    fun, submit = args(low, "dcluster-sge-submit-hosts")
    assert fun == "dcluster_sge_cell.submit_host" and submit["names"] == ["headnode"] and submit["env"] == cell
    assert {"service": "dcluster-sge-qmaster"} in submit["require"]
    fun, group = args(low, "dcluster-sge-hostgroup")
    assert fun == "dcluster_sge_cell.hostgroup" and group["name"] == "@allhosts" and group["env"] == cell
    fun, queue = args(low, "dcluster-sge-queue")
    assert fun == "dcluster_sge_cell.queue" and queue["name"] == "all.q" and queue["hostlist"] == "@allhosts"
    assert queue["settings"] == {"slots": 1, "shell": "/bin/sh"} and queue["env"] == cell
    assert "dcluster-sge-hostgroup" in queue["require"]


def test_sge_cell_defaults_and_pillar(tmp_path):
    # no sge keys: the qmaster's host submits, @allhosts and all.q (dcluster's default_hostgroup/queue)
    low = show_sls(tmp_path, "dcluster.head", {"dcluster_head": {"scheduler": "sge"}})
    assert args(low, "dcluster-sge-submit-hosts")[1]["names"] == ["headnode"]
    assert args(low, "dcluster-sge-hostgroup")[1]["name"] == "@allhosts"
    assert args(low, "dcluster-sge-queue")[1]["name"] == "all.q"
    sge = {"submit_hosts": ["login1", "login2"], "hostgroup": "@cloud", "queue": "cloud.q"}
    sge["queue_settings"] = {"load_thresholds": "NONE"}
    low = show_sls(tmp_path, "dcluster.head", {"dcluster_head": {"scheduler": "sge", "sge": sge}})
    assert args(low, "dcluster-sge-submit-hosts")[1]["names"] == ["login1", "login2"]
    _, queue = args(low, "dcluster-sge-queue")
    assert queue["name"] == "cloud.q" and queue["hostlist"] == "@cloud"
    # pillar settings are added to the defaults
    assert queue["settings"] == {"slots": 1, "shell": "/bin/sh", "load_thresholds": "NONE"}


@pytest.mark.parametrize(
    "sge, state_id, message",
    [
        ({"submit_hosts": "headnode"}, "dcluster-sge-submit-hosts", "pillar dcluster_head:sge:submit_hosts is"),
        ({"hostgroup": "allhosts"}, "dcluster-sge-hostgroup", "pillar dcluster_head:sge:hostgroup is"),
        ({"queue_settings": ["slots"]}, "dcluster-sge-queue", "pillar dcluster_head:sge:queue is"),
    ],
)
def test_bad_sge_cell_pillar_fails_naming_its_key(tmp_path, sge, state_id, message):
    low = show_sls(tmp_path, "dcluster.head", {"dcluster_head": {"scheduler": "sge", "sge": sge}})
    fun, fail = args(low, state_id)
    assert fun == "test.fail_without_changes" and fail["name"].startswith(message), fail


def test_torque_head_renders_server_queue_and_maui(tmp_path):
    low = show_sls(tmp_path, "dcluster.head", example("head-torque.sls"))
    _, name = args(low, "dcluster-torque-server-name")
    assert name["contents"] == "headnode"
    fun, queue = args(low, "dcluster-torque-queue")
    assert fun == "module.run" and queue["creates"] == "/var/spool/torque/server_priv/queues/batch"
    _, maui = args(low, "dcluster-maui-cfg")
    assert "SERVERHOST headnode" in maui["contents"] and "RMCFG[base] TYPE=PBS" in maui["contents"]
    assert args(low, "dcluster-maui")[0] == "service.running"


@pytest.mark.parametrize(
    "pillar, message",
    [
        ({"scheduler": "lsf"}, "pillar dcluster_head:scheduler is 'lsf': expected slurm, sge or torque"),
        ({"share": {"clients": []}}, "pillar dcluster_head:share:clients is empty"),
        ({"share": {"clients": ["10.0.0.0/24"], "path": "shared"}}, 'pillar dcluster_head:share:path is "shared"'),
        ({"library": {"source": "dcluster.whl"}}, 'pillar dcluster_head:library:source is "dcluster.whl"'),
    ],
)
def test_bad_pillar_fails_naming_the_key(tmp_path, pillar, message):
    low = show_sls(tmp_path, "dcluster.head", {"dcluster_head": pillar})
    failing = [args(low, sid) for sid in low if args(low, sid)[0] == "test.fail_without_changes"]
    assert any(message in call["name"] for _, call in failing), failing


def test_worker_common_enables_the_beacon_and_mounts_the_share(tmp_path):
    pillar = example("worker-common.sls")
    low = show_sls(tmp_path, "dcluster.worker", pillar, grains={"dcluster": {"scheduler": "sge"}})
    fun, beacon = args(low, "dcluster-stats-beacon")
    assert fun == "beacon.present" and beacon["name"] == "dcluster_stats" and beacon["save"] is True
    assert beacon["interval"] == 30 and beacon["disks"] == ["/", "/shared"]
    fun, mount = args(low, "dcluster-share-mount")
    assert fun == "mount.mounted" and mount["device"] == "10.0.0.1:/shared" and mount["fstype"] == "nfs"
    # no munge key in pillar: no munge states
    assert "dcluster-munged" not in low


def test_worker_without_share_server_mounts_nothing_and_beacon_can_be_off(tmp_path):
    low = show_sls(
        tmp_path,
        "dcluster.worker",
        {"dcluster_worker": {"stats": {"enable": False}}},
        grains={"dcluster": {"scheduler": "sge"}},
    )
    assert "dcluster-stats-beacon" not in low and "dcluster-share-mount" not in low


def test_slurm_worker_takes_the_munge_key_from_pillar_before_slurmd(tmp_path):
    pillar = example("slurm.sls")
    pillar["dcluster_worker"]["munge_key"] = "a2V5"
    low = show_sls(tmp_path, "dcluster.worker", pillar, grains={"dcluster": {"scheduler": "slurm"}})
    fun, data = args(low, "dcluster-munge-key-data")
    assert fun == "file.decode" and data["contents_pillar"] == "dcluster_worker:munge_key"
    _, key = args(low, "dcluster-munge-key")
    assert key["mode"] == "0400" and key["replace"] is False
    _, slurmd = args(low, "dcluster-slurmd")
    assert {"service": "dcluster-munged"} in slurmd["require"]


def test_configless_slurm_worker_fetches_its_conf_from_the_head(tmp_path):
    pillar = example("slurm.sls")
    pillar["dcluster_worker"]["slurm"]["conf_server"] = "headnode:6817"
    low = show_sls(tmp_path, "dcluster.worker", pillar, grains={"dcluster": {"scheduler": "slurm"}})
    _, slurmd = args(low, "dcluster-slurmd")
    assert slurmd["args"] == ["--conf-server", "headnode:6817"]
    assert not slurmd.get("conf") and "env" not in slurmd
    head = show_sls(tmp_path, "dcluster.head.slurm", example("head-slurm.sls"))
    assert args(head, "dcluster-slurm-conf")[1]["context"]["s"]["configless"] is True
