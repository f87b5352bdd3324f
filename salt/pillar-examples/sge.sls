# Pillar for Grid Engine workers (target it at the workers, e.g. '<cluster_name>-*').
# The worker formula salt://dcluster/worker/sge.sls reads dcluster_worker:sge.
dcluster_worker:
  sge:
    # Install these packages first (False when the image has them).
    install: True
    packages: [gridengine-exec, gridengine-client]
    # The cell (shared with the qmaster host, e.g. over NFS, or written here).
    sge_root: /var/lib/gridengine
    cell: default
    # Written to <sge_root>/<cell>/common/act_qmaster when set.
    qmaster_host: headnode
    # The cell's ports (SGE_QMASTER_PORT, SGE_EXECD_PORT).
    qmaster_port: 6444
    execd_port: 6445
