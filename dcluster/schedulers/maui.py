"""Parsers of MAUI's text reports: ``diagnose -p``, ``showres -n``, ``checknode``.

CHECKED AGAINST MAUI'S OWN SOURCE, NOT AGAINST A CAPTURED OUTPUT.  No real
output of these three commands could be found in public repositories, issue
trackers or the stored web pages (mailing-list archives, centre guides, blogs):
see tests/data/scheduler-output/maui/README.md for where we looked.  The layouts
below are those of the format strings that print each report in MAUI 3.3.x
(TempleHPC/maui-scheduler: ``MCShowReservedNodes`` in src/omclient.c,
``UIDiagnosePriority`` in src/UserI.c with ``MJobGetStartPriority`` in
src/MPriority.c, ``MNodeShowState`` in src/MNode.c), and the tests feed the
parsers reports laid out by those formats.  What the source taught, that the
admin guide's examples do not show:

- ``showres -n`` right-justifies the node name in 20 columns, so every row is
  indented; a node's further reservations print a blank name.  The type is
  ``Job`` (JobState: the job's state), ``User`` (setres and standing
  reservations; JobState ``N/A``) or ``?`` (any other kind; ``N/A``).  The
  report ends with ``N nodes reserved``, which tells a cut-off report from a
  short one.
- ``diagnose -p`` prints only ``no idle jobs in queue`` when nothing waits.
- ``checknode`` node states are ``None Down Idle Busy Running Drained Drain
  Flush Reserved Unknown``; a node MAUI does not know gives ``ERROR:  cannot
  locate node`` and a non-zero exit.

The parsers never drop a job because it is missing from ``diagnose -p`` (the
original did), and never turn an output they do not recognise into "nothing".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import ParseError

# "%-20s %10.0lf%c": the job name, the priority, '*' when an admin set a system priority.
_PRIO_LINE = re.compile(r"^\s*([0-9]+(?:\[[0-9]*\])?(?:\.[A-Za-z0-9._-]+)?)\s+(-?[0-9]+(?:\.[0-9]+)?)\*?(?:\s|$)")
_PRIO_HEADER = "diagnosing job priority information"
_NO_IDLE_JOBS = "no idle jobs in queue"


def parse_diagnose_p(output: str, command: str = "diagnose -p") -> dict[str, float]:
    """Job id (short form, before the first '.') -> MAUI priority.

    Layout (MAUI 3.3.x ``UIDiagnosePriority``; the weight columns vary with the
    configured weights, only the first two columns matter here)::

        diagnosing job priority information (partition: ALL)

        Job                    PRIORITY*   Cred( User:Class)  Serv(QTime)
                     Weights   --------       1(    1:    1)     1(    1)

        152                        1716       0.0(  0.0:  0.0) 100.0(1716.)
        166[1]                       50*      0.0(  0.0:  0.0) 100.0(  50.)

        Percent Contribution   --------       0.0(  0.0:  0.0) 100.0(100.0)

        * indicates system prio set on job

    or only ``no idle jobs in queue``.  Anything else raises :class:`ParseError`.
    """
    if output is None:
        raise ParseError(command, output, "no output")
    text = output.strip()
    if text == _NO_IDLE_JOBS:
        return {}
    if not text.startswith(_PRIO_HEADER):
        raise ParseError(command, output, f"neither {_PRIO_HEADER!r} nor {_NO_IDLE_JOBS!r}")
    prios: dict[str, float] = {}
    for line in text.splitlines()[1:]:
        m = _PRIO_LINE.match(line)
        # beyond a double (no output of Maui's %lf) float() reads as inf: no priority (Job.from_dict refuses it)
        if m and math.isfinite(prio := float(m.group(2))):
            prios[m.group(1).split(".", 1)[0]] = prio
    return prios


@dataclass(frozen=True, slots=True)
class Reservation:
    node: str
    type: str  # MAUI 3.3: Job, User (setres, standing reservations) or ? (any other kind)
    id: str
    state: str = ""  # the JobState column: the job's state (Running, Idle ...), N/A for the others


# MAUI 3.3 prints Job, User and ? (MResNodeToXML); the rest are Moab's and older MAUIs' names, kept so
# that such a reservation is still released rather than taken for a node name.
_RES_TYPES = {"job", "user", "?", "meta", "system", "group", "account", "class", "qos", "standing", "sysres"}
_RES_HEADER = re.compile(r"^\s*reservations on ")
_RES_COLUMNS = re.compile(r"^\s*NodeName\s+Type\s+ReservationID\b")
_RES_TRAILER = re.compile(r"^\s*([0-9]+) nodes? reserved\s*$")


def parse_showres_n(output: str, command: str = "showres -n") -> list[Reservation]:
    """Reservations per node.

    Layout (MAUI 3.3.x ``MCShowReservedNodes``: ``"%20s  %9s %18s %10s %4s "``,
    then start, duration and start time)::

        reservations on Fri Jul 13 10:00:00
                    NodeName       Type      ReservationID   JobState Task       Start    Duration           StartTime

                    dc-r1-aa        Job                149    Running    2    -1:00:00  1:00:00:00  Fri Jul 13 09:00:00
                                   User         dc-r1-aa.0        N/A    1   -00:05:00    INFINITE  Fri Jul 13 09:55:00
        2 nodes reserved

    A row whose second field is a reservation type names its node; a row
    whose first field is one continues the node above.  The ``N nodes
    reserved`` trailer must be there and agree with the rows: a report cut
    short, or any line that is none of these, raises :class:`ParseError`.
    """
    if output is None:
        raise ParseError(command, output, "no output")
    out: list[Reservation] = []
    node = ""
    nodes: list[str] = []
    reserved: int | None = None
    for n, line in enumerate(output.splitlines(), 1):
        if not line.strip() or _RES_HEADER.match(line) or _RES_COLUMNS.match(line):
            continue
        if reserved is not None:
            raise ParseError(command, output, f"line {n} after the 'nodes reserved' line: {line.strip()[:80]!r}")
        m = _RES_TRAILER.match(line)
        if m:
            if len(m.group(1)) > 9:  # no count of nodes (and int() raises ValueError beyond 4,300 digits)
                raise ParseError(command, output, f"line {n} says {m.group(1)[:20]}... nodes reserved: no count")
            reserved = int(m.group(1))
            continue
        toks = line.split()
        if len(toks) >= 4 and toks[1].lower() in _RES_TYPES:
            node = toks[0]
            nodes.append(node)
            out.append(Reservation(node, toks[1], toks[2], toks[3]))
        elif len(toks) >= 3 and toks[0].lower() in _RES_TYPES and node:
            out.append(Reservation(node, toks[0], toks[1], toks[2]))
        else:
            raise ParseError(command, output, f"line {n} is not a reservation row: {line.strip()[:80]!r}")
    if reserved is None:
        raise ParseError(command, output, "no 'N nodes reserved' line (report cut short?)")
    if reserved != len(nodes):
        raise ParseError(command, output, f"it says {reserved} nodes reserved but lists {len(nodes)}")
    return out


# MAUI 3.3 MNodeState[]; Draining is Moab's (and older MAUIs') name for Drain.
NODE_STATES = frozenset(
    {"None", "Down", "Idle", "Busy", "Running", "Drained", "Drain", "Draining", "Flush", "Reserved", "Unknown"}
)
_STATE = re.compile(r"^[ \t]*State:\s*(\S+)\s+\(in current state for", re.M)


def parse_checknode(output: str, command: str = "checknode") -> str:
    """The MAUI state of a node (``Idle``, ``Busy``, ``Down``, ``Drained`` ...).

    Layout (MAUI 3.3.x ``MNodeShowState``: ``"State:  %8s  (in current state
    for %s)"``, the state right-justified, after ``checking node NAME``).
    Raises :class:`ParseError` when no such line is found (a None there would
    crash the callers, who need a state) or its state is not one MAUI prints.
    """
    text = output or ""
    if "ERROR:" in text and "cannot locate node" in text:
        raise ParseError(command, output, "MAUI does not know this node (no 'State:' line)")
    m = _STATE.search(text)
    if not m:
        raise ParseError(command, output, "no 'State:' line")
    if m.group(1) not in NODE_STATES:
        raise ParseError(command, output, f"unknown node state {m.group(1)!r}")
    return m.group(1)
