"""``dcluster-sim TRACE --sweep``: each policy over a range of idle timeouts, its frontier as a PNG and a table.

Policies: ``dcluster`` and ``powersave`` at every idle timeout, ``static`` once
(it has no idle setting).  Every other option (scheduler model, boot time and its
spread, failure rates, seed ...) is the same for every replay, so the points
differ only by policy and idle timeout; everything is seeded, so a sweep repeats.
Replays run one after another in this process (a KTH replay takes minutes).

A policy's *frontier* is the set of its points (node-hours, mean wait) that no
other point of the same policy beats on both; the table marks them with ``*``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, cast

from .simulation import simulate

POLICIES = ("dcluster", "powersave", "static")
IDLES = (0, 60, 300, 600, 1800)

COLUMNS = (
    ("policy", "policy", "{}"),
    ("idle s", "idle_s", "{}"),
    ("node-hours", "node_hours", "{:,.0f}"),
    ("oracle node-h", "oracle_node_hours", "{:,.0f}"),
    ("/ oracle", "over_oracle", "{:.3f}"),
    ("mean wait s", "mean_wait_s", "{:,.0f}"),
    ("p50", "p50_wait_s", "{:,.0f}"),
    ("p95", "p95_wait_s", "{:,.0f}"),
    ("max wait s", "max_wait_s", "{:,.0f}"),
    ("wide mean / max wait s", None, None),
    ("launches", "launches", "{:,}"),
    ("launch failures", "launch_failures", "{:,}"),
)


def frontier(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point beats on both node-hours and mean wait, by node-hours."""

    def beats(q: dict[str, Any], p: dict[str, Any]) -> bool:
        return (
            q["node_hours"] <= p["node_hours"]
            and q["mean_wait_s"] <= p["mean_wait_s"]
            and (q["node_hours"], q["mean_wait_s"]) != (p["node_hours"], p["mean_wait_s"])
        )

    return sorted((p for p in points if not any(beats(q, p) for q in points)), key=lambda p: p["node_hours"])


def markdown(rows: list[dict[str, Any]], title: str = "") -> str:
    """The sweep's table; ``*`` marks each policy's frontier points."""
    on: set[int] = set()
    for policy in dict.fromkeys(r["policy"] for r in rows):
        on.update(id(p) for p in frontier([r for r in rows if r["policy"] == policy]))
    lines = [title, ""] if title else []
    lines.append("| " + " | ".join(name for name, _, _ in COLUMNS) + " | frontier |")
    lines.append("|---|" + "---:|" * (len(COLUMNS) - 1) + "---|")
    for r in rows:
        cells = []
        for _, key, fmt in COLUMNS:
            if key is None:
                cells.append(f"{r['wide_mean_wait_s']:,.0f} / {r['wide_max_wait_s']:,.0f}")
            elif r.get(key) is None:
                cells.append("-")
            else:
                cells.append(cast(str, fmt).format(r[key]))  # only the wait column (key None) has none
        lines.append("| " + " | ".join(cells) + (" | * |" if id(r) in on else " |  |"))
    return "\n".join(lines) + "\n"


def sweep(
    trace: str,
    idles: Iterable[int] = IDLES,
    policies: Iterable[str] = POLICIES,
    out_dir: str = ".",
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    run: Callable[..., dict[str, Any]] = simulate,
    **opts: Any,
) -> dict[str, Any]:
    """Replay ``trace`` under each policy and idle timeout; write ``sweep.md`` and ``sweep.png`` in ``out_dir``."""
    idles = list(idles)
    if not idles:
        raise ValueError("a sweep needs at least one idle timeout")
    for key in ("policy", "idle"):
        if key in opts:
            raise ValueError(f"option {key!r} is what a sweep varies; leave it out")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for policy in policies:
        for idle in idles if policy != "static" else [None]:
            o = dict(opts, policy=policy)
            if idle is not None:
                o["idle"] = idle
            rows.append(run(trace, limit=limit, progress=progress, **o))
    first = rows[0]
    title = (
        f"Sweep of {first['trace']}{f' (first {limit} jobs)' if limit else ''}: {first['max_nodes']} x "
        f"{first['cores_per_node']}-core nodes, scheduler {first['scheduler']}, boot {first['boot_s']:g} s"
        + (f" (p95 {first['boot_p95_s']:g} s)" if first.get("boot_p95_s") else "")
        + f", poll {first['poll_s']} s"
    )
    text = markdown(rows, title)
    table = os.path.join(out_dir, "sweep.md")
    with open(table, "w", encoding="utf-8") as fh:
        fh.write(text)
    from .plot import frontier_plot

    png = frontier_plot(rows, os.path.join(out_dir, "sweep.png"), title)
    return {"rows": rows, "markdown": text, "table": table, "plot": png}
