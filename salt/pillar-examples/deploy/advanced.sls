# Reference architecture "advanced" (docs/deploy/advanced.md): a dedicated head server (physical,
# or a VM outside the clouds it bursts into) is the salt-master, the Grid Engine qmaster, the NFS
# server and Graphite.  Workers come from two OpenStack projects in two availability zones and
# from AWS, each (project, zone, flavor) its own resource with its own reservation.
#
# Split it along its three top-level keys in your pillar roots (docs/deploy/basic.md shows the
# top.sls): dcluster: only to the master's own id, dcluster_head: to the head (the same machine
# here), dcluster_worker: to the workers ('hpc-*').  CAPITALS are placeholders.
dcluster:
  cluster_name: hpc
  secret: REPLACE-WITH-32-RANDOM-CHARACTERS
  max_idle_time: 900
  # Boots on a loaded cloud and a Grid Engine execd install take longer than on an idle one.
  max_launch_time: 1800
  cluster_poller_interval: 15
  cloud_poller_interval: 30
  respect_reservations: True
  # Launches of four resources at once: more threads for cloud and scheduler actions.
  worker_number: 4
  backoff:
    initial: 60
    factor: 2.0
    max: 1800
    # A project out of quota or a zone out of capacity rests this long; jobs it could take
    # go to the next eligible resource meanwhile.
    capacity_pause: 900
  name_resolution:
    # Grid Engine refuses exec hosts whose names do not resolve: the engine keeps the
    # "# dcluster" lines of the head's /etc/hosts, and (also_on_workers) a block in every
    # worker's /etc/hosts, because execds talk to each other for parallel jobs.
    method: hosts
    hosts_file: /etc/hosts
    also_on_workers: true
  cluster:
    type: sge
    head_minion: ""
    config:
      # Demand: jobs that ask for one of these queues, and (Grid Engine) jobs that name none.
      queue_to_monitor: [short.q, long.q, physics.q]
      command_env:
        SGE_ROOT: /var/lib/gridengine
        SGE_CELL: default
      # New hosts join these when their resource reserves no account / no queue (every
      # resource here reserves a queue, so default_queue is not used).
      default_hostgroup: "@allhosts"
      default_queue: all.q
  cloud:
    # Project "hpc-general", zone melbourne-qh2, small flavor: short jobs of anyone.
    melshort:
      type: openstack
      reservation:
        queue: short.q
      quantity: {min: 1, max: 20}
      priority: 1
      max_idle_time: 600
      config: &general
        application_credential_id: REPLACE-WITH-GENERAL-APP-CREDENTIAL-ID
        application_credential_secret: REPLACE-WITH-GENERAL-APP-CREDENTIAL-SECRET
        auth_url: https://keystone.example.org:5000/v3
        region_name: Melbourne
        image_uuid: 1e6a2b3c-0000-4000-8000-000000000001
        flavor: m3.medium
        key_name: admin-key
        security_groups: [default, hpc-workers]
        availability_zone: melbourne-qh2
        network: hpc-net
        instance_name_prefix: hpc-melshort
    # Same project and zone, a large-memory flavor: jobs that ask for -l bigmem, in long.q.
    melbig:
      type: openstack
      reservation:
        queue: long.q
        properties: [bigmem]
      quantity: {min: 0, max: 4}
      priority: 2
      config:
        <<: *general
        flavor: m3.xxlarge
        instance_name_prefix: hpc-melbig
    # The physics group's own allocation: another project, another zone.  Only jobs
    # submitted with -q physics.q -A physics; the hosts join the hostgroup @physics and
    # get slots in physics.q only.
    tasphys:
      type: openstack
      reservation:
        queue: physics.q
        account: physics
      quantity: {min: 0, max: 16}
      priority: 1
      config:
        username: physics-robot
        password: REPLACE-WITH-PHYSICS-PASSWORD
        project: physics-hpc
        user_domain_name: Default
        project_domain_name: Default
        auth_url: https://keystone.example.org:5000/v3
        region_name: Tasmania
        image_uuid: 1e6a2b3c-0000-4000-8000-000000000002
        flavor: m3.large
        key_name: admin-key
        security_groups: [default, hpc-workers]
        availability_zone: tasmania
        network: physics-net
        # This cloud's certificates are signed by the university's CA.
        verify: /etc/ssl/certs/university-ca.pem
        instance_name_prefix: hpc-tasphys
    # Overflow for short jobs when both OpenStack zones are full or out of quota: spot,
    # falling back to on-demand.  Highest priority number: used last.
    ec2burst:
      type: aws
      reservation:
        queue: short.q
      quantity: {min: 0, max: 32}
      priority: 9
      max_idle_time: 300
      config:
        # Empty: boto3's default chain (an instance profile when the head is on EC2).
        access_key_id: REPLACE-WITH-ACCESS-KEY-ID
        secret_access_key: REPLACE-WITH-SECRET-ACCESS-KEY
        image_id: ami-0123456789abcdef0
        instance_type: c6i.xlarge
        region_name: ap-southeast-2
        key_name: admin-key
        security_groups: [sg-0123456789abcdef0]
        availability_zone: ap-southeast-2a
        subnet_id: subnet-0123456789abcdef0
        # The head reaches the VPC over a VPN: private addresses.
        use_public_ip_address: False
        spot_bid: 0.12
        spot_timeout: 300
        spot_fallback_on_demand: True
        instance_name_prefix: hpc-ec2burst
  plugins:
    graphite:
      class_name: dynamiccluster.graphite.GraphiteReporter
      arguments:
        hostname: 127.0.0.1
        port: 2003
        prefix: hpc.engine
        interval: 60
        render_url: http://127.0.0.1:8080
  logging:
    log_level: 2
    log_location: /var/log/salt/dcluster.log

dcluster_head:
  scheduler: sge
  library:
    source: /srv/dcluster
    pip: /opt/saltstack/salt/bin/pip3
  master:
    # The head's address every worker network routes to (VPN or routed provider network).
    master_address: 192.0.2.10
    file_roots: [/srv/dcluster/salt, /srv/site/salt]
    reactor_dir: /srv/reactor/dcluster
  api:
    enable: True
    host: 0.0.0.0
    port: 8000
    ssl_crt: /etc/pki/tls/certs/salt-api.crt
    ssl_key: /etc/pki/tls/private/salt-api.key
  share:
    path: /shared
    # Every worker network: the two projects' subnets and the VPC's.
    clients: [10.10.0.0/16, 10.20.0.0/16, 172.31.0.0/16]
  graphite:
    interface: 127.0.0.1
    retentions: 10s:1d,1m:30d,10m:2y
  sge:
    sge_root: /var/lib/gridengine
    cell: default
    qmaster_host: head
    qmaster_port: 6444
    execd_port: 6445

dcluster_worker:
  stats:
    enable: True
    interval: 30
    disks: [/, /shared]
  share:
    server: 192.0.2.10
    export: /shared
    path: /shared
  sge:
    install: True
    packages: [gridengine-exec, gridengine-client]
    sge_root: /var/lib/gridengine
    cell: default
    qmaster_host: head
    qmaster_port: 6444
    execd_port: 6445
