"""A value that never shows itself in a repr, a log line or an exception."""

from __future__ import annotations

REDACTED = "********"


class Secret:
    """Wraps a password, secret key or token.

    ``str()``/``repr()``/formatting all give a fixed mask; only :meth:`reveal`
    returns the value, so a secret can reach a log line or an event only by an
    explicit, greppable call.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str):
        object.__setattr__(self, "_value", str(value))

    def __setattr__(self, name: str, value: object) -> None:  # immutable like the rest of the config
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = lambda self: REDACTED  # noqa: E731 - one line beside __repr__, same answer

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    # pickling (Salt's process boundaries) keeps the value, never prints it
    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))
