"""Basic multilinear algebra on NumPy arrays (float64): unfolding, folding,
n-mode products (Kolda & Bader 2009; tensorly's names and conventions).
Part of :mod:`amtfl_tf.tensor.decompositions`."""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike


def as_array(tensor: ArrayLike, name: str = "tensor",
             min_ndim: int = 1) -> np.ndarray:
    """``tensor`` as a float64 array with at least ``min_ndim`` dims."""
    arr = np.asarray(tensor, dtype=np.float64)
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s). Received: "
            f"{name} with shape {arr.shape}")
    return arr


def check_mode(mode: int, ndim: int) -> int:
    """A mode index in ``[-ndim, ndim)``, returned in ``[0, ndim)``."""
    if not isinstance(mode, numbers.Integral) or not -ndim <= mode < ndim:
        raise ValueError(
            f"mode must be an int in [{-ndim}, {ndim}). Received: "
            f"mode={mode!r}")
    return int(mode) % ndim


def check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """A tensor shape of >= 2 positive int dims, as a tuple of ints."""
    shape = tuple(shape)
    if len(shape) < 2 or any(
            isinstance(d, bool) or not isinstance(d, numbers.Integral)
            or d < 1 for d in shape):
        raise ValueError(
            f"shape must have >= 2 positive int dimensions. Received: "
            f"shape={shape!r}")
    return tuple(int(d) for d in shape)


def unfold(tensor: ArrayLike, mode: int) -> np.ndarray:
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
    arr = as_array(tensor)
    mode = check_mode(mode, arr.ndim)
    return np.reshape(np.moveaxis(arr, mode, 0), (arr.shape[mode], -1))


def fold(unfolded: ArrayLike, mode: int, shape: Sequence[int]
         ) -> np.ndarray:
    """Inverse of :func:`unfold`: ``fold(unfold(W, n), n, W.shape) == W``.

    Args:
      unfolded: array of shape ``(D_n, Π_{m≠n} D_m)``.
      mode: the mode n the matrix was unfolded along.
      shape: the full tensor shape ``(D_1, …, D_N)``.

    Returns:
      float64 array of shape ``shape``.
    """
    shape = tuple(int(d) for d in shape)
    mode = check_mode(mode, len(shape))
    arr = as_array(unfolded, "unfolded", min_ndim=2)
    moved = (shape[mode],) + shape[:mode] + shape[mode + 1:]
    if arr.size != math.prod(shape) or arr.shape[0] != shape[mode]:
        raise ValueError(
            f"unfolded has shape {arr.shape}, which does not unfold a "
            f"tensor of shape {shape} along mode {mode}. Received: "
            f"shape={shape}")
    return np.moveaxis(np.reshape(arr, moved), 0, mode)


def mode_dot(tensor: ArrayLike, matrix: ArrayLike, mode: int,
             transpose: bool = False) -> np.ndarray:
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
    arr = as_array(tensor)
    mode = check_mode(mode, arr.ndim)
    mat = as_array(matrix, "matrix")
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
            f"{as_array(matrix).shape}, transpose={transpose}")
    new_shape = arr.shape[:mode] + (mat.shape[0],) + arr.shape[mode + 1:]
    return fold(mat @ unfold(arr, mode), mode, new_shape)


def multi_mode_dot(tensor: ArrayLike, matrices: Sequence[ArrayLike],
                   modes: Iterable[int] | None = None,
                   transpose: bool = False) -> np.ndarray:
    """``W ×_{m_1} M_1 ×_{m_2} M_2 …`` (matrices only; modes default 0..)."""
    arr = as_array(tensor)
    modes = range(len(matrices)) if modes is None else modes
    for mat, mode in zip(matrices, modes):
        arr = mode_dot(arr, mat, mode, transpose=transpose)
    return arr
