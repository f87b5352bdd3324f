{#- A Grid Engine worker: sge_execd, which waits until the dcluster engine has made
    this host an exec host (qconf -Ae, hostgroup, slots) and then reports.
    Settings: pillar dcluster_worker:sge (see salt/pillar-examples/sge.sls). #}
{%- set w = salt['pillar.get']('dcluster_worker:sge', {}) %}
{%- set root = w.get('sge_root', '/var/lib/gridengine') %}
{%- set cell = w.get('cell', 'default') %}
{%- if w.get('install', True) %}
dcluster-sge-packages:
  pkg.installed:
    - pkgs: {{ w.get('packages', ['gridengine-exec', 'gridengine-client']) | json }}
    - require_in:
      - dcluster_worker: dcluster-sge-execd
{%- endif %}
{%- if w.get('qmaster_host') %}
dcluster-sge-act-qmaster:
  file.managed:
    - name: {{ root }}/{{ cell }}/common/act_qmaster
    - contents: {{ w['qmaster_host'] | json }}
    - makedirs: True
    - require_in:
      - dcluster_worker: dcluster-sge-execd
{%- endif %}
dcluster-sge-execd:
  dcluster_worker.registered:
    - name: {{ grains['id'] }}
    - scheduler: sge
    - env:
        SGE_ROOT: {{ root }}
        SGE_CELL: {{ cell }}
        SGE_QMASTER_PORT: {{ w.get('qmaster_port', 6444) | int }}
        SGE_EXECD_PORT: {{ w.get('execd_port', 6445) | int }}
