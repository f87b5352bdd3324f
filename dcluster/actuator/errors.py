"""Why the actuator did not carry out an action."""


class ActionFailed(RuntimeError):
    """An action was tried and did not succeed; its chain stops here."""


class Busy(RuntimeError):
    """A chain of actions on this worker is under way: one chain per worker at a time."""
