{#- The head node of an elastic cluster (it is also the salt-master): the dcluster
    library, engine, reactors and optional salt-api/dashboard; the scheduler's
    server; the shared directory the workers mount; Graphite's carbon-cache.
    Settings: pillar dcluster_head (salt/pillar-examples/head-*.sls; defaults in map.jinja). #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- if head.scheduler in ('slurm', 'sge', 'torque') %}
include:
  - dcluster.head.library
  - dcluster.head.master
  - dcluster.head.share
  - dcluster.head.graphite
  - dcluster.head.{{ head.scheduler }}
{%- else %}
dcluster-head-unknown-scheduler:
  test.fail_without_changes:
    - name: {{ ("pillar dcluster_head:scheduler is '" ~ head.scheduler ~ "': expected slurm, sge or torque") | json }}
{%- endif %}
