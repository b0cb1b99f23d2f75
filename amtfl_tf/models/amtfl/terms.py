"""The penalty terms and the linear task outputs shared by the shallow
models (:mod:`~amtfl_tf.models.amtfl.linear`,
:mod:`~amtfl_tf.models.amtfl.neural`, :mod:`~amtfl_tf.models.amtfl.classic`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops


def l1(w: Any) -> Any:
    """‖w‖₁."""
    return ops.sum(ops.abs(w))


def sq(w: Any) -> Any:
    """‖w‖² (squared Frobenius norm, no ½)."""
    return ops.sum(ops.square(w))


def to_numpy(v: Any) -> np.ndarray:
    """A tensor or variable as a numpy array."""
    return np.asarray(ops.convert_to_numpy(v))


def linear_outputs(h: Any, kernel: Any, bias: Any, task: Any) -> Any:
    """``h W + b`` for every task, or each sample's own task only."""
    if task is None:
        return ops.matmul(h, kernel) + bias
    task = ops.cast(task, "int32")
    own = ops.take(ops.transpose(kernel), task, axis=0)  # (B, k)
    return ops.sum(h * own, axis=1) + ops.take(bias, task)
