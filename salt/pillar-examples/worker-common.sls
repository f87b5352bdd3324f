# Pillar for every worker, whatever its scheduler (target it at the workers, e.g. '<cluster_name>-*').
# salt://dcluster/worker/common.sls reads dcluster_worker:stats and dcluster_worker:share.
# The munge key (dcluster_worker:munge_key) comes from dcluster_munge_key.sls, never from here.
dcluster_worker:
  stats:
    # The dcluster_stats beacon (beacon.present, saved to the minion's beacons.conf).
    enable: True
    interval: 30
    disks: [/, /shared]
    # interfaces: [eth0]     # default: all but loopback
  share:
    # The head's NFS export (dcluster_head:share:path); no server: nothing is mounted.
    server: 10.0.0.1
    export: /shared
    path: /shared
    opts: rw,hard,_netdev
    packages: [nfs-common]
