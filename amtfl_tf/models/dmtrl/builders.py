"""Building DMTRL networks: a randomly initialised network of a paper
method (:func:`build_network`) and a DMTRL network initialised from T
trained STL networks (:func:`dmtrl_from_stl`) by decomposing each stacked
layer at a relative error ε (paper: 10%), which sets every rank (Sec. 4,
"Implementation Details").
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from keras import ops

from amtfl_tf.models.dmtrl.network import DMTRLNetwork
from amtfl_tf.models.dmtrl.sharing import FACTORISED
from amtfl_tf.models.dmtrl.sharing import METHODS
from amtfl_tf.models.dmtrl.sharing import method_sharing
from amtfl_tf.tensor import decompositions as dec


def build_network(method: str, num_tasks: int,
                  input_shape: Sequence[int], architecture: str,
                  ud_shared_layers: int | None = None,
                  **kwargs: Any) -> DMTRLNetwork:
    """A randomly initialised network of a paper method (factorised layers
    at full ranks decompose a random draw, the paper's recommended random
    initialisation)."""
    model = DMTRLNetwork(
        num_tasks, input_shape, architecture,
        sharing=method_sharing(method, architecture, ud_shared_layers),
        **kwargs)
    model.build_weights()
    return model


def dmtrl_from_stl(stl: DMTRLNetwork, method: str, eps: float = 0.1,
                   ranks: Sequence[Any] | None = None,
                   tt_eps_split: str = "per_unfolding",
                   init_unshared: str = "stl",
                   rank_rule: str = "frobenius") -> DMTRLNetwork:
    """A DMTRL network initialised from T trained STL networks (Sec. 4).

    Every shareable layer's T kernels are stacked (task axis last) and
    decomposed at relative error ``eps`` (or at explicit ``ranks``, one
    entry per parametrised layer); the ranks found become the layer's.
    Biases are copied (they are never shared). The remaining task-specific
    layers are copied from the STL networks (``init_unshared="stl"``) or
    left at their random initial values (``"random"``, as the authors'
    demo re-initialised its output layers).

    Args:
      stl: a built :class:`DMTRLNetwork` whose sharing is all ``"task"``.
      method: ``"dmtrl-laf"``, ``"dmtrl-tucker"`` or ``"dmtrl-tt"``.
      eps: relative reconstruction error of each SVD (paper: 0.1).
      ranks: optional explicit ranks per parametrised layer.
      tt_eps_split: TT only, ``"per_unfolding"`` (authors) or
        ``"oseledets"``.
      init_unshared: ``"stl"`` or ``"random"``.
      rank_rule: how ``eps`` picks a rank from each unfolding:
        ``"frobenius"`` or ``"interpolative"`` (scipy's interpolative SVD,
        the authors' toolbox; :data:`amtfl_tf.tensor.RANK_RULES`).
    """
    if not isinstance(stl, DMTRLNetwork) or any(
            m != "task" for m in stl.sharing):
        raise ValueError(
            "stl must be a DMTRLNetwork with every layer 'task' (the STL "
            "networks). Received: "
            f"{type(stl).__name__} with sharing="
            f"{getattr(stl, 'sharing', None)!r}")
    if not stl.built or not stl.param_layers[0].weights:
        raise ValueError("stl must be built (trained) first.")
    if init_unshared not in ("stl", "random"):
        raise ValueError("init_unshared must be 'stl' or 'random'. "
                         f"Received: init_unshared={init_unshared!r}")
    if method not in METHODS[2:]:
        raise ValueError(f"method must be one of {METHODS[2:]}. Received: "
                         f"method={method!r}")
    sharing = method_sharing(method, stl.architecture)
    n = len(sharing)
    given = list(ranks) if ranks is not None else [None] * n
    if len(given) != n:
        raise ValueError(f"ranks must have one entry per parametrised layer "
                         f"({n}). Received: ranks={ranks!r}")
    found, values = [], []
    for layer, mode, r in zip(stl.param_layers, sharing, given):
        if mode not in FACTORISED:
            found.append(None)
            values.append(None)
            continue
        stacked = np.asarray(ops.convert_to_numpy(layer.recompose()),
                             dtype=np.float64)
        k, v = dec.initial_factors(
            mode, stacked, eps=eps, ranks=r,
            tt_eps_split=tt_eps_split if mode == "tt" else "per_unfolding",
            rank_rule=rank_rule)
        found.append([int(v) for v in np.atleast_1d(k)])
        values.append(v)
    config = stl.get_config()
    config.update({"sharing": sharing, "ranks": found})
    config.pop("name", None)
    config.pop("trainable", None)
    model = DMTRLNetwork(**{k: v for k, v in config.items()
                            if k not in ("dtype",)})
    for layer, mode in zip(model.param_layers, sharing):
        if mode in FACTORISED:
            layer._skip_initial_values = True  # values assigned below
    model.build_weights()
    for src, dst, mode, v in zip(stl.param_layers, model.param_layers,
                                 sharing, values):
        if mode in FACTORISED:
            bias = ops.convert_to_numpy(src.bias)
            dst.set_weights([np.asarray(v[w.name]) if w.name in v else bias
                             for w in dst.weights])
        elif init_unshared == "stl":
            dst.set_weights(src.get_weights())
    return model
