{#- What every worker gets whatever its scheduler: the dcluster_stats beacon (its events
    go to the master's dcluster engine, which checks them, keeps them for the worker graphs
    and writes them to Graphite) and the head's shared directory.
    Settings: pillar dcluster_worker:stats and dcluster_worker:share. #}
{%- set w = salt['pillar.get']('dcluster_worker', {}) %}
{%- set stats = w.get('stats', {}) %}
{%- set share = w.get('share', {}) %}
{%- if stats.get('enable', True) %}
dcluster-stats-beacon:
  beacon.present:
    - name: dcluster_stats
    - save: True
    - interval: {{ stats.get('interval', 30) | int }}
{%- if stats.get('disks') %}
    - disks: {{ stats['disks'] | json }}
{%- endif %}
{%- if stats.get('interfaces') %}
    - interfaces: {{ stats['interfaces'] | json }}
{%- endif %}
{%- endif %}
{%- if share.get('server') %}
{%- set path = share.get('path', '/shared') %}
dcluster-share-client:
  pkg.installed:
    - pkgs: {{ share.get('packages', ['nfs-common']) | json }}

dcluster-share-mount:
  mount.mounted:
    - name: {{ path }}
    - device: {{ (share['server'] ~ ':' ~ share.get('export', path)) | json }}
    - fstype: nfs
    - opts: {{ share.get('opts', 'rw,hard,_netdev') | json }}
    - mkmnt: True
    - persist: {{ share.get('persist', True) | json }}
    - require:
      - pkg: dcluster-share-client
{%- endif %}
