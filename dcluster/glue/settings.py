"""Validated cluster settings for the Salt modules.

``cluster_settings(__salt__["config.get"])`` reads ``dcluster:cluster`` (pillar,
minion config or master config, whichever ``config.get`` finds) and checks it
with the schema of :mod:`dcluster.config.keys`; errors name the full key path
(``dcluster:cluster:config:qstat_command: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcluster.config import Cluster, ConfigError, keys, schedulers
from dcluster.config.schema import check

PATH = ("dcluster", "cluster")


def cluster_settings(config_get: Callable[..., Any], expect: str | None = None) -> Cluster:
    """The ``dcluster:cluster`` section as a :class:`dcluster.config.Cluster`.

    ``expect`` names the scheduler the caller drives; another configured type
    is an error (a Slurm module must not run Torque commands).
    """
    data = config_get(":".join(PATH))
    if data in (None, "", {}):
        data = {}
    if not data and expect:
        data = {"type": expect}  # not configured: the defaults of the scheduler this module drives
    if not data:
        raise ConfigError([f"{':'.join(PATH)}: not configured (set dcluster:cluster:type and its config)"])
    value = check(data, keys.CLUSTER, PATH)
    if expect and value["type"] != expect:
        raise ConfigError([f"{':'.join(PATH)}:type: is {value['type']!r}, but this is the {expect} module"])
    return Cluster(
        type=value["type"], head_minion=value["head_minion"], config=schedulers.build(value["type"], value["config"])
    )
