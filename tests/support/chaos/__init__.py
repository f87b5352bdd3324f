"""The chaos harness of issue 13: ground truth (simulated Slurm and cloud), faults, the oracle, one run.

``Run(seed, family).run()`` returns the run's :class:`Counters`; see
:mod:`.harness` for the API, :mod:`.faults` for how to add a fault and
:mod:`.scenarios` for the causes of issue 13 reproduced one by one.
"""

from .faults import FAMILIES, Faults, MasterKilled
from .harness import Run, one_run, pillar
from .oracle import INVARIANTS, ROWS, Counters

__all__ = ["FAMILIES", "INVARIANTS", "ROWS", "Counters", "Faults", "MasterKilled", "Run", "one_run", "pillar"]
