# Pillar for Slurm workers (target it at the workers, e.g. '<cluster_name>-*').
# The worker formula salt://dcluster/worker/slurm.sls reads dcluster_worker:slurm.
dcluster_worker:
  slurm:
    # Install these packages first (False when the image has them).
    install: True
    packages: [slurmd, munge]
    # The cluster's slurm.conf on the worker (also exported as SLURM_CONF).
    conf: /etc/slurm/slurm.conf
    # Or configless: slurmd --conf-server <host[:port]> fetches slurm.conf from slurmctld
    # (the head formula enables it); conf is then unused.
    # conf_server: headnode:6817
    # What the node registers with (slurmd -Z --conf "CPUs=.. RealMemory=.. Feature=.."):
    # the same cores/mem_mb as the dcluster resource, and the feature the partition's
    # NodeSet selects (dcluster:cluster:config:node_feature).
    cores: 2
    mem_mb: 2048
    features: [dcluster]
    # A munge key file to install (salt:// or a path; a salt:// file can be fetched by every
    # minion: prefer dcluster_munge_key.sls, whose dcluster_worker:munge_key wins over this).
    # Empty: the image has it.
    munge_key_source: salt://slurm/munge.key
    # Start slurmd with an uptime of ~0 (only for hosts sharing a boot time: the local cloud).
    boottime_zero: False
