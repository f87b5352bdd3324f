"""``make demo``: a real elastic cluster on this machine (see README, "Demo").

:mod:`.stack` brings up a salt-master with the dcluster engine and reactors,
a Slurm controller (or a Grid Engine qmaster) on this host and the ``local``
cloud, as plain processes stopped by PID; :mod:`.slurm` and :mod:`.sge` run
the scheduler heads (shared with the daemon tests); :mod:`.metrics` turns the
master's events into the latencies of docs/performance.md.

It runs the checkout's ``salt/`` and ``reactor/`` folders, so it works from a
checkout only and is not in the wheel (setup.cfg lists every package but this).
"""
