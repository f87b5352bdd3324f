# ruff: noqa: UP031 - the printf formats are kept as MAUI writes them, so they can be compared by eye
"""MAUI 3.3.x reports rendered with the format strings of MAUI's own source.

No captured output of ``showres -n``, ``diagnose -p`` or ``checknode`` exists in any public
place we could search (tests/data/scheduler-output/maui/README.md), so the tests build each report
with the printf formats that print it in MAUI 3.3.x (TempleHPC/maui-scheduler, a fork of maui-3.3.1;
maui-3.3.1 itself prints the same), field for field; only the values are ours.  The functions named below are where
each format is.
"""

from __future__ import annotations


def showres_n(rows: list[tuple], now: str = "Sat Dec  5 04:00:00") -> str:
    """``MCShowReservedNodes`` (src/omclient.c), absolute-time mode.

    ``rows``: (node, [(type, id, jobstate, tasks, start, duration, starttime), ...]); the node's
    name is printed on its first reservation only, right-justified in 20 columns."""
    out = [f"reservations on {now}\n\n"]  # MULToDString ends in a newline of its own
    out.append(
        "%20s  %9s %18s %10s %4s %11s %11s %s%20s\n\n"
        % ("NodeName", "Type", "ReservationID", "JobState", "Task", "Start", "Duration", "", "StartTime")
    )
    for node, reservations in rows:
        for i, (rtype, rid, jstate, tasks, start, duration, starttime) in enumerate(reservations):
            out.append("%20s  %9s %18s %10s %4s " % (node if i == 0 else " ", rtype, rid, jstate, tasks))
            # MULToDString: ctime's first 19 characters and a newline
            out.append("%11s %11s  %20s" % (start, duration, starttime[:19] + "\n"))
    out.append(f"{len(rows)} nodes reserved\n")
    return "".join(out)


def diagnose_p(
    jobs: list[tuple[str, float, bool]],
    header: str,
    weights: str,
    columns: list[str],
    footer: str,
    partition: str = "ALL",
) -> str:
    """``UIDiagnosePriority`` (src/UserI.c) with ``MJobGetStartPriority`` (src/MPriority.c).

    ``jobs``: (name, priority, system priority set); ``columns`` the per-job component text."""
    if not jobs:
        return "no idle jobs in queue\n"
    out = [f"diagnosing job priority information (partition: {partition})\n\n"]
    out.append("%-20s %10s%c %s\n" % ("Job", "PRIORITY", "*", header))
    out.append("%20s %10s%c %s\n" % ("Weights", "--------", " ", weights))
    out.append("\n")
    for (name, prio, system), cols in zip(jobs, columns, strict=True):
        out.append("%-20s %10.0f%c %s\n" % (name, prio, "*" if system else " ", cols))
    out.append("\n")
    out.append("%-20s %10s%c %s\n" % ("Percent Contribution", "--------", " ", footer))
    out.append("\n")
    out.append("* indicates system prio set on job\n")
    return "".join(out)


def checknode(
    name: str,
    state: str,
    for_: str,
    expected: str | None = None,
    reservations: list[str] = (),
    joblist: str = "",
    procs: int = 4,
) -> str:
    """``MNodeShowState``, ``MNodeShowReservations`` and ``MNodeDiagnoseState`` (src/MNode.c), as the
    client prints them (``MCNodeShow``: two newlines first)."""
    out = ["\n\n", f"checking node {name}\n\n", "State:  %8s  (in current state for %s)\n" % (state, for_)]
    if expected:
        # no newline of its own: MULToDString ends the line
        out.append("Expected State: %8s   SyncDeadline: %s" % (expected, "Sat Dec  5 04:10:00\n"))
    out.append(f"Configured Resources: PROCS: {procs}  MEM: 7975M  SWAP: 9999M  DISK: 1M\n")
    out.append("Utilized   Resources: " + (f"PROCS: {procs}\n" if joblist else "[NONE]\n"))
    out.append("Dedicated  Resources: " + (f"PROCS: {procs}\n" if joblist else "[NONE]\n"))
    out.append("Opsys:      %8s  Arch:      %6s\n" % ("linux", "[NONE]"))
    out.append("Speed:    %6.2f  Load:      %6.3f\n" % (1.0, 0.0))
    out.append("Network:    [DEFAULT]\nFeatures:   [NONE]\n")
    out.append(f"Classes:    [batch {0 if joblist else procs}:{procs}]\n")
    out.append("\nTotal Time: 1:00:00:00  Up: 1:00:00:00 (100.00%)  Active: 00:00:00 (0.00%)\n")
    out.append("\nReservations:\n")
    out.extend(reservations or ["NOTE:  no reservations on node\n"])
    if joblist:
        out.append(f"JobList:  {joblist}\n")
    return "".join(out) + "\n"
