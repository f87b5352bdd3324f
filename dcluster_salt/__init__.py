"""Maps the repository's ``_modules/``, ``_runners/`` ... folders into an importable package.

``setup.cfg`` installs ``_modules`` as ``dcluster_salt.modules`` and so on, so
one source tree serves both deployment styles: copied into a master's
file_roots (``saltutil.sync_all``) or pip-installed (the ``salt.loader``
entry point in :mod:`dcluster_salt.loader`).
"""
