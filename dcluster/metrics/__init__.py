"""Metrics for Graphite: what the engine and the workers report, and how it reaches carbon.

Pure Python, no Salt.  :mod:`.paths` makes every path component safe, :mod:`.shaping` turns the
engine's view and the workers' beacon events into ``(path, value, timestamp)`` tuples,
:mod:`.carbon` sends them over TCP, and :mod:`.reporter` sends the engine's once per interval.
"""

from .carbon import CarbonClient, GraphiteSettings, format_line, graphite_settings
from .paths import PHYSICAL, Metric, component, join, mount_component, prefix_path
from .shaping import engine_metrics, stats_to_metrics

__all__ = [
    "PHYSICAL",
    "CarbonClient",
    "GraphiteSettings",
    "Metric",
    "component",
    "engine_metrics",
    "format_line",
    "graphite_settings",
    "join",
    "mount_component",
    "prefix_path",
    "stats_to_metrics",
]
