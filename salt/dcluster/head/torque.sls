{#- Torque's pbs_server and MAUI on the head.  Torque and MAUI are not packaged in Debian 12:
    this file is rendered and checked (state.show_sls) in the tests, never applied here; the
    package and service names are pillar keys (dcluster_head:torque) for a site's own builds.
    Torque authenticates with trqauthd or munge (torque:munge: True includes dcluster.head.munge). #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set t = head.torque %}
{%- set server = t.server_name or grains['host'] %}
{%- if t.get('munge') %}
include:
  - dcluster.head.munge
{%- endif %}

dcluster-torque-packages:
  pkg.installed:
    - pkgs: {{ t.packages | json }}

dcluster-torque-server-name:
  file.managed:
    - name: {{ t.home }}/server_name
    - contents: {{ server | json }}
    - makedirs: True
    - require:
      - pkg: dcluster-torque-packages

dcluster-pbs-server:
  service.running:
    - name: {{ t.server_service }}
    - enable: {{ head.enable_services | json }}
    - watch:
      - file: dcluster-torque-server-name

{#- The execution queue the engine's resources reserve nodes in; pbs_server keeps each
    queue in server_priv/queues/<name>, so the queue is made once. #}
dcluster-torque-queue:
  module.run:
    - cmd.run_all:
      - cmd: {{ ['qmgr', '-c', 'create queue ' ~ t.queue ~ ' queue_type=execution,enabled=true,started=true'] | json }}
      - python_shell: False
    - creates: {{ t.home }}/server_priv/queues/{{ t.queue }}
    - require:
      - service: dcluster-pbs-server

dcluster-maui-cfg:
  file.managed:
    - name: {{ t.maui_cfg }}
    - makedirs: True
    - contents: |
        # Managed by Salt (dcluster.head.torque).
        SERVERHOST {{ server }}
        ADMIN1 root
        RMCFG[base] TYPE=PBS
        RMPOLLINTERVAL 00:00:10
        DEFERTIME 00:01:00
        RESERVATIONPOLICY CURRENTHIGHEST
        BACKFILLPOLICY FIRSTFIT

dcluster-maui:
  service.running:
    - name: {{ t.scheduler_service }}
    - enable: {{ head.enable_services | json }}
    - require:
      - service: dcluster-pbs-server
    - watch:
      - file: dcluster-maui-cfg
