# Reference architecture "basic" (docs/deploy/basic.md): one head VM on an OpenStack cloud is the
# salt-master, the Slurm controller, the NFS server and Graphite; workers are VMs of the same
# project, one availability zone, one flavor.
#
# Three top-level keys, for three kinds of minion.  Split the file along them in your pillar
# roots and target each part only where it belongs (/srv/pillar/top.sls):
#
#   base:
#     'head_master':              # the master's own id (`id` in the master config, default <host>_master)
#       - dcluster.engine         #   dcluster: (secret, cloud credentials) -- nowhere else
#     'head':                     # the head's own salt-minion, which applies the head formula
#       - dcluster.head           #   dcluster_head:
#     'dc-*':                     # the workers (their ids start with cluster_name)
#       - dcluster.worker         #   dcluster_worker:
#     '*':
#       - dcluster_munge_key      # salt/pillar-examples/dcluster_munge_key.sls: only our workers get it
#
# The values in CAPITALS are placeholders.  Validate with:  salt-run dcluster.validate
dcluster:
  cluster_name: dc
  # 16+ characters; render it from a root-only file, e.g.
  # secret: {{ salt['file.read']('/etc/salt/dcluster/secret') | trim | json }}
  secret: REPLACE-WITH-32-RANDOM-CHARACTERS
  max_idle_time: 600
  max_launch_time: 1200
  cluster_poller_interval: 10
  cloud_poller_interval: 20
  # Worker names must resolve on the head only for Grid Engine and Torque; Slurm nodes get
  # NodeAddr.  hosts keeps /etc/hosts of the head right anyway (ssh, mpirun by name).
  name_resolution:
    method: hosts
    hosts_file: /etc/hosts
  cluster:
    type: slurm
    # Empty: the master is the head and runs the scheduler commands itself.
    head_minion: ""
    config:
      queue_to_monitor: [dcluster]
      # The head formula's partition and the feature its NodeSet selects
      # (dcluster_head:slurm:partition / node_feature, dcluster_worker:slurm:features).
      partition: dcluster
      node_feature: dcluster
  cloud:
    nectar:
      type: openstack
      quantity:
        min: 0
        max: 10
      priority: 1
      config:
        # An application credential of the project (Identity > Application Credentials):
        # it can be revoked without touching the admin's password.
        application_credential_id: REPLACE-WITH-APP-CREDENTIAL-ID
        application_credential_secret: REPLACE-WITH-APP-CREDENTIAL-SECRET
        auth_url: https://keystone.example.org:5000/v3
        region_name: RegionOne
        # Debian 12 cloud image (the worker formula installs slurmd, munge, nfs-common).
        image_uuid: 1e6a2b3c-0000-4000-8000-000000000001
        flavor: m3.medium
        key_name: admin-key
        # default + a group that lets the head reach the workers (salt, slurmd 6818, ssh) and
        # the workers reach the head (4505-4506, slurmctld 6817, NFS 2049).
        security_groups: [default, dcluster-workers]
        availability_zone: nova
        network: cluster-net
        instance_name_prefix: dc-nectar
  plugins:
    graphite:
      class_name: dynamiccluster.graphite.GraphiteReporter
      arguments:
        hostname: 127.0.0.1
        port: 2003
        prefix: dc.engine
        interval: 60
        render_url: ""
  logging:
    log_level: 2
    log_location: /var/log/salt/dcluster.log

# The head formula (salt/dcluster/head/); keys not given take map.jinja's defaults.
dcluster_head:
  scheduler: slurm
  library:
    source: /srv/dcluster
    pip: /opt/saltstack/salt/bin/pip3
  master:
    # The head's address on cluster-net: the workers' salt-minion, slurmd and NFS client use it.
    master_address: 10.0.0.10
    file_roots: [/srv/dcluster/salt]
    reactor_dir: /srv/reactor/dcluster
  api:
    enable: True
    host: 0.0.0.0
    port: 8000
    ssl_crt: /etc/pki/tls/certs/salt-api.crt
    ssl_key: /etc/pki/tls/private/salt-api.key
  share:
    path: /shared
    clients: [10.0.0.0/24]
  graphite:
    interface: 127.0.0.1
  slurm:
    cluster_name: dc
    control_addr: 10.0.0.10
    partition: dcluster
    node_feature: dcluster
    max_nodes: 64
    configless: True

# The worker formula (salt/dcluster/worker/).
dcluster_worker:
  stats:
    enable: True
    interval: 30
    disks: [/, /shared]
  share:
    server: 10.0.0.10
    export: /shared
    path: /shared
  slurm:
    install: True
    packages: [slurmd, munge]
    # Configless: slurmd fetches slurm.conf from slurmctld.
    conf_server: 10.0.0.10:6817
    # The flavor's vCPUs and RAM (MB) less what the OS keeps.
    cores: 2
    mem_mb: 3500
    features: [dcluster]
