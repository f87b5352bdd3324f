"""Parsers of MAUI's text reports: ``diagnose -p``, ``showres -n``, ``checknode``.

NOT CHECKED AGAINST REAL OUTPUT.  No real MAUI output of these three
commands could be found (see tests/data/scheduler-output/maui/README.md): the
layouts below follow the MAUI admin guide's examples and the original
dynamiccluster parser (``diagnose -p``: skip the header, id in column 1,
priority in column 2 with ``*`` stripped; ``showres -n``: node, type,
reservation id columns; ``checknode``: ``State: X (in current state for T)``).
The parsers are therefore tolerant: they pick out lines that look like data
and ignore the rest, and they never drop a job because it is missing from
``diagnose -p`` (the original did).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ParseError

_PRIO_LINE = re.compile(r"^\s*([0-9]+(?:\[[0-9]*\])?(?:\.[A-Za-z0-9._-]+)?)\s+(-?[0-9]+(?:\.[0-9]+)?)\*?(?:\s|$)")


def parse_diagnose_p(output: str, command: str = "diagnose -p") -> dict[str, float]:
    """Job id (short form, before the first '.') -> MAUI priority.

    Format (MAUI 3.x admin guide; unverified)::

        diagnosing job priority information (partition: ALL)

        Job                    PRIORITY*   Cred( User:Class)  Serv(QTime)
                     Weights   --------       1(    1:    1)     1(    1)

        897                        1716       0.0(  0.0:  0.0) 100.0(1716.)
        ...
        Percent Contribution   --------       0.0(  0.0:  0.0) 100.0(100.0)
    """
    prios: dict[str, float] = {}
    if output is None:
        raise ParseError(command, output, "no output")
    for line in output.splitlines():
        m = _PRIO_LINE.match(line)
        if m:
            prios[m.group(1).split(".", 1)[0]] = float(m.group(2))
    if not prios and output.strip() and "priority" not in output.lower():
        raise ParseError(command, output, "no job priority table found")
    return prios


@dataclass(frozen=True, slots=True)
class Reservation:
    node: str
    type: str  # Job, User, System, Group, Account, Class, QOS ...
    id: str
    state: str = ""


_RES_TYPES = {"job", "user", "system", "group", "account", "class", "qos", "standing", "sysres"}


def parse_showres_n(output: str, command: str = "showres -n") -> list[Reservation]:
    """Reservations per node.

    Format (MAUI 3.x admin guide; unverified)::

        reservations on Fri Jul 13 10:00:00

        NodeName  Type  ReservationID  JobState Task  Start  Duration  StartTime

        node01    Job   1234           Running  2     -1:00:00  1:00:00:00  Fri Jul 13 09:00:00
                  User  node01.0       N/A      1     -00:05:00 INFINITY    Fri Jul 13 09:55:00
        node02    User  admin.1        N/A      ...

    A line starting in column 0 names the node; an indented line continues
    the previous node.
    """
    if output is None:
        raise ParseError(command, output, "no output")
    out: list[Reservation] = []
    node = ""
    for line in output.splitlines():
        if not line.strip():
            continue
        toks = line.split()
        if line[0].isspace():
            if toks[0].lower() in _RES_TYPES and len(toks) >= 2 and node:
                out.append(Reservation(node, toks[0], toks[1], toks[2] if len(toks) > 2 else ""))
            continue
        if len(toks) >= 3 and toks[1].lower() in _RES_TYPES:
            node = toks[0]
            out.append(Reservation(node, toks[1], toks[2], toks[3] if len(toks) > 3 else ""))
    return out


_STATE = re.compile(r"^\s*State:\s*(\S+)", re.M)


def parse_checknode(output: str, command: str = "checknode") -> str:
    """The MAUI state of a node (``Idle``, ``Busy``, ``Down`` ...).

    Format: a line ``State:  Idle  (in current state for 00:00:10)``.
    Raises :class:`ParseError` when no such line is found (the original
    returned None there, which crashed its callers).
    """
    m = _STATE.search(output or "")
    if not m:
        raise ParseError(command, output, "no 'State:' line")
    return m.group(1)
