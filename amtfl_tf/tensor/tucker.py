"""Tucker decomposition by truncated HOSVD (DMTRL Eq. 3–5)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.tensor.algebra import as_array
from amtfl_tf.tensor.algebra import multi_mode_dot
from amtfl_tf.tensor.algebra import unfold
from amtfl_tf.tensor.ranks import validate_tucker_rank
from amtfl_tf.tensor.svd import check_eps_or_rank
from amtfl_tf.tensor.svd import check_rank_rule
from amtfl_tf.tensor.svd import interpolative_rank
from amtfl_tf.tensor.svd import left_truncation


def hosvd(tensor: ArrayLike, eps: float | None = None,
          ranks: Sequence[int] | None = None,
          rank_rule: str = "frobenius"
          ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Truncated higher-order SVD (De Lathauwer et al. 2000; DMTRL Eq. 5).

    ``U^(n)`` = leading left singular vectors of the mode-n unfolding, for
    every mode including the task mode; core ``S = W ×_1 U^(1)ᵀ … ×_N
    U^(N)ᵀ``. No HOOI refinement (as in the authors' code).

    Args:
      tensor: array ``(D_1, …, D_N)``.
      eps: relative error; each mode's rank is chosen by
        :func:`truncation_rank` on its own unfolding at this ε.
      ranks: explicit ranks ``(K_1, …, K_N)`` instead.
      rank_rule: how ``eps`` picks each mode's rank (:data:`RANK_RULES
        <amtfl_tf.tensor.svd.RANK_RULES>`): ``"frobenius"`` or
        ``"interpolative"`` (the authors' toolbox).

    Returns:
      ``(core, factors)``: core ``(K_1, …, K_N)``, factors ``[U^(n)]`` of
      shape ``(D_n, K_n)`` with orthonormal columns.
    """
    check_eps_or_rank(eps, ranks, "ranks")
    check_rank_rule(rank_rule)
    arr = as_array(tensor, min_ndim=2)
    if ranks is None and rank_rule == "interpolative":
        ranks = [interpolative_rank(unfold(arr, n), eps)
                 for n in range(arr.ndim)]
        eps = None
    if ranks is not None:
        ranks = validate_tucker_rank(arr.shape, ranks)
    factors = []
    for n in range(arr.ndim):
        factors.append(left_singular_vectors(
            unfold(arr, n), eps, None if ranks is None else ranks[n]))
    core = multi_mode_dot(arr, factors, transpose=True)
    return core, factors


def left_singular_vectors(a: np.ndarray, eps: float | None,
                          rank: int | None) -> np.ndarray:
    """The leading left singular vectors of ``a`` (m × n) at ``eps`` or
    ``rank``. A wide unfolding (n ≥ 4 m: a Tucker mode of a big layer, e.g.
    512 × 27,648) goes through the eigendecomposition of the m × m Gram
    matrix (24 s → under 1 s for that example; :func:`left_truncation`)."""
    return left_truncation(a, eps=eps, rank=rank)[0]


def tucker_to_tensor(core: ArrayLike, factors: Sequence[ArrayLike]
                     ) -> np.ndarray:
    """``W = S ×_1 U^(1) ×_2 U^(2) … ×_N U^(N)`` (DMTRL Eq. 3–4)."""
    core = as_array(core, "core")
    if len(factors) != core.ndim:
        raise ValueError(
            f"Need one factor per core mode ({core.ndim}). Received: "
            f"{len(factors)} factors")
    return multi_mode_dot(core, factors)
