"""User-data: a Jinja2 template rendered per instance.

The template sees ``minion_id``, ``master`` (the address the minion connects
to), ``resource`` (the resource name), ``resource_type`` (openstack, aws,
local), ``scheduler`` (torque, sge, slurm), ``cluster`` (the cluster name)
and ``instance_dir`` (local cloud only: a directory private to the instance;
empty on real clouds), ``minion_pem`` and ``minion_pub`` (the minion's key
pair, made and pre-accepted by the master: the template must install them
as ``minion.pem`` / ``minion.pub`` in the minion's pki_dir, or the minion
presents a key the master refuses), plus the resource's ``userdata_vars``
(which cannot replace any of those).  Undefined names are errors, so a typo in a template
fails the first launch with the template's path instead of booting a broken
node.  The default template (package data,
``dcluster/data/userdata/salt-minion.sh.j2``) installs a salt-minion if
missing and starts it with that id and master.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable, Mapping
from importlib import resources as _res
from typing import Any

import jinja2

from ..keypairs import KeyPair
from .errors import InvalidConfig

DEFAULT_TEMPLATE = "salt-minion.sh.j2"


def default_template_text() -> str:
    return (_res.files("dcluster") / "data" / "userdata" / DEFAULT_TEMPLATE).read_text()


class _Template(jinja2.Template):
    dcluster_source = "userdata template"  # where its text came from (a path or the builtin), for messages


def _env() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)  # noqa: S701 - renders cloud-init and shell, not HTML; values are shell-quoted by the shquote filter
    env.filters["shquote"] = lambda v: shlex.quote(str(v))
    env.template_class = _Template
    return env


def load_template(path: str | None) -> jinja2.Template:
    """The template at ``path`` (``userdata_file``), or the default one when empty."""
    if not path:
        text, where = default_template_text(), f"<builtin {DEFAULT_TEMPLATE}>"
    else:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as fh:
                text, where = fh.read(), path
        except OSError as exc:
            raise InvalidConfig(f"userdata_file {path}: cannot be read: {exc.strerror}") from None
    return _compile(text, where)


@functools.lru_cache(maxsize=32)
def _compile(text: str, where: str) -> jinja2.Template:
    """A template compiled once per text: compiling costs milliseconds, and every launch batch loads
    its resource's template (read each time, so an edited file takes effect at the next launch)."""
    try:
        tpl = _env().from_string(text)
        assert isinstance(tpl, _Template)  # the environment's template_class
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidConfig(f"userdata_file {where}: line {exc.lineno}: {exc.message}") from None
    tpl.dcluster_source = where
    return tpl


def render(
    template: jinja2.Template | str | None,
    *,
    minion_id: str,
    master: str,
    resource: str,
    scheduler: str,
    cluster: str,
    resource_type: str = "",
    instance_dir: str = "",
    extra: Mapping[str, Any] | None = None,
    key: KeyPair | None = None,
) -> str:
    """The user-data of one instance; ``extra`` (``userdata_vars``) adds variables, never replaces ours.

    With ``key``, the template must put the private key into the user-data:
    one that leaves it out would boot a minion whose own key the master
    refuses, so that is an error naming the template.
    """
    if not isinstance(template, jinja2.Template):
        template = load_template(template)
    where = getattr(template, "dcluster_source", "userdata template")
    context = dict(extra or {})
    context.update(
        minion_id=minion_id,
        master=master,
        resource=resource,
        resource_type=resource_type,
        scheduler=scheduler,
        cluster=cluster,
        instance_dir=instance_dir,
        minion_pem=key.private_pem if key else "",
        minion_pub=key.public_pem if key else "",
    )
    try:
        text = template.render(**context)
    except jinja2.UndefinedError as exc:
        raise InvalidConfig(f"userdata_file {where}: {exc.message}") from None
    if key is not None and _pem_line(key.private_pem) not in text:
        raise InvalidConfig(
            f"userdata_file {where}: does not install {{{{ minion_pem }}}}: the minion would present "
            f"a key of its own, which the master refuses (its key is pre-accepted)"
        )
    return text


def _pem_line(pem: str) -> str:
    """A line of the key's body: survives indenting the PEM into a YAML block (cloud-config)."""
    body = [ln for ln in pem.splitlines() if ln and not ln.startswith("-----")]
    return body[len(body) // 2]


def renderer(
    path: str | None,
    *,
    master: str,
    resource: str,
    scheduler: str,
    cluster: str,
    resource_type: str = "",
    instance_dir_for: Callable[[str], str] | None = None,
    extra: Mapping[str, Any] | None = None,
    keys: Mapping[str, KeyPair] | None = None,
) -> Callable[[str], str]:
    """A ``userdata_for(minion_id)`` callable for :meth:`Driver.launch` (template loaded once).

    ``keys`` maps each minion id to its key pair; an id without one gets none.
    """
    tpl = load_template(path)

    def userdata_for(minion_id: str) -> str:
        return render(
            tpl,
            minion_id=minion_id,
            master=master,
            resource=resource,
            scheduler=scheduler,
            cluster=cluster,
            resource_type=resource_type,
            instance_dir=instance_dir_for(minion_id) if instance_dir_for else "",
            extra=extra,
            key=(keys or {}).get(minion_id),
        )

    return userdata_for
