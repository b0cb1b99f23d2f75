"""DMTRL's last-axis flattening (LAF, Eq. 2) by one truncated SVD."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.tensor.algebra import as_array
from amtfl_tf.tensor.algebra import check_shape
from amtfl_tf.tensor.ranks import validate_laf_rank
from amtfl_tf.tensor.svd import check_eps_or_rank
from amtfl_tf.tensor.svd import check_rank_rule
from amtfl_tf.tensor.svd import interpolative_rank
from amtfl_tf.tensor.svd import truncated_svd


def laf_svd(tensor: ArrayLike, eps: float | None = None,
            rank: int | None = None, rank_rule: str = "frobenius"
            ) -> tuple[np.ndarray, np.ndarray]:
    """DMTRL-LAF (Eq. 2): ``W_(N)ᵀ = L S`` by a truncated SVD.

    ``W_(N)ᵀ`` is the ``(Π_{n<N} D_n) × T`` matrix whose column t is task
    t's flattened kernel (C order). With ``W_(N)ᵀ ≈ U diag(s) Vt``:
    ``L = U`` (shared, orthonormal columns) and ``S = diag(s) Vt`` (task
    factor, K × T), as in the authors' code. ``rank_rule`` is how ``eps``
    picks K (:data:`amtfl_tf.tensor.svd.RANK_RULES`).

    Returns:
      ``(shared, task)`` of shapes ``(Π D_n, K)`` and ``(K, T)``.
    """
    check_eps_or_rank(eps, rank)
    check_rank_rule(rank_rule)
    arr = as_array(tensor, min_ndim=2)
    if rank is not None:
        rank = validate_laf_rank(arr.shape, rank)
    mat = np.reshape(arr, (-1, arr.shape[-1]))
    if rank is None and rank_rule == "interpolative":
        rank, eps = interpolative_rank(mat, eps), None
    u, s, vt = truncated_svd(mat, eps=eps, rank=rank)
    return u, s[:, None] * vt


def laf_to_tensor(shared: ArrayLike, task: ArrayLike,
                  shape: Sequence[int]) -> np.ndarray:
    """``W = reshape(L S, shape)`` for the full tensor ``shape``
    ``(D_1, …, D_{N−1}, T)``."""
    shared = as_array(shared, "shared", min_ndim=2)
    task = as_array(task, "task", min_ndim=2)
    shape = check_shape(shape)
    if shared.shape[0] != math.prod(shape[:-1]) or \
            task.shape[1] != shape[-1] or shared.shape[1] != task.shape[0]:
        raise ValueError(
            f"shared {shared.shape} and task {task.shape} factors do not "
            f"give a tensor of shape {shape}. Received: shape={shape}")
    return np.reshape(shared @ task, shape)
