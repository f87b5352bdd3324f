"""Glue: the code the Salt modules (_modules _states _runners _engines _beacons) share, and nothing else.

Each helper here serves Salt's side: it takes Salt's dunders (``__opts__``, ``__salt__[...]``) as
arguments, translates library errors into what Salt expects, and imports nothing of Salt at module
level (modules synced through file_roots cannot import each other, so their shared code lives
here).  What needs no Salt lives with its subject: the controller, :mod:`dcluster.metrics`,
:mod:`dcluster.local_command`.
"""
