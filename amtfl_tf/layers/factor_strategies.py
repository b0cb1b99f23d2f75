"""The factorisation strategies of DMTRL's factorised layers.

One small stateless class per factorisation of the stacked weight tensor
``W`` (task axis last): Tucker, Tensor-Train, last-axis flattening (LAF),
and ``"full"`` (independent per-task kernels, the unfactorised reference).
Each knows its rank format (``check_ranks``), which initializer/regularizer
family a weight belongs to (``family``), how to synthesise all T kernels
from the weights with one ``einsum`` directly in a requested axis order
(``synthesise``) and its K × T task matrix (``task_factor``). They are
looked up by method name in :data:`STRATEGIES`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from keras import ops

from amtfl_tf.tensor import decompositions as dec
from amtfl_tf.validation import check_int

_DIMS = "nopqrstu"   # einsum letters for the stacked tensor's axes
_RANKS = "abcdefgh"  # einsum letters for the ranks


class _Tucker:
    name = "tucker"
    families = ("core", "factor")

    @staticmethod
    def check_ranks(ranks, order, known):
        ranks = dec.check_rank_sequence(ranks, order, "ranks",
                                        "one Tucker rank per mode")
        for n, d in known.items():
            if ranks[n] > d:
                raise ValueError(
                    f"Tucker rank K_{n + 1} = {ranks[n]} exceeds D_{n + 1} ="
                    f" {d}. Received: ranks={ranks}")
        return ranks

    @staticmethod
    def family(name):
        return "core" if name == "core" else "factor"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        core = _RANKS[:order]
        terms = [core] + [_DIMS[n] + _RANKS[n] for n in range(order)]
        out = "".join(_DIMS[a] for a in out_axes)
        operands = [w["core"]] + [w[f"factor_{n}"] for n in range(order)]
        return ops.einsum(",".join(terms) + "->" + out, *operands)

    @staticmethod
    def task_factor(w, order):
        return ops.transpose(w[f"factor_{order - 1}"])

    @staticmethod
    def dense_costs(w):
        """Multiply-adds of a dense layer's forward pass as ``(fixed,
        per_sample)`` for the two routes: synthesising the kernels first
        (``"kernel"``; the mode products in order, then a batched matmul)
        and applying the factors to the input (``"input"``, see
        :meth:`apply_dense`); ``per_sample`` counts one sample of every
        task."""
        (n, a), (o, b), (t, c) = (w[f"factor_{k}"].shape for k in range(3))
        synth = n * a * b * c + n * o * b * c + n * o * t * c
        return {"kernel": (synth, t * n * o),
                "input": (a * b * c * t, t * (n * a + a * b + b * o))}

    @staticmethod
    def apply_dense(w, x):
        """``(B, T, D_in)`` → ``(B, T, D_out)`` without synthesising the T
        kernels: x U⁽¹⁾, the core contracted with the task factor, then
        U⁽²⁾. At full rank on a wide layer (Omniglot's FC1, 1936 → 64 × 50
        tasks) synthesising costs about 12.7 G multiply-adds per forward
        pass, this route about 1.1 G at 4 samples per task."""
        xa = ops.einsum("btn,na->bta", x, w["factor_0"])
        gt = ops.einsum("aec,tc->tae", w["core"], w["factor_2"])
        z = ops.einsum("bta,tae->bte", xa, gt)
        return ops.einsum("bte,oe->bto", z, w["factor_1"])


class _TT:
    name = "tt"
    families = ("core",)

    @staticmethod
    def check_ranks(ranks, order, known):
        ranks = dec.check_rank_sequence(ranks, order - 1, "ranks",
                                        "the interior TT ranks K_1..K_{N-1}")
        # K_1 <= D_1 and K_{N-1} <= T whenever those dims are known
        for k, n in ((0, 0), (order - 2, order - 1)):
            if n in known and ranks[k] > known[n]:
                raise ValueError(
                    f"TT rank K_{k + 1} = {ranks[k]} exceeds D_{n + 1} = "
                    f"{known[n]}. Received: ranks={ranks}")
        return ranks

    @staticmethod
    def family(name):
        return "core"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        terms = [_DIMS[0] + _RANKS[0]]
        for k in range(1, order - 1):
            terms.append(_RANKS[k - 1] + _DIMS[k] + _RANKS[k])
        terms.append(_RANKS[order - 2] + _DIMS[order - 1])
        out = "".join(_DIMS[a] for a in out_axes)
        operands = [w[f"tt_core_{k}"] for k in range(order)]
        return ops.einsum(",".join(terms) + "->" + out, *operands)

    @staticmethod
    def task_factor(w, order):
        return w[f"tt_core_{order - 1}"]

    @staticmethod
    def dense_costs(w):
        """As :meth:`_Tucker.dense_costs`, for the cores ``(D_in, K1)``,
        ``(K1, D_out, K2)``, ``(K2, T)``."""
        (n, r1), (_, o, r2), (_, t) = (w[f"tt_core_{k}"].shape
                                       for k in range(3))
        synth = n * r1 * o * r2 + n * o * r2 * t
        return {"kernel": (synth, t * n * o),
                "input": (r1 * o * r2 * t, t * (n * r1 + r1 * o))}

    @staticmethod
    def apply_dense(w, x):
        """``(B, T, D_in)`` → ``(B, T, D_out)`` without synthesising the T
        kernels: x G₁, then the other two cores contracted per task."""
        xa = ops.einsum("btn,na->bta", x, w["tt_core_0"])
        g23 = ops.einsum("aoe,et->tao", w["tt_core_1"], w["tt_core_2"])
        return ops.einsum("bta,tao->bto", xa, g23)


class _LAF:
    name = "laf"
    families = ("factor",)

    @staticmethod
    def check_ranks(ranks, order, known):
        if isinstance(ranks, (tuple, list)) and len(ranks) == 1:
            ranks = ranks[0]
        rank = check_int("ranks", ranks)
        t = known[order - 1]
        if rank > t:
            raise ValueError(
                f"LAF rank K = {rank} exceeds num_tasks = {t} (K <= min(prod"
                f" D, T)). Received: ranks={ranks!r}")
        return rank

    @staticmethod
    def family(name):
        return "factor"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        shared = w["shared_factor"]
        shared = ops.reshape(shared, tuple(shape[:-1]) + (shared.shape[-1],))
        lead_letters = _DIMS[:order - 1]
        out = "".join(_DIMS[a] for a in out_axes)
        return ops.einsum(
            f"{lead_letters}a,a{_DIMS[order - 1]}->{out}", shared,
            w["task_factor"])

    @staticmethod
    def task_factor(w, order):
        return w["task_factor"]


class _Full:
    """Independent full per-task kernels ``(T, D_1, …)`` (batched STL, the
    benchmark's and the tests' reference); not a DMTRL method."""

    name = "full"
    families = ()

    @staticmethod
    def check_ranks(ranks, order, known):
        if ranks is not None:
            raise ValueError(
                f"Full per-task kernels take no ranks. Received: "
                f"ranks={ranks!r}")
        return None

    @staticmethod
    def family(name):
        return "kernel"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        # stored (T, D_1, ..., D_{N-1}); stacked axis a lives at (a+1) % N
        perm = [(a + 1) % order for a in out_axes]
        return ops.transpose(w["kernel"], perm)

    @staticmethod
    def task_factor(w, order):
        t = w["kernel"].shape[0]
        return ops.eye(t)


STRATEGIES = {s.name: s for s in (_Tucker, _TT, _LAF, _Full)}


def factor_shapes(method: str, shape: Sequence[int],
                  ranks: int | Sequence[int] | None
                  ) -> dict[str, tuple[int, ...]]:
    """Weight name → shape of a layer's factors (``"full"``: one
    ``(T, D_1, …)`` kernel)."""
    if method == "full":
        return {"kernel": (shape[-1],) + tuple(shape[:-1])}
    return dec.layer_factor_shapes(method, shape, ranks)


def initial_values(method: str, stacked: np.ndarray,
                   ranks: int | Sequence[int] | None
                   ) -> dict[str, np.ndarray]:
    """Weight name → initial value from a stacked kernel tensor ``(…, T)``
    decomposed at ``ranks``."""
    if method == "full":
        return {"kernel": np.moveaxis(stacked, -1, 0)}
    return dec.initial_factors(method, stacked, ranks=ranks)[1]
