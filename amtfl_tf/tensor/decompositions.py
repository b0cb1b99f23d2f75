"""Tensor decompositions for DMTRL's initialisation (NumPy, float64).

Yang & Hospedales, "Deep Multi-task Representation Learning: A Tensor
Factorisation Approach", ICLR 2017 (arXiv:1605.06391), Sec. 3 and 4. The
factorised layers (:mod:`amtfl_tf.layers`) learn the factors of the stacked
weight tensor ``W`` (``D_1 × … × D_{N-1} × T``, task axis last); these
functions only produce their *initial* values: decompose T stacked
single-task kernels (or a random draw of them) and let a relative-error
threshold ε pick every rank. "Apart from initialisation, decomposition is
not used anywhere" (Sec. 4).

Names follow tensorly (``unfold``, ``fold``, ``mode_dot``,
``tucker_to_tensor``, ``tt_to_tensor``, ``validate_tucker_rank``,
``validate_tt_rank``); the code is written from the paper's equations and
Kolda & Bader (2009) / Oseledets (2011), in NumPy only.

The rank rule (:func:`truncation_rank`). For a matrix ``A`` with singular
values ``s_1 ≥ … ≥ s_m`` the rank chosen at precision ε is the smallest
``r ≥ 1`` with

    sqrt(Σ_{i>r} s_i²) ≤ ε · ||A||_F,

i.e. the relative Frobenius error of the best rank-r approximation is at
most ε. The authors' code (wOOL/DMTRL) calls
``scipy.linalg.interpolative.svd(A, eps, rand=False)`` instead, which picks
the rank of an interpolative decomposition to a relative precision ε of a
different (spectral-type, approximate) kind, so its ranks can differ from
this rule's; this module uses a plain ``np.linalg.svd`` and the exact rule
above. Where it is applied (authors' choices):

- HOSVD (:func:`hosvd`): every mode-n unfolding, the task mode included, gets
  its own rank by the rule at the same ε. Each unfolding's projection error
  is ≤ ε, so ``||W − Ŵ||_F ≤ sqrt(N) · ε · ||W||_F``.
- TT-SVD (:func:`tt_svd`): ``eps_split="per_unfolding"`` (authors) applies
  the rule at ε to each of the N − 1 sequential unfoldings, relative to that
  unfolding's own norm; the total error can exceed ε (at most
  ``sqrt(N − 1) · ε · ||W||_F``). ``"oseledets"`` gives every step the
  absolute budget ``ε / sqrt(N − 1) · ||W||_F`` (Oseledets 2011, Alg. 1), so
  ``||W − Ŵ||_F ≤ ε · ||W||_F``.
- LAF (:func:`laf_svd`): one truncated SVD of the transposed mode-last
  unfolding ``W_(N)ᵀ`` ((Π_{n<N} D_n) × T); its error is ≤ ε.

With uncorrelated random weights (e.g. T independent Glorot draws) the
singular values are flat and ε = 0.1 keeps (nearly) full ranks, so the
factorised layer is then *larger* than the T single-task kernels (DMTRL
pitfall 4 in ``shared/docs/papers-spec.md``); check the ranks.

The code lives in :mod:`~amtfl_tf.tensor.algebra` (unfold, fold, n-mode
products), :mod:`~amtfl_tf.tensor.svd` (the rank rule),
:mod:`~amtfl_tf.tensor.ranks` (rank bounds and checks),
:mod:`~amtfl_tf.tensor.tucker`, :mod:`~amtfl_tf.tensor.tensor_train` and
:mod:`~amtfl_tf.tensor.laf`; this module re-exports all of it and holds
the initialisation of the factorised layers' factors.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.tensor.algebra import as_array
from amtfl_tf.tensor.algebra import check_shape
from amtfl_tf.tensor.algebra import fold
from amtfl_tf.tensor.algebra import mode_dot
from amtfl_tf.tensor.algebra import multi_mode_dot
from amtfl_tf.tensor.algebra import unfold
from amtfl_tf.tensor.laf import laf_svd
from amtfl_tf.tensor.laf import laf_to_tensor
from amtfl_tf.tensor.ranks import check_rank_sequence
from amtfl_tf.tensor.ranks import tt_rank_bounds
from amtfl_tf.tensor.ranks import tucker_rank_bounds
from amtfl_tf.tensor.ranks import validate_laf_rank
from amtfl_tf.tensor.ranks import validate_tt_rank
from amtfl_tf.tensor.ranks import validate_tucker_rank
from amtfl_tf.tensor.svd import RANK_RULES
from amtfl_tf.tensor.svd import interpolative_rank
from amtfl_tf.tensor.svd import truncated_svd
from amtfl_tf.tensor.svd import truncation_rank
from amtfl_tf.tensor.tensor_train import TT_EPS_SPLITS
from amtfl_tf.tensor.tensor_train import tt_svd
from amtfl_tf.tensor.tensor_train import tt_to_tensor
from amtfl_tf.tensor.tucker import hosvd
from amtfl_tf.tensor.tucker import tucker_to_tensor

METHODS = ("tucker", "tt", "laf")

__all__ = [
    "METHODS", "RANK_RULES", "TT_EPS_SPLITS", "check_method",
    "check_rank_sequence", "factors_to_tensor", "fold", "hosvd",
    "initial_factors", "interpolative_rank", "laf_svd",
    "laf_to_tensor", "layer_factor_shapes", "layer_ranks", "mode_dot",
    "multi_mode_dot", "truncated_svd", "truncation_rank", "tt_rank_bounds",
    "tt_svd", "tt_to_tensor", "tucker_rank_bounds", "tucker_to_tensor",
    "unfold", "validate_laf_rank", "validate_tt_rank",
    "validate_tucker_rank",
]


# --------------------------------------------------------------------------
# Initialisation of the layers' factors


def check_method(method: str) -> None:
    """One of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(
            f"method must be one of {METHODS}. Received: method={method!r}")


def layer_factor_shapes(method: str, shape: Sequence[int],
                        ranks: int | Sequence[int]
                        ) -> dict[str, tuple[int, ...]]:
    """Weight name → shape of a factorised layer's factors.

    The names are the layers' stable weight names: Tucker ``core``
    ``(K_1, …, K_N)`` and ``factor_n`` ``(D_{n+1}, K_{n+1})`` (the last,
    ``factor_{N−1}``, is the T × K_N task factor); TT ``tt_core_0``
    ``(D_1, K_1)``, ``tt_core_k`` ``(K_k, D_{k+1}, K_{k+1})``,
    ``tt_core_{N−1}`` ``(K_{N−1}, T)`` (task-specific); LAF
    ``shared_factor`` ``(Π D_n, K)`` and ``task_factor`` ``(K, T)``.
    """
    check_method(method)
    shape = check_shape(shape)
    if method == "tucker":
        ranks = validate_tucker_rank(shape, ranks)
        out = {"core": ranks}
        out.update({f"factor_{n}": (d, k)
                    for n, (d, k) in enumerate(zip(shape, ranks))})
        return out
    if method == "tt":
        ranks = validate_tt_rank(shape, ranks)
        full = (1,) + ranks + (1,)
        out = {}
        for k, d in enumerate(shape):
            core = (full[k], d, full[k + 1])
            if k == 0:
                core = core[1:]
            elif k == len(shape) - 1:
                core = core[:2]
            out[f"tt_core_{k}"] = core
        return out
    rank = validate_laf_rank(shape, ranks)
    return {"shared_factor": (math.prod(shape[:-1]), rank),
            "task_factor": (rank, shape[-1])}


def layer_ranks(method: str, shape: Sequence[int],
                ranks: int | Sequence[int]) -> int | tuple[int, ...]:
    """Validated ranks in the layers' format (tuple, or int for LAF)."""
    check_method(method)
    if method == "tucker":
        return validate_tucker_rank(shape, ranks)
    if method == "tt":
        return validate_tt_rank(shape, ranks)
    if isinstance(ranks, (Sequence, np.ndarray)) and \
            not isinstance(ranks, (str, bytes)) and len(ranks) == 1:
        ranks = ranks[0]
    return validate_laf_rank(shape, ranks)


def initial_factors(method: str, stacked: ArrayLike,
                    eps: float | None = 0.1,
                    ranks: int | Sequence[int] | None = None,
                    tt_eps_split: str = "per_unfolding",
                    rank_rule: str = "frobenius"
                    ) -> tuple[int | tuple[int, ...], dict[str, np.ndarray]]:
    """Decomposes a stacked kernel tensor into a layer's initial factors.

    This is DMTRL's initialisation (Sec. 4): (i) from trained single-task
    networks, ``stacked`` holds their T kernels along a new last axis; (ii)
    random, ``stacked`` is a random draw of T independent kernels (see
    :func:`amtfl_tf.layers.random_stacked_kernels`); (iii) explicit
    ``ranks`` give a truncated decomposition at those ranks.

    Args:
      method: ``"tucker"`` (HOSVD), ``"tt"`` (TT-SVD) or ``"laf"``.
      stacked: array ``(D_1, …, D_{N−1}, T)``, task axis last.
      eps: relative error that picks every rank (paper: 0.1).
      ranks: explicit ranks (they take precedence over ``eps``): N ints for
        Tucker, N − 1 interior ranks for TT, one int for LAF.
      tt_eps_split: ``"per_unfolding"`` (authors) or ``"oseledets"``.
      rank_rule: how ``eps`` picks a rank from each unfolding:
        ``"frobenius"`` (the smallest rank whose Frobenius error is ≤ ε) or
        ``"interpolative"`` (scipy's interpolative SVD at precision ε, the
        authors' toolbox; :data:`~amtfl_tf.tensor.svd.RANK_RULES`).

    Returns:
      ``(ranks, factors)``: ranks in the layer's format and a dict weight
      name → float64 array with the shapes of :func:`layer_factor_shapes`.
    """
    check_method(method)
    arr = as_array(stacked, "stacked", min_ndim=2)
    if ranks is not None:
        ranks = layer_ranks(method, arr.shape, ranks)
        eps = None
    if method == "tucker":
        core, factors = hosvd(arr, eps=eps, ranks=ranks,
                              rank_rule=rank_rule)
        out = {"core": core}
        out.update({f"factor_{n}": f for n, f in enumerate(factors)})
        return tuple(core.shape), out
    if method == "tt":
        cores = tt_svd(arr, eps=eps, ranks=ranks, eps_split=tt_eps_split,
                       rank_rule=rank_rule)
        out = {}
        for k, core in enumerate(cores):
            if k == 0:
                core = core[0]
            elif k == len(cores) - 1:
                core = core[..., 0]
            out[f"tt_core_{k}"] = core
        return tuple(c.shape[-1] for c in cores[:-1]), out
    shared, task = laf_svd(arr, eps=eps, rank=ranks, rank_rule=rank_rule)
    return int(task.shape[0]), {"shared_factor": shared,
                                "task_factor": task}


def factors_to_tensor(method: str, factors: Mapping[str, ArrayLike],
                      shape: Sequence[int]) -> np.ndarray:
    """Full stacked tensor from a dict of layer factors (NumPy reference)."""
    check_method(method)
    shape = check_shape(shape)
    if method == "tucker":
        n = len(shape)
        return tucker_to_tensor(factors["core"],
                                [factors[f"factor_{i}"] for i in range(n)])
    if method == "tt":
        cores = [np.asarray(factors[f"tt_core_{k}"], np.float64)
                 for k in range(len(shape))]
        cores[0] = cores[0][None]
        cores[-1] = cores[-1][..., None]
        return tt_to_tensor(cores)
    return laf_to_tensor(factors["shared_factor"], factors["task_factor"],
                         shape)
