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

import numpy as np


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


# -- arrays (numpy data given to fit/evaluate, checked once per call) --------


def _first_index(mask) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _at(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


def check_numeric_array(name: str, arr) -> None:
    """``arr`` (a numpy array) holds numbers (ints, floats or bools), not
    strings or objects."""
    if not (np.issubdtype(arr.dtype, np.number)
            or np.issubdtype(arr.dtype, np.bool_)):
        example = repr(arr.flat[0].item()) if arr.size else "none"
        raise ValueError(
            f"{name} must be a numeric array (floats or ints). Received: "
            f"{name} with dtype {arr.dtype} (first value {example})")


def check_finite_array(name: str, arr) -> None:
    """No NaN or Inf in the numpy array ``arr``: one float64 sum (no copy)
    decides, and only a non-finite sum looks for the first bad entry."""
    if not np.issubdtype(arr.dtype, np.inexact) or arr.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr, dtype=np.float64)):
            return
    bad = ~np.isfinite(arr)
    if not bad.any():   # float64 sums of huge finite values overflow
        return
    index = _first_index(bad)
    raise ValueError(
        f"{name} must be finite (no NaN or Inf). Received: {name} with "
        f"{int(bad.sum())} non-finite value(s), the first "
        f"{_at(name, index)}={arr[index].item()!r}")


def check_id_array(name: str, arr, high: int, what: str,
                   high_name: str | None = None) -> np.ndarray:
    """Integer ids in ``[0, high)``: an int array, or floats that are
    whole numbers (never truncated). ``high_name`` names the bound in the
    message (e.g. ``"num_tasks"``). Returns the ids as int64."""
    check_numeric_array(name, arr)
    if not np.issubdtype(arr.dtype, np.integer):
        check_finite_array(name, arr)
        frac = arr != np.round(arr)
        if frac.any():
            index = _first_index(frac)
            raise ValueError(
                f"{name} must hold integer {what} (they would be "
                f"truncated). Received: "
                f"{_at(name, index)}={arr[index].item()!r}")
    ids = arr.astype(np.int64)
    out = (ids < 0) | (ids >= high)
    if out.any():
        index = _first_index(out)
        bound = (f"[0, {high_name}) with {high_name}={high}" if high_name
                 else f"[0, {high})")
        raise ValueError(
            f"{name} must hold {what} in {bound}. Received: "
            f"{_at(name, index)}={ids[index].item()!r} "
            f"({int(out.sum())} out of range)")
    return ids


def check_per_sample(name: str, y, meaning: str) -> None:
    """``y`` holds one value per sample: shape ``(B,)`` (or ``(B, 1)``);
    ``meaning`` says what the value is, for the message."""
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise ValueError(
            f"{name} must have shape (batch,): {meaning}. Received: "
            f"{name}.shape={y.shape}")
