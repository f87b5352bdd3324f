{#- The dcluster library (engine, runners, modules, dashboard assets) in the salt-master's
    Python, from a checkout or a wheel (pillar dcluster_head:library).  Installed as
    "dcluster @ file://<source>", so pip knows the name and a second run changes nothing;
    to upgrade, bump the version or remove the package first. #}
{%- from "dcluster/head/map.jinja" import head with context %}
{%- set lib = head.library %}
{%- if lib.install %}
{%- if not (lib.source is string and lib.source.startswith('/')) %}
dcluster-library:
  test.fail_without_changes:
    - name: {{ ("pillar dcluster_head:library:source is " ~ (lib.source | json) ~ ": expected the absolute path of a dcluster checkout or wheel") | json }}
{%- else %}
dcluster-library:
  pip.installed:
    - name: {{ ('dcluster @ file://' ~ lib.source) | json }}
    - bin_env: {{ lib.pip | json }}
    - no_deps: {{ lib.no_deps | json }}
{%- if lib.pip_args %}
    - extra_args: {{ lib.pip_args | json }}
{%- endif %}
{%- endif %}
{%- endif %}
