"""Tensor-train decomposition by TT-SVD (Oseledets 2011; DMTRL Eq. 6–8)."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.tensor.algebra import as_array
from amtfl_tf.tensor.ranks import validate_tt_rank
from amtfl_tf.tensor.svd import check_eps_or_rank
from amtfl_tf.tensor.svd import check_rank_rule
from amtfl_tf.tensor.svd import interpolative_rank
from amtfl_tf.tensor.svd import left_truncation

TT_EPS_SPLITS = ("per_unfolding", "oseledets")


def tt_svd(tensor: ArrayLike, eps: float | None = None,
           ranks: Sequence[int] | None = None,
           eps_split: str = "per_unfolding", return_errors: bool = False,
           rank_rule: str = "frobenius"
           ) -> list[np.ndarray] | tuple[list[np.ndarray], list[float]]:
    """TT-SVD (Oseledets 2011, Alg. 1): sequential truncated SVDs.

    Step k (k = 1..N−1) reshapes the remainder to ``(r_{k−1} D_k) × rest``,
    truncates its SVD, keeps ``U`` as core k and carries ``diag(s) Vt``.

    Args:
      tensor: array ``(D_1, …, D_N)``, N ≥ 2.
      eps: relative error, split over the steps by ``eps_split``:
        ``"per_unfolding"`` (the authors' code): every step keeps the
        smallest rank whose error is ≤ ε times *that step's* matrix norm
        (total error ≤ sqrt(N − 1) ε ||W||, can exceed ε);
        ``"oseledets"``: every step's error is ≤ ε / sqrt(N − 1) · ||W||
        (total ≤ ε ||W||).
      ranks: the N − 1 interior ranks instead of ``eps``.
      eps_split: ``"per_unfolding"`` or ``"oseledets"``.
      return_errors: also return each step's relative error
        ``||C_k − Ĉ_k||_F / ||C_k||_F`` (C_k the step-k matrix).
      rank_rule: how ``eps`` picks each step's rank
        (:data:`amtfl_tf.tensor.svd.RANK_RULES`); ``"interpolative"`` (the
        authors' toolbox) applies ε to each step matrix, so it needs
        ``eps_split="per_unfolding"``.

    Returns:
      ``cores``: list of N arrays ``(r_{k−1}, D_k, r_k)`` with
      ``r_0 = r_N = 1``; with ``return_errors`` also the list of N − 1
      step errors.
    """
    check_eps_or_rank(eps, ranks, "ranks")
    if eps_split not in TT_EPS_SPLITS:
        raise ValueError(
            f"eps_split must be one of {TT_EPS_SPLITS}. Received: "
            f"eps_split={eps_split!r}")
    check_rank_rule(rank_rule)
    if rank_rule == "interpolative" and eps_split != "per_unfolding":
        raise ValueError(
            "rank_rule='interpolative' applies ε to each step matrix, so it "
            "needs eps_split='per_unfolding'. Received: "
            f"eps_split={eps_split!r}")
    arr = as_array(tensor, min_ndim=2)
    shape = arr.shape
    n_dims = len(shape)
    if ranks is not None:
        ranks = validate_tt_rank(shape, ranks)
    total_norm = float(np.linalg.norm(arr))
    step_tol = (eps * total_norm / math.sqrt(n_dims - 1)
                if eps is not None else None)
    cores, errors = [], []
    rest = arr
    r_prev = 1
    for k in range(n_dims - 1):
        mat = np.reshape(rest, (r_prev * shape[k], -1))
        norm = float(np.linalg.norm(mat))
        # a wide step matrix (the first steps of a big layer, e.g.
        # 1024 × 5120) takes the Gram route (svd.left_truncation)
        if ranks is not None:
            u, s, carry, err = left_truncation(mat, rank=ranks[k])
        elif rank_rule == "interpolative":
            u, s, carry, err = left_truncation(
                mat, rank=interpolative_rank(mat, eps))
        elif eps_split == "per_unfolding":
            u, s, carry, err = left_truncation(mat, abs_tol=eps * norm)
        else:
            u, s, carry, err = left_truncation(mat, abs_tol=step_tol)
        errors.append(err / norm if norm > 0 else 0.0)
        r = s.shape[0]
        cores.append(np.reshape(u, (r_prev, shape[k], r)))
        rest = carry
        r_prev = r
    cores.append(np.reshape(rest, (r_prev, shape[-1], 1)))
    if return_errors:
        return cores, errors
    return cores


def tt_to_tensor(cores: Iterable[ArrayLike]) -> np.ndarray:
    """Full tensor from TT cores ``(r_{k−1}, D_k, r_k)``, r_0 = r_N = 1
    (DMTRL Eq. 6–8)."""
    cores = [as_array(c, "core", min_ndim=3) for c in cores]
    if not cores or cores[0].shape[0] != 1 or cores[-1].shape[-1] != 1:
        raise ValueError(
            "TT cores must be 3-D with r_0 = r_N = 1. Received: core shapes "
            f"{[c.shape for c in cores]}")
    out = cores[0]
    for core in cores[1:]:
        if core.shape[0] != out.shape[-1]:
            raise ValueError(
                "Consecutive TT cores must share their rank. Received: core "
                f"shapes {[c.shape for c in cores]}")
        out = np.tensordot(out, core, axes=([-1], [0]))
    return out[0, ..., 0]
