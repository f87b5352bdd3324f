"""Worker names that resolve on the scheduler's head node: which entries, and how a hosts file changes.

Grid Engine and Torque refuse an execution host whose name they cannot resolve.  Each worker's
name (its minion id) and address (from its cloud listing) are published as one hosts-file line
ending in the comment ``# dcluster``; the set of such lines is a function of the engine's view,
so it is reconciled, never remembered: after a master restart the first cycle derives it again.

Pure: the hosts file's text goes in, the edits to make come out (``dcluster.glue.names`` makes
them with Salt's ``hosts`` execution module).  Only lines ending in the marker are ours; every
other line (an admin's, the local cloud's) is never edited, and a worker an admin's line already
names, or whose address an admin's line uses, is left out and reported instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import identity
from .model import InstanceState

if TYPE_CHECKING:
    from .config import Secret
    from .model import Worker

MARK = "dcluster"  # the comment ending each line we write
# Instances with these states have no machine behind the address (any more): no entry.
_NO_ENTRY = frozenset({InstanceState.DELETING, InstanceState.GONE, InstanceState.ERROR})
MAX_ENTRIES = 10000  # more than any cluster: a bigger request to the head node is refused whole


class NameError_(ValueError):  # "NameError" is a builtin
    """An entry that must not reach a hosts file."""


def check_address(value: object, where: str = "address") -> str:
    """``value`` as a plain IPv4 or IPv6 literal (compressed form), else :class:`NameError_`.

    A cloud's answer is not trusted: anything but an address literal (a newline, a second field,
    an IPv6 zone, which may carry any text) could put a line of its choosing into /etc/hosts.
    """
    if not isinstance(value, str) or not value or len(value) > 45 or "%" in value:
        raise NameError_(f"{where}: {value!r:.80} is not an IP address")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise NameError_(f"{where}: {value!r:.80} is not an IP address") from None
    if addr.is_unspecified or addr.is_multicast:
        raise NameError_(f"{where}: {value!r} cannot be a host's address")
    return addr.compressed


def check_name(value: object, secrets: Sequence[Secret | str] | None = None, where: str = "name") -> str:
    """``value`` if it is one of our minion ids: well formed, and signed under ``secrets`` when given.

    The head node has no secret (it checks the form); the master checks the signature too.
    """
    if not identity.well_formed(value):
        raise NameError_(f"{where}: {value!r:.80} is not a dcluster minion id")
    if secrets is not None and identity.parse(value, tuple(secrets)) is None:
        raise NameError_(f"{where}: {value!r:.80} is not signed with this cluster's secret")
    return value


def check_entries(entries: object, secrets: Sequence[Secret | str] | None = None) -> dict[str, str]:
    """``{name: address}`` from a caller (the engine, over Salt): every entry checked, or one error for all."""
    if not isinstance(entries, Mapping):
        raise NameError_(f"entries: expected a mapping of name to address, not {type(entries).__name__}")
    if len(entries) > MAX_ENTRIES:
        raise NameError_(f"entries: {len(entries)} is more than {MAX_ENTRIES}")
    out, problems = {}, []
    for name, addr in entries.items():
        try:
            out[check_name(name, secrets, "entries")] = check_address(addr, f"entries:{name}")
        except NameError_ as exc:
            problems.append(str(exc))
    if problems:
        raise NameError_("; ".join(problems[:10]))
    return out


def wanted(
    workers: Iterable[Worker], secrets: Sequence[Secret | str], skip_resources: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """The entries the view asks for: every worker of ours whose instance has a machine and an address.

    Returns ``({name: address}, {name: problem})``; a worker whose listing carries a bad address or
    an unsigned name is a problem, never an entry.  Workers of ``skip_resources`` (a local cloud that
    keeps its own hosts file) are left out.
    """
    skip = set(skip_resources)
    out: dict[str, str] = {}
    problems: dict[str, str] = {}
    for w in workers:
        inst = getattr(w, "instance", None)
        if inst is None or inst.state in _NO_ENTRY or not inst.ip or w.resource in skip:
            continue
        try:
            name = check_name(w.name, secrets, f"instance {inst.id} of {w.resource}")
            out[name] = check_address(inst.ip, f"instance {inst.id} ({name}) of {w.resource}")
        except NameError_ as exc:
            problems[str(w.name)] = str(exc)
    return out, problems


@dataclass(frozen=True)
class HostsFile:
    """A hosts file read line by line: our lines by address, what the other lines use."""

    ours: dict[str, list[str]]  # address -> names, in file order (an address twice: names merged)
    ours_lines: dict[str, int]  # address -> how many of our lines have it
    foreign_addresses: set[str]
    foreign_names: set[str]

    @classmethod
    def parse(cls, text: str) -> HostsFile:
        ours: dict[str, list[str]] = {}
        count: dict[str, int] = {}
        f_addr: set[str] = set()
        f_names: set[str] = set()
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            body, _, comment = line.partition("#")
            fields = body.split()
            if not fields:
                continue
            if comment.strip() == MARK:
                ours.setdefault(fields[0], []).extend(n for n in fields[1:] if n not in ours.get(fields[0], ()))
                count[fields[0]] = count.get(fields[0], 0) + 1
            else:
                f_addr.add(fields[0])
                f_names.update(fields[1:])
        return cls(ours, count, f_addr, f_names)


@dataclass
class Edits:
    """What to do to a hosts file: Salt's ``hosts.set_host(addr, names)`` and ``hosts.rm_host(addr, name)``."""

    set: list[tuple[str, str]] = field(default_factory=list)  # (address, space-separated names)
    remove: list[tuple[str, str]] = field(default_factory=list)  # (address, name)
    conflicts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": [list(s) for s in self.set],
            "remove": [list(r) for r in self.remove],
            "conflicts": list(self.conflicts),
        }


def edits(text: str, entries: Mapping[str, str], withdraw: bool = True) -> Edits:
    """The edits that make our lines of ``text`` say exactly ``entries`` (checked already).

    ``withdraw=False`` (a cloud listing failed: the view may lack live workers) only adds and
    updates.  An entry is left out, as a conflict, when an admin's line names it or uses its
    address: Salt's ``set_host`` rewrites every line of an address, and a second line for a name
    would make it resolve two ways.
    """
    hf = HostsFile.parse(text)
    out = Edits()
    by_addr: dict[str, list[str]] = {}
    for name, addr in sorted(entries.items()):
        if name in hf.foreign_names:
            out.conflicts.append(f"{name}: a line not written by dcluster names it; left as it is")
        elif addr in hf.foreign_addresses:
            out.conflicts.append(f"{name}: its address {addr} is on a line not written by dcluster; not added")
        else:
            by_addr.setdefault(addr, []).append(name)
    for addr, names in by_addr.items():
        if hf.ours.get(addr) != names or hf.ours_lines.get(addr, 0) > 1:
            out.set.append((addr, " ".join(names)))
    for addr, names in hf.ours.items():
        keep = set(by_addr.get(addr, ()))
        for name in names:
            if name in keep or addr in by_addr:
                continue  # the address's set_host above rewrites its line
            if withdraw or name in entries:
                out.remove.append((addr, name))
    return out
