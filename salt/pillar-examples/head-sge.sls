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
    # What dcluster needs in the cell (Debian's package makes none of them).  The submit hosts
    # (default: the qmaster's host, so qsub works on the head):
    submit_hosts: [headnode]
    # The host group the engine adds new exec hosts to and the queue it gives them slots in:
    # keep them equal to dcluster:cluster:config:default_hostgroup and default_queue.
    hostgroup: '@allhosts'
    queue: all.q
    # The queue's cluster-wide settings (qconf -sq names every attribute).  The engine sets each
    # worker's slots to its cores ([host=N]); those per-host values are kept.
    queue_settings:
      slots: 1
      shell: /bin/sh
    # Seconds the states wait for the qmaster to answer after it was started.
    wait: 60
