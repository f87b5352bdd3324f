# Pillar for Torque workers (target it at the workers, e.g. '<cluster_name>-*').
# The worker formula salt://dcluster/worker/torque.sls reads dcluster_worker:torque.
dcluster_worker:
  torque:
    # Install these packages first (False when the image has them).
    install: True
    packages: [torque-mom, torque-client]
    # The pbs_server host (server_name and $pbsserver of mom_priv/config).
    server_name: headnode
    # PBS_SERVER_HOME.
    home: /var/spool/torque
    # mom_priv/config: $logevent mask, and the directory copied locally ($usecp).
    logevent: 255
    usecp: /home
