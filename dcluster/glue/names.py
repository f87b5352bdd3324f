"""Publish worker names into a hosts file with Salt's ``hosts`` execution module.

Used on the head minion (``dcluster_<scheduler>.sync_hosts``) and in the engine's process when
the master is the head node.  :mod:`dcluster.names` reads the file and decides; Salt's
``hosts.set_host`` / ``hosts.rm_host`` write.  The file is read afresh on every call: what it
holds is never taken from an earlier call (an admin may have edited it since).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from .. import names

log = logging.getLogger(__name__)

# Salt's hosts module takes its file from this context key before the minion's `hosts.file` option;
# setting it makes the module write the file the pillar names.
_FILE_KEY = "hosts.__get_hosts_filename"
_LIST_KEY = "hosts._list_hosts"  # Salt's cached parse of the file: dropped so nothing stale is read


def check_hosts_file(path: object) -> str:
    if not isinstance(path, str) or not os.path.isabs(path) or any(c in path for c in "\n\r\0"):
        raise names.NameError_(f"hosts_file: {path!r:.120} is not an absolute path")
    return path


def sync_hosts(
    salt: Mapping[str, Any], context: MutableMapping[str, Any], hosts_file: str, entries: object, withdraw: bool = True
) -> dict[str, Any]:
    """Make the ``# dcluster`` lines of ``hosts_file`` say exactly ``entries`` ({name: address}).

    Raises :class:`dcluster.names.NameError_` (nothing written) when an entry is not a minion id
    and an address literal.  Returns what was set, removed and left out (conflicts).
    """
    path = check_hosts_file(hosts_file)
    checked = names.check_entries(entries)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    todo = names.edits(text, checked, withdraw=bool(withdraw))
    context[_FILE_KEY] = path
    for addr, alias in todo.set:
        context.pop(_LIST_KEY, None)
        if not salt["hosts.set_host"](addr, alias, comment=names.MARK):
            raise OSError(f"hosts.set_host {addr} {alias}: {path} is not a regular file")
    for addr, name in todo.remove:
        context.pop(_LIST_KEY, None)
        salt["hosts.rm_host"](addr, name)
    context.pop(_LIST_KEY, None)
    return {"hosts_file": path, **todo.to_dict()}


def module_sync_hosts(
    module: str,
    salt: Mapping[str, Any],
    context: MutableMapping[str, Any],
    hosts_file: str,
    entries: object,
    withdraw: bool = True,
) -> dict[str, Any]:
    """:func:`sync_hosts` for the execution module ``module`` (``dcluster_<scheduler>``): a refused
    entry or an unwritable file is logged and raised as Salt's ``CommandExecutionError``."""
    from salt.exceptions import CommandExecutionError

    try:
        return sync_hosts(salt, context, hosts_file, entries, withdraw=withdraw)
    except (names.NameError_, OSError) as exc:
        log.error("%s.sync_hosts: %s", module, exc)
        raise CommandExecutionError(f"sync_hosts: {exc}") from exc


_LOADED: dict[str, Any] = {}


def in_process(opts: Mapping[str, Any], hosts_file: str, entries: object, withdraw: bool = True) -> dict[str, Any]:
    """:func:`sync_hosts` with Salt's ``hosts`` module loaded here (the master is the head node)."""
    if "salt" not in _LOADED:
        import salt.loader

        context: dict[str, Any] = {}
        _LOADED["context"] = context
        _LOADED["salt"] = salt.loader.minion_mods(dict(opts), context=context, whitelist=["hosts"])
    return sync_hosts(_LOADED["salt"], _LOADED["context"], hosts_file, entries, withdraw)


def peers_block(entries: Mapping[str, str], head: Mapping[str, str] | None = None) -> str:
    """The lines a worker's hosts file gets between dcluster's markers (see ``file.blockreplace``)."""
    checked = names.check_entries(entries)
    lines = [f"{addr} {name}" for name, addr in sorted(checked.items())]
    return "\n".join(lines) + ("\n" if lines else "")
