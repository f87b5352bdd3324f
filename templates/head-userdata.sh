#!/bin/bash
# dcluster all-in-one head node: the user-data that templates/openstack/all-in-one.yaml and
# templates/aws/all-in-one.yaml embed (tests/unit/test_templates.py checks both copies equal
# this file).  The template puts a block of DCLUSTER_* assignments before it; run by hand or in
# a test, set them in the environment.  It installs Salt and the dcluster library, writes the
# head's pillar (dcluster_head:, dcluster:, dcluster_worker: and the munge-key pillar) and
# applies the head formula:  salt-call --local state.apply dcluster.head
#
# Every value is checked against a pattern before it is used (a template's parameters are
# checked too, but this script is also run by hand).  Nothing secret is printed: cloud-init
# copies this script's output to the console log, which any project member can read.
#
# The stack's parameters:
#   DCLUSTER_CLOUD           openstack | aws
#   DCLUSTER_SCHEDULER       slurm | sge                                   (default slurm)
#   DCLUSTER_SOURCE          where the library comes from: a git URL (https://, ssh://, git@),
#                            an https:// URL of an sdist (.tar.gz), or an absolute local directory
#   DCLUSTER_REF             the git ref (branch, tag or commit) of a git source (default main)
#   DCLUSTER_CLUSTER_NAME    the cluster's name, the prefix of the workers' ids  (default dc)
#   DCLUSTER_WORKER_CIDR     the workers' network: salt, the scheduler and NFS are open to it only
#   DCLUSTER_MAX_WORKERS     quantity:max of the one worker resource          (default 4)
#   DCLUSTER_WORKER_IMAGE    the workers' image (OpenStack image id, AWS AMI id)
#   DCLUSTER_WORKER_FLAVOR   the workers' flavor / instance type
#   DCLUSTER_WORKER_CORES, DCLUSTER_WORKER_MEM_MB   what each worker offers the scheduler
#   DCLUSTER_KEY_NAME        the ssh key pair the workers get (may be empty)
#   DCLUSTER_WORKER_NETWORK  OpenStack: the workers' network (name or id); AWS: their subnet id
#   DCLUSTER_WORKER_SECURITY_GROUP  the workers' security group (OpenStack: name or id; AWS: id)
#   OpenStack only: DCLUSTER_OS_AUTH_URL, DCLUSTER_OS_REGION, DCLUSTER_OS_APP_CRED_ID,
#                   DCLUSTER_OS_APP_CRED_SECRET (an application credential of the project)
#   AWS only:       DCLUSTER_AWS_REGION (the head's instance profile gives the credentials)
#
# How it runs (defaults are for a fresh cloud VM; the test of this script changes them):
#   DCLUSTER_HEAD_ADDRESS    the head's address on the workers' network (default: the source
#                            address of the route to DCLUSTER_WORKER_CIDR)
#   DCLUSTER_SALT_VENV       the virtualenv Salt is installed into        (default /opt/dcluster/salt)
#   DCLUSTER_SKIP_PACKAGES   1: install no package (no apt-get, no pip install of Salt); Salt must
#                            already be in DCLUSTER_SALT_VENV              (default 0)
#   DCLUSTER_PIP             the pip the head formula installs the library with
#                            (default $DCLUSTER_SALT_VENV/bin/pip)
#   DCLUSTER_NO_DEPS         1: install the library without its dependencies (default 0)
#   DCLUSTER_NFS_SERVER      0: write the export only, run no NFS server    (default 1)
#   DCLUSTER_SERVICES        1: write systemd units for salt-master and salt-api and let the
#                            formula run them; 0: leave the master alone  (default: 1 when
#                            systemd runs)
#   DCLUSTER_DASHBOARD       1: salt-api with the dashboard on :8000, a self-signed certificate
#                            (default 1; only with DCLUSTER_SERVICES=1)
#   DCLUSTER_CHECKOUT        where the library's source goes              (default /srv/dcluster)
#   DCLUSTER_PILLAR_ROOT     the master's pillar_roots                   (default /srv/pillar)
set -euo pipefail
umask 022
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

SALT_VERSION=3008.3

log() { printf 'dcluster-head: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# The library's source as the log shows it: a URL's user and password (a token) are not shown.
shown_source() {
    if [[ $DCLUSTER_SOURCE =~ ^([a-z]+://)[^/]*@(.*)$ ]]; then
        printf '%s***@%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf '%s' "$DCLUSTER_SOURCE"
    fi
}

# check NAME PATTERN: the variable NAME must match the extended regex PATTERN in full.  The
# message names the variable, never its value (it may be a secret).
check() {
    local name=$1 pattern=$2
    [[ ${!name-} =~ ^($pattern)$ ]] || die "$name is unset or malformed (expected: $pattern)"
}

DCLUSTER_SCHEDULER=${DCLUSTER_SCHEDULER:-slurm}
DCLUSTER_REF=${DCLUSTER_REF:-main}
DCLUSTER_CLUSTER_NAME=${DCLUSTER_CLUSTER_NAME:-dc}
DCLUSTER_MAX_WORKERS=${DCLUSTER_MAX_WORKERS:-4}
DCLUSTER_KEY_NAME=${DCLUSTER_KEY_NAME-}
DCLUSTER_SALT_VENV=${DCLUSTER_SALT_VENV:-/opt/dcluster/salt}
DCLUSTER_SKIP_PACKAGES=${DCLUSTER_SKIP_PACKAGES:-0}
DCLUSTER_PIP=${DCLUSTER_PIP:-$DCLUSTER_SALT_VENV/bin/pip}
DCLUSTER_NO_DEPS=${DCLUSTER_NO_DEPS:-0}
DCLUSTER_NFS_SERVER=${DCLUSTER_NFS_SERVER:-1}
if [ -z "${DCLUSTER_SERVICES-}" ]; then
    if [ -d /run/systemd/system ]; then DCLUSTER_SERVICES=1; else DCLUSTER_SERVICES=0; fi
fi
DCLUSTER_DASHBOARD=${DCLUSTER_DASHBOARD:-1}
DCLUSTER_CHECKOUT=${DCLUSTER_CHECKOUT:-/srv/dcluster}
DCLUSTER_PILLAR_ROOT=${DCLUSTER_PILLAR_ROOT:-/srv/pillar}

NAME='[a-z][a-z0-9]{0,15}'
ID='[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}'
IPV4='([0-9]{1,3}\.){3}[0-9]{1,3}'
check DCLUSTER_CLOUD 'openstack|aws'
check DCLUSTER_SCHEDULER 'slurm|sge'
check DCLUSTER_SOURCE 'https://[A-Za-z0-9._~:/@%+=-]+|ssh://[A-Za-z0-9._~:/@%+=-]+|git@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+|/[A-Za-z0-9._/-]*'
check DCLUSTER_REF '[A-Za-z0-9][A-Za-z0-9._/-]{0,199}'
check DCLUSTER_CLUSTER_NAME "$NAME"
check DCLUSTER_WORKER_CIDR "$IPV4/[0-9]{1,2}"
check DCLUSTER_MAX_WORKERS '[1-9][0-9]{0,3}'
check DCLUSTER_WORKER_IMAGE "$ID"
check DCLUSTER_WORKER_FLAVOR "$ID"
check DCLUSTER_WORKER_CORES '[1-9][0-9]{0,3}'
check DCLUSTER_WORKER_MEM_MB '[1-9][0-9]{2,7}'
check DCLUSTER_KEY_NAME '|[A-Za-z0-9][A-Za-z0-9 ._@-]{0,254}'
check DCLUSTER_WORKER_NETWORK "$ID"
check DCLUSTER_WORKER_SECURITY_GROUP "$ID"
check DCLUSTER_SALT_VENV '/[A-Za-z0-9._/-]+'
check DCLUSTER_PIP '/[A-Za-z0-9._/-]+'
check DCLUSTER_SKIP_PACKAGES '0|1'
check DCLUSTER_NO_DEPS '0|1'
check DCLUSTER_NFS_SERVER '0|1'
check DCLUSTER_SERVICES '0|1'
check DCLUSTER_DASHBOARD '0|1'
check DCLUSTER_CHECKOUT '/[A-Za-z0-9._/-]+'
check DCLUSTER_PILLAR_ROOT '/[A-Za-z0-9._/-]+'
if [ "$DCLUSTER_CLOUD" = openstack ]; then
    check DCLUSTER_OS_AUTH_URL 'https?://[A-Za-z0-9._~:/%+-]+'
    check DCLUSTER_OS_REGION '[A-Za-z0-9._-]{1,64}'
    check DCLUSTER_OS_APP_CRED_ID '[A-Za-z0-9-]{1,64}'
    # Keystone makes URL-safe base64 secrets; a pattern also keeps quotes and braces out.
    check DCLUSTER_OS_APP_CRED_SECRET '[A-Za-z0-9_-]{16,256}'
else
    check DCLUSTER_AWS_REGION '[a-z]{2}(-[a-z]+)+-[0-9]'
fi

# The head's address on the workers' network: the workers' minions, slurmd and NFS client use it.
if [ -z "${DCLUSTER_HEAD_ADDRESS-}" ]; then
    route=$(ip -4 -o route get "${DCLUSTER_WORKER_CIDR%/*}") || die "no route to the workers' network $DCLUSTER_WORKER_CIDR"
    DCLUSTER_HEAD_ADDRESS=$(sed -n 's/.* src \([0-9.]*\).*/\1/p' <<<"$route")
fi
check DCLUSTER_HEAD_ADDRESS "$IPV4"
HEAD_HOST=$(hostname -s)
check HEAD_HOST '[A-Za-z0-9][A-Za-z0-9-]{0,62}'
# The head's minion id: not of the workers' form "<cluster>-...", so no worker pillar reaches it.
HEAD_ID="${DCLUSTER_CLUSTER_NAME}head"
log "cluster $DCLUSTER_CLUSTER_NAME on $DCLUSTER_CLOUD, scheduler $DCLUSTER_SCHEDULER, head $HEAD_HOST ($DCLUSTER_HEAD_ADDRESS), workers $DCLUSTER_WORKER_CIDR"

# The instance metadata service serves this user-data (on OpenStack, with the application
# credential) and the instance role's credentials (on AWS) to any process that asks: only root
# may ask it (as the workers' user-data does).
only_root_metadata() {
    command -v iptables >/dev/null 2>&1 || {
        log "no iptables: the metadata service stays open to every user of the head"
        return 0
    }
    iptables -C OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT 2>/dev/null ||
        iptables -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT ||
        log "could not restrict the metadata service to root"
}

# What the script itself needs.  The head formula installs the scheduler, munge, the NFS server
# and carbon: Grid Engine's packages must wait for the answers it preseeds (debconf-utils).
install_packages() {
    log "installing Debian packages"
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3-venv python3-dev gcc git curl ca-certificates \
        iptables openssl debconf-utils
    log "installing salt==$SALT_VERSION into $DCLUSTER_SALT_VENV"
    python3 -m venv "$DCLUSTER_SALT_VENV"
    "$DCLUSTER_SALT_VENV/bin/pip" install -q --upgrade pip wheel 'setuptools<75.6'
    # cherrypy: salt-api's rest_cherrypy, which serves the dashboard.
    "$DCLUSTER_SALT_VENV/bin/pip" install -q "salt==$SALT_VERSION" cherrypy
}

# The library's source, as a directory: the head formula pip-installs it and serves its salt/.
fetch_source() {
    local dest=$DCLUSTER_CHECKOUT
    if [ -e "$dest/setup.cfg" ]; then
        log "$dest already holds a checkout: kept"
        return 0
    fi
    mkdir -p "$dest"
    case "$DCLUSTER_SOURCE" in
    /*)
        [ -d "$DCLUSTER_SOURCE" ] || die "DCLUSTER_SOURCE $DCLUSTER_SOURCE is not a directory"
        log "copying the library from $DCLUSTER_SOURCE"
        cp -a "$DCLUSTER_SOURCE/." "$dest/"
        ;;
    https://*.tar.gz)
        log "downloading the sdist $(shown_source)"
        curl -fsSL --proto '=https' -o "$dest.tar.gz" "$DCLUSTER_SOURCE"
        tar -xzf "$dest.tar.gz" -C "$dest" --strip-components=1 --no-same-owner
        rm -f "$dest.tar.gz"
        ;;
    *)
        log "fetching $DCLUSTER_REF of $(shown_source)"
        git -C "$dest" init -q
        git -C "$dest" fetch -q --depth 1 "$DCLUSTER_SOURCE" "$DCLUSTER_REF"
        git -C "$dest" checkout -q FETCH_HEAD
        ;;
    esac
    [ -f "$dest/setup.cfg" ] && [ -d "$dest/salt/dcluster/head" ] ||
        die "$(shown_source) holds no dcluster source (no setup.cfg or salt/dcluster/head)"
}

# systemd units for the Salt of the virtualenv (a pip install brings none).
write_units() {
    local unit
    for unit in master api; do
        cat >"/etc/systemd/system/salt-$unit.service" <<EOF
[Unit]
Description=The Salt ${unit} (dcluster head)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=$DCLUSTER_SALT_VENV/bin/salt-$unit
Restart=on-failure
LimitNOFILE=100000

[Install]
WantedBy=multi-user.target
EOF
    done
    # The metadata rule again at every boot (iptables rules do not survive a reboot).
    if command -v iptables >/dev/null 2>&1; then
        cat >/etc/systemd/system/dcluster-metadata-root-only.service <<EOF
[Unit]
Description=Only root may ask the instance metadata service (dcluster head)
Before=salt-master.service

[Service]
Type=oneshot
ExecStart=$(command -v iptables) -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT

[Install]
WantedBy=multi-user.target
EOF
    fi
    systemctl daemon-reload
    [ ! -e /etc/systemd/system/dcluster-metadata-root-only.service ] ||
        systemctl enable dcluster-metadata-root-only.service
}

self_signed_cert() {
    local crt=/etc/pki/tls/certs/salt-api.crt key=/etc/pki/tls/private/salt-api.key
    [ -e "$crt" ] && return 0
    mkdir -p "${crt%/*}" "${key%/*}"
    chmod 700 "${key%/*}"
    openssl req -x509 -newkey rsa:3072 -nodes -days 825 -subj "/CN=$HEAD_HOST" \
        -addext "subjectAltName=IP:$DCLUSTER_HEAD_ADDRESS" -keyout "$key" -out "$crt" 2>/dev/null
    chmod 600 "$key"
}

# The engine's secret: made once, root-only; the engine's pillar and the munge-key pillar read it.
make_secret() {
    mkdir -p /etc/salt/dcluster
    chmod 700 /etc/salt/dcluster
    if [ ! -s /etc/salt/dcluster/secret ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >/etc/salt/dcluster/secret)
    fi
    chmod 400 /etc/salt/dcluster/secret
}

# The pillar, written by Python from the environment (values are data, never shell or YAML
# syntax).  The dcluster: part holds the application credential: root-only.
write_pillar() {
    mkdir -p "$DCLUSTER_PILLAR_ROOT/dcluster"
    DASHBOARD_DIR=$("$DCLUSTER_SALT_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dcluster/data/dashboard
    export DASHBOARD_DIR HEAD_HOST HEAD_ID DCLUSTER_CLOUD DCLUSTER_SCHEDULER DCLUSTER_CLUSTER_NAME \
        DCLUSTER_WORKER_CIDR DCLUSTER_MAX_WORKERS DCLUSTER_WORKER_IMAGE DCLUSTER_WORKER_FLAVOR \
        DCLUSTER_WORKER_CORES DCLUSTER_WORKER_MEM_MB DCLUSTER_KEY_NAME DCLUSTER_WORKER_NETWORK \
        DCLUSTER_WORKER_SECURITY_GROUP DCLUSTER_HEAD_ADDRESS DCLUSTER_PIP DCLUSTER_NO_DEPS \
        DCLUSTER_NFS_SERVER DCLUSTER_SERVICES DCLUSTER_DASHBOARD DCLUSTER_CHECKOUT DCLUSTER_PILLAR_ROOT
    export DCLUSTER_OS_AUTH_URL=${DCLUSTER_OS_AUTH_URL-} DCLUSTER_OS_REGION=${DCLUSTER_OS_REGION-} \
        DCLUSTER_OS_APP_CRED_ID=${DCLUSTER_OS_APP_CRED_ID-} DCLUSTER_OS_APP_CRED_SECRET=${DCLUSTER_OS_APP_CRED_SECRET-} \
        DCLUSTER_AWS_REGION=${DCLUSTER_AWS_REGION-}
    python3 - <<'PYTHON'
import json
import os

e = os.environ
root = e["DCLUSTER_PILLAR_ROOT"]
cluster, sched, head_ip = e["DCLUSTER_CLUSTER_NAME"], e["DCLUSTER_SCHEDULER"], e["DCLUSTER_HEAD_ADDRESS"]
services = e["DCLUSTER_SERVICES"] == "1"
resource = "cloud" if e["DCLUSTER_CLOUD"] == "openstack" else "ec2"


def write(name, text, mode=0o644):
    path = os.path.join(root, name)
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path + ".new", mode)
    os.replace(path + ".new", path)


if e["DCLUSTER_CLOUD"] == "openstack":
    cloud = {
        "type": "openstack",
        "auth_url": e["DCLUSTER_OS_AUTH_URL"],
        "region_name": e["DCLUSTER_OS_REGION"],
        "application_credential_id": e["DCLUSTER_OS_APP_CRED_ID"],
        "application_credential_secret": e["DCLUSTER_OS_APP_CRED_SECRET"],
        "image_uuid": e["DCLUSTER_WORKER_IMAGE"],
        "flavor": e["DCLUSTER_WORKER_FLAVOR"],
        "network": e["DCLUSTER_WORKER_NETWORK"],
        "security_groups": [e["DCLUSTER_WORKER_SECURITY_GROUP"]],
    }
else:
    # No keys: boto3 takes the instance profile's temporary credentials.
    cloud = {
        "type": "aws",
        "region_name": e["DCLUSTER_AWS_REGION"],
        "image_id": e["DCLUSTER_WORKER_IMAGE"],
        "instance_type": e["DCLUSTER_WORKER_FLAVOR"],
        "subnet_id": e["DCLUSTER_WORKER_NETWORK"],
        "security_groups": [e["DCLUSTER_WORKER_SECURITY_GROUP"]],
    }
if e["DCLUSTER_KEY_NAME"]:
    cloud["key_name"] = e["DCLUSTER_KEY_NAME"]
cloud_type = cloud.pop("type")
if sched == "slurm":
    config = {"queue_to_monitor": ["dcluster"], "partition": "dcluster", "node_feature": "dcluster"}
else:
    # The cell Debian's gridengine-master made (with all.q and @allhosts), as the formula set it up.
    config = {
        "queue_to_monitor": ["all.q"],
        "command_env": {
            "SGE_ROOT": "/var/lib/gridengine",
            "SGE_CELL": "default",
            "SGE_QMASTER_PORT": "6444",
            "SGE_EXECD_PORT": "6445",
        },
        "default_hostgroup": "@allhosts",
        "default_queue": "all.q",
    }
engine = {
    "dcluster": {
        "cluster_name": cluster,
        "secret": "@SECRET@",
        "max_idle_time": 600,
        "max_launch_time": 1200,
        "name_resolution": {"method": "hosts", "hosts_file": "/etc/hosts"},
        "cluster": {"type": sched, "head_minion": "", "config": config},
        "cloud": {
            resource: {
                "type": cloud_type,
                "quantity": {"min": 0, "max": int(e["DCLUSTER_MAX_WORKERS"])},
                "priority": 1,
                "config": cloud,
                "cores": int(e["DCLUSTER_WORKER_CORES"]),
                "mem_mb": int(e["DCLUSTER_WORKER_MEM_MB"]),
            }
        },
        "logging": {"log_level": 2, "log_location": "/var/log/salt/dcluster.log"},
    }
}
# The secret stays in its root-only file; the pillar renders it from there.
secret = "{{ salt['file.read']('/etc/salt/dcluster/secret') | trim | json }}"
write("dcluster/engine.sls", json.dumps(engine, indent=1).replace('"@SECRET@"', secret) + "\n", 0o600)

head = {
    "scheduler": sched,
    "library": {
        "source": e["DCLUSTER_CHECKOUT"],
        "pip": e["DCLUSTER_PIP"],
        "no_deps": e["DCLUSTER_NO_DEPS"] == "1",
    },
    "master": {
        "service": "salt-master" if services else "",
        "master_address": head_ip,
        "file_roots": [os.path.join(e["DCLUSTER_CHECKOUT"], "salt")],
    },
    "api": {
        "enable": services and e["DCLUSTER_DASHBOARD"] == "1",
        "host": "0.0.0.0",
        "port": 8000,
        "dashboard_dir": e["DASHBOARD_DIR"],
    },
    "share": {"path": "/shared", "clients": [e["DCLUSTER_WORKER_CIDR"]], "nfs_server": e["DCLUSTER_NFS_SERVER"] == "1"},
    "slurm": {"cluster_name": cluster, "control_addr": head_ip},
}
write("dcluster/head.sls", json.dumps({"dcluster_head": head}, indent=1) + "\n")

worker = {
    "stats": {"enable": True, "interval": 30, "disks": ["/", "/shared"]},
    "share": {"server": head_ip, "export": "/shared", "path": "/shared"},
}
if sched == "slurm":
    worker["slurm"] = {
        "install": True,
        "packages": ["slurmd", "munge"],
        "conf_server": head_ip + ":6817",
        "cores": int(e["DCLUSTER_WORKER_CORES"]),
        "mem_mb": int(e["DCLUSTER_WORKER_MEM_MB"]),
        "features": ["dcluster"],
    }
else:
    worker["sge"] = {"install": True, "qmaster_host": e["HEAD_HOST"]}
write("dcluster/worker.sls", json.dumps({"dcluster_worker": worker}, indent=1) + "\n")

# The munge key goes only to minions whose id verifies under the secret (see that file).
with open(os.path.join(e["DCLUSTER_CHECKOUT"], "salt/pillar-examples/dcluster_munge_key.sls")) as fh:
    text = fh.read()
line = 'CLUSTER_NAME = "mycluster"'
if text.count(line) != 1:
    raise SystemExit("dcluster-head: error: salt/pillar-examples/dcluster_munge_key.sls has no " + line)
write("dcluster_munge_key.sls", text.replace(line, f'CLUSTER_NAME = "{cluster}"'))

top = {
    "base": {
        e["HEAD_ID"] + "_master": ["dcluster.engine"],
        e["HEAD_ID"]: ["dcluster.head"],
        cluster + "-*": ["dcluster.worker"],
        "*": ["dcluster_munge_key"],
    }
}
write("top.sls", json.dumps(top, indent=1) + "\n")
PYTHON
    unset DCLUSTER_OS_APP_CRED_SECRET
}

# The master's and the head minion's ids, and where the master finds the pillar.
write_salt_config() {
    mkdir -p /etc/salt/master.d /etc/salt/minion.d
    printf 'id: %s_master\npillar_roots:\n  base: [%s]\n' "$HEAD_ID" "$DCLUSTER_PILLAR_ROOT" \
        >/etc/salt/master.d/00-dcluster-aio.conf
    printf 'id: %s\nmaster: 127.0.0.1\n' "$HEAD_ID" >/etc/salt/minion.d/00-dcluster-aio.conf
}

[ "$DCLUSTER_SKIP_PACKAGES" = 1 ] || install_packages
only_root_metadata
[ -x "$DCLUSTER_SALT_VENV/bin/salt-call" ] || die "no salt-call in $DCLUSTER_SALT_VENV"
fetch_source
make_secret
write_salt_config
write_pillar
if [ "$DCLUSTER_SERVICES" = 1 ]; then
    write_units
    [ "$DCLUSTER_DASHBOARD" = 1 ] && self_signed_cert
fi

log "applying dcluster.head"
"$DCLUSTER_SALT_VENV/bin/salt-call" --local --retcode-passthrough --state-output=mixed -l warning \
    --id "$HEAD_ID" --file-root "$DCLUSTER_CHECKOUT/salt" --pillar-root "$DCLUSTER_PILLAR_ROOT" \
    state.apply dcluster.head || die "the head formula failed (its failed states are above)"

mkdir -p /var/lib/dcluster
date -u +%Y-%m-%dT%H:%M:%SZ >/var/lib/dcluster/head-applied
log "done: dcluster.head applied; next: salt-run dcluster.validate, then salt-run dcluster.status"
