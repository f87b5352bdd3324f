# Reference architecture "high availability" (docs/deploy/high-availability.md): two salt-masters,
# active and standby, under a cluster manager (Pacemaker/Corosync with fencing) that runs
# salt-master (and with it the dcluster engine) on one node at a time, with a floating address
# and the master's pki and cache directories on storage only the active node mounts.  The Slurm
# controller runs on its own pair of hosts (SlurmctldHost primary + backup, StateSaveLocation on
# shared storage); NFS and Graphite are site services.
#
# Split it along its top-level keys (docs/deploy/basic.md shows the top.sls): dcluster: to the
# masters' shared id only (both masters use the same `id`), dcluster_head: to the masters,
# dcluster_worker: to the workers ('ha-*').  CAPITALS are placeholders.
dcluster:
  cluster_name: ha
  # The same value on both masters (both render it from /etc/salt/dcluster/secret, kept
  # identical on both): a standby with another secret would take every worker for foreign.
  secret: REPLACE-WITH-32-RANDOM-CHARACTERS
  max_idle_time: 600
  max_launch_time: 1200
  cluster_poller_interval: 10
  cloud_poller_interval: 20
  # Listings must agree for this long before an absent worker is acted on; a takeover
  # restarts the count, so a standby never acts on its first listing alone.
  confirm_absence:
    polls: 3
    seconds: 60
  config-checker:
    salt:
      timeout: 900
  # Slurm nodes are created with NodeAddr/NodeHostname (or register their own address with
  # slurmd -Z): slurmctld resolves no worker name.  The masters' own /etc/hosts is not where
  # users log in, so nothing is written there; a site DNS the cloud updates can add names.
  name_resolution:
    method: none
  cluster:
    type: slurm
    # Empty: the engine runs squeue/sinfo/scontrol in its own process on whichever master is
    # active.  Both masters have slurm-client, munge and the cluster's slurm.conf with both
    # SlurmctldHost lines, so the commands reach the backup controller when the primary is down,
    # with no salt-minion in between that could be the one down.
    head_minion: ""
    config:
      queue_to_monitor: [dcluster]
      partition: dcluster
      node_feature: dcluster
      command_timeout: 60
  cloud:
    nectar:
      type: openstack
      quantity: {min: 2, max: 40}
      priority: 1
      config:
        application_credential_id: REPLACE-WITH-APP-CREDENTIAL-ID
        application_credential_secret: REPLACE-WITH-APP-CREDENTIAL-SECRET
        auth_url: https://keystone.example.org:5000/v3
        region_name: RegionOne
        image_uuid: 1e6a2b3c-0000-4000-8000-000000000001
        flavor: m3.large
        key_name: admin-key
        security_groups: [default, ha-workers]
        availability_zone: nova
        network: cluster-net
        instance_name_prefix: ha-nectar
    ec2:
      type: aws
      quantity: {min: 0, max: 40}
      priority: 2
      config:
        access_key_id: REPLACE-WITH-ACCESS-KEY-ID
        secret_access_key: REPLACE-WITH-SECRET-ACCESS-KEY
        image_id: ami-0123456789abcdef0
        instance_type: c6i.2xlarge
        region_name: ap-southeast-2
        key_name: admin-key
        security_groups: [sg-0123456789abcdef0]
        availability_zone: ap-southeast-2b
        subnet_id: subnet-0123456789abcdef0
        use_public_ip_address: False
        instance_name_prefix: ha-ec2
  plugins:
    graphite:
      class_name: dynamiccluster.graphite.GraphiteReporter
      arguments:
        # The site's Graphite, reachable from both masters.
        hostname: graphite.example.org
        port: 2003
        prefix: ha.engine
        interval: 60
        render_url: https://graphite.example.org
  logging:
    log_level: 2
    log_location: /var/log/salt/dcluster.log

# On the two masters, only the library and master parts of the head formula are applied
# (docs/deploy/high-availability.md); the keys below are the ones those parts read.
dcluster_head:
  scheduler: slurm
  library:
    source: /srv/dcluster
    pip: /opt/saltstack/salt/bin/pip3
  master:
    config_dir: /etc/salt/master.d
    # The cluster manager starts and stops salt-master: the formula must not.
    service: ''
    # The floating address: workers' minions, whichever master is active, connect here.
    master_address: 10.0.0.5
    file_roots: [/srv/dcluster/salt]
    reactor_dir: /srv/reactor/dcluster
  api:
    enable: True
    service: ''
    host: 10.0.0.5
    port: 8000
    ssl_crt: /etc/pki/tls/certs/salt-api.crt
    ssl_key: /etc/pki/tls/private/salt-api.key

dcluster_worker:
  stats:
    enable: True
    interval: 30
    disks: [/, /shared]
  share:
    # The site's NFS service (itself highly available), not a master.
    server: nfs.example.org
    export: /export/shared
    path: /shared
  slurm:
    install: True
    packages: [slurmd, munge]
    # No conf_server: workers carry the cluster's slurm.conf (both SlurmctldHost lines), so
    # slurmd finds the backup controller when the primary is down.
    conf: /etc/slurm/slurm.conf
    cores: 8
    mem_mb: 15000
    features: [dcluster]
