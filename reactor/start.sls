{#- salt/minion/*/start: highstate our new workers (the engine checks the id and state). #}
dcluster_started_{{ data['id'] }}:
  runner.dcluster.minion_started:
    - args:
      - minion_id: {{ data['id'] }}
