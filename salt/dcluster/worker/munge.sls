{#- The cluster's munge key, from pillar dcluster_worker:munge_key (base64), which the
    master gives only to workers whose minion id the engine made
    (salt/pillar-examples/dcluster_munge_key.sls), then munged. #}
{%- set w = salt['pillar.get']('dcluster_worker', {}) %}
{%- if w.get('munge_key') %}
dcluster-munge-package:
  pkg.installed:
    - name: munge

dcluster-munge-dir:
  file.directory:
    - name: /etc/munge
    - user: munge
    - group: munge
    - mode: '0700'
    - require:
      - pkg: dcluster-munge-package

dcluster-munge-key-data:
  file.decode:
    - name: /etc/munge/munge.key
    - contents_pillar: dcluster_worker:munge_key
    - encoding_type: base64
    - require:
      - file: dcluster-munge-dir

dcluster-munge-key:
  file.managed:
    - name: /etc/munge/munge.key
    - replace: False
    - user: munge
    - group: munge
    - mode: '0400'
    - require:
      - file: dcluster-munge-key-data

dcluster-munged:
  service.running:
    - name: munge
    - watch:
      - file: dcluster-munge-key-data
      - file: dcluster-munge-key
{%- endif %}
