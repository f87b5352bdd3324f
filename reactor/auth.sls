{#- salt/auth: a pending key is accepted only if dcluster launched that instance
    and it is still starting (the runner asks the engine); nothing else is. #}
{%- if data.get('act') == 'pend' %}
dcluster_accept_{{ data['id'] }}:
  runner.dcluster.accept_if_known:
    - args:
      - minion_id: {{ data['id'] }}
      - act: pend
{%- endif %}
