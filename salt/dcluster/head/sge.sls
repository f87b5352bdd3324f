{#- Son of Grid Engine's qmaster on the head (Debian gridengine-master: its postinst makes
    the cell from the debconf answers below).  Every exec host name must resolve on the head
    (qmaster refuses hosts it cannot resolve).  Settings: pillar dcluster_head:sge. #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set g = head.sge %}
{%- set master = g.get('qmaster_host') or grains['host'] %}
dcluster-sge-debconf-utils:
  pkg.installed:
    - name: debconf-utils

dcluster-sge-preseed:
  debconf.set:
    - name: gridengine-common
    - data:
        'shared/gridengineconfig': {'type': 'boolean', 'value': True}
        'shared/gridenginecell': {'type': 'string', 'value': {{ g.cell | json }}}
        'shared/gridenginemaster': {'type': 'string', 'value': {{ master | json }}}
    - require:
      - pkg: dcluster-sge-debconf-utils

dcluster-sge-packages:
  pkg.installed:
    - pkgs: {{ g.packages | json }}
    - require:
      - debconf: dcluster-sge-preseed

dcluster-sge-act-qmaster:
  file.managed:
    - name: {{ g.sge_root }}/{{ g.cell }}/common/act_qmaster
    - contents: {{ master | json }}
    - makedirs: True
    - require:
      - pkg: dcluster-sge-packages

{#- Read (sourced) by Debian's init scripts: without SGE_START_MASTERD=yes the qmaster's
    script exits without starting it.  The ports are exported to the daemons. #}
dcluster-sge-environment:
  file.managed:
    - name: /etc/default/gridengine
    - contents: |
        # Managed by Salt (dcluster.head.sge).
        SGE_START_MASTERD=yes
        SGE_START_EXECD=no
        SGE_ROOT={{ g.sge_root }}
        SGE_CELL={{ g.cell }}
        export SGE_QMASTER_PORT={{ g.qmaster_port | int }}
        export SGE_EXECD_PORT={{ g.execd_port | int }}
    - require:
      - pkg: dcluster-sge-packages

dcluster-sge-run-dir:
  file.directory:
    - name: /var/run/gridengine
    - user: sgeadmin
    - group: sgeadmin
    - require:
      - pkg: dcluster-sge-packages

{#- sig: Debian's init script looks for a pidfile the qmaster does not write there, so its
    status says "dead" while it runs; Salt checks the process instead. #}
dcluster-sge-qmaster:
  service.running:
    - name: {{ g.service }}
    - sig: {{ g.get('qmaster_binary', '/usr/lib/gridengine/sge_qmaster') }}
    - enable: {{ head.enable_services | json }}
    - require:
      - file: dcluster-sge-run-dir
    - watch:
      - file: dcluster-sge-act-qmaster
      - file: dcluster-sge-environment
