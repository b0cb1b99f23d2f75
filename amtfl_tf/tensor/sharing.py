"""DMTRL diagnostics: sharing strength ρ (Eq. 9) and parameter counts.

Yang & Hospedales, ICLR 2017 (arXiv:1605.06391), Sec. 4.3. Every DMTRL
variant has a K × T "S-like" task matrix whose column t holds the
coefficients that build task t's weights from the shared factors: S for LAF,
``U^(N)ᵀ`` for Tucker, the last core ``U^(N)`` for TT (the layers'
``task_factor()``). STL corresponds to ``S = I_T`` and user-defined hard
sharing (UD-MTL) to ``S = [1_{1×T}; 0]``. Eq. 9:

    ρ = 2 / (T (T − 1)) Σ_{i<j} cos(S̃_{·,i}, S̃_{·,j}),

with ``S̃`` the columns of ``|S|`` normalised. ``normalization="softmax"`` is
the paper's column-wise softmax; it does not give 0 for STL:
``ρ(I_T) = (2e + T − 2) / (e² + T − 1)`` (0.648 for T = 2, 0.820 for
T = 10, 0.948 for T = 50; :func:`softmax_identity_strength`), while UD-MTL
gets 1. ``normalization="l1"`` (columns of ``|S|`` summed to one) gives
ρ(I_T) = 0 and ρ(UD-MTL) = 1, the end points the paper intends. Report
which one is used (``--rho_norm``); both are provided.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.tensor import decompositions as dec

NORMALIZATIONS = ("softmax", "l1")


def _task_matrix(task_factor):
    s = np.asarray(task_factor, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(
            "task_factor must be a K x T matrix with T >= 2 tasks. "
            f"Received: task_factor with shape {s.shape}")
    return s


def normalize_task_factor(task_factor: ArrayLike,
                          normalization: str = "softmax") -> np.ndarray:
    """``S̃``: the columns of ``|S|`` softmax- or L1-normalised (K × T)."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS}. Received: "
            f"normalization={normalization!r}")
    a = np.abs(_task_matrix(task_factor))
    if normalization == "softmax":
        e = np.exp(a - a.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    col = a.sum(axis=0, keepdims=True)
    if np.any(col == 0):
        raise ValueError(
            "normalization='l1' needs every column of task_factor to be "
            "non-zero. Received: zero columns "
            f"{np.nonzero(col[0] == 0)[0].tolist()}")
    return a / col


def task_similarity(task_factor: ArrayLike,
                    normalization: str = "softmax") -> np.ndarray:
    """T × T cosine similarities between the normalised task columns (the
    pairs behind ρ; e.g. Fig. 4's most and least related alphabets)."""
    s = normalize_task_factor(task_factor, normalization)
    unit = s / np.linalg.norm(s, axis=0, keepdims=True)
    return unit.T @ unit


def sharing_strength(task_factor: ArrayLike,
                     normalization: str = "softmax") -> float:
    """DMTRL's sharing strength ρ (Eq. 9) of a K × T task factor.

    Args:
      task_factor: K × T array (a layer's ``task_factor()``).
      normalization: ``"softmax"`` (paper-literal) or ``"l1"``.

    Returns:
      ρ as a float: the mean cosine similarity over the T(T − 1)/2 task
      pairs.
    """
    sim = task_similarity(task_factor, normalization)
    i, j = np.triu_indices(sim.shape[0], k=1)
    return float(np.mean(sim[i, j]))


def softmax_identity_strength(num_tasks: int) -> float:
    """Closed form of ρ(I_T) under the column softmax:
    ``(2e + T − 2) / (e² + T − 1)``."""
    t = int(num_tasks)
    return (2 * math.e + t - 2) / (math.e ** 2 + t - 1)


# --------------------------------------------------------------------------
# Sharing measured on the synthesised kernels (gauge-free)

KERNEL_MEASURES = ("cosine", "spectrum")


def kernel_sharing(stacked: ArrayLike, measure: str = "cosine") -> float:
    """How much T tasks share at one layer, measured on their kernels.

    ρ (Eq. 9) reads the task factor of a decomposition, which a change of
    gauge alters without changing a single weight (rotate a Tucker factor
    by Q and its core by Qᵀ: the same W, another ρ). This measure reads only
    the synthesised kernels, so it is the same for every factorisation of
    the same weights and can compare STL, UD-MTL and the three DMTRL
    variants on one scale.

    Args:
      stacked: the layer's kernels, task axis last, ``(…, T)`` with T ≥ 2.
      measure: ``"cosine"``: the mean over task pairs of the cosine between
        two tasks' flattened kernels (1 for identical kernels, about 0 for
        independent zero-mean draws, at least −1/(T − 1));
        ``"spectrum"``: ``(T s_1² / Σ s_i² − 1) / (T − 1)`` of the D × T
        matrix of flattened kernels, the share of their energy on one
        common direction rescaled to 1 when every kernel is a multiple
        (either sign) of one, 0 for orthogonal kernels of equal norm, and
        O(√(T / D)) for independent draws.

    Returns:
      The measure as a float.
    """
    if measure not in KERNEL_MEASURES:
        raise ValueError(f"measure must be one of {KERNEL_MEASURES}. "
                         f"Received: measure={measure!r}")
    w = np.asarray(stacked, dtype=np.float64)
    if w.ndim < 2 or w.shape[-1] < 2:
        raise ValueError(
            "stacked must hold T >= 2 task kernels on its last axis. "
            f"Received: stacked with shape {w.shape}")
    mat = np.reshape(w, (-1, w.shape[-1]))
    norms = np.linalg.norm(mat, axis=0)
    if np.any(norms == 0):
        raise ValueError(
            "every task's kernel must be non-zero. Received: zero kernels "
            f"for tasks {np.nonzero(norms == 0)[0].tolist()}")
    t = mat.shape[1]
    if measure == "cosine":
        unit = mat / norms
        sim = unit.T @ unit
        i, j = np.triu_indices(t, k=1)
        return float(np.mean(sim[i, j]))
    s = np.linalg.svd(mat, compute_uv=False)
    share = float(s[0] ** 2 / np.sum(s ** 2))
    return (t * share - 1.0) / (t - 1.0)


# --------------------------------------------------------------------------
# Parameter counts


def stl_param_count(shape: Sequence[int], use_bias: bool = True) -> int:
    """Parameters of T independent layers: T full kernels (+ T biases).

    ``shape`` is the stacked ``(D_1, …, D_{N−1}, T)`` kernel shape, whose
    second-to-last axis is the output width (units / filters).
    """
    shape = tuple(int(d) for d in shape)
    bias = shape[-1] * shape[-2] if use_bias else 0
    return math.prod(shape) + bias


def factorised_param_count(method: str, shape: Sequence[int],
                           ranks: int | Sequence[int],
                           use_bias: bool = True) -> int:
    """Parameters of a factorised layer: its factors plus the unshared
    (T, units) biases."""
    shapes = dec.layer_factor_shapes(method, shape, ranks)
    bias = shape[-1] * shape[-2] if use_bias else 0
    return sum(math.prod(s) for s in shapes.values()) + bias


def layer_param_counts(layer: Any) -> dict[str, float]:
    """``{"factorised", "stl", "ratio"}`` for a built factorised layer."""
    shape = layer.stacked_shape
    fact = factorised_param_count(layer.method, shape, layer.ranks,
                                  layer.use_bias)
    stl = stl_param_count(shape, layer.use_bias)
    return {"factorised": fact, "stl": stl, "ratio": fact / stl}


def network_param_counts(stacked_kernels: Mapping[str, ArrayLike],
                         eps: float = 0.1,
                         methods: Sequence[str] = dec.METHODS,
                         use_bias: bool = True,
                         tt_eps_split: str = "per_unfolding"
                         ) -> dict[str, dict[str, Any]]:
    """Ranks and parameter counts of a network under each factorisation.

    Args:
      stacked_kernels: dict layer name → stacked kernel ``(…, T)`` (e.g. T
        single-task networks' kernels, stacked along a new last axis).
      eps: relative error that sets the ranks (paper: 0.1).
      methods: factorisations to count.
      use_bias: count the unshared per-task biases.
      tt_eps_split: TT ε split (:func:`~amtfl_tf.tensor.tt_svd`).

    Returns:
      ``{"stl": {"total", "per_network", "layers"}, method: {"total",
      "ratio", "layers": {name: {"ranks", "params", "rel_error"}}}}``.
    """
    stl_layers = {name: stl_param_count(np.shape(w), use_bias)
                  for name, w in stacked_kernels.items()}
    num_tasks = {np.shape(w)[-1] for w in stacked_kernels.values()}
    stl_total = sum(stl_layers.values())
    out = {"stl": {"total": stl_total, "layers": stl_layers,
                   "per_network": stl_total // max(num_tasks)}}
    for method in methods:
        layers = {}
        for name, w in stacked_kernels.items():
            w = np.asarray(w, dtype=np.float64)
            ranks, factors = dec.initial_factors(
                method, w, eps=eps, tt_eps_split=tt_eps_split)
            approx = dec.factors_to_tensor(method, factors, w.shape)
            norm = np.linalg.norm(w)
            layers[name] = {
                "ranks": ranks,
                "params": factorised_param_count(method, w.shape, ranks,
                                                 use_bias),
                "rel_error": float(np.linalg.norm(w - approx) / norm)
                if norm > 0 else 0.0,
            }
        total = sum(v["params"] for v in layers.values())
        out[method] = {"total": total, "ratio": total / stl_total,
                       "layers": layers}
    return out
