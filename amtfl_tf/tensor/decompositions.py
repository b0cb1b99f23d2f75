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
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

METHODS = ("tucker", "tt", "laf")
TT_EPS_SPLITS = ("per_unfolding", "oseledets")


# --------------------------------------------------------------------------
# Basic algebra


def _as_array(tensor, name="tensor", min_ndim=1):
    arr = np.asarray(tensor, dtype=np.float64)
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s). Received: "
            f"{name} with shape {arr.shape}")
    return arr


def _check_mode(mode, ndim):
    if not isinstance(mode, numbers.Integral) or not -ndim <= mode < ndim:
        raise ValueError(
            f"mode must be an int in [{-ndim}, {ndim}). Received: "
            f"mode={mode!r}")
    return int(mode) % ndim


def unfold(tensor, mode):
    """Mode-``mode`` unfolding (flattening) ``W_(n)``.

    The mode-n fibres become the columns: the result has shape
    ``(D_n, Π_{m≠n} D_m)``, with the remaining modes in their original
    order, C (row-major) ordered (tensorly's convention).

    Args:
      tensor: array of shape ``(D_1, …, D_N)``.
      mode: the mode n (0-based; negative counts from the end).

    Returns:
      float64 array of shape ``(D_n, Π_{m≠n} D_m)``.
    """
    arr = _as_array(tensor)
    mode = _check_mode(mode, arr.ndim)
    return np.reshape(np.moveaxis(arr, mode, 0), (arr.shape[mode], -1))


def fold(unfolded, mode, shape):
    """Inverse of :func:`unfold`: ``fold(unfold(W, n), n, W.shape) == W``.

    Args:
      unfolded: array of shape ``(D_n, Π_{m≠n} D_m)``.
      mode: the mode n the matrix was unfolded along.
      shape: the full tensor shape ``(D_1, …, D_N)``.

    Returns:
      float64 array of shape ``shape``.
    """
    shape = tuple(int(d) for d in shape)
    mode = _check_mode(mode, len(shape))
    arr = _as_array(unfolded, "unfolded", min_ndim=2)
    moved = (shape[mode],) + shape[:mode] + shape[mode + 1:]
    if arr.size != math.prod(shape) or arr.shape[0] != shape[mode]:
        raise ValueError(
            f"unfolded has shape {arr.shape}, which does not unfold a "
            f"tensor of shape {shape} along mode {mode}. Received: "
            f"shape={shape}")
    return np.moveaxis(np.reshape(arr, moved), 0, mode)


def mode_dot(tensor, matrix, mode, transpose=False):
    """n-mode product ``W ×_n M``: multiplies every mode-n fibre by ``M``.

    ``(W ×_n M)_{…, j, …} = Σ_{d} W_{…, d, …} M_{j, d}``, i.e.
    ``unfold(result, n) = M @ unfold(W, n)``. The paper's tensor dot
    ``S •(1,2) U`` (Eq. 4) is ``mode_dot(S, U, 0)`` followed by moving the
    new axis to the end; Eq. 5's ``W •(1,1) U`` is
    ``mode_dot(W, U, n, transpose=True)``.

    Args:
      tensor: array ``(D_1, …, D_N)``.
      matrix: array ``(J, D_n)`` (or ``(D_n, J)`` with ``transpose=True``),
        or a vector ``(D_n,)``, which contracts the mode away.
      mode: n.
      transpose: multiply by ``matrixᵀ`` instead.

    Returns:
      float64 array with ``D_n`` replaced by ``J`` (or mode n removed for a
      vector).
    """
    arr = _as_array(tensor)
    mode = _check_mode(mode, arr.ndim)
    mat = _as_array(matrix, "matrix")
    if mat.ndim == 1:
        if mat.shape[0] != arr.shape[mode]:
            raise ValueError(
                f"vector length {mat.shape[0]} does not match mode {mode} "
                f"of size {arr.shape[mode]}. Received: matrix with shape "
                f"{mat.shape}")
        return np.tensordot(arr, mat, axes=([mode], [0]))
    if mat.ndim != 2:
        raise ValueError(
            f"matrix must be 1-D or 2-D. Received: matrix with shape "
            f"{mat.shape}")
    if transpose:
        mat = mat.T
    if mat.shape[1] != arr.shape[mode]:
        raise ValueError(
            f"matrix has {mat.shape[1]} columns but mode {mode} has size "
            f"{arr.shape[mode]}. Received: matrix with shape "
            f"{_as_array(matrix).shape}, transpose={transpose}")
    new_shape = arr.shape[:mode] + (mat.shape[0],) + arr.shape[mode + 1:]
    return fold(mat @ unfold(arr, mode), mode, new_shape)


def multi_mode_dot(tensor, matrices, modes=None, transpose=False):
    """``W ×_{m_1} M_1 ×_{m_2} M_2 …`` (matrices only; modes default 0..)."""
    arr = _as_array(tensor)
    modes = range(len(matrices)) if modes is None else modes
    for mat, mode in zip(matrices, modes):
        arr = mode_dot(arr, mat, mode, transpose=transpose)
    return arr


# --------------------------------------------------------------------------
# Truncated SVD and the ε rank rule


def _check_eps_or_rank(eps, rank, rank_name="rank"):
    if (eps is None) == (rank is None):
        raise ValueError(
            f"Give exactly one of eps and {rank_name}. Received: eps={eps!r}, "
            f"{rank_name}={rank!r}")
    if eps is not None:
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or \
                not 0.0 <= eps < 1.0:
            raise ValueError(
                f"eps must be a relative error in [0, 1). Received: "
                f"eps={eps!r}")


def _check_int(value, name, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < low:
        raise ValueError(
            f"{name} must be an int >= {low}. Received: {name}={value!r}")
    return int(value)


def truncation_rank(singular_values, eps, abs_tol=None):
    """Smallest ``r ≥ 1`` with ``sqrt(Σ_{i>r} s_i²) ≤ tol``.

    Args:
      singular_values: ``s_1 ≥ … ≥ s_m ≥ 0``.
      eps: relative tolerance; ``tol = eps · sqrt(Σ s_i²)`` (= ε ||A||_F).
      abs_tol: absolute tolerance instead (then ``eps`` is ignored).

    Returns:
      The rank r (``1 ≤ r ≤ m``).
    """
    s = np.asarray(singular_values, dtype=np.float64)
    sq = s * s
    # tail[r] = Σ_{i ≥ r} s_i² (0-based), so tail[r] is the squared error of
    # keeping the first r values; tail[m] = 0.
    tail = np.concatenate([np.cumsum(sq[::-1])[::-1], [0.0]])
    tol = abs_tol if abs_tol is not None else eps * math.sqrt(tail[0])
    # a relative slack of 1e-9 on tol² absorbs round-off at exact ties
    ok = np.nonzero(tail[1:] <= tol * tol * (1 + 1e-9))[0]
    return int(ok[0]) + 1


def truncated_svd(matrix, eps=None, rank=None):
    """Truncated SVD ``A ≈ U diag(s) Vt`` at a relative error or a rank.

    With ``eps`` the rank is the smallest ``r ≥ 1`` whose relative Frobenius
    error ``||A − U_r diag(s_r) Vt_r||_F / ||A||_F`` is ≤ ``eps`` (see
    :func:`truncation_rank`; a zero matrix gets rank 1).

    Args:
      matrix: 2-D array ``(m, n)``.
      eps: relative error in ``[0, 1)``.
      rank: explicit rank, ``1 ≤ rank ≤ min(m, n)``.

    Returns:
      ``(U, s, Vt)`` with shapes ``(m, r)``, ``(r,)``, ``(r, n)``.

    Raises:
      ValueError: both or neither of ``eps``/``rank``, ``eps`` outside
        ``[0, 1)``, or ``rank`` outside ``[1, min(m, n)]``.
    """
    _check_eps_or_rank(eps, rank)
    a = _as_array(matrix, "matrix", min_ndim=2)
    if a.ndim != 2:
        raise ValueError(
            f"matrix must be 2-D. Received: matrix with shape {a.shape}")
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    if rank is None:
        r = truncation_rank(s, eps)
    else:
        r = _check_int(rank, "rank")
        if r > min(a.shape):
            raise ValueError(
                f"rank must be <= min(matrix.shape) = {min(a.shape)}. "
                f"Received: rank={rank!r}")
    return u[:, :r], s[:r], vt[:r]


def _svd_with_abs_tol(a, abs_tol):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    r = truncation_rank(s, None, abs_tol=abs_tol)
    return u[:, :r], s[:r], vt[:r], math.sqrt(float(np.sum(s[r:] ** 2)))


# --------------------------------------------------------------------------
# Tucker / HOSVD


def _check_shape(shape):
    shape = tuple(shape)
    if len(shape) < 2 or any(
            isinstance(d, bool) or not isinstance(d, numbers.Integral)
            or d < 1 for d in shape):
        raise ValueError(
            f"shape must have >= 2 positive int dimensions. Received: "
            f"shape={shape!r}")
    return tuple(int(d) for d in shape)


def check_rank_sequence(ranks, length, name, what):
    """``ranks`` as a tuple of ``length`` ints >= 1, else a ValueError
    naming ``name``, the expected length (``what``) and the value."""
    if isinstance(ranks, (str, bytes)) or not isinstance(ranks, Sequence) \
            and not isinstance(ranks, np.ndarray):
        raise ValueError(
            f"{name} must be a sequence of {length} ints ({what}). "
            f"Received: {name}={ranks!r}")
    ranks = tuple(ranks)
    if len(ranks) != length:
        raise ValueError(
            f"{name} must have {length} entries ({what}). Received: "
            f"{name}={ranks!r} with {len(ranks)} entries")
    out = []
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) \
                or r < 1:
            raise ValueError(
                f"{name} must contain ints >= 1. Received: {name}={ranks!r}")
        out.append(int(r))
    return tuple(out)


def tucker_rank_bounds(shape):
    """Largest Tucker rank per mode: ``min(D_n, Π_{m≠n} D_m)``."""
    shape = _check_shape(shape)
    total = math.prod(shape)
    return tuple(min(d, total // d) for d in shape)


def validate_tucker_rank(shape, ranks):
    """Checks Tucker ranks ``(K_1, …, K_N)`` for a tensor of ``shape``.

    ``K_n`` cannot exceed the rank of the mode-n unfolding,
    ``min(D_n, Π_{m≠n} D_m)``.

    Returns:
      The ranks as a tuple of ints.

    Raises:
      ValueError: wrong length, non-positive entries, or a rank above its
        bound (the message names the mode).
    """
    shape = _check_shape(shape)
    ranks = check_rank_sequence(ranks, len(shape), "ranks",
                                "one Tucker rank per mode, task mode "
                                "included")
    for n, (k, bound) in enumerate(zip(ranks, tucker_rank_bounds(shape))):
        if k > bound:
            raise ValueError(
                f"Tucker rank K_{n + 1} = {k} exceeds the rank of the mode-"
                f"{n + 1} unfolding of a tensor of shape {shape}, "
                f"min(D_n, prod of the other dims) = {bound}. Received: "
                f"ranks={ranks}")
    return ranks


def hosvd(tensor, eps=None, ranks=None):
    """Truncated higher-order SVD (De Lathauwer et al. 2000; DMTRL Eq. 5).

    ``U^(n)`` = leading left singular vectors of the mode-n unfolding, for
    every mode including the task mode; core ``S = W ×_1 U^(1)ᵀ … ×_N
    U^(N)ᵀ``. No HOOI refinement (as in the authors' code).

    Args:
      tensor: array ``(D_1, …, D_N)``.
      eps: relative error; each mode's rank is chosen by
        :func:`truncation_rank` on its own unfolding at this ε.
      ranks: explicit ranks ``(K_1, …, K_N)`` instead.

    Returns:
      ``(core, factors)``: core ``(K_1, …, K_N)``, factors ``[U^(n)]`` of
      shape ``(D_n, K_n)`` with orthonormal columns.
    """
    _check_eps_or_rank(eps, ranks, "ranks")
    arr = _as_array(tensor, min_ndim=2)
    if ranks is not None:
        ranks = validate_tucker_rank(arr.shape, ranks)
    factors = []
    for n in range(arr.ndim):
        factors.append(_left_singular_vectors(
            unfold(arr, n), eps, None if ranks is None else ranks[n]))
    core = multi_mode_dot(arr, factors, transpose=True)
    return core, factors


def _left_singular_vectors(a, eps, rank):
    """The leading left singular vectors of ``a`` (m × n) at ``eps`` or
    ``rank``. A wide unfolding (n ≥ 4 m: a Tucker mode of a big layer, e.g.
    512 × 27,648) goes through the eigendecomposition of the m × m Gram
    matrix ``A Aᵀ`` in float64, which costs O(m² n) once instead of an SVD
    of the whole matrix (24 s → under 1 s for that example); the singular
    values are the square roots of its eigenvalues. Others use the SVD."""
    m, n = a.shape
    if n < 4 * m:
        return truncated_svd(a, eps=eps, rank=rank)[0]
    if rank is not None and rank > m:
        raise ValueError(f"rank must be <= min(matrix.shape) = {m}. "
                         f"Received: rank={rank!r}")
    w, v = np.linalg.eigh(a @ a.T)
    order = np.argsort(w)[::-1]
    s = np.sqrt(np.clip(w[order], 0.0, None))
    r = truncation_rank(s, eps) if rank is None else rank
    return v[:, order[:r]]


def tucker_to_tensor(core, factors):
    """``W = S ×_1 U^(1) ×_2 U^(2) … ×_N U^(N)`` (DMTRL Eq. 3–4)."""
    core = _as_array(core, "core")
    if len(factors) != core.ndim:
        raise ValueError(
            f"Need one factor per core mode ({core.ndim}). Received: "
            f"{len(factors)} factors")
    return multi_mode_dot(core, factors)


# --------------------------------------------------------------------------
# Tensor train


def tt_rank_bounds(shape):
    """Largest TT rank ``r_k`` (k = 1..N−1): ``min(Π_{i≤k} D_i, Π_{i>k})``."""
    shape = _check_shape(shape)
    total = math.prod(shape)
    bounds = []
    left = 1
    for d in shape[:-1]:
        left *= d
        bounds.append(min(left, total // left))
    return tuple(bounds)


def validate_tt_rank(shape, ranks):
    """Checks the N − 1 interior TT ranks ``(K_1, …, K_{N−1})``.

    The boundary ranks ``r_0 = r_N = 1`` are implicit (the paper's
    notation: ``U^(1)`` is ``D_1 × K_1``, ``U^(N)`` is ``K_{N−1} × D_N``).
    ``K_k`` cannot exceed the rank of the k-th sequential unfolding,
    ``min(Π_{i≤k} D_i, Π_{i>k} D_i)``, nor what its left neighbour can
    carry, ``K_{k−1} · D_k`` (TT-SVD never produces more). ``K_k > D_{k+1}
    · K_{k+1}`` is allowed although redundant: TT-SVD with a relative error
    per unfolding produces it when step k + 1 truncates (e.g. ranks (5, 22,
    21, 1) for a 5 × 5 × 1 × 32 × 10 kernel stack).

    Returns:
      The ranks as a tuple of ints.
    """
    shape = _check_shape(shape)
    ranks = check_rank_sequence(ranks, len(shape) - 1, "ranks",
                                "the interior TT ranks K_1..K_{N-1}")
    full = (1,) + ranks + (1,)
    for k, (r, bound) in enumerate(zip(ranks, tt_rank_bounds(shape)),
                                   start=1):
        if r > bound:
            raise ValueError(
                f"TT rank K_{k} = {r} exceeds the rank of the {k}-th "
                f"unfolding of a tensor of shape {shape}, min(prod of the "
                f"first {k} dims, prod of the rest) = {bound}. Received: "
                f"ranks={ranks}")
        left = full[k - 1] * shape[k - 1]
        if r > left:
            raise ValueError(
                f"TT rank K_{k} = {r} exceeds what its left neighbours "
                f"allow: K_{k - 1}·D_{k} = {left}. Received: ranks={ranks}")
    return ranks


def tt_svd(tensor, eps=None, ranks=None, eps_split="per_unfolding",
           return_errors=False):
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

    Returns:
      ``cores``: list of N arrays ``(r_{k−1}, D_k, r_k)`` with
      ``r_0 = r_N = 1``; with ``return_errors`` also the list of N − 1
      step errors.
    """
    _check_eps_or_rank(eps, ranks, "ranks")
    if eps_split not in TT_EPS_SPLITS:
        raise ValueError(
            f"eps_split must be one of {TT_EPS_SPLITS}. Received: "
            f"eps_split={eps_split!r}")
    arr = _as_array(tensor, min_ndim=2)
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
        if ranks is not None:
            u, s, vt = truncated_svd(mat, rank=ranks[k])
            err = math.sqrt(max(norm ** 2 - float(np.sum(s ** 2)), 0.0))
        elif eps_split == "per_unfolding":
            u, s, vt, err = _svd_with_abs_tol(mat, eps * norm)
        else:
            u, s, vt, err = _svd_with_abs_tol(mat, step_tol)
        errors.append(err / norm if norm > 0 else 0.0)
        r = s.shape[0]
        cores.append(np.reshape(u, (r_prev, shape[k], r)))
        rest = s[:, None] * vt
        r_prev = r
    cores.append(np.reshape(rest, (r_prev, shape[-1], 1)))
    if return_errors:
        return cores, errors
    return cores


def tt_to_tensor(cores):
    """Full tensor from TT cores ``(r_{k−1}, D_k, r_k)``, r_0 = r_N = 1
    (DMTRL Eq. 6–8)."""
    cores = [_as_array(c, "core", min_ndim=3) for c in cores]
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


# --------------------------------------------------------------------------
# LAF (last-axis flattening)


def validate_laf_rank(shape, rank):
    """Checks the LAF rank K: ``1 ≤ K ≤ min(Π_{n<N} D_n, T)``."""
    shape = _check_shape(shape)
    k = _check_int(rank, "ranks")
    bound = min(math.prod(shape[:-1]), shape[-1])
    if k > bound:
        raise ValueError(
            f"LAF rank K = {k} exceeds the rank of the (prod D) x T "
            f"unfolding of a tensor of shape {shape}, min(prod D, T) = "
            f"{bound}. Received: ranks={rank!r}")
    return k


def laf_svd(tensor, eps=None, rank=None):
    """DMTRL-LAF (Eq. 2): ``W_(N)ᵀ = L S`` by a truncated SVD.

    ``W_(N)ᵀ`` is the ``(Π_{n<N} D_n) × T`` matrix whose column t is task
    t's flattened kernel (C order). With ``W_(N)ᵀ ≈ U diag(s) Vt``:
    ``L = U`` (shared, orthonormal columns) and ``S = diag(s) Vt`` (task
    factor, K × T), as in the authors' code.

    Returns:
      ``(shared, task)`` of shapes ``(Π D_n, K)`` and ``(K, T)``.
    """
    _check_eps_or_rank(eps, rank)
    arr = _as_array(tensor, min_ndim=2)
    if rank is not None:
        rank = validate_laf_rank(arr.shape, rank)
    mat = np.reshape(arr, (-1, arr.shape[-1]))
    u, s, vt = truncated_svd(mat, eps=eps, rank=rank)
    return u, s[:, None] * vt


def laf_to_tensor(shared, task, shape):
    """``W = reshape(L S, shape)`` for the full tensor ``shape``
    ``(D_1, …, D_{N−1}, T)``."""
    shared = _as_array(shared, "shared", min_ndim=2)
    task = _as_array(task, "task", min_ndim=2)
    shape = _check_shape(shape)
    if shared.shape[0] != math.prod(shape[:-1]) or \
            task.shape[1] != shape[-1] or shared.shape[1] != task.shape[0]:
        raise ValueError(
            f"shared {shared.shape} and task {task.shape} factors do not "
            f"give a tensor of shape {shape}. Received: shape={shape}")
    return np.reshape(shared @ task, shape)


# --------------------------------------------------------------------------
# Initialisation of the layers' factors


def _check_method(method):
    if method not in METHODS:
        raise ValueError(
            f"method must be one of {METHODS}. Received: method={method!r}")


def layer_factor_shapes(method, shape, ranks):
    """Weight name → shape of a factorised layer's factors.

    The names are the layers' stable weight names: Tucker ``core``
    ``(K_1, …, K_N)`` and ``factor_n`` ``(D_{n+1}, K_{n+1})`` (the last,
    ``factor_{N−1}``, is the T × K_N task factor); TT ``tt_core_0``
    ``(D_1, K_1)``, ``tt_core_k`` ``(K_k, D_{k+1}, K_{k+1})``,
    ``tt_core_{N−1}`` ``(K_{N−1}, T)`` (task-specific); LAF
    ``shared_factor`` ``(Π D_n, K)`` and ``task_factor`` ``(K, T)``.
    """
    _check_method(method)
    shape = _check_shape(shape)
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


def layer_ranks(method, shape, ranks):
    """Validated ranks in the layers' format (tuple, or int for LAF)."""
    _check_method(method)
    if method == "tucker":
        return validate_tucker_rank(shape, ranks)
    if method == "tt":
        return validate_tt_rank(shape, ranks)
    if isinstance(ranks, (Sequence, np.ndarray)) and \
            not isinstance(ranks, (str, bytes)) and len(ranks) == 1:
        ranks = ranks[0]
    return validate_laf_rank(shape, ranks)


def initial_factors(method, stacked, eps=0.1, ranks=None,
                    tt_eps_split="per_unfolding"):
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

    Returns:
      ``(ranks, factors)``: ranks in the layer's format and a dict weight
      name → float64 array with the shapes of :func:`layer_factor_shapes`.
    """
    _check_method(method)
    arr = _as_array(stacked, "stacked", min_ndim=2)
    if ranks is not None:
        ranks = layer_ranks(method, arr.shape, ranks)
        eps = None
    if method == "tucker":
        core, factors = hosvd(arr, eps=eps, ranks=ranks)
        out = {"core": core}
        out.update({f"factor_{n}": f for n, f in enumerate(factors)})
        return tuple(core.shape), out
    if method == "tt":
        cores = tt_svd(arr, eps=eps, ranks=ranks, eps_split=tt_eps_split)
        out = {}
        for k, core in enumerate(cores):
            if k == 0:
                core = core[0]
            elif k == len(cores) - 1:
                core = core[..., 0]
            out[f"tt_core_{k}"] = core
        return tuple(c.shape[-1] for c in cores[:-1]), out
    shared, task = laf_svd(arr, eps=eps, rank=ranks)
    return int(task.shape[0]), {"shared_factor": shared,
                                "task_factor": task}


def factors_to_tensor(method, factors, shape):
    """Full stacked tensor from a dict of layer factors (NumPy reference)."""
    _check_method(method)
    shape = _check_shape(shape)
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
