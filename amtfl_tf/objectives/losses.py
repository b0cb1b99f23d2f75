"""Per-task losses (Deep-AMTFL Sec. 3.2, "Loss functions").

regression:     L_t = (1/N_t) ||y_t - X_t w_t||^2            + δ/√N_t
classification: L_t = -(1/N_t) Σ_i [y log σ(o) + (1-y) log(1-σ(o))] + δ/√N_t
hinge (DMTRL Sec. 4.1): L_t = (1/N_t) Σ_i max(0, 1 - y o),  y in {-1, +1}

The paper prints the logistic loss without its minus sign; the minus is
required (it is a loss to minimise). Classification outputs are logits and
the loss is computed from them stably (``from_logits``).

``"logistic_clipped"`` is the same loss written the way the Deep-AMTFL
authors' code writes it (haebeom-lee/amtfl, ``layers.py``:
``log = lambda x: tf.log(1e-20 + x)`` applied to ``σ(o)`` and ``1 − σ(o)``
in float32). It differs from ``"logistic"`` once a logit saturates:
``1 − σ(o)`` rounds to 0 for ``o`` above about 16.6, the loss stops at
``−log(1e-20) ≈ 46`` and its gradient is exactly 0, where the stable form
keeps a gradient of ``σ(−o)``. It is computed as ``log(max(x, 1e-20))``,
equal to ``log(1e-20 + x)`` in float32 for every ``x`` above 1e-13 (the
two differ only on an entry whose loss exceeds 29, i.e. a logit beyond
±29 on the wrong side); the literal sum is not used because
TensorFlow's graph optimiser folds ``1e-20 + (1 − σ)`` into ``1 − σ``,
which is ``log 0`` (NaN gradients).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from keras import ops

LOSSES = ("squared", "logistic", "logistic_clipped", "hinge")
#: The losses whose outputs are logits of {0, 1} targets.
LOGISTIC_LOSSES = ("logistic", "logistic_clipped")
_CLIP = 1e-20


def elementwise_loss(kind: str, y_true: Any, y_pred: Any) -> Any:
    """Loss of every entry: ``(y - o)^2``, the logistic loss of logit ``o``
    against ``y`` in {0, 1} (stable, or ``"logistic_clipped"`` as the
    Deep-AMTFL code computes it; see the module doc), or the hinge loss
    ``max(0, 1 - y o)`` with ``y`` in {-1, +1}. Shapes of ``y_true`` and
    ``y_pred`` match."""
    if kind == "squared":
        return ops.square(y_true - y_pred)
    if kind == "logistic":
        # max(o, 0) - o*y + log(1 + exp(-|o|)) = -[y log σ(o) + (1-y)
        # log(1 - σ(o))], without overflow.
        return (ops.relu(y_pred) - y_pred * y_true
                + ops.log1p(ops.exp(-ops.abs(y_pred))))
    if kind == "logistic_clipped":
        p = ops.sigmoid(y_pred)
        return -(y_true * ops.log(ops.maximum(p, _CLIP))
                 + (1.0 - y_true) * ops.log(ops.maximum(1.0 - p, _CLIP)))
    if kind == "hinge":
        return ops.relu(1.0 - y_true * y_pred)
    raise ValueError(f"loss must be one of {LOSSES}. Received: loss={kind!r}")


def task_loss_sums(kind: str, y_true: Any, y_pred: Any, num_tasks: int,
                   task: Any = None, sample_weight: Any = None
                   ) -> tuple[Any, Any]:
    """Per-task loss sums and sample counts over a batch.

    Args:
      kind: one of ``LOSSES``.
      y_true: ``(B,)`` targets of task-partitioned data (with ``task``), or
        ``(B, T)`` targets of shared-input data (every sample counts for
        every task).
      y_pred: ``(B, T)`` outputs of every task for every sample, or, with
        ``task``, ``(B,)`` outputs of each sample's own task.
      num_tasks: T.
      task: ``(B,)`` int task ids for task-partitioned data, else None.
      sample_weight: optional ``(B,)`` weights (0 drops a sample).

    Returns:
      ``(sums, counts)``, both ``(T,)``: the (weighted) loss sum of each
      task and its (weighted) number of samples in the batch.
    """
    dtype = y_pred.dtype
    if task is None:
        per = elementwise_loss(kind, ops.cast(y_true, dtype), y_pred)
        w = (ops.ones_like(per[:, :1]) if sample_weight is None
             else ops.reshape(ops.cast(sample_weight, dtype), (-1, 1)))
        return ops.sum(per * w, axis=0), ops.sum(
            ops.broadcast_to(w, ops.shape(per)), axis=0)
    task = ops.cast(ops.reshape(task, (-1,)), "int32")
    if len(y_pred.shape) == 2:
        y_pred = ops.take_along_axis(y_pred, ops.expand_dims(task, 1),
                                     axis=1)[:, 0]
    per = elementwise_loss(kind, ops.cast(ops.reshape(y_true, (-1,)), dtype),
                           y_pred)
    w = (ops.ones_like(per) if sample_weight is None
         else ops.cast(ops.reshape(sample_weight, (-1,)), dtype))
    sums = ops.segment_sum(per * w, task, num_segments=num_tasks)
    counts = ops.segment_sum(w, task, num_segments=num_tasks)
    return sums, counts


def imbalance_term(delta: float, task_sizes: ArrayLike) -> np.ndarray:
    """δ/√N_t for every task (float64 numpy; N_t are training-set sizes).

    Raises:
      ValueError: negative δ or a non-positive task size.
    """
    if delta < 0:
        raise ValueError(f"delta must be >= 0. Received: delta={delta!r}")
    sizes = np.asarray(task_sizes, dtype=np.float64).reshape(-1)
    if sizes.size == 0 or np.any(sizes <= 0):
        raise ValueError(
            f"task_sizes must be positive. Received: task_sizes={list(sizes)}")
    return delta / np.sqrt(sizes)
