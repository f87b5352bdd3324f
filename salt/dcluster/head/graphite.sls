{#- Graphite's carbon-cache on the head: the engine's graphite plugin and the workers'
    stats (dcluster_stats beacon -> the engine, which checks and rate-limits them) are written here.
    Settings: pillar dcluster_head:graphite.  Listens on graphite:interface only. #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set g = head.graphite %}
{%- if g.enable %}
dcluster-carbon-packages:
  pkg.installed:
    - pkgs: {{ g.packages | json }}

{#- Debian's package ships carbon-cache disabled. #}
dcluster-carbon-default:
  file.managed:
    - name: /etc/default/graphite-carbon
    - contents: |
        # Managed by Salt (dcluster.head.graphite).
        CARBON_CACHE_ENABLED=true
    - require:
      - pkg: dcluster-carbon-packages

dcluster-carbon-dirs:
  file.directory:
    - names:
      - {{ g.storage_dir }}/whisper
      - /var/log/carbon
    - user: _graphite
    - group: _graphite
    - makedirs: True
    - require:
      - pkg: dcluster-carbon-packages

dcluster-carbon-conf:
  file.managed:
    - name: {{ g.conf_dir }}/carbon.conf
    - source: salt://dcluster/head/files/carbon.conf.jinja
    - template: jinja
    - makedirs: True
    - context:
        g: {{ g | json }}
    - require:
      - pkg: dcluster-carbon-packages

dcluster-carbon-schemas:
  file.managed:
    - name: {{ g.conf_dir }}/storage-schemas.conf
    - makedirs: True
    - contents: |
        # Managed by Salt (dcluster.head.graphite).
        [carbon]
        pattern = ^carbon\.
        retentions = 60:90d

        [default]
        pattern = .*
        retentions = {{ g.retentions }}

dcluster-carbon-cache:
  service.running:
    - name: {{ g.service }}
    - enable: {{ head.enable_services | json }}
    - require:
      - file: dcluster-carbon-dirs
    - watch:
      - file: dcluster-carbon-default
      - file: dcluster-carbon-conf
      - file: dcluster-carbon-schemas
{%- endif %}
