# Pillar for a Grid Engine head node (see head-slurm.sls for the keys every head has).
dcluster_head:
  scheduler: sge
  library: {source: /srv/dcluster, pip: /opt/saltstack/salt/bin/pip3}
  master: {master_address: 10.0.0.1, file_roots: [/srv/dcluster/salt]}
  share: {path: /shared, clients: [10.0.0.0/24]}
  sge:
    packages: [gridengine-master, gridengine-client]
    service: gridengine-master
    sge_root: /var/lib/gridengine
    cell: default
    # The qmaster's host name (default: the head's short hostname); every exec host's
    # name must resolve on the head.
    qmaster_host: headnode
    qmaster_port: 6444
    execd_port: 6445
