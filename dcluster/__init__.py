"""dcluster: the pure, Salt-free core of the elastic HPC cluster autoscaler.

Nothing in this package imports Salt at module level.  The Salt glue in
``_modules/``, ``_runners/``, ``_engines/`` ... reads configuration, calls
into this package and carries out the actions it returns.

Data flows one way: observe (scheduler, cloud) -> reconcile -> plan -> act.
"""

__version__ = "0.1.0"
