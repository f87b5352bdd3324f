"""The autoscaling loop, Salt-free: observe -> reconcile -> plan -> act -> events.

:class:`~dcluster.controller.loop.Controller` is driven by the Salt engine
(``_engines/dcluster_mod.py``), which only supplies the ports: how to read the
pillar, reach the scheduler (on the head minion), build cloud drivers, manage
minion keys and fire events.  Tests and the demo drive it with real ports too.
"""

from .loop import Controller, Ports

__all__ = ["Controller", "Ports"]
