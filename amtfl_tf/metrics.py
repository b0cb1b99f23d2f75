"""Evaluation metrics and summary statistics (numpy; no TensorFlow).

Later issues add the multi-task diagnostics (transfer matrices, basis
recovery, sharing strength) here.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

CI_METHODS = ("t", "normal", "sem")


def _same_shape(a, b, names=("y_true", "y_pred"), dtype=None):
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape. Received: "
            f"{names[0]}.shape={a.shape}, {names[1]}.shape={b.shape}")
    return a, b


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error over all samples (pooled)."""
    y_true, y_pred = _same_shape(y_true, y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def error_rate(y_true: ArrayLike, y_pred: ArrayLike,
               percent: bool = True) -> float:
    """Fraction (or percentage) of predictions that differ from labels."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    err = float(np.mean(y_true != y_pred))
    return 100.0 * err if percent else err


def mean_per_class_error(y_true: ArrayLike, y_pred: ArrayLike,
                         percent: bool = True) -> float:
    """Error averaged over classes (each class weighs the same)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true)
    errs = [np.mean(y_pred[y_true == c] != c) for c in classes]
    err = float(np.mean(errs))
    return 100.0 * err if percent else err


def mean_ci95(values: Sequence[float], method: str = "t"
              ) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% confidence interval.

    Args:
      values: one number per split/run.
      method: ``"t"`` (Student-t quantile × standard error; default, right
        for five splits), ``"normal"`` (1.96 × standard error) or ``"sem"``
        (the standard error itself).

    Returns:
      ``(mean, half_width)``; ``half_width`` is None for a single value.
    """
    if method not in CI_METHODS:
        raise ValueError(
            f"method must be one of {CI_METHODS}. Received: method={method!r}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("values must not be empty. Received: values=[]")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"values must be finite. Received: values={list(v)}")
    mean = float(v.mean())
    if v.size == 1:
        return mean, None
    sem = float(v.std(ddof=1) / math.sqrt(v.size))
    if method == "sem":
        return mean, sem
    if method == "normal":
        return mean, 1.96 * sem
    from scipy import stats
    return mean, float(stats.t.ppf(0.975, v.size - 1) * sem)


def matched_cosine(learned: ArrayLike, true: ArrayLike
                   ) -> tuple[float, np.ndarray, np.ndarray]:
    """Basis recovery: match learned columns to true columns.

    The columns of ``learned`` (d × k) are matched one-to-one to the columns
    of ``true`` (d × m) by the Hungarian algorithm on the absolute cosine
    similarity (``scipy.optimize.linear_sum_assignment``).

    Returns:
      ``(score, order, signs)``: the mean matched |cosine| over the
      ``min(k, m)`` matched pairs; for each true column, the index of its
      learned column (-1 if unmatched) and the sign that aligns it.
    """
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(learned, dtype=np.float64)
    b = np.asarray(true, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(
            "learned and true must be matrices with the same number of rows. "
            f"Received: learned.shape={a.shape}, true.shape={b.shape}")
    an = a / np.maximum(np.linalg.norm(a, axis=0, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=0, keepdims=True), 1e-12)
    cos = an.T @ bn  # (k, m)
    rows, cols = linear_sum_assignment(-np.abs(cos))
    order = np.full(b.shape[1], -1)
    signs = np.ones(b.shape[1])
    order[cols] = rows
    signs[cols] = np.sign(cos[rows, cols])
    return float(np.abs(cos[rows, cols]).mean()), order, signs


def relative_error(estimate: ArrayLike, target: ArrayLike) -> float:
    """``||estimate − target||_F / ||target||_F``."""
    e, t = _same_shape(estimate, target, ("estimate", "target"), np.float64)
    return float(np.linalg.norm(e - t) / np.linalg.norm(t))


def loglog_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Slope of the least-squares line through (log x, log y)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(
            "x and y must be positive, of equal length >= 2. Received: "
            f"x={x.tolist()}, y={y.tolist()}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
