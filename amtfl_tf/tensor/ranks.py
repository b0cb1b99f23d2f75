"""Rank checks and bounds of the Tucker, TT and LAF decompositions."""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from amtfl_tf.tensor.algebra import check_shape
from amtfl_tf.validation import check_int


def check_rank_sequence(ranks: Sequence[int] | np.ndarray, length: int,
                        name: str, what: str) -> tuple[int, ...]:
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


def tucker_rank_bounds(shape: Sequence[int]) -> tuple[int, ...]:
    """Largest Tucker rank per mode: ``min(D_n, Π_{m≠n} D_m)``."""
    shape = check_shape(shape)
    total = math.prod(shape)
    return tuple(min(d, total // d) for d in shape)


def validate_tucker_rank(shape: Sequence[int],
                         ranks: Sequence[int] | np.ndarray
                         ) -> tuple[int, ...]:
    """Checks Tucker ranks ``(K_1, …, K_N)`` for a tensor of ``shape``.

    ``K_n`` cannot exceed the rank of the mode-n unfolding,
    ``min(D_n, Π_{m≠n} D_m)``.

    Returns:
      The ranks as a tuple of ints.

    Raises:
      ValueError: wrong length, non-positive entries, or a rank above its
        bound (the message names the mode).
    """
    shape = check_shape(shape)
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


def tt_rank_bounds(shape: Sequence[int]) -> tuple[int, ...]:
    """Largest TT rank ``r_k`` (k = 1..N−1): ``min(Π_{i≤k} D_i, Π_{i>k})``."""
    shape = check_shape(shape)
    total = math.prod(shape)
    bounds = []
    left = 1
    for d in shape[:-1]:
        left *= d
        bounds.append(min(left, total // left))
    return tuple(bounds)


def validate_tt_rank(shape: Sequence[int],
                     ranks: Sequence[int] | np.ndarray
                     ) -> tuple[int, ...]:
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
    shape = check_shape(shape)
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


def validate_laf_rank(shape: Sequence[int], rank: int) -> int:
    """Checks the LAF rank K: ``1 ≤ K ≤ min(Π_{n<N} D_n, T)``."""
    shape = check_shape(shape)
    k = check_int("ranks", rank)
    bound = min(math.prod(shape[:-1]), shape[-1])
    if k > bound:
        raise ValueError(
            f"LAF rank K = {k} exceeds the rank of the (prod D) x T "
            f"unfolding of a tensor of shape {shape}, min(prod D, T) = "
            f"{bound}. Received: ranks={rank!r}")
    return k
