"""Scheduler output values as numbers and lists: memory sizes, durations, counts, comma lists."""

from __future__ import annotations

import math
import re
from typing import Any

from ..wire import LARGEST

_MEM_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "p": 1024**5,
    "pb": 1024**5,
}
_MEM_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def mem_mb(text: str | None, default_unit: str = "b") -> int:
    """'4gb', '5492kb', '93.1G', '512' (bytes unless default_unit) -> MB (rounded up); 0 when unknown."""
    if text is None:
        return 0
    m = _MEM_RE.match(str(text))
    if not m:
        return 0
    value, unit = float(m.group(1)), m.group(2).lower()
    if unit.endswith("w"):  # Torque words: 8 bytes
        unit, value = unit[:-1] + "b" if unit[:-1] else "b", value * 8
    if not unit:
        unit = default_unit
    factor = _MEM_UNITS.get(unit)
    if factor is None:
        return 0
    # at most LARGEST: a model field holds no more, and "1" * 400 + "pb" is an infinity int() cannot take
    return int(math.ceil(min(value * factor / 1024**2, LARGEST)))


def duration_s(text: str | None) -> int:
    """'01:00:00', '1:00:00:00', '3600', 'INFINITY' -> seconds (0 when unknown/infinite)."""
    if not text:
        return 0
    text = str(text).strip()
    parts = text.split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return 0
    if not all(math.isfinite(n) and n >= 0 for n in nums):
        return 0
    total = 0.0
    for n in nums:
        total = total * 60 + n
    if len(nums) == 4:  # d:h:m:s
        total = nums[0] * 86400 + nums[1] * 3600 + nums[2] * 60 + nums[3]
    return int(min(total, LARGEST))  # as mem_mb: a model field holds no more, and the sum may be an infinity


def capped(value: int) -> int:
    """A size or count worked out from several of the output's (a product, a sum), at most LARGEST: each
    part may be up to it, and a head minion's record with more is refused, failing the whole poll."""
    return min(value, LARGEST)


def to_int(text: Any, default: int = 0) -> int:
    """A whole number from 0 to 2**64 (every count, size and time this reads is one), else ``default``:
    a negative or a larger one would pass the master's own parse and fail a head minion's every poll
    (Job.from_dict)."""
    try:
        value = int(float(str(text).strip()))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf" (int() of an infinity)
        return default
    return value if 0 <= value <= LARGEST else default


def to_float(text: Any, default: float = 0.0) -> float:
    """A finite number, else ``default``: float() reads "nan", "inf" and "1e999", which no field of the
    model may hold (a head minion's job with one fails Job.from_dict, so every poll)."""
    try:
        value = float(str(text).strip().rstrip("*"))
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def split_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in str(value).split(",") if p.strip() and p.strip() != "(null)")
