{#- The salt-master's side: master.d drop-ins for the dcluster engine, the reactor
    mappings (reactor/*.sls copied to master:reactor_dir) and file_roots, and, when
    api:enable, salt-api (rest_cherrypy) serving the REST API and the dashboard.
    The master (and salt-api) restart when a drop-in changes, if their service is named. #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set m = head.master %}
{%- set api = head.api %}
{%- set engine = salt['defaults.merge']({'master_address': m.master_address} if m.master_address else {}, m.engine, in_place=False) %}
dcluster-master-config-dir:
  file.directory:
    - name: {{ m.config_dir }}
    - makedirs: True

dcluster-reactor-files:
  file.recurse:
    - name: {{ m.reactor_dir }}
    - source: salt://dcluster/head/reactor
    - include_pat: '*.sls'
    - file_mode: '0644'
    - dir_mode: '0755'
    - makedirs: True

dcluster-master-engine:
  file.serialize:
    - name: {{ m.config_dir }}/dcluster-engine.conf
    - serializer: yaml
    - mode: '0640'
    - require:
      - file: dcluster-master-config-dir
    - dataset:
        engines:
          - dcluster: {{ engine | json }}

dcluster-master-reactor:
  file.serialize:
    - name: {{ m.config_dir }}/dcluster-reactor.conf
    - serializer: yaml
    - require:
      - file: dcluster-master-config-dir
      - file: dcluster-reactor-files
    - dataset:
        reactor:
          - 'salt/auth':
            - {{ m.reactor_dir }}/auth.sls

dcluster-master-file-roots:
  file.serialize:
    - name: {{ m.config_dir }}/dcluster-file-roots.conf
    - serializer: yaml
    - require:
      - file: dcluster-master-config-dir
    - dataset:
        file_roots:
          base: {{ m.file_roots | json }}

{%- set ro = ['status', 'workers', 'jobs', 'resources', 'history', 'graphs', 'config', 'server_status'] %}
{%- set rw = ro + ['launch', 'hold', 'release', 'vacate', 'remove', 'freeze', 'drain', 'restore', 'auto'] %}
{#- Salt matches these from the start only (re.match): anchored, the dot escaped. #}
{%- set ro_re = [] %}{%- for f in ro %}{%- do ro_re.append('dcluster\\.' ~ f ~ '$') %}{%- endfor %}
{%- set rw_re = [] %}{%- for f in rw %}{%- do rw_re.append('dcluster\\.' ~ f ~ '$') %}{%- endfor %}
{%- if api.enable %}

dcluster-master-api:
  file.serialize:
    - name: {{ m.config_dir }}/dcluster-api.conf
    - serializer: yaml
    - mode: '0640'
    - require:
      - file: dcluster-master-config-dir
    - dataset:
        netapi_enable_clients: [runner]
        rest_cherrypy:
          host: {{ api.host | json }}
          port: {{ api.port | int }}
          ssl_crt: {{ api.ssl_crt | json }}
          ssl_key: {{ api.ssl_key | json }}
          app: {{ (api.dashboard_dir ~ '/index.html') | json }}
          app_path: /dashboard
          static: {{ api.dashboard_dir | json }}
          static_path: /static
        external_auth:
          pam:
            'dcluster-ro%':
              - '@runner': {{ ro_re | json }}
            'dcluster-admin%':
              - '@runner': {{ rw_re | json }}
        token_expire: 14400
{%- if api.service %}

dcluster-salt-api:
  service.running:
    - name: {{ api.service }}
    - enable: {{ head.enable_services | json }}
    - watch:
      - file: dcluster-master-api
{%- endif %}
{%- endif %}
{%- if m.service %}

dcluster-salt-master:
  service.running:
    - name: {{ m.service }}
    - enable: {{ head.enable_services | json }}
    - watch:
      - file: dcluster-master-engine
      - file: dcluster-master-reactor
      - file: dcluster-master-file-roots
{%- if api.enable %}
      - file: dcluster-master-api
{%- endif %}
{%- endif %}
