{#- The worker formula of the scheduler in the grain dcluster:scheduler (set by dcluster's user-data). #}
{%- set scheduler = salt['grains.get']('dcluster:scheduler', '') %}
{%- if scheduler in ('slurm', 'sge', 'torque') %}
include:
  - dcluster.worker.common
  - dcluster.worker.{{ scheduler }}

{#- Last: the minion's own signature over this job's jid and its id, made only if every state
    before it succeeded; the dcluster engine takes the highstate as this worker's only with it
    (any minion can file a return under another's id in Salt's job cache). #}
dcluster-highstate-proof:
  dcluster_worker.highstate_proof:
    - order: last
{%- else %}
dcluster-worker-unknown-scheduler:
  test.fail_without_changes:
    - name: {{ ("grain dcluster:scheduler is '" ~ scheduler ~ "': expected slurm, sge or torque") | json }}
{%- endif %}
