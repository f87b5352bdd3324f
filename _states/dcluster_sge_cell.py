"""
dcluster_sge_cell: what a Grid Engine cell needs before dcluster can use it.

Debian's gridengine-master makes a cell (configuration, complexes, managers) with no
submit host, no host group and no queue.  These states make the head a submit host and
create the host group new exec hosts join (dcluster's ``default_hostgroup``) and the queue
whose slots the engine sets per host (``default_queue``).  Each reads ``qconf``'s own
listing first (``-ss``, ``-shgrp``, ``-sq``), changes only what differs, and with
``test=True`` only reports what it would change.  Commands are argument lists, never a shell.

It imports no dcluster module: only ``qconf`` (no other part of the library edits queues),
so it loads wherever Salt finds the library's ``_states``.  On a head's first apply the formula
installs the library first; Salt reloads its modules after a pip state that changed something,
so the formula's Grid Engine states, which run after it, find this module.

.. code-block:: yaml

    dcluster-sge-hostgroup:
      dcluster_sge_cell.hostgroup:
        - name: '@allhosts'
        - env: {SGE_ROOT: /var/lib/gridengine, SGE_CELL: default, SGE_QMASTER_PORT: '6444'}
"""

import logging
import os
import re
import shutil
import tempfile
import time

log = logging.getLogger(__name__)

__virtualname__ = "dcluster_sge_cell"

QCONF = "qconf"
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
GROUP_RE = re.compile(r"^@[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
ATTR_RE = re.compile(r"^[a-z_]{1,64}$")
# a value on one line of a qconf file: no line break, no continuation backslash
VALUE_RE = re.compile(r"^[^\n\r\\]{1,1024}$")
# where a queue attribute's per-host overrides begin: "1,[host=2],[..]"
OVERRIDES_RE = re.compile(r",\s*\[")
# qconf's answers when the object is absent (Son of Grid Engine 8.1.9 messages)
ABSENT = {
    "submit": ("no submit host",),
    "hostgroup": ("does not exist",),
    "queue": ("no cluster queue or queue instance matches", "does not exist"),
    "pe": ("no parallel environment",),
}


def __virtual__():
    return __virtualname__


class _Failed(Exception):
    """A qconf command failed; the message names it and its output."""


def _env(env):
    if env is None:
        return None
    if not isinstance(env, dict):
        raise _Failed(f"env must be a mapping of variable names to values, not {type(env).__name__}")
    return {str(k): str(v) for k, v in env.items()}


def _qconf(args, env):
    argv = [QCONF, *args]
    out = __salt__["cmd.run_all"](argv, python_shell=False, env=env, ignore_retcode=True, output_loglevel="debug")
    return argv, out["retcode"], out.get("stdout") or "", out.get("stderr") or ""


def _show(args, env, absent, name=""):
    """The listing of ``qconf args``, or None when qconf says the object ``name`` is absent."""
    argv, rc, out, err = _qconf(args, env)
    if rc == 0:
        return out
    text = (err + "\n" + out).lower()
    if any(marker in text for marker in ABSENT[absent]) and name.lower() in text:
        return None
    raise _Failed(f"{' '.join(argv)} failed ({rc}): {(err or out).strip()}")


def _change(args, env):
    argv, rc, out, err = _qconf(args, env)
    if rc != 0:
        raise _Failed(f"{' '.join(argv)} failed ({rc}): {(err or out).strip()}")
    return out.strip()


def _with_file(option, name, content, env):
    """``qconf option FILE``, the file holding ``content`` (qconf reads it itself)."""
    d = tempfile.mkdtemp(prefix="dcluster-sge-cell-")
    try:
        path = os.path.join(d, name.lstrip("@") or "object")
        with open(path, "w") as fh:
            fh.write(content)
        return _change([option, path], env)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _answering(env, wait):
    """Wait up to ``wait`` s for the qmaster (it may be starting); raise naming qconf's last answer."""
    deadline = time.monotonic() + max(0, float(wait))
    while True:
        argv, rc, out, err = _qconf(["-sh"], env)
        if rc == 0:
            return
        if time.monotonic() >= deadline:
            raise _Failed(f"the qmaster does not answer: {' '.join(argv)} failed ({rc}): {(err or out).strip()}")
        time.sleep(1)


def _same_host(a, b):
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or a.split(".", 1)[0] == b.split(".", 1)[0]


def parse_listing(text):
    """``qconf -sq``/``-shgrp`` output as an ordered dict: attribute -> (value, its raw lines).

    A value continues on the next line when a line ends with a backslash."""
    attrs, key, lines = {}, None, []
    for line in text.splitlines():
        if key is None:
            if not line.strip() or line.startswith("#"):
                continue
            key = line.split(None, 1)[0]
            lines = [line]
        else:
            lines.append(line)
        if not line.rstrip().endswith("\\"):
            attrs[key] = (_joined(lines), lines)
            key = None
    if key is not None:
        raise _Failed(f"qconf listing ends inside the value of {key!r}")
    return attrs


def _joined(lines):
    """The value of an attribute's lines: the key dropped, continuations joined by a space."""
    pieces = []
    for i, line in enumerate(lines):
        text = line.split(None, 1)[1] if i == 0 and len(line.split(None, 1)) > 1 else "" if i == 0 else line
        text = text.strip()
        pieces.append(text[:-1].strip() if text.endswith("\\") else text)
    return " ".join(p for p in pieces if p)


def default_value(value):
    """The cluster-wide part of a queue attribute's value (before its ``[host=...]`` overrides)."""
    return OVERRIDES_RE.split(value, 1)[0].strip()


def _with_default(key, value, new):
    """``key`` set to ``new`` for every host without an override, keeping the overrides."""
    parts = OVERRIDES_RE.split(value, 1)
    if len(parts) == 1:
        return f"{key} {new}"
    return f"{key} {new},[{parts[1]}"


def queue_changes(current, hostlist, settings):
    """The attributes to change in a queue listing: {attr: (old, new line)}; raises on unknown ones."""
    changes = {}
    old = current.get("hostlist", ("NONE", []))[0]
    members = [] if old.upper() == "NONE" else old.split()
    if hostlist not in members:
        changes["hostlist"] = (old, "hostlist " + " ".join([*members, hostlist]))
    for key, want in settings.items():
        if key not in current:
            raise _Failed(f"queue attribute {key!r} is not one of qconf's: {', '.join(sorted(current))}")
        have = current[key][0]
        if default_value(have) != want:
            changes[key] = (default_value(have), _with_default(key, have, want))
    return changes


def _settings(settings):
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise _Failed(f"settings must be a mapping of queue attributes to values, not {type(settings).__name__}")
    out = {}
    for key, value in settings.items():
        value = str(value).strip() if not isinstance(value, bool) else ("TRUE" if value else "FALSE")
        if not ATTR_RE.match(str(key)) or key in ("qname", "hostlist"):
            raise _Failed(f"settings: {key!r} is not a queue attribute dcluster_sge_cell.queue may set")
        if not VALUE_RE.match(value):
            raise _Failed(f"settings: {key}: {value!r} is not a one-line value")
        out[key] = value
    return out


def _existing_pes(pe_list, env):
    """The template's ``pe_list`` without the parallel environments this cell lacks.

    The queue template names ``make smp mpi``, which a new cell may not have: ``qconf -Aq``
    refuses a queue naming a missing one."""
    listing = _show(["-spl"], env, "pe") or ""
    have = set(listing.split())
    keep = [pe for pe in pe_list.split() if pe in have]
    return " ".join(keep) or "NONE"


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _run(name, check, env, wait, body):
    """Validate, wait for the qmaster, run ``body(env)``; qconf failures become the state's failure."""
    ret = _ret(name)
    try:
        check()
        env = _env(env)
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
            raise _Failed(f"wait must be a number of seconds, not {wait!r}")
        # test=True does not wait: on a host where nothing runs yet it says what it cannot check
        _answering(env, 0 if __opts__.get("test") else wait)
        ret.update(body(env))
    except _Failed as exc:
        if __opts__.get("test") and str(exc).startswith("the qmaster does not answer"):
            ret.update(result=None, comment=f"{name} would be checked once the qmaster runs ({exc})")
        else:
            ret.update(result=False, comment=str(exc))
    return ret


def _valid(pattern, what, name):
    def check():
        if not isinstance(name, str) or not pattern.match(name):
            raise _Failed(f"{name!r} is not a valid {what}")

    return check


def submit_host(name, env=None, wait=60):
    """
    Ensure ``name`` is a submit host of the cell (``qconf -ss``; ``qconf -as`` when it is not).

    name
        The host; its name must resolve on the head.
    env
        The cell's environment: ``SGE_ROOT``, ``SGE_CELL``, ``SGE_QMASTER_PORT``.
    wait
        Seconds to wait for the qmaster to answer (it may have just been started).

    .. code-block:: yaml

        dcluster-sge-submit-hosts:
          dcluster_sge_cell.submit_host:
            - name: headnode
    """

    def body(env):
        listing = _show(["-ss"], env, "submit") or ""
        if any(_same_host(name, h) for h in listing.split()):
            return {"comment": f"{name} is a submit host"}
        if __opts__.get("test"):
            return {"result": None, "comment": f"{name} would be made a submit host", "changes": {"added": name}}
        _change(["-as", name], env)
        return {"comment": f"{name} is now a submit host", "changes": {"added": name}}

    return _run(name, _valid(HOST_RE, "host name", name), env, wait, body)


def hostgroup(name, env=None, wait=60):
    """
    Ensure the host group ``name`` exists (``qconf -shgrp``; ``qconf -Ahgrp`` with no host when absent).

    Its members are the engine's business (it adds each new exec host): they are never changed here.

    .. code-block:: yaml

        dcluster-sge-hostgroup:
          dcluster_sge_cell.hostgroup:
            - name: '@allhosts'
    """

    def body(env):
        if _show(["-shgrp", name], env, "hostgroup", name) is not None:
            return {"comment": f"host group {name} exists"}
        if __opts__.get("test"):
            return {"result": None, "comment": f"host group {name} would be created", "changes": {"created": name}}
        _with_file("-Ahgrp", name, f"group_name {name}\nhostlist NONE\n", env)
        return {"comment": f"host group {name} created", "changes": {"created": name}}

    return _run(name, _valid(GROUP_RE, "host group name (@name)", name), env, wait, body)


def queue(name, hostlist, settings=None, env=None, wait=60):
    """
    Ensure the cluster queue ``name`` exists, runs on host group ``hostlist`` and has ``settings``.

    Made from qconf's queue template (``qconf -sq``) when absent (``qconf -Aq``).  When it exists,
    ``hostlist`` is added to its host list if missing and each setting's cluster-wide value is
    set, keeping the per-host overrides (the engine's ``[host=N]`` slots) (``qconf -Mq``).

    hostlist
        The host group the engine adds exec hosts to (dcluster's ``default_hostgroup``).
    settings
        Queue attributes (``slots``, ``shell``, ``load_thresholds``, ...) and their values.

    .. code-block:: yaml

        dcluster-sge-queue:
          dcluster_sge_cell.queue:
            - name: all.q
            - hostlist: '@allhosts'
            - settings: {slots: 1, shell: /bin/sh}
    """
    wanted = {}

    def check():
        _valid(QUEUE_RE, "queue name", name)()
        _valid(GROUP_RE, "host group name (@name)", hostlist)()
        wanted.update(_settings(settings))

    def body(env):
        listing = _show(["-sq", name], env, "queue", name)
        if listing is None:
            template = parse_listing(_change(["-sq"], env))
            changes = queue_changes(template, hostlist, wanted)
            if "pe_list" in template and "pe_list" not in wanted:
                changes["pe_list"] = (None, "pe_list " + _existing_pes(template["pe_list"][0], env))
            lines = []
            for key, (_, raw) in template.items():
                if key == "qname":
                    lines.append(f"qname {name}")
                elif key in changes:
                    lines.append(changes[key][1])
                else:
                    lines.extend(raw)
            if __opts__.get("test"):
                return {"result": None, "comment": f"queue {name} would be created", "changes": {"created": name}}
            _with_file("-Aq", name, "\n".join(lines) + "\n", env)
            return {"comment": f"queue {name} created", "changes": {"created": name}}
        current = parse_listing(listing)
        changes = queue_changes(current, hostlist, wanted)
        if not changes:
            return {"comment": f"queue {name} is as configured"}
        diff = {k: {"old": old, "new": line.split(None, 1)[1]} for k, (old, line) in changes.items()}
        if __opts__.get("test"):
            return {"result": None, "comment": f"queue {name} would be changed", "changes": diff}
        lines = []
        for key, (_, raw) in current.items():
            lines.extend([changes[key][1]] if key in changes else raw)
        _with_file("-Mq", name, "\n".join(lines) + "\n", env)
        return {"comment": f"queue {name} changed", "changes": diff}

    return _run(name, check, env, wait, body)
