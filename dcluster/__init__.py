"""dcluster: the pure, Salt-free core of the elastic HPC cluster autoscaler.

Nothing in this package imports Salt at module level.  The Salt glue in
``_modules/``, ``_runners/``, ``_engines/`` ... reads configuration, calls
into this package and carries out the actions it returns.

Data flows one way: observe (scheduler, cloud) -> reconcile -> plan -> act.
"""

import logging

# A library's loggers stay silent unless the application (Salt, the demo, a CLI) configures logging:
# without this, a replay of a trace with faults printed every failed launch through logging's last resort.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"
