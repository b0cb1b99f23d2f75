"""Argument checks shared by the layers, models, tensor tools and datasets.

Every check raises ``ValueError`` with the argument's name and the value
received (``"<name> must be ... Received: <name>=<value>"``) and returns the
value normalised (an ``int``, a ``float``, a tuple), so a constructor reads
``self.units = check_int("units", units)``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence


def is_int(value: Any, low: int | None = None) -> bool:
    """True for an integral number (not a bool) that is ``>= low``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return ok and (low is None or value >= low)


def check_int(name: str, value: Any, low: int = 1) -> int:
    """An integral number (numpy ints included, bools not) ``>= low``."""
    if not is_int(value, low):
        raise ValueError(
            f"{name} must be an int >= {low}. Received: {name}={value!r}")
    return int(value)


def check_pair(name: str, value: Any) -> tuple[int, int]:
    """A positive int ``n`` (meaning ``(n, n)``) or a pair of them."""
    pair = (value, value) if is_int(value) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(
            is_int(v, 1) for v in pair):
        raise ValueError(
            f"{name} must be an int >= 1 or a pair of them. "
            f"Received: {name}={value!r}")
    return (int(pair[0]), int(pair[1]))


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """One of ``choices``."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}. "
                         f"Received: {name}={value!r}")
    return value


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def check_nonnegative(name: str, value: Any) -> float:
    """A finite number ``>= 0``."""
    v = _as_float(value)
    if v is None or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0. "
                         f"Received: {name}={value!r}")
    return v


def check_positive(name: str, value: Any) -> float:
    """A finite number ``> 0``."""
    v = _as_float(value)
    if v is None or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0. "
                         f"Received: {name}={value!r}")
    return v


def check_unit_interval(name: str, value: Any,
                        allow_none: bool = False) -> float | None:
    """A number in ``[0, 1]`` (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    v = _as_float(value)
    if v is None or not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1]. Received: "
                         f"{name}={value!r}")
    return v
