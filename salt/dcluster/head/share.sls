{#- The shared directory the workers mount (pillar dcluster_head:share): created, exported
    over NFS to share:clients in its own file under /etc/exports.d, and nfs-kernel-server
    running (share:nfs_server False: the export file only, for a site whose NFS server is
    elsewhere or when the kernel NFS server cannot run, as in a container). #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set s = head.share %}
{%- if s.enable %}
{%- if not s.clients %}
dcluster-share-export:
  test.fail_without_changes:
    - name: "pillar dcluster_head:share:clients is empty: list the networks or hosts the workers mount the share from (e.g. 10.0.0.0/24)"
{%- elif not (s.path is string and s.path.startswith('/')) %}
dcluster-share-export:
  test.fail_without_changes:
    - name: {{ ("pillar dcluster_head:share:path is " ~ (s.path | json) ~ ": expected an absolute path") | json }}
{%- else %}
dcluster-share-dir:
  file.directory:
    - name: {{ s.path }}
    - mode: {{ s.get('mode', '1777') | string | json }}
    - makedirs: True

dcluster-share-export:
  file.managed:
    - name: {{ s.exports_file }}
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Salt (dcluster.head.share): the share dcluster's workers mount.
        {{ s.path }}{% for c in s.clients %} {{ c }}({{ s.options }}){% endfor %}
    - require:
      - file: dcluster-share-dir
{%- if s.nfs_server %}

dcluster-nfs-server-packages:
  pkg.installed:
    - pkgs: {{ s.packages | json }}

dcluster-nfs-server:
  service.running:
    - name: {{ s.service }}
    - enable: {{ head.enable_services | json }}
    - require:
      - pkg: dcluster-nfs-server-packages
      - file: dcluster-share-export

dcluster-nfs-reexport:
  module.run:
    - cmd.run_all:
      - cmd: [exportfs, -ra]
      - python_shell: False
    - onchanges:
      - file: dcluster-share-export
    - require:
      - service: dcluster-nfs-server
{%- endif %}
{%- endif %}
{%- endif %}
