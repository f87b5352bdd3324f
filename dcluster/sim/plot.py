"""One picture of a replay: busy, idle, booting and draining nodes, and the pending demand, over time.

matplotlib is imported here, lazily, with the Agg backend (no display needed);
it is an optional dependency (``pip install dcluster[sim]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .replay import Result

# One sample of Result.series: t, busy, idle, booting, draining, pending demand (nodes).
Point = tuple[float, int, int, int, int, float]


def plot(result: Result, out: str, summary: dict[str, Any] | None = None, max_points: int = 20000) -> str:
    """Write a PNG of ``result.series`` to ``out``; returns ``out``."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("plotting needs matplotlib: pip install 'dcluster[sim]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result.series
    if not series:
        raise ValueError("the replay kept no time series (run it with record=True)")
    series = _thin(series, max_points)
    t0 = result.start
    days = [(p[0] - t0) / 86400.0 for p in series]
    busy = [p[1] for p in series]
    idle = [p[2] for p in series]
    booting = [p[3] for p in series]
    draining = [p[4] for p in series]
    demand = [p[5] for p in series]

    fig, ax = plt.subplots(figsize=(14, 5), dpi=100)
    ax.stackplot(
        days,
        busy,
        idle,
        booting,
        draining,
        step="post",
        labels=("busy", "idle", "booting", "draining"),
        colors=("#2b7bba", "#9ecae1", "#fdae6b", "#d9d9d9"),
        linewidth=0,
    )
    ax.step(days, demand, where="post", color="#d62728", linewidth=0.8, label="pending demand (nodes)")
    ax.axhline(result.settings.max_nodes, color="black", linestyle=":", linewidth=0.8, label="max nodes")
    ax.set_xlim(days[0], days[-1] if days[-1] > days[0] else days[0] + 1)
    top = max(result.settings.max_nodes * 1.5, 1)
    ax.set_ylim(0, top)  # demand can dwarf the cluster; keep the nodes readable
    ax.set_xlabel("days since the first submit")
    ax.set_ylabel("nodes")
    s = result.settings
    title = f"{s.policy}: {s.max_nodes} x {s.cores_per_node}-core nodes, boot {s.boot:.0f} s"
    if s.policy != "static":
        title += f", idle {s.idle} s"
    if summary:
        title += (
            f" | {summary['node_hours']:.0f} node-h (work {summary['work_node_hours']:.0f}), "
            f"mean wait {summary['mean_wait_s']:.0f} s"
        )
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, ncol=6)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def _thin(series: list[Point], max_points: int) -> list[Point]:
    """At most ``max_points`` points: per bucket, the point with most nodes and the peak demand."""
    if len(series) <= max_points:
        return series
    step = len(series) / max_points
    out: list[Point] = []
    i = 0.0
    while int(i) < len(series):
        chunk = series[int(i) : int(i + step) or int(i) + 1]
        peak = max(chunk, key=lambda p: p[1] + p[2] + p[3] + p[4])
        out.append((chunk[0][0], *peak[1:5], max(p[5] for p in chunk)))
        i += step
    return out


def frontier_plot(rows: list[dict[str, Any]], out: str, title: str = "") -> str:
    """Write a PNG of each policy's (node-hours, mean wait) points and its frontier to ``out``; returns ``out``.

    ``rows`` are :func:`dcluster.sim.metrics.summarise` results; a policy's points are
    labelled with their idle timeouts, and its frontier (see :mod:`.sweep`) is joined.
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("plotting needs matplotlib: pip install 'dcluster[sim]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .sweep import frontier

    if not rows:
        raise ValueError("no sweep points to plot")
    fig, ax = plt.subplots(figsize=(9, 6), dpi=100)
    for policy in dict.fromkeys(r["policy"] for r in rows):
        points = [r for r in rows if r["policy"] == policy]
        front = frontier(points)
        marker = "*" if policy == "static" else "o"
        line = ax.plot(
            [p["node_hours"] for p in front],
            [p["mean_wait_s"] for p in front],
            marker=marker,
            markersize=9 if marker == "*" else 5,
            label=f"{policy} (frontier)",
        )[0]
        ax.scatter(
            [p["node_hours"] for p in points],
            [p["mean_wait_s"] for p in points],
            marker=marker,
            s=60 if marker == "*" else 18,
            color=line.get_color(),
            alpha=0.5,
        )
        for p in points:
            if p.get("idle_s") is not None:
                ax.annotate(
                    f"{p['idle_s']}",
                    (p["node_hours"], p["mean_wait_s"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=line.get_color(),
                )
    ax.set_xlabel("node-hours")
    ax.set_ylabel("mean wait (s)")
    ax.set_title(title or "node-hours / mean wait frontier (labels: idle timeout, s)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
