# Pillar for the head node (target it at the head's minion id, usually the master's own id).
# The head formula salt://dcluster/head reads dcluster_head; every key is optional
# (defaults in salt/dcluster/head/map.jinja).  This one: a Slurm head.
dcluster_head:
  # slurm, sge or torque: which server dcluster.head.<scheduler> sets up.
  scheduler: slurm
  # Enable the services at boot (service.running enable:).
  enable_services: True
  library:
    # pip install "dcluster @ file://<source>" into the salt-master's Python.
    install: True
    # A dcluster checkout (directory) or a wheel file, on the head.
    source: /srv/dcluster
    # The salt-master's pip (onedir Salt: /opt/saltstack/salt/bin/pip3; a venv: <venv>/bin/pip).
    pip: /opt/saltstack/salt/bin/pip3
    # True when the dependencies are already there (e.g. an offline head).
    no_deps: False
    # More pip arguments, e.g. [--no-build-isolation] offline.
    pip_args: []
  master:
    # Where the drop-ins go: dcluster-engine.conf, dcluster-reactor.conf, dcluster-file-roots.conf.
    config_dir: /etc/salt/master.d
    # Restarted when a drop-in changes; '' when the master is not a service here.
    service: salt-master
    # The address the workers reach this master at (the engine's master_address).
    master_address: 10.0.0.1
    # More options of the engine (see README.md "Master configuration").
    engine: {}
    # The master's file_roots (this replaces file_roots of /etc/salt/master): the checkout's salt/.
    file_roots: [/srv/dcluster/salt]
    # Where reactor/*.sls are copied, and the reactor mappings point.
    reactor_dir: /srv/reactor/dcluster
  api:
    # salt-api (rest_cherrypy): the REST API and the dashboard (docs/salt-api.md).
    enable: False
    service: salt-api
    host: 127.0.0.1
    port: 8000
    ssl_crt: /etc/pki/tls/certs/salt-api.crt
    ssl_key: /etc/pki/tls/private/salt-api.key
    # `salt-run dcluster.dashboard_paths` prints it for the installed library.
    dashboard_dir: /opt/saltstack/salt/lib/python3.11/site-packages/dcluster/data/dashboard
  share:
    enable: True
    # The directory exported to the workers (they mount it at dcluster_worker:share:path).
    path: /shared
    # Who may mount it: the workers' network(s).  Required.
    clients: [10.0.0.0/24]
    options: rw,sync,no_subtree_check,root_squash
    mode: '1777'
    # False: write the export file only (the NFS server is elsewhere, or cannot run here).
    nfs_server: True
    exports_file: /etc/exports.d/dcluster.exports
  graphite:
    enable: True
    # carbon-cache listens here (the engine's graphite plugin: host/port of the line receiver).
    interface: 127.0.0.1
    line_port: 2003
    pickle_port: 2004
    cache_query_port: 7002
    storage_dir: /var/lib/graphite
    retentions: 10s:1d,1m:30d,10m:1y
  munge:
    # The cluster's key, root-only on the master; made by mungekey when missing.  The pillar
    # file dcluster_munge_key.sls reads it for the workers.
    key_store: /etc/salt/dcluster/munge.key
    key: /etc/munge/munge.key
  slurm:
    cluster_name: mycluster
    # SlurmctldHost=<host>(<control_addr>): host defaults to the head's short hostname.
    control_addr: 10.0.0.1
    port: 6817
    slurmd_port: 6818
    user: slurm
    state_dir: /var/lib/slurm/slurmctld
    log_dir: /var/log/slurm
    # The partition of dcluster's workers and the feature they register with (the same as
    # dcluster:cluster:config:node_feature and dcluster_worker:slurm:features).
    partition: dcluster
    node_feature: dcluster
    max_nodes: 64
    # SlurmctldParameters=enable_configless: workers may fetch slurm.conf from slurmctld
    # (dcluster_worker:slurm:conf_server) instead of having it in their image.
    configless: True
    # More slurm.conf lines, appended as they are.
    extra: []
