"""Class-conditional maximum mean discrepancy (CMMD), DAMTL's Eq. (3).

For representations ``a`` (source) and ``b`` (target) with class labels,

    D = Σ_c ‖ (1/n_c^a) Σ_{i∈c} φ(a_i) − (1/n_c^b) Σ_{j∈c} φ(b_j) ‖²_𝓗

over the classes present in both sets, where φ is the feature map of a
kernel k. Expanded with the kernel trick, each class contributes
``mean k(a_c, a_c) + mean k(b_c, b_c) − 2 mean k(a_c, b_c)`` (the biased,
V-statistic estimate; Long et al. 2014's CMMD, which DAMTL cites as [52]).
DAMTL applies it with ``a = f_aux^h(O)`` and ``b = f_{T_j}^h(O)``: the
auxiliary and the task network's FC layer h on the same task samples.

Kernels:

- ``"multi_gaussian"``: ``Σ_{i<m} exp(−‖x − y‖² / (σ² · mul^i))`` with
  ``σ² = base / mul^(m // 2)``; ``base`` is the mean pairwise squared
  distance of the pooled samples (the DAN/MRAN heuristic,
  jindongwang/transferlearning), or a fixed ``bandwidth``. The data-driven
  bandwidth is treated as a constant for gradients (``stop_gradient``).
- ``"gaussian"``: one Gaussian, ``exp(−‖x − y‖² / σ²)`` with ``σ² =
  bandwidth`` or the mean pairwise squared distance.
- ``"linear"``: ``x·y``; D is then Σ_c ‖mean(a_c) − mean(b_c)‖².

All in ``keras.ops``; any backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

from amtfl_tf.validation import check_id_array
from amtfl_tf.validation import check_int

KERNELS = ("multi_gaussian", "gaussian", "linear")
_EPS = 1e-12


def _check(kernel, num_classes, num_kernels, kernel_mul, bandwidth):
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}. Received: "
                         f"kernel={kernel!r}")
    check_int("num_classes", num_classes)
    check_int("num_kernels", num_kernels)
    if not kernel_mul > 0:
        raise ValueError(f"kernel_mul must be > 0. Received: "
                         f"kernel_mul={kernel_mul!r}")
    if bandwidth is not None and not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0 or None. Received: "
                         f"bandwidth={bandwidth!r}")


def _concrete(value):
    """``value`` as a numpy array when it is concrete (numpy, a list, an
    eager tensor), else None (a symbolic tensor inside a traced step)."""
    if isinstance(value, (np.ndarray, list, tuple)):
        return np.asarray(value)
    to_numpy = getattr(value, "numpy", None)
    if callable(to_numpy):
        try:
            return np.asarray(to_numpy())
        except Exception:  # a graph tensor has .numpy() but no value
            return None
    return None


def _check_labels(name, labels, rows, num_classes):
    """Concrete labels: one per row, class ids in ``[0, num_classes)`` (an
    id out of range would be one-hot encoded as no class and ignored)."""
    arr = _concrete(labels)
    if arr is None:
        return
    arr = arr.reshape(-1)
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(
            f"{name} must hold one label per sample ({rows}). Received: "
            f"{arr.shape[0]} labels")
    check_id_array(name, arr, num_classes, "class ids", "num_classes")


def pairwise_squared_distances(x: Any, y: Any) -> Any:
    """``(n, m)`` matrix of ‖x_i − y_j‖² (clipped at 0)."""
    xx = ops.sum(ops.square(x), axis=1, keepdims=True)
    yy = ops.sum(ops.square(y), axis=1, keepdims=True)
    d = xx + ops.transpose(yy) - 2.0 * ops.matmul(x, ops.transpose(y))
    return ops.maximum(d, 0.0)


def kernel_matrix(x: Any, y: Any = None, kernel: str = "multi_gaussian",
                  num_kernels: int = 5, kernel_mul: float = 2.0,
                  bandwidth: float | None = None) -> Any:
    """The kernel matrix ``k(x_i, y_j)``; ``y`` defaults to ``x``. For the
    Gaussian kernels without ``bandwidth``, ``base`` is the mean squared
    distance over the off-diagonal pairs of ``x`` (pass the pooled samples
    as ``x`` to follow :func:`cmmd`)."""
    _check(kernel, 1, num_kernels, kernel_mul, bandwidth)
    y = x if y is None else y
    if kernel == "linear":
        return ops.matmul(x, ops.transpose(y))
    d = pairwise_squared_distances(x, y)
    if bandwidth is None:
        dxx = pairwise_squared_distances(x, x)
        n = ops.cast(ops.shape(x)[0], dxx.dtype)
        base = ops.sum(dxx) / ops.maximum(n * n - n, 1.0)
        base = ops.stop_gradient(ops.maximum(base, _EPS))
    else:
        base = ops.cast(bandwidth, d.dtype)
    if kernel == "gaussian":
        return ops.exp(-d / base)
    sigma2 = base / (kernel_mul ** (num_kernels // 2))
    return sum(ops.exp(-d / (sigma2 * kernel_mul ** i))
               for i in range(num_kernels))


def cmmd(source: Any, target: Any, source_labels: Any, num_classes: int,
         target_labels: Any = None, kernel: str = "multi_gaussian",
         num_kernels: int = 5, kernel_mul: float = 2.0,
         bandwidth: float | None = None) -> Any:
    """Class-conditional MMD between two labelled sets (Eq. 3).

    Args:
      source: ``(n, D)`` representations (DAMTL: ``f_aux^h(O)``).
      target: ``(m, D)`` representations (DAMTL: ``f_{T_j}^h(O)``).
      source_labels: ``(n,)`` int class ids in ``[0, num_classes)``.
      num_classes: C.
      target_labels: ``(m,)`` class ids; default ``source_labels`` (the
        same samples under two maps, as in DAMTL).
      kernel: one of ``KERNELS``.
      num_kernels, kernel_mul: the multi-Gaussian's number of kernels and
        bandwidth multiplier (5 and 2, as in DAN/MRAN).
      bandwidth: fixed ``base`` (σ² of the middle kernel times
        ``kernel_mul^(num_kernels // 2)``); None: the mean pairwise squared
        distance of the pooled samples.

    Returns:
      A scalar: the sum over the classes present in both sets of the
      squared RKHS distance between their mean embeddings; 0 when no class
      is present in both (e.g. an empty batch).
    """
    _check(kernel, num_classes, num_kernels, kernel_mul, bandwidth)
    num_classes = int(num_classes)
    if target_labels is None:
        target_labels = source_labels
    if len(source.shape) != 2 or len(target.shape) != 2:
        raise ValueError(
            "source and target must be rank 2, (samples, features). "
            f"Received: source.shape={tuple(source.shape)}, "
            f"target.shape={tuple(target.shape)}")
    if source.shape[1] is not None and target.shape[1] is not None and \
            source.shape[1] != target.shape[1]:
        raise ValueError(
            "source and target must have the same number of features (one "
            "representation space). Received: "
            f"source.shape={tuple(source.shape)}, "
            f"target.shape={tuple(target.shape)}")
    _check_labels("source_labels", source_labels, source.shape[0],
                  num_classes)
    _check_labels("target_labels", target_labels, target.shape[0],
                  num_classes)
    dtype = source.dtype
    target = ops.cast(target, dtype)
    ys = ops.one_hot(ops.cast(ops.reshape(source_labels, (-1,)), "int32"),
                     num_classes, dtype=dtype)
    yt = ops.one_hot(ops.cast(ops.reshape(target_labels, (-1,)), "int32"),
                     num_classes, dtype=dtype)
    ns, nt = ops.sum(ys, axis=0), ops.sum(yt, axis=0)
    present = ops.cast((ns > 0) & (nt > 0), dtype)
    # p_c = [y_s,c / n_c^s ; −y_t,c / n_c^t]: D = Σ_c p_cᵀ K p_c.
    p = ops.concatenate([ys * (present / ops.maximum(ns, 1.0)),
                         -yt * (present / ops.maximum(nt, 1.0))], axis=0)
    pooled = ops.concatenate([source, target], axis=0)
    k = kernel_matrix(pooled, kernel=kernel, num_kernels=num_kernels,
                      kernel_mul=kernel_mul, bandwidth=bandwidth)
    return ops.sum(p * ops.matmul(k, p))
