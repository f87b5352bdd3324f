"""MAUI report parsers on reports laid out by MAUI 3.3.x's own format strings (see maui_layouts)."""

from __future__ import annotations

import pytest

from dcluster.schedulers import ParseError, maui
from tests.unit.schedulers import maui_layouts as lay

RUNNING = ("Job", "149", "Running", "2", "-1:00:00", "1:00:00:00", "Sat Dec  5 03:00:00")
QUEUED = ("Job", "152", "Idle", "2", "2:00:00", "1:00:00", "Sat Dec  5 06:00:00")
USER = ("User", "dc-r1-aa.0", "N/A", "1", "-00:05:00", "INFINITE", "Sat Dec  5 03:55:00")
OTHER = ("?", "meta.3", "N/A", "1", "00:10:00", "1:00:00", "Sat Dec  5 04:10:00")


def test_showres_n_rows_are_right_justified_and_a_node_can_hold_several_kinds():
    out = lay.showres_n(
        [
            ("dc-r1-aa", [RUNNING, QUEUED, USER]),  # three reservations: the name on the first row only
            ("node7", [("User", "admin.1", "N/A", "4", "-1:00:00:00", "INFINITE", "Fri Dec  4 04:00:00")]),
            ("a-node-named-over-twenty", [OTHER]),  # wider than the column: starts in column 0
        ]
    )
    assert out.splitlines()[4].startswith("            dc-r1-aa        Job")  # indented, as MAUI prints it
    assert [(r.node, r.type, r.id, r.state) for r in maui.parse_showres_n(out)] == [
        ("dc-r1-aa", "Job", "149", "Running"),
        ("dc-r1-aa", "Job", "152", "Idle"),
        ("dc-r1-aa", "User", "dc-r1-aa.0", "N/A"),
        ("node7", "User", "admin.1", "N/A"),
        ("a-node-named-over-twenty", "?", "meta.3", "N/A"),
    ]


def test_showres_n_with_nothing_reserved_is_empty():
    assert maui.parse_showres_n(lay.showres_n([])) == []


@pytest.mark.parametrize(
    "cut, why",
    [
        (lambda s: s.rsplit("2 nodes reserved", 1)[0], "no 'N nodes reserved' line"),  # cut off before the end
        (lambda s: s.replace("2 nodes reserved", "3 nodes reserved"), "says 3 nodes reserved but lists 2"),
        (lambda s: s.replace("N/A", "N/A\nshowres: lost connection"), "is not a reservation row"),
        (lambda s: s + "node9 User x N/A 1\n", "after the 'nodes reserved' line"),
        # int() of a string of more than 4,300 digits raised ValueError, not a ParseError
        (lambda s: s.replace("2 nodes reserved", "1" * 5000 + " nodes reserved"), "line 8 says 1111.*: no count"),
        (lambda s: "ERROR:  cannot connect to maui\n", "is not a reservation row"),
    ],
)
def test_showres_n_garbled_raises_naming_the_line(cut, why):
    out = lay.showres_n([("dc-r1-aa", [RUNNING, USER]), ("node7", [USER])])
    with pytest.raises(ParseError, match=why) as exc:
        maui.parse_showres_n(cut(out))
    assert "showres -n" in str(exc.value)


DIAG = dict(
    header="   Cred( User:Class)  Serv(QTime)",
    weights="      1(    1:    1)     1(    1)",
    footer="    0.0(  0.0:  0.0) 100.0(100.0)",
)


def test_diagnose_p_priorities_with_system_priority_negative_and_long_names():
    jobs = [
        ("152", 1716.0, False),
        ("166[1]", 1000000005.0, True),
        ("170.head.example.org", -20.0, False),
        ("171.a-very-long-server-name.example.org", 3.0, False),
    ]
    cols = ["    0.0(  0.0:  0.0) 100.0(1716.)"] * 4
    out = lay.diagnose_p(jobs, columns=cols, **DIAG)
    assert "1000000005*" in out  # setspri's absolute priority, flagged
    assert maui.parse_diagnose_p(out) == {"152": 1716.0, "166[1]": 1000000005.0, "170": -20.0, "171": 3.0}


def test_diagnose_p_of_one_partition():
    out = lay.diagnose_p([("201", 12.0, False)], columns=["    0.0(  0.0:  0.0) 100.0(  12.)"], partition="gpu", **DIAG)
    assert out.startswith("diagnosing job priority information (partition: gpu)")
    assert maui.parse_diagnose_p(out) == {"201": 12.0}


def test_diagnose_p_with_no_idle_jobs_is_empty_not_an_error():
    assert lay.diagnose_p([], columns=[], **DIAG) == "no idle jobs in queue\n"
    assert maui.parse_diagnose_p("no idle jobs in queue\n") == {}


@pytest.mark.parametrize("bad", ["", "ERROR:    cannot connect to 'head' port 42559\n", "Job  PRIORITY*\n\n152 1716\n"])
def test_diagnose_p_anything_else_raises(bad):
    with pytest.raises(ParseError, match="diagnosing job priority information"):
        maui.parse_diagnose_p(bad)


@pytest.mark.parametrize("state", ["Idle", "Busy", "Running", "Down", "Drained", "Drain", "Reserved", "Unknown"])
def test_checknode_states(state):
    busy = state in ("Busy", "Running", "Drain")
    out = lay.checknode(
        "dc-r1-aa",
        state,
        "1:02:03:04",
        joblist="149" if busy else "",
        reservations=[
            "  Job '149'(x4)  -1:00:00 -> 1:00:00:00 (1:01:00:00)\n",
            "  User 'dc-r1-aa.0'(x1)  -00:05:00 -> INFINITY (INFINITY)\n",
        ],
    )
    assert maui.parse_checknode(out) == state


def test_checknode_reads_the_state_not_the_expected_state():
    out = lay.checknode("dc-r1-aa", "Down", "00:00:05", expected="Idle")
    assert "Expected State:     Idle" in out
    assert maui.parse_checknode(out) == "Down"


@pytest.mark.parametrize(
    "bad, why",
    [
        ("ERROR:  cannot locate node 'dc-r1-aa'\n", "does not know this node"),
        ("", "no 'State:' line"),
        ("checking node x\n\nState:  Sleeping  (in current state for 00:00:01)\n", "unknown node state 'Sleeping'"),
    ],
)
def test_checknode_bad_output_raises(bad, why):
    with pytest.raises(ParseError, match=why):
        maui.parse_checknode(bad, "checknode dc-r1-aa")


def test_diagnose_p_a_priority_beyond_a_double_is_none():
    """Maui prints a double (%10.0lf): 400 digits are no output of it, and float() read them as inf,
    which a head minion's job may not carry (Job.from_dict: every poll failed).  Such a job has none."""
    out = lay.diagnose_p([("152", 1.0, False)], columns=["    0.0(  0.0:  0.0) 100.0(1716.)"], **DIAG)
    assert maui.parse_diagnose_p(out.replace("         1 ", " " + "9" * 400 + " ")) == {}
