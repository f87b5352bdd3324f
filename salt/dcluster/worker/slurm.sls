{#- A Slurm worker: slurmd registers itself as a dynamic node (slurmd -Z) with the
    feature the head's partition NodeSet selects.  Settings: pillar dcluster_worker:slurm
    (see salt/pillar-examples/slurm.sls). #}
{%- set w = salt['pillar.get']('dcluster_worker:slurm', {}) %}
{#- conf_server (host[:port] of slurmctld): configless, slurmd fetches slurm.conf from the head
    (whose slurm.conf has SlurmctldParameters=enable_configless); conf is then unused. #}
{%- set conf_server = w.get('conf_server', '') %}
{%- set conf = '' if conf_server else w.get('conf', '/etc/slurm/slurm.conf') %}
{%- if w.get('install', True) %}
dcluster-slurm-packages:
  pkg.installed:
    - pkgs: {{ w.get('packages', ['slurmd', 'munge']) | json }}
    - require_in:
      - dcluster_worker: dcluster-slurmd
{%- endif %}
{%- set munge_pillar = salt['pillar.get']('dcluster_worker:munge_key') %}
{%- if munge_pillar %}
include:
  - dcluster.worker.munge
{%- elif w.get('munge_key_source') %}
dcluster-munge-key:
  file.managed:
    - name: /etc/munge/munge.key
    - source: {{ w['munge_key_source'] }}
    - user: munge
    - group: munge
    - mode: '0400'
dcluster-munged:
  service.running:
    - name: munge
    - watch:
      - file: dcluster-munge-key
    - require_in:
      - dcluster_worker: dcluster-slurmd
{%- endif %}
dcluster-slurmd:
  dcluster_worker.registered:
    - name: {{ grains['id'] }}
    - scheduler: slurm
    - cores: {{ w.get('cores', grains['num_cpus']) | int }}
    - mem_mb: {{ w.get('mem_mb', grains['mem_total']) | int }}
    - features: {{ w.get('features', ['dcluster']) | json }}
{%- if conf_server %}
    - args: {{ ['--conf-server', conf_server] | json }}
{%- else %}
    - conf: {{ conf }}
    - env:
        SLURM_CONF: {{ conf }}
{%- endif %}
    - boottime_zero: {{ w.get('boottime_zero', False) | json }}
{%- if munge_pillar %}
    - require:
      - service: dcluster-munged
{%- endif %}
