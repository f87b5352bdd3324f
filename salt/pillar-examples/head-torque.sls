# Pillar for a Torque/MAUI head node (see head-slurm.sls for the keys every head has).
# Torque and MAUI are not packaged in Debian 12: name your site's packages and services.
dcluster_head:
  scheduler: torque
  library: {source: /srv/dcluster, pip: /opt/saltstack/salt/bin/pip3}
  master: {master_address: 10.0.0.1, file_roots: [/srv/dcluster/salt]}
  share: {path: /shared, clients: [10.0.0.0/24]}
  torque:
    packages: [torque-server, torque-client, torque-scheduler]
    server_service: torque-server
    scheduler_service: maui
    home: /var/spool/torque
    # pbs_server's name (default: the head's short hostname).
    server_name: headnode
    # The execution queue made on first apply.
    queue: batch
    maui_cfg: /usr/local/maui/maui.cfg
    # True when Torque authenticates with munge (includes dcluster.head.munge).
    munge: False
