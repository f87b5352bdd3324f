"""Every key of the ``dcluster:`` pillar, with its default and what it means.

Names and defaults are those of Dynamic Cluster's configuration (the system
dcluster rebuilds, see README.md), so its pillar carries over; keys it lacks
(``slurm``, ``local`` clouds, identity, backoff) are dcluster's own.  Its shell
pipelines are replaced by plain commands whose output dcluster filters itself
(see :mod:`dcluster.config.command`).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from ..model import MAX_NODE_CORES, MAX_NODES
from .clouds import AwsConfig, BootFromVolume, CloudConfig, Disk, LocalConfig, OpenStackConfig
from .clouds import default as _d
from .schema import CommandSpec, Dict, MapOf, Scalar, SecretList, StrList, Typed

NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")


def _name_problem(name: str) -> str | None:
    # Resource and cluster names go into minion ids and scheduler host names,
    # which must be short DNS labels; keep them simple so ids stay parseable.
    if not NAME_RE.fullmatch(name):
        return "must be 1-16 lowercase letters and digits, starting with a letter"
    return None


# What every scheduler takes as a property name: a Torque property, a Slurm feature (none of Slurm's
# constraint operators &|,*[]() may be in it) and a Grid Engine complex name.
_PROPERTY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")


def _property_problem(name: str) -> str | None:
    if _PROPERTY_RE.fullmatch(name):
        return None
    return "is not a property name (letters, digits and _ . - only, starting with a letter, digit or _; at most 63)"


def _seconds(doc: str, default: int, minimum: int = 0) -> Scalar:
    return Scalar(doc=doc, default=default, kind=int, minimum=minimum)


def _cmd(doc: str, default: str | None) -> CommandSpec:
    return CommandSpec(doc=doc, default=default)


# ---------------------------------------------------------------- cluster
COMMON_CLUSTER = {
    "queue_to_monitor": StrList(
        doc="Queues/partitions whose jobs count as demand; empty means all. A job counts when "
        "the scheduler may run it in one of them (Job.may_run_in): it names one, a list "
        "or Grid Engine pattern with one, or (Grid Engine, no -q) no queue at all.",
        default=(),
    ),
    "queued_job_number_to_display": Scalar(
        doc="How many queued jobs the status views list. Display only: every pending job is planned for.",
        default=30,
        kind=int,
        minimum=0,
    ),
    "post_add_node_command": _cmd("Hook run after a node is added to the scheduler: {0} hostname, {1} IP.", None),
    "post_remove_node_command": _cmd(
        "Hook run after a node is removed from the scheduler: {0} hostname, {1} IP.", None
    ),
    "command_timeout": _seconds(
        "Seconds a scheduler command may run before it is killed and the poll counts as failed.", 60, 1
    ),
    "command_env": MapOf(
        doc="Environment variables set for scheduler commands (e.g. SGE_ROOT, SGE_QMASTER_PORT, SLURM_CONF).",
        value=Scalar(kind=(str, int)),
    ),
}

TORQUE = Dict(
    fields={
        **COMMON_CLUSTER,
        "qstat_command": _cmd("Lists jobs as XML (array sub-jobs with -t).", "/usr/bin/qstat -x -t"),
        "pbsnodes_command": _cmd(
            "pbsnodes: {0} option (-x query, -o hold, -c clear), {1} host.", "/usr/bin/pbsnodes {0} {1}"
        ),
        "add_node_command": _cmd("Adds a node: {0} host.", '/usr/bin/qmgr -c "create node {0}"'),
        "check_node_command": _cmd("MAUI node check: {0} host.", "/usr/bin/checknode {0}"),
        "remove_node_command": _cmd("Deletes a node: {0} host.", '/usr/bin/qmgr -c "delete node {0}"'),
        "set_node_command": _cmd(
            "Sets a node attribute: {0} host, {1} attribute, {2} operator, {3} value.",
            '/usr/bin/qmgr -c "set node {0} {1} {2} {3}"',
        ),
        "diagnose_p_command": _cmd("MAUI job priorities.", "/usr/bin/diagnose -p"),
        "showres_command": _cmd("MAUI reservations by node (filtered by dcluster, no grep).", "/usr/bin/showres -n"),
        "setres_command": _cmd(
            "MAUI reservation: {0} -q/-a, {1} queue or account, {2} host.", "/usr/bin/setres {0} {1} {2}"
        ),
        "releaseres_command": _cmd(
            "Releases a MAUI reservation: {0} reservation id (found by dcluster from showres).",
            "/usr/bin/releaseres {0}",
        ),
        "delete_job_command": _cmd("Purges a job: {0} job id.", "/usr/bin/qdel -p {0}"),
        "signal_job_command": _cmd("Signals a job: {0} signal, {1} job id.", "/usr/bin/qsig -s {0} {1}"),
    }
)

SGE = Dict(
    fields={
        **COMMON_CLUSTER,
        "qstat_command": _cmd("Lists all users' jobs as XML with requests.", "/usr/bin/qstat -u * -xml -r"),
        "qstat_j_command": _cmd(
            "Shows given jobs' details as XML (their qsub -a start time): {0} comma-separated job numbers.",
            "/usr/bin/qstat -xml -j {0}",
        ),
        "qhost_command": _cmd(
            "Lists hosts as XML: {0} {1} optionally '-h' and a host.", "/usr/bin/qhost -q -j -xml {0} {1}"
        ),
        "hostgroup_command": _cmd(
            "Hostgroup edit: {0} -aattr/-dattr, {1} host, {2} group.", "/usr/bin/qconf {0} hostgroup hostlist {1} {2}"
        ),
        "qmod_command": _cmd("Enables/disables a host's queues: {0} -e/-d, {1} host.", "/usr/bin/qmod {0} *@{1}"),
        "remove_node_command": _cmd("Deletes an exec host: {0} host.", "/usr/bin/qconf -de {0}"),
        "set_slots_command": _cmd(
            "Sets a queue's slots on a host: {0} slots, {1} queue, {2} host.",
            "/usr/bin/qconf -rattr queue slots {0} {1}@{2}",
        ),
        "unset_slots_command": _cmd(
            "Purges a queue's slots on a host: {0} queue, {1} host.", "/usr/bin/qconf -purge queue slots {0}@{1}"
        ),
        "qconf_spl_command": _cmd("Lists parallel environments.", "/usr/bin/qconf -spl"),
        "qconf_sp_command": _cmd(
            "Shows a parallel environment (allocation_rule read by dcluster): {0} PE.", "/usr/bin/qconf -sp {0}"
        ),
        "qdel_command": _cmd("Force-deletes a job: {0} job id.", "/usr/bin/qdel -f {0}"),
        "add_exechost_command": _cmd("Adds an exec host from a file: {0} file path.", "/usr/bin/qconf -Ae {0}"),
        "kill_execd_command": _cmd("Stops a host's execd: {0} host.", "/usr/bin/qconf -ke {0}"),
        "qconf_command": _cmd(
            "qconf itself, for the file-driven forms dcluster builds (-Me, -Ahgrp, -se, -shgrp, -sc).", "/usr/bin/qconf"
        ),
        "default_hostgroup": Scalar(
            doc="Hostgroup new hosts join when the resource reserves no account.", default="@allhosts"
        ),
        "default_queue": Scalar(
            doc="Queue whose slots are set on new hosts when the resource reserves no queue.", default="all.q"
        ),
    }
)

SLURM = Dict(
    fields={
        **COMMON_CLUSTER,
        "squeue_command": _cmd("Lists jobs as JSON.", "/usr/bin/squeue --all --json"),
        "sinfo_command": _cmd(
            "Lists nodes as JSON (--all: also those of hidden partitions, or one of ours there would look gone).",
            "/usr/bin/sinfo --all --json",
        ),
        "scontrol_command": _cmd("scontrol itself; dcluster adds the arguments.", "/usr/bin/scontrol"),
        "partition": Scalar(
            doc="Partition new dynamic nodes join (through the node feature of its NodeSet).", default=""
        ),
        "node_feature": Scalar(
            doc="Feature every node we add carries, matched by the partition's NodeSet.", default="dcluster"
        ),
    }
)

CLUSTER = Typed(
    doc="The batch scheduler on the head node.",
    fields={
        "type": Scalar(doc="torque, sge or slurm.", required=True, choices=("torque", "sge", "slurm")),
        "head_minion": Scalar(
            doc="Minion id of the head node that runs scheduler commands; empty: the master itself.", default=""
        ),
        "config": Dict(doc="Scheduler-specific settings (checked against the type).", fields={}),
    },
)

CLUSTER_CONFIGS = {"torque": TORQUE, "sge": SGE, "slurm": SLURM}
CLUSTER = Typed(doc=CLUSTER.doc, fields=CLUSTER.fields, variants=CLUSTER_CONFIGS)

# ---------------------------------------------------------------- clouds
COMMON_CLOUD = {
    "instance_name_prefix": Scalar(
        doc="Prefix of instance names, for people reading the cloud console. "
        "Listing never matches on it: it selects by dcluster tags.",
        default=_d(CloudConfig, "instance_name_prefix"),
    ),
    "userdata_file": Scalar(
        doc="Jinja2 template rendered as the instance's user-data; empty: the built-in salt-minion bootstrap.",
        default=_d(CloudConfig, "userdata_file"),
    ),
    "userdata_vars": MapOf(
        doc="Extra variables for the user-data template. The built-in one writes master_port, "
        "publish_port and acceptance_wait_time into the minion's configuration when given.",
        value=Scalar(kind=(str, int, float, bool)),
    ),
}

OPENSTACK = Dict(
    fields={
        **COMMON_CLOUD,
        "username": Scalar(doc="Keystone user name (password auth)."),
        "password": Scalar(doc="Keystone password.", secret=True),
        "project": Scalar(doc="Project (tenant) name."),
        "project_id": Scalar(doc="Project id, instead of the name."),
        "user_domain_name": Scalar(doc="Keystone v3 user domain.", default=_d(OpenStackConfig, "user_domain_name")),
        "project_domain_name": Scalar(
            doc="Keystone v3 project domain.", default=_d(OpenStackConfig, "project_domain_name")
        ),
        "application_credential_id": Scalar(doc="Application credential id (instead of user/password)."),
        "application_credential_secret": Scalar(doc="Application credential secret.", secret=True),
        "auth_url": Scalar(doc="Keystone URL.", required=True),
        "region_name": Scalar(doc="Region."),
        "image_uuid": Scalar(doc="Image id.", required=True),
        "flavor": Scalar(doc="Flavor name, e.g. m1.small; its vCPUs are the node's cores.", required=True),
        "key_name": Scalar(doc="SSH key pair name."),
        "security_groups": StrList(doc="Security group names.", default=_d(OpenStackConfig, "security_groups")),
        "availability_zone": Scalar(doc="Availability zone; one resource per zone."),
        "network": Scalar(doc="Network name or id to attach."),
        "metadata": Dict(doc="Extra server metadata (dcluster adds its own identity keys).", fields={}),
        "verify": Scalar(
            doc="TLS verification: True (the system's CAs), or the absolute path of a CA bundle (PEM) for a "
            "cloud whose certificates a private CA signed; False only with insecure: True.",
            default=_d(OpenStackConfig, "verify"),
            kind=(bool, str),
            extra=lambda v: _ca_bundle_problem(v),
        ),
        "insecure": Scalar(
            doc="Says that verify: False is meant (no TLS certificate check: anyone on the path can read "
            "the credentials). Has no other effect.",
            default=_d(OpenStackConfig, "insecure"),
            kind=bool,
        ),
        "proxy": Scalar(
            doc="HTTP(S) proxy for every Keystone, Nova and Neutron call, as a URL: http://host:port "
            "(user:password@ allowed; the password is scrubbed from all output). Empty: none, or the "
            "master's HTTP(S)_PROXY environment.",
            extra=lambda v: _proxy_problem(v),
        ),
        "boot_from_volume": Dict(
            doc="Boot from a new volume made from the image (for flavors with no local disk, or "
            "a bigger root disk); unset: boot from the image on the hypervisor's disk.",
            fields={
                "size_gb": Scalar(
                    doc="Size of the root volume in GiB; required to boot from volume.", kind=int, minimum=1
                ),
                "volume_type": Scalar(
                    doc="Cinder volume type; empty: the cloud's default (needs Nova microversion 2.67)."
                ),
                "delete_on_termination": Scalar(
                    doc="Nova deletes the volume with the server. Keep True: dcluster destroys workers and failed launches "
                    "by deleting their servers only, so with False every one leaves a paid volume behind.",
                    default=_d(BootFromVolume, "delete_on_termination"),
                    kind=bool,
                ),
            },
        ),
        "timeout": _seconds("HTTP timeout of one API call.", _d(OpenStackConfig, "timeout"), 1),
    }
)


def _ca_bundle_problem(value: object) -> str | None:
    if isinstance(value, str) and not value.startswith("/"):
        return "is not an absolute path of a CA bundle (or true, or false with insecure: true)"
    return None


def _proxy_problem(value: object) -> str | None:
    try:
        parts = urllib.parse.urlsplit(str(value))
        port = parts.port
    except ValueError:
        return "is not a proxy URL (http://host:port)"
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        return "is not a proxy URL: it needs http:// or https://, a host and a port"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "is not a proxy URL: nothing may follow host:port"
    return None


def _openstack_post(value: dict[str, Any], path: tuple[str, ...], errors: list[str]) -> None:
    has_password = value.get("username") and value.get("password")
    has_appcred = value.get("application_credential_id") and value.get("application_credential_secret")
    if not has_password and not has_appcred:
        errors.append(
            f"{':'.join(path)}: needs username and password, or application_credential_id and "
            "application_credential_secret"
        )
    if has_password and not (value.get("project") or value.get("project_id")):
        errors.append(f"{':'.join(path)}:project: required with password auth, but not set")
    if value.get("verify") is False and value.get("insecure") is not True:
        errors.append(
            f"{':'.join(path)}:verify: false turns TLS certificate checks off; set insecure: true as well "
            "if that is meant, or give the CA bundle's path instead"
        )
    bfv = value.get("boot_from_volume") or {}
    if not bfv.get("size_gb") and (bfv.get("volume_type") or bfv.get("delete_on_termination") is False):
        errors.append(f"{':'.join(path)}:boot_from_volume:size_gb: required to boot from volume, but not set")


OPENSTACK = Dict(fields=OPENSTACK.fields, post=_openstack_post)

DISK = Dict(
    fields={
        "device": Scalar(doc="Device name, e.g. /dev/sdb.", required=True),
        "size": Scalar(doc="Size in GiB.", required=True, kind=int, minimum=1),
        "delete_on_termination": Scalar(
            doc="Delete the volume with the instance.", default=_d(Disk, "delete_on_termination"), kind=bool
        ),
        "volume_type": Scalar(doc="EBS volume type.", default=_d(Disk, "volume_type")),
    }
)

AWS = Dict(
    fields={
        **COMMON_CLOUD,
        "access_key_id": Scalar(doc="Access key id; empty: boto3's default credential chain."),
        "secret_access_key": Scalar(doc="Secret access key.", secret=True),
        "image_id": Scalar(doc="AMI id.", required=True),
        "instance_type": Scalar(
            doc="Instance type; its vCPUs are looked up with DescribeInstanceTypes.", required=True
        ),
        "region_name": Scalar(doc="Region.", default=_d(AwsConfig, "region_name")),
        "key_name": Scalar(doc="SSH key pair name."),
        "security_groups": StrList(
            doc="Security group ids (ids are required with subnet_id).", default=_d(AwsConfig, "security_groups")
        ),
        "availability_zone": Scalar(doc="Availability zone."),
        "subnet_id": Scalar(doc="Subnet id."),
        "use_public_ip_address": Scalar(
            doc="Give instances a public IP and use it.", default=_d(AwsConfig, "use_public_ip_address"), kind=bool
        ),
        "disk_map": MapOf(doc="EBS volumes by a name of your choice.", value=DISK),
        "spot_bid": Scalar(doc="Spot price limit in USD/hour; set to launch spot instances.", kind=(float, str)),
        "spot_timeout": _seconds("Seconds a spot request may stay unfulfilled.", _d(AwsConfig, "spot_timeout"), 1),
        "spot_fallback_on_demand": Scalar(
            doc="Launch on-demand when a spot request times out.",
            default=_d(AwsConfig, "spot_fallback_on_demand"),
            kind=bool,
        ),
        "proxy": Scalar(doc="HTTP proxy host."),
        "proxy_port": Scalar(doc="HTTP proxy port.", kind=int, minimum=1, maximum=65535),
        "validate_certs": Scalar(doc="Verify TLS certificates.", default=_d(AwsConfig, "validate_certs"), kind=bool),
        "endpoint_url": Scalar(doc="EC2 endpoint override (testing against moto, or a private endpoint)."),
    }
)

LOCAL = Dict(
    fields={
        **COMMON_CLOUD,
        "bridge": Scalar(doc="Bridge the namespace hosts attach to.", default=_d(LocalConfig, "bridge")),
        "network": Scalar(
            doc="Loopback subnet of the hosts; must lie inside 127.0.0.0/8.",
            default=_d(LocalConfig, "network"),
            extra=lambda v: None if str(v).startswith("127.") else "is not inside 127.0.0.0/8",
        ),
        "gateway": Scalar(
            doc="The bridge's address, where the master and the head node listen.",
            default=_d(LocalConfig, "gateway"),
            extra=lambda v: None if str(v).startswith("127.") else "is not inside 127.0.0.0/8",
        ),
        "cores": Scalar(
            doc="Cores each namespace host reports.",
            default=_d(LocalConfig, "cores"),
            kind=int,
            minimum=1,
            maximum=MAX_NODE_CORES,
        ),
        "mem_mb": Scalar(
            doc="Memory each namespace host reports, in MB.", default=_d(LocalConfig, "mem_mb"), kind=int, minimum=1
        ),
        "state_dir": Scalar(
            doc="Where instance metadata lives (the 'cloud' API's state).", default=_d(LocalConfig, "state_dir")
        ),
        "boot_delay": _seconds(
            "Seconds a host stays 'pending' before its userdata runs.", _d(LocalConfig, "boot_delay")
        ),
        "hosts_file": Scalar(
            doc="The local cloud's DNS: a hosts file (e.g. /etc/hosts) that gets an 'address minion-id' "
            "line per instance while it exists; empty: names are not published.",
            default=_d(LocalConfig, "hosts_file"),
        ),
    }
)

CLOUD_CONFIGS = {"openstack": OPENSTACK, "aws": AWS, "local": LOCAL}

RESOURCE = Typed(
    fields={
        "type": Scalar(doc="openstack, aws or local.", required=True, choices=("openstack", "aws", "local")),
        "reservation": Dict(
            doc="Which jobs this resource serves; unset means any.",
            fields={
                "queue": Scalar(
                    doc="Only jobs of this queue (Torque: MAUI setres -q; SGE: slots in this queue; Slurm: partition)."
                ),
                "account": Scalar(
                    doc="Only jobs of this account (Torque: MAUI setres -a; SGE: hostgroup; Slurm: account)."
                ),
                "properties": StrList(
                    doc="Node properties/features every node gets (Torque properties, Slurm features, Grid Engine boolean "
                    "complexes set TRUE on the host); a job asking for properties goes only where they satisfy its "
                    "request under its scheduler's rule, and prefers such a resource. 'property: x' is the same as "
                    "'properties: [x]'.",
                    default=(),
                    extra=_property_problem,
                ),
            },
            aliases={"property": "properties"},
        ),
        "quantity": Dict(
            doc="Worker node limits.",
            fields={
                "min": Scalar(doc="Nodes kept even when idle.", default=0, kind=int, minimum=0),
                "max": Scalar(doc="Nodes never exceeded.", default=1, kind=int, minimum=0, maximum=MAX_NODES),
            },
        ),
        "priority": Scalar(doc="Lower is preferred when several resources fit a job.", default=1, kind=int),
        "max_idle_time": Scalar(doc="Overrides the global max_idle_time for this resource.", kind=int, minimum=0),
        "cores": Scalar(
            doc="Cores per node; empty: asked from the cloud (flavor/instance type).",
            kind=int,
            minimum=1,
            maximum=MAX_NODE_CORES,
        ),
        "mem_mb": Scalar(doc="Memory per node in MB usable by jobs; empty: asked from the cloud.", kind=int, minimum=1),
        "launch_batch": Scalar(doc="Most instances requested in one API call.", default=50, kind=int, minimum=1),
        "config": Dict(doc="Cloud-specific settings (checked against the type).", fields={}),
    }
)


def _quantity_post(value: dict[str, Any], path: tuple[str, ...], errors: list[str]) -> None:
    if value["max"] < value["min"]:
        errors.append(f"{':'.join(path)}:max: {value['max']} is below min {value['min']}")


_QUANTITY = RESOURCE.fields["quantity"]
assert isinstance(_QUANTITY, Dict)
RESOURCE = Typed(
    fields={**RESOURCE.fields, "quantity": Dict(doc=_QUANTITY.doc, fields=_QUANTITY.fields, post=_quantity_post)},
    variants=CLOUD_CONFIGS,
)

# ---------------------------------------------------------------- top level
CONFIG_CHECKER = Dict(
    doc="How dcluster learns that a new worker finished its configuration.",
    fields={
        "salt": Dict(
            doc="Wait for the worker's highstate job to return successfully (the default).",
            fields={
                "timeout": _seconds(
                    "Seconds the highstate may take; with no return by then it counts as failed (salt-run "
                    "dcluster.status says so) and its late return is refused. max_launch_time still "
                    "destroys a worker that never becomes usable.",
                    900,
                    1,
                ),
            },
        ),
        "port": Dict(
            doc="A TCP port on the worker that answers once it is configured.",
            fields={
                "number": Scalar(doc="The port.", required=True, kind=int, minimum=1, maximum=65535),
            },
        ),
        "plugin": Dict(
            doc="Legacy form: plugin name; dynamiccluster.salt.SaltChecker means 'salt'.",
            fields={
                "name": Scalar(doc="Class name.", required=True),
            },
        ),
    },
)


def _render_url_problem(url: str) -> str | None:
    if not url:
        return None
    parts = urllib.parse.urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "must not carry credentials (it is shown on the dashboard)"
    return None


GRAPHITE_ARGS = Dict(
    fields={
        "hostname": Scalar(doc="Carbon host.", default="localhost"),
        "port": Scalar(doc="Carbon plaintext port.", default=2003, kind=int, minimum=1, maximum=65535),
        "prefix": Scalar(doc="Metric name prefix.", default="headnode.dynamiccluster"),
        "interval": _seconds("Seconds between reports.", 60, 1),
        "render_url": Scalar(
            doc="graphite-web base URL whose render API the dashboard's graphs read (the master fetches "
            "it); empty: the graphs use the engine's own recent history.",
            default="",
            extra=_render_url_problem,
        ),
    }
)

PLUGIN = Dict(
    fields={
        "class_name": Scalar(doc="dynamiccluster.graphite.GraphiteReporter (the only plugin).", required=True),
        "arguments": GRAPHITE_ARGS,
    }
)


def _log_location_problem(path: str) -> str | None:
    return (
        None
        if not path or str(path).startswith("/")
        else "must be an absolute path (the engine's working directory is not yours)"
    )


def _log_format_problem(fmt: str) -> str | None:
    import logging  # here: the schema module is imported by everything, logging only matters for this check

    record = logging.LogRecord("dcluster", logging.INFO, __file__, 1, "message", (), None, func="f")
    try:
        logging.Formatter(fmt, validate=True).format(record)
    except (ValueError, KeyError, TypeError) as exc:
        return f"is not a logging format ({exc})"
    return None


LOGGING = Dict(
    doc="dcluster's own logging in the engine (dcluster.glue.log_config applies it).",
    fields={
        "log_level": Scalar(
            doc="Level of dcluster's loggers: 0 ERROR, 1 WARNING, 2 INFO, 3 DEBUG; Salt's handlers still "
            "filter by their own level. Unset: Salt's level decides.",
            default=None,
            kind=int,
            minimum=0,
            maximum=3,
        ),
        "log_location": Scalar(
            doc="Also write dcluster's log to this file (absolute path), scrubbed like every other "
            "handler; empty: Salt's log only.",
            default="",
            extra=_log_location_problem,
        ),
        "log_format": Scalar(
            doc="Format of that file.",
            default="%(asctime)s - %(levelname)s - %(threadName)s - %(message)s",
            extra=_log_format_problem,
        ),
        "log_max_size": Scalar(doc="Bytes before the file rotates (3 kept).", default=2097152, kind=int, minimum=1024),
    },
)

BACKOFF = Dict(
    doc="How a resource whose launches fail is rested.",
    fields={
        "initial": _seconds("First pause after a failure.", 60, 1),
        "factor": Scalar(doc="Multiplier per further failure.", default=2.0, kind=float, minimum=1.0),
        "max": _seconds("Longest pause.", 1800, 1),
        "capacity_pause": _seconds("Pause after a quota or capacity error (the cloud is full: try elsewhere).", 600, 1),
    },
)

CONFIRM_ABSENCE = Dict(
    doc="How long a worker missing from one source (the scheduler's node list, its resource's cloud "
    "listing) must stay missing before dcluster acts on it (destroy, remove, requeue). One "
    "poll's answer can be valid and wrong; nothing happens meanwhile, and never while any "
    "source shows a job on the worker.",
    fields={
        "polls": Scalar(doc="Consecutive successful polls that must all miss it.", default=3, kind=int, minimum=1),
        "seconds": _seconds(
            "Seconds those polls must span; at least twice the poll interval of the source whatever "
            "this says, so one cached listing never counts as several.",
            60,
        ),
    },
)


def _hosts_file_problem(path: object) -> str | None:
    return None if str(path).startswith("/") and "\n" not in str(path) else "must be an absolute path"


NAME_RESOLUTION = Dict(
    doc="How a worker's name (its minion id) comes to resolve where the scheduler needs it (Grid "
    "Engine and Torque refuse hosts they cannot resolve). 'hosts': each cycle the engine makes "
    "the lines ending in '# dcluster' of the head node's hosts file say exactly the workers "
    "whose instances are listed, with the address their cloud gives (Salt's hosts module on "
    "the head minion, or in the engine when the master is the head); no other line is "
    "touched; workers of a local cloud are left to its own hosts_file. 'none': the site resolves them itself (its DNS, the cloud's).",
    fields={
        "method": Scalar(doc="hosts or none.", default="hosts", choices=("hosts", "none")),
        "hosts_file": Scalar(doc="The head node's hosts file.", default="/etc/hosts", extra=_hosts_file_problem),
        "also_on_workers": Scalar(
            doc="Grid Engine and Torque: also give every worker the others' lines (a block between "
            "'# BEGIN dcluster workers' markers in its /etc/hosts, by Salt's file.blockreplace "
            "from the engine), for parallel jobs across workers.",
            default=True,
            kind=bool,
        ),
    },
)


def _secret_problem(value: object) -> str | None:
    return None if len(str(value)) >= 16 else "is shorter than 16 characters"


def _root_post(value: dict[str, Any], path: tuple[str, ...], errors: list[str]) -> None:
    both = sorted(set(value["cloud"]) & set(value["retired_resources"]))
    for name in both:
        errors.append(
            f"{':'.join(path)}:retired_resources:{name}: also under cloud; a resource is either in use or retired"
        )


ROOT = Dict(
    post=_root_post,
    fields={
        "cluster_name": Scalar(
            doc="Names this cluster in instance tags and minion ids.", default="dc", extra=_name_problem
        ),
        "secret": Scalar(
            doc="Secret for the HMAC token in minion ids (unguessable ids). Required.",
            required=True,
            secret=True,
            extra=_secret_problem,
        ),
        "previous_secrets": SecretList(
            doc="Secrets used before 'secret', to rotate it without orphaning a worker: ids signed under any of "
            "them are still ours (listed, drained, destroyed, their keys swept); new workers get ids under "
            "'secret'. Keep an old secret here until no worker launched under it is left.",
            default=(),
            extra=_secret_problem,
        ),
        "max_idle_time": _seconds("Seconds a worker may stay idle before it is drained and deleted.", 600),
        "max_down_time": _seconds("Seconds a worker may be down (error) before it is deleted.", 480),
        "max_launch_time": _seconds("Seconds from the launch request until the worker must be usable.", 1200, 1),
        "bootstrap_failures": Scalar(
            doc="Instances of a resource in a row that never join (destroyed after max_launch_time without being "
            "configured or registered) before the resource launches no more: a bad image or user-data. It "
            "resumes when a worker launched since joins, its pillar changes, or on salt-run dcluster.restore "
            "<resource>. After the first such instance it launches only what this number leaves. 0: never stop.",
            default=3,
            kind=int,
            minimum=0,
        ),
        "cluster_poller_interval": _seconds("Seconds between scheduler polls.", 10, 1),
        "cloud_poller_interval": _seconds("Seconds between cloud polls.", 20, 1),
        "auto_provision_interval": _seconds(
            "Kept from Dynamic Cluster's configuration, where it had no effect: dcluster plans after "
            "every scheduler poll (planning is idempotent and counts launches in "
            "flight), so decisions follow cluster_poller_interval, in the simulator "
            "too.",
            60,
            1,
        ),
        "scale_up_delay": _seconds(
            "Seconds a job must have been pending before it may cause a launch; nodes that "
            "free up meanwhile absorb short jobs. 0: launch at once.",
            0,
        ),
        "respect_reservations": Scalar(
            doc="Plan like the scheduler's EASY backfilling: once the first pending job cannot start, a later job "
            "that would delay it (it ends after that job's reserved start and needs more than the cores left "
            "over) neither keeps an idle node up nor causes a launch. Cheaper and fair to wide jobs; false "
            "launches for every job that fits, which shortens the mean wait and costs more node-hours (see "
            "docs/performance.md).",
            default=True,
            kind=bool,
        ),
        "node_size_choice": Scalar(
            doc="Which of several eligible resources of the same priority a pending job launches. waste: the one "
            "whose new nodes waste least for the job's shape and wall time (idle core-seconds: cores the job and "
            "the jobs queued behind it leave free over its wall time, plus every new core's idle tail of "
            "max_idle_time), so a one-core job does not pin a 16-core node. priority: the first in the expander's "
            "order (the one with fewer nodes, then by name). Resources of different priority keep their order "
            "either way.",
            default="waste",
            choices=("waste", "priority"),
        ),
        "idle_policy": Scalar(
            doc="When an idle worker that no pending job wants is released. fixed: after max_idle_time. adaptive: "
            "each resource learns its recent demand (the nodes its job starts took per second, over the latest "
            "32 starts, and its median boot time); of its idle workers, the freshest ones that this demand would "
            "take within idle_keep_boots boot times are kept up to max_idle_time and the others released at "
            "once (keeping a node costs its idle time, releasing it costs a boot when the demand comes). Until "
            "a resource has seen 4 starts and one boot (after a master restart, too) it is fixed.",
            default="adaptive",
            choices=("adaptive", "fixed"),
        ),
        "idle_keep_boots": Scalar(
            doc="idle_policy adaptive: how far ahead, in boot times, demand must be expected to take an idle "
            "worker for it to be kept. 2 counts what a release costs when demand comes back: a boot of node "
            "time and a boot of the job's wait; lower releases sooner (fewer node-hours, longer waits).",
            default=2.0,
            kind=float,
            minimum=0.0,
            maximum=1000.0,  # 1,000 boots ahead keeps every idle worker for days: no larger value means more
        ),
        "protect_wide_jobs": Scalar(
            doc="Protect the first pending job that cannot start on the nodes in the scheduler (most often a wide "
            "one) while nodes for it boot: its booted nodes are not registered, and its drained nodes not "
            "released, until every node it needs is up; then they join the scheduler in one cycle, so the "
            "scheduler starts it first instead of handing them one by one to narrower jobs queued behind it. "
            "A node is held back at most half of max_launch_time. false: register each node once it has booted.",
            default=True,
            kind=bool,
        ),
        "wide_job_idle": Scalar(
            doc="protect_wide_jobs: what becomes of the idle nodes a blocked wide job counts on while its reserved "
            "start (from the running jobs' wall times) is more than idle_keep_boots boot times away. release: they "
            "are released (the busy ones that free by then are held, so no job queued behind it takes them), and "
            "the nodes it needs are launched again once its start is that close, or as soon as enough running "
            "jobs have ended; it waits a boot more, the idle hours are not paid, but the scheduler, short of "
            "nodes to reserve on, may start long jobs queued behind it on the nodes launched for shorter ones "
            "(measured in docs/performance.md: fewer node-hours on KTH, a wide job starved for days). keep: they "
            "stay idle until it starts, as on a static machine. Until a boot time has been seen it is keep.",
            default="keep",
            choices=("release", "keep"),
        ),
        "preboot_begin_jobs": Scalar(
            doc="Launch ahead for a job held until its begin time (Slurm sbatch --begin, Torque qsub -a): once that "
            "time is within preboot_lead, the job counts as pending demand, so its nodes are up when the scheduler "
            "may start it instead of booting only then (a boot of wait). Before that it is not demand: no node "
            "idles for hours waiting for it. false: such a job is demand only once the scheduler makes it pending.",
            default=True,
            kind=bool,
        ),
        "preboot_lead": Scalar(
            doc="preboot_begin_jobs: how long before a job's begin time its nodes are launched, in seconds. 0: the "
            "slowest of the latest boots seen (of any resource) plus one cluster_poller_interval, or 300 s until a "
            "boot has been seen (after a master restart, too).",
            default=0,
            kind=int,
            minimum=0,
        ),
        "worker_number": Scalar(
            doc="Threads that carry out cloud and scheduler actions.", default=2, kind=int, minimum=1
        ),
        "auto_mode": Scalar(
            doc="Scale automatically. False stops the planner's scale-up and scale-down: no launch for pending "
            "jobs, no top-up to min, no release of a draining worker for demand, no hold of idle workers, no "
            "removal of drained empty workers, no destruction of workers down past max_down_time, no hold of "
            "a drained resource's workers. Leak prevention still runs: instances that never joined within "
            "max_launch_time, orphaned instances and instances in ERROR without jobs are destroyed, nodes "
            "whose instance is gone leave the scheduler, configured workers are registered, a retired "
            "resource's workers are drained and destroyed; operator commands still work. salt-run "
            "dcluster.plan shows what auto mode would do.",
            default=True,
            kind=bool,
        ),
        "admin-server": Dict(
            doc="Legacy: Dynamic Cluster's own web server. Ignored; use salt-api (see README).",
            fields={
                "port": Scalar(doc="Ignored.", kind=int),
                "debug": Scalar(doc="Ignored.", kind=bool),
            },
        ),
        "config-checker": CONFIG_CHECKER,
        "post_vm_provision_command": _cmd(
            "Hook after an instance is up: {0} hostname, {1} IP, {2} instance name, {3} resource.", None
        ),
        "post_vm_destroy_command": _cmd(
            "Hook after an instance is destroyed: {0} hostname, {1} IP, {2} instance name, {3} resource.", None
        ),
        "hook_timeout": _seconds("Seconds a hook may run.", 120, 1),
        "backoff": BACKOFF,
        "confirm_absence": CONFIRM_ABSENCE,
        "cluster": CLUSTER,
        "cloud": MapOf(doc="Cloud resources by name.", value=RESOURCE, key_check=_name_problem),
        "retired_resources": MapOf(
            doc="Resources taken out of 'cloud' whose instances may still run: each entry keeps the cloud "
            "settings (same keys as under 'cloud'; quantity, priority and reservation are ignored) so the "
            "engine can list them, drain their nodes (running jobs finish) and destroy them. Nothing is "
            "launched. Remove an entry once salt-run dcluster.status says nothing of it is left.",
            value=RESOURCE,
            key_check=_name_problem,
        ),
        "plugins": MapOf(doc="Plugins by name.", value=PLUGIN),
        "logging": LOGGING,
        "name_resolution": NAME_RESOLUTION,
    },
    aliases={"config_checker": "config-checker", "admin_server": "admin-server"},
)
