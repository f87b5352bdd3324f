"""Minion ids an attacker can send to the master's ret port (Salt's valid_id lets them through).

``payload(marker)`` is the reactor-injection id of issue #12: rendered into the
pre-#12 ``reactor/auth.sls`` (kept here as ``OLD_AUTH_SLS``) it compiles into
``runner.salt.cmd`` (``touch <marker>`` on the master, in the master user's home
directory: cmd.run's default cwd), ``wheel.key.accept`` of every key and
``local.cmd.run`` on ``'*'``.  It has exactly one single quote, no "/" or "\\"
(valid_id refuses those) and stays under 255 bytes, so the master can store its
key as a pending key file and fires the salt/auth event.
"""

OLD_AUTH_SLS = """{#- salt/auth: a pending key is accepted only if dcluster launched that instance
    and it is still starting (the runner asks the engine); nothing else is. #}
{%- if data.get('act') == 'pend' %}
dcluster_accept_{{ data['id'] }}:
  runner.dcluster.accept_if_known:
    - args:
      - minion_id: {{ data['id'] }}
      - act: pend
{%- endif %}
"""


def payload(marker: str) -> str:
    # The single quote opens a YAML string in the state id's line that the id's second
    # occurrence closes; what follows it there is parsed as new top-level reactions.  The
    # last one's args list absorbs the template's trailing "- act: pend".
    return (
        "a: {runner.test.arg: [{x: '}]}\n"
        "r: {runner.salt.cmd: [{args: [{fun: cmd.run}, {cmd: [touch, " + marker + "]}]}]}\n"
        'w: {wheel.key.accept: [{args: [{match: "*"}]}]}\n'
        'l:\n  local.cmd.run:\n    - tgt: "*"\n    - args:\n      - cmd: [touch, ' + marker + "]"
    )


# Each is a str Salt's valid_id accepts (no "/", "\\" or NUL) unless noted.
HOSTILE = {
    "payload": payload("dcpwn-unit"),
    "newlines": "x\nevil:\n  runner.salt.cmd:\n    - args:\n      - fun: cmd.run",
    "flow mapping": "{a: b}",
    "flow sequence": "[x]",
    "alias": "*alias",
    "anchor": "&anchor x",
    "python tag": "!!python/object/apply:os.system [id]",  # has "/": refused by valid_id, still rendered safely
    "quotes": "a'b\"c",
    "jinja expression": "{{ 7 * 7 }}",
    "jinja statement": "{% for x in range(3) %}x{% endfor %}",
    "yaml bool": "yes",
    "yaml float": "1e3",
    "yaml null": "~",
    "1 MB": "a" * (1 << 20),
    "unicode": "nœud-ünï-节点",
    "rtl override": "dc-r1-\u202eabcdef-0123456789ab",
    "lone surrogate": "dc\ud800x",
    "trailing newline on a well-formed id": "dc-r1-abcdef-0123456789ab\n",
    "colon space": "a: b",
}

NOT_STRINGS = {"int": 7, "list": ["dc-r1-abcdef-0123456789ab"], "dict": {"a": "b"}, "none": None}
