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

{#- The cell dcluster uses: Debian's package makes no submit host, host group or queue.
    The head submits jobs (qsub is refused elsewhere); the engine's add_node puts each new
    exec host into the host group (its default_hostgroup) and sets its slots in the queue
    (default_queue, `qconf -rattr queue slots <cores> <queue>@<host>`), so both must exist.
    dcluster_sge_cell (the library's _states/: Salt reloads its modules after the library's
    pip state) reads qconf's listings and changes only what differs. #}
{%- set cell_env = {'SGE_ROOT': g.sge_root, 'SGE_CELL': g.cell, 'SGE_QMASTER_PORT': g.qmaster_port | string, 'SGE_EXECD_PORT': g.execd_port | string} %}
{%- set submit_hosts = g.submit_hosts or [master] %}
{%- if submit_hosts is string or submit_hosts is mapping or submit_hosts | select('string') | list | length != submit_hosts | length %}
dcluster-sge-submit-hosts:
  test.fail_without_changes:
    - name: {{ ("pillar dcluster_head:sge:submit_hosts is " ~ (g.submit_hosts | json) ~ ": expected a list of host names") | json }}
{%- else %}
dcluster-sge-submit-hosts:
  dcluster_sge_cell.submit_host:
    - names: {{ submit_hosts | json }}
    - env: {{ cell_env | json }}
    - wait: {{ g.wait | int }}
    - require:
      - service: dcluster-sge-qmaster
{%- endif %}

{%- if not (g.hostgroup is string and g.hostgroup.startswith('@')) %}
dcluster-sge-hostgroup:
  test.fail_without_changes:
    - name: {{ ("pillar dcluster_head:sge:hostgroup is " ~ (g.hostgroup | json) ~ ": expected a host group name starting with @, e.g. @allhosts") | json }}
{%- else %}
dcluster-sge-hostgroup:
  dcluster_sge_cell.hostgroup:
    - name: {{ g.hostgroup | json }}
    - env: {{ cell_env | json }}
    - wait: {{ g.wait | int }}
    - require:
      - service: dcluster-sge-qmaster
{%- endif %}

{%- if not (g.queue is string and g.queue) or g.queue_settings is not mapping %}
dcluster-sge-queue:
  test.fail_without_changes:
    - name: {{ ("pillar dcluster_head:sge:queue is " ~ (g.queue | json) ~ " and queue_settings is " ~ (g.queue_settings | json) ~ ": expected a queue name and a mapping of queue attributes") | json }}
{%- else %}
dcluster-sge-queue:
  dcluster_sge_cell.queue:
    - name: {{ g.queue | json }}
    - hostlist: {{ g.hostgroup | json }}
    - settings: {{ g.queue_settings | json }}
    - env: {{ cell_env | json }}
    - wait: {{ g.wait | int }}
    - require:
      - dcluster-sge-hostgroup
{%- endif %}
