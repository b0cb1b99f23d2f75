"""Evaluation metrics and summary statistics (numpy; no TensorFlow).

Later issues add the multi-task diagnostics (transfer matrices, basis
recovery, sharing strength) here.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

CI_METHODS = ("t", "normal", "sem")


def rmse(y_true, y_pred) -> float:
    """Root mean squared error over all samples (pooled)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def error_rate(y_true, y_pred, percent: bool = True) -> float:
    """Fraction (or percentage) of predictions that differ from labels."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    err = float(np.mean(y_true != y_pred))
    return 100.0 * err if percent else err


def mean_per_class_error(y_true, y_pred, percent: bool = True) -> float:
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
