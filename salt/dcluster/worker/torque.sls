{#- A Torque worker: pbs_mom pointed at the pbs_server; the dcluster engine adds the
    node on the server (qmgr create node) once this highstate returned.
    Settings: pillar dcluster_worker:torque (see salt/pillar-examples/torque.sls).
    Torque is not packaged in Debian 12: this formula is rendered in the tests
    (state.show_sls), never run here. #}
{%- set w = salt['pillar.get']('dcluster_worker:torque', {}) %}
{%- set home = w.get('home', '/var/spool/torque') %}
{%- set server = w.get('server_name', 'headnode') %}
{#- Torque built with munge authentication: the cluster's key, as for Slurm. #}
{%- if salt['pillar.get']('dcluster_worker:munge_key') %}
include:
  - dcluster.worker.munge
{%- endif %}
{%- if w.get('install', True) %}
dcluster-torque-packages:
  pkg.installed:
    - pkgs: {{ w.get('packages', ['torque-mom', 'torque-client']) | json }}
    - require_in:
      - dcluster_worker: dcluster-pbs-mom
{%- endif %}
dcluster-torque-server-name:
  file.managed:
    - name: {{ home }}/server_name
    - contents: {{ server | json }}
    - makedirs: True
dcluster-torque-mom-config:
  file.managed:
    - name: {{ home }}/mom_priv/config
    - contents: |
        $pbsserver {{ server }}
        $logevent {{ w.get('logevent', 255) | int }}
        $usecp *:{{ w.get('usecp', '/home') }} {{ w.get('usecp', '/home') }}
    - makedirs: True
dcluster-pbs-mom:
  dcluster_worker.registered:
    - name: {{ grains['id'] }}
    - scheduler: torque
    - env:
        PBS_SERVER_HOME: {{ home }}
    - require:
      - file: dcluster-torque-server-name
      - file: dcluster-torque-mom-config
