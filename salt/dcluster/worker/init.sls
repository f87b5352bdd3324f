{#- The worker formula of the scheduler in the grain dcluster:scheduler (set by dcluster's user-data). #}
{%- set scheduler = salt['grains.get']('dcluster:scheduler', '') %}
{%- if scheduler in ('slurm', 'sge', 'torque') %}
include:
  - dcluster.worker.common
  - dcluster.worker.{{ scheduler }}
{%- else %}
dcluster-worker-unknown-scheduler:
  test.fail_without_changes:
    - name: {{ ("grain dcluster:scheduler is '" ~ scheduler ~ "': expected slurm, sge or torque") | json }}
{%- endif %}
