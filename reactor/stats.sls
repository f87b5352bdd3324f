{#- A worker's dcluster_stats beacon event -> Graphite (salt-run dcluster.forward_stats).

Master configuration:

    reactor:
      - 'salt/beacon/*/dcluster_stats/':
        - salt://reactor/stats.sls

The beacon's event data is the dict the beacon returned plus Salt's 'id' (the
minion id) and '_stamp'.  Values are passed through |json so YAML cannot
retype them (a minion id "1e3" or "yes" stays a string). -#}
{%- if data.get('id') %}
dcluster_forward_stats:
  runner.dcluster.forward_stats:
    - args:
      - minion_id: {{ data['id'] | json }}
      - data: {{ data | json }}
{%- endif %}
