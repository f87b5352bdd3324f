"""Model records that crossed a wire back into the model, each field checked against its type.

A head minion's answer (its scheduler's jobs and nodes, through Salt) and the engine's own state file
(the instances it launched) are input like any other: a string where cores should be would make
"2" * 4 cores, a negative size or a NaN time a planner that fails cycles later with a bare exception.
:func:`from_dict` refuses such a record with a :class:`ModelError` naming the field and what it held;
the checks come from the dataclass's annotations, and from :data:`_BY_FIELD` where the model allows less
than the type does.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


class ModelError(ValueError):
    """A record that crossed a wire (a head minion's answer, a state file) is not a model object."""


def from_dict(cls: type[_D], data: dict[str, Any], **enums: type[enum.Enum]) -> _D:
    """Inverse of ``to_dict``: data that crossed Salt's wire back into the model, each field checked
    against its type (a head minion's answer is input like any other: a string where cores should be
    would make "2" * 4 cores).  Raises :class:`ModelError` naming the field and what it held."""
    if not isinstance(data, dict):
        raise ModelError(f"a {cls.__name__} record is {type(data).__name__}, not a mapping")
    checks = _CHECKS.get(cls) or _checks_of(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        check = checks.get(key)
        if check is None:
            continue  # tolerate extra keys from newer adapters
        if key in enums:
            try:
                value = enums[key](value)
            except (ValueError, TypeError):
                raise ModelError(
                    f"{cls.__name__} field {key!r}: {_shown(value)} is not one of "
                    f"{', '.join(m.value for m in enums[key])}"
                ) from None
        else:
            value = check(value)
            if value is _BAD:
                raise ModelError(f"{cls.__name__} field {key!r}: {_shown(data[key])} is not {_EXPECTED[cls][key]}")
        kwargs[key] = value
    missing = [n for n in _REQUIRED[cls] if n not in kwargs]
    if missing:
        raise ModelError(f"a {cls.__name__} record lacks {', '.join(repr(n) for n in missing)}")
    return cls(**kwargs)


_BAD = object()  # what a field check returns for a value of the wrong type

# The largest whole number a field may hold: Slurm's NO_VAL64 (2**64 - 2) fits, and float() of it, in the
# planner's arithmetic with times, does not overflow as float() of 10**400 does.
LARGEST = 2**64


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _is_str(v: Any) -> Any:
    return v if type(v) is str else _BAD


def _is_int(v: Any) -> Any:
    return v if type(v) is int and -LARGEST <= v <= LARGEST else _BAD  # not bool: True is no core count


def _is_count(v: Any) -> Any:
    # a job of 0 chunks or cores broke the planner's placement
    return v if type(v) is int and 1 <= v <= LARGEST else _BAD


def _is_amount(v: Any) -> Any:
    return v if type(v) is int and 0 <= v <= LARGEST else _BAD  # cores, MB, seconds: none is negative (0: unknown)


def _is_float(v: Any) -> Any:
    t = type(v)
    if (t is float or t is int) and v - v == 0:  # finite: NaN and infinities are no times
        try:
            return float(v)
        except OverflowError:  # an integer beyond a double: 10**400
            return _BAD
    return _BAD


def _is_bool(v: Any) -> Any:
    return v if type(v) is bool else _BAD


def _is_strs(v: Any) -> Any:
    if type(v) in (list, tuple) and all(type(x) is str for x in v):
        return tuple(v)
    return _BAD


def _is_mapping(v: Any) -> Any:
    return v if type(v) is dict and all(type(k) is str for k in v) else _BAD


def _is_str_mapping(v: Any) -> Any:
    return v if type(v) is dict and all(type(k) is str and type(x) is str for k, x in v.items()) else _BAD


def _is_time_or_none(v: Any) -> Any:
    return None if v is None else _is_float(v)


# Each annotation a model field may carry (they are strings here: ``from __future__ import annotations``),
# its check and how an error names it.  An enum field is checked by its enum (``enums`` above).
_BY_ANNOTATION: dict[str, tuple[Any, str]] = {
    "str": (_is_str, "a string"),
    "int": (_is_int, "an integer from -2**64 to 2**64"),
    "float": (_is_float, "a finite number"),
    "bool": (_is_bool, "true or false"),
    "tuple[str, ...]": (_is_strs, "a list of strings"),
    "dict[str, Any]": (_is_mapping, "a mapping with string keys"),
    "dict[str, str]": (_is_str_mapping, "a mapping of strings"),
    "float | None": (_is_time_or_none, "a finite number or null"),
}
# Fields whose type allows values the model does not: their own check (by class and field name).
_BY_FIELD: dict[tuple[str, str], tuple[Any, str]] = {
    ("Job", "chunks"): (_is_count, "a whole number of 1 or more, at most 2**64"),
    ("Job", "chunk_cores"): (_is_count, "a whole number of 1 or more, at most 2**64"),
    ("Job", "chunk_mem_mb"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
    ("Job", "walltime_s"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
    ("Node", "cores"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
    ("Node", "cores_used"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
    ("Node", "mem_mb"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
    ("Instance", "cores"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
    ("Instance", "mem_mb"): (_is_amount, "a whole number of 0 or more, at most 2**64"),
}
_CHECKS: dict[type, dict[str, Any]] = {}
_EXPECTED: dict[type, dict[str, str]] = {}  # what an error says a field must be
_REQUIRED: dict[type, tuple[str, ...]] = {}


def _checks_of(cls: type) -> dict[str, Any]:
    """Each field's check, worked out once per class; an annotation with no check is a programming error."""
    annotations = {f.name: str(f.type) for f in fields(cls)}
    checks, expected = {}, {}
    for name, ann in annotations.items():
        if ann.endswith("State"):
            checks[name] = _is_str  # replaced by its enum in from_dict
        elif (cls.__name__, name) in _BY_FIELD:
            checks[name], expected[name] = _BY_FIELD[(cls.__name__, name)]
        elif ann in _BY_ANNOTATION:
            checks[name], expected[name] = _BY_ANNOTATION[ann]
        else:
            raise TypeError(f"{cls.__name__}.{name}: no check for the annotation {ann!r}")
    _EXPECTED[cls] = expected
    _REQUIRED[cls] = tuple(f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING)
    _CHECKS[cls] = checks
    return checks


__all__ = ["ModelError", "from_dict"]
