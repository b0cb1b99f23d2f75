"""Truncated SVD and the relative-error rank rule ε (see
:mod:`amtfl_tf.tensor.decompositions` for where the rule is applied)."""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.tensor.algebra import as_array
from amtfl_tf.validation import check_int

#: How ε picks a rank. ``"frobenius"``: the smallest rank whose Frobenius
#: error is ≤ ε ||A||_F (:func:`truncation_rank`). ``"interpolative"``: the
#: rank of scipy's interpolative-decomposition SVD at relative precision ε
#: (:func:`interpolative_rank`), the rule of the authors' DMTRL toolbox.
RANK_RULES = ("frobenius", "interpolative")


def check_eps_or_rank(eps: float | None,
                      rank: int | Sequence[int] | None,
                      rank_name: str = "rank") -> None:
    """Exactly one of ``eps`` (a relative error in [0, 1)) and ``rank``."""
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


def check_rank_rule(rank_rule: str) -> None:
    if rank_rule not in RANK_RULES:
        raise ValueError(f"rank_rule must be one of {RANK_RULES}. Received: "
                         f"rank_rule={rank_rule!r}")


def interpolative_rank(matrix: ArrayLike, eps: float) -> int:
    """The rank ``scipy.linalg.interpolative.svd(matrix, eps, rand=False)``
    keeps: its column-pivoted QR stops once the columns left over are
    within relative precision ``eps`` (measured against the largest
    column), so the rank follows the columns' residual norms rather than a
    share of ||A||_F. This is how the authors' toolbox (wOOL/DMTRL) picks
    each unfolding's rank. It can differ from :func:`truncation_rank`
    either way: on ten task columns that each deviate 15% from a shared
    one it keeps all ten where the Frobenius rule keeps five
    (tests/test_tensor_decompositions.py). scipy's deterministic routine is
    used (``rand=False``), so a rank does not depend on a random state. A
    zero matrix gets rank 1.
    """
    from scipy.linalg import interpolative

    a = np.asarray(matrix, dtype=np.float64)
    if not np.any(a):
        return 1
    _, s, _ = interpolative.svd(a, float(eps), rand=False)
    return int(min(max(len(s), 1), min(a.shape)))


def truncation_rank(singular_values: ArrayLike, eps: float | None,
                    abs_tol: float | None = None) -> int:
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


def truncated_svd(matrix: ArrayLike, eps: float | None = None,
                  rank: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    check_eps_or_rank(eps, rank)
    a = as_array(matrix, "matrix", min_ndim=2)
    if a.ndim != 2:
        raise ValueError(
            f"matrix must be 2-D. Received: matrix with shape {a.shape}")
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    if rank is None:
        r = truncation_rank(s, eps)
    else:
        r = check_int("rank", rank)
        if r > min(a.shape):
            raise ValueError(
                f"rank must be <= min(matrix.shape) = {min(a.shape)}. "
                f"Received: rank={rank!r}")
    return u[:, :r], s[:r], vt[:r]


def is_wide(a: np.ndarray) -> bool:
    """A matrix ``(m, n)`` with ``n ≥ 4 m``: its leading left singular
    vectors are cheaper from the ``m × m`` Gram matrix (O(m² n) once)
    than from an SVD of the whole matrix."""
    m, n = a.shape
    return n >= 4 * m


def left_truncation(a: np.ndarray, *, eps: float | None = None,
                    rank: int | None = None,
                    abs_tol: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The leading left singular vectors of ``a`` (m × n) and what they
    leave to carry: ``(U_r, s_r, C, err)`` with ``C = U_rᵀ a``
    (``= diag(s_r) Vt_r``) and ``err = ||a − U_r C||_F``.

    The rank is ``rank``, or the smallest whose error is ≤ ``abs_tol``, or
    ≤ ``eps ||a||_F``. A wide matrix (:func:`is_wide`) goes through the
    eigendecomposition of ``a aᵀ`` in float64 (the singular values are the
    square roots of its eigenvalues); others through ``np.linalg.svd``. The
    Gram route squares the condition number, so singular values below about
    1e-8 ||a|| are not resolved; the ranks at the relative errors used here
    (ε ≥ 1e-4) are not affected.
    """
    m, n = a.shape
    if rank is not None and rank > min(m, n):
        raise ValueError(f"rank must be <= min(matrix.shape) = {min(m, n)}."
                         f" Received: rank={rank!r}")
    if not is_wide(a):
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        r = rank if rank is not None else truncation_rank(
            s, eps, abs_tol=abs_tol)
        carry = s[:r, None] * vt[:r]
        return (u[:, :r], s[:r], carry,
                math.sqrt(float(np.sum(s[r:] ** 2))))
    a64 = np.asarray(a, dtype=np.float64)
    w, v = np.linalg.eigh(a64 @ a64.T)
    order = np.argsort(w)[::-1]
    s = np.sqrt(np.clip(w[order], 0.0, None))
    r = rank if rank is not None else truncation_rank(s, eps, abs_tol=abs_tol)
    u = v[:, order[:r]].astype(a.dtype, copy=False)
    carry = u.T @ a
    total = float(np.sum(a64 * a64))
    err = math.sqrt(max(total - float(np.sum(carry.astype(np.float64) ** 2)),
                        0.0))
    return u, s[:r].astype(a.dtype, copy=False), carry, err
