"""DMTRL's architectures and sharing patterns: the parametrised layers of
an architecture, their stacked kernel shapes, the full ranks of a
factorised layer, and the per-layer sharing mode of each paper method.

The methods of the paper are sharing patterns (:func:`method_sharing`):
``stl`` (all ``"task"``), ``ud-mtl`` (the first N layers ``"shared"``, the
rest ``"task"``) and ``dmtrl-laf`` / ``dmtrl-tucker`` / ``dmtrl-tt`` (the
architecture's shareable layers factorised, the rest ``"task"``); the
modes are those of :class:`~amtfl_tf.models.dmtrl.network.DMTRLNetwork`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from amtfl_tf.models.backbones import DMTRL_ARCHITECTURES
from amtfl_tf.models.backbones import dmtrl_architecture
from amtfl_tf.tensor import decompositions as dec

# the DMTRL networks, by name (amtfl_tf.models.backbones)
ARCHITECTURES = DMTRL_ARCHITECTURES
SHARING_MODES = ("task", "shared", "laf", "tucker", "tt")
FACTORISED = ("laf", "tucker", "tt")
METHODS = ("stl", "ud-mtl", "dmtrl-laf", "dmtrl-tucker", "dmtrl-tt")
PAPER_NAMES = {"stl": "STL", "ud-mtl": "UD-MTL", "dmtrl-laf": "DMTRL-LAF",
               "dmtrl-tucker": "DMTRL-Tucker", "dmtrl-tt": "DMTRL-TT"}


def param_layer_names(architecture: str) -> tuple[str, ...]:
    """Names of the parametrised layers, in order (``conv1`` … ``fc2``)."""
    return dmtrl_architecture(architecture)["names"]


def stacked_shapes(architecture: str, input_shape: Sequence[int],
                   num_tasks: int,
                   num_classes: int = 1) -> list[tuple[int, ...]]:
    """The stacked kernel shape (task axis last) of every parametrised
    layer: ``(kh, kw, C, M, T)`` or ``(D_in, D_out, T)``."""
    arch = dmtrl_architecture(architecture)
    h, w, c = (int(v) for v in input_shape)
    flat = None
    out = []
    for spec in arch["layers"]:
        kind = spec[0]
        if kind == "conv":
            k, stride = spec[2], spec[3] if len(spec) > 3 else 1
            pad = spec[4] if len(spec) > 4 else "valid"
            out.append((k, k, c, spec[1], num_tasks))
            if pad == "same":
                h, w = -(-h // stride), -(-w // stride)
            else:
                h, w = (h - k) // stride + 1, (w - k) // stride + 1
            c = spec[1]
        elif kind == "pool":
            size, stride = spec[1], spec[2] if len(spec) > 2 else spec[1]
            if len(spec) > 3 and spec[3] == "same":
                h, w = -(-h // stride), -(-w // stride)
            else:
                h, w = (h - size) // stride + 1, (w - size) // stride + 1
        elif kind == "flatten":
            flat = h * w * c
        elif kind in ("dense", "output"):
            units = num_classes if kind == "output" else spec[1]
            out.append((flat, units, num_tasks))
            flat = units
        if min(h, w) < 1:
            raise ValueError(
                f"input_shape={tuple(input_shape)} is too small for "
                f"{architecture}: a feature map shrinks to {h}x{w}.")
    return out


def full_ranks(mode: str, shape: Sequence[int]) -> Any:
    """The largest ranks of a factorised layer of stacked ``shape`` (its
    decomposition is then exact)."""
    if mode == "tucker":
        return list(dec.tucker_rank_bounds(shape))
    if mode == "tt":
        return list(dec.tt_rank_bounds(shape))
    if mode == "laf":
        return [min(int(np.prod(shape[:-1])), int(shape[-1]))]
    raise ValueError(f"mode must be one of {FACTORISED}. Received: "
                     f"mode={mode!r}")


def method_sharing(method: str, architecture: str,
                   ud_shared_layers: int | None = None) -> list[str]:
    """The sharing mode of every parametrised layer for a paper method.

    Args:
      method: one of :data:`METHODS`.
      architecture: one of :data:`ARCHITECTURES`.
      ud_shared_layers: UD-MTL's N (the first N layers hard-shared); one
        of the architecture's ``ud_options`` (default: the paper's choice).
    """
    arch = dmtrl_architecture(architecture)
    n = len(arch["names"])
    if method == "stl":
        return ["task"] * n
    if method == "ud-mtl":
        k = arch["ud_paper"] if ud_shared_layers is None else \
            ud_shared_layers
        if k not in arch["ud_options"]:
            raise ValueError(
                f"ud_shared_layers must be one of {arch['ud_options']} for "
                f"{architecture}. Received: ud_shared_layers={k!r}")
        return ["shared"] * k + ["task"] * (n - k)
    if method in ("dmtrl-laf", "dmtrl-tucker", "dmtrl-tt"):
        mode = method.split("-")[1]
        k = arch["shareable"]
        return [mode] * k + ["task"] * (n - k)
    raise ValueError(f"method must be one of {METHODS}. Received: "
                     f"method={method!r}")


def check_sharing(names: Sequence[str], sharing: Sequence[str] | None,
                  ranks: Sequence[Any] | None
                  ) -> tuple[list[str], list[Any]]:
    """A network's ``sharing`` (one mode of :data:`SHARING_MODES` per
    parametrised layer ``names``, the output layer not ``"shared"``) and
    ``ranks`` (None or one entry per layer, only for factorised layers),
    checked and as lists (defaults: all ``"task"``, all None)."""
    n = len(names)
    sharing = list(sharing) if sharing is not None else ["task"] * n
    if len(sharing) != n or any(m not in SHARING_MODES for m in sharing):
        raise ValueError(
            f"sharing must list one of {SHARING_MODES} for each of the "
            f"{n} parametrised layers {names}. Received: "
            f"sharing={sharing!r}")
    if sharing[-1] == "shared":
        raise ValueError(
            "The output layer is task-specific: sharing[-1] cannot be "
            f"'shared'. Received: sharing={sharing!r}")
    ranks = list(ranks) if ranks is not None else [None] * n
    if len(ranks) != n:
        raise ValueError(f"ranks must have one entry per parametrised "
                         f"layer ({n}). Received: ranks={ranks!r}")
    for name, mode, r in zip(names, sharing, ranks):
        if r is not None and mode not in FACTORISED:
            raise ValueError(
                f"ranks are for factorised layers only; layer {name} is "
                f"'{mode}'. Received: ranks={ranks!r}")
    return sharing, ranks
