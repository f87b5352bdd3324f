{#- Slurm's controller on the head: munge, slurm.conf with a NodeSet on the feature the
    workers register with (slurmd -Z, salt/dcluster/worker/slurm.sls) and a partition of it,
    slurmctld running.  Settings: pillar dcluster_head:slurm. #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set s = head.slurm %}
{%- set host = s.get('control_host') or grains['host'] %}
include:
  - dcluster.head.munge

dcluster-slurmctld-packages:
  pkg.installed:
    - pkgs: {{ s.packages | json }}

dcluster-slurm-conf-dir:
  file.directory:
    - name: {{ s.conf_dir }}
    - makedirs: True
    - require:
      - pkg: dcluster-slurmctld-packages

dcluster-slurm-dirs:
  file.directory:
    - names:
      - {{ s.state_dir }}
      - {{ s.log_dir }}
    - user: {{ s.user }}
    - makedirs: True
    - require:
      - pkg: dcluster-slurmctld-packages

dcluster-slurm-conf:
  file.managed:
    - name: {{ s.conf_dir }}/slurm.conf
    - source: salt://dcluster/head/files/slurm.conf.jinja
    - template: jinja
    - mode: '0644'
    - context:
        s: {{ s | json }}
        host: {{ host | json }}
    - require:
      - file: dcluster-slurm-conf-dir

dcluster-slurmctld:
  service.running:
    - name: {{ s.service }}
    - enable: {{ head.enable_services | json }}
    - require:
      - service: dcluster-munged
      - file: dcluster-slurm-dirs
    - watch:
      - file: dcluster-slurm-conf
