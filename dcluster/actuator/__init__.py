"""The actuator: carries out what the planner decided, and nothing else decides.

The planner/actuator split of the Kubernetes cluster-autoscaler
(``core/scaledown/actuation``): :class:`Actuator` talks to the outside world
only through :class:`ActuatorPorts` (scheduler, cloud drivers, minion keys,
events, clocks, a thread pool), never through the controller.  It owns the
chains of actions under way, the launches in flight and what recent calls
returned (:class:`Records`, which the controller persists), and publishes an
immutable :class:`Status`; reconcile folds that into the view, so the planner
knows which workers are being acted on.  The engine's loop, the operator's
commands and the simulator (:mod:`dcluster.sim`) all act through it.
"""

from .actuator import Actuator
from .errors import ActionFailed, Busy
from .ports import ActuatorPorts, SchedulerPort
from .records import Records
from .status import Status

__all__ = ["ActionFailed", "Actuator", "ActuatorPorts", "Busy", "Records", "SchedulerPort", "Status"]
