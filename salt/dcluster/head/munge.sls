{#- munge for the head's scheduler.  The cluster's key is kept, root-only, in
    munge:key_store on the master (made once by mungekey); the head's munged uses a copy.
    Workers get it from pillar only: salt/pillar-examples/dcluster_munge_key.sls reads
    key_store and gives it to minions whose id is one the engine made (see
    docs/deploy/README.md), never through the file server, where any minion could fetch it. #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set mu = head.munge %}
dcluster-munge-packages:
  pkg.installed:
    - pkgs: {{ mu.packages | json }}

dcluster-munge-key-store-dir:
  file.directory:
    - name: {{ salt['file.dirname'](mu.key_store) }}
    - user: root
    - mode: '0700'
    - makedirs: True

{#- module.run, not cmd.run: the cmd.run state always goes through a shell. #}
dcluster-munge-key-created:
  module.run:
    - cmd.run_all:
      - cmd: {{ ['mungekey', '--create', '--keyfile', mu.key_store] | json }}
      - python_shell: False
    - creates: {{ mu.key_store }}
    - require:
      - pkg: dcluster-munge-packages
      - file: dcluster-munge-key-store-dir

dcluster-munge-key-store:
  file.managed:
    - name: {{ mu.key_store }}
    - replace: False
    - user: root
    - group: root
    - mode: '0400'
    - require:
      - module: dcluster-munge-key-created

dcluster-munge-key:
  file.managed:
    - name: {{ mu.key }}
    - source: {{ mu.key_store }}
    - user: munge
    - group: munge
    - mode: '0400'
    - show_changes: False
    - require:
      - file: dcluster-munge-key-store

dcluster-munged:
  service.running:
    - name: {{ mu.service }}
    - enable: {{ head.enable_services | json }}
    - watch:
      - file: dcluster-munge-key
