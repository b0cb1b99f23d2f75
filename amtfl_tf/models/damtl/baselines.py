"""The baselines of DAMTL's Tables 4–5 on the same VGG task networks.

- ``single`` (Single-Task): nothing is shared, one VGG per task.
- ``multi`` (Multi-task): every conv and hidden FC layer is shared (hard
  sharing); one output layer per task.
- ``cross_stitch`` (Misra et al. 2016): a
  :class:`~amtfl_tf.layers.CrossStitch` unit after every conv block and
  hidden FC layer.
- ``nddr`` (NDDR-CNN, Gao et al. 2019): an :class:`~amtfl_tf.layers.NDDR`
  layer after every conv block.
- ``mtal``: similar conv-kernel pairs aggregated (our reading of Feng &
  Chen 2021, see below).

Streams that exchange activations (Cross-Stitch, NDDR) run every sample
through every task network (the units mix the activations of one input);
the outputs of a sample's own task enter its loss. The others run each
task network on its own samples only.

**MTAL** (Feng & Chen, "Learning Twofold Heterogeneous Multi-Task by
Sharing Similar Convolution Kernel Pairs", arXiv:2101.12431) has no public
code and, offline, only its abstract: "we weightedly aggregate any pair of
convolutional kernels with their similarity greater than some threshold ρ,
consequently, our model effectively performs cross-task learning while
suppresses the intra-redundancy of the entire network. Finally, we conduct
end-to-end training." This module implements the closest reading we can
defend, **labelled as our reading**: at every conv layer, the filters of
all T networks (each flattened to ``kh·kw·C_in``) are compared by cosine
similarity s; every pair with ``s > ρ`` (across tasks, and with
``mtal_pairs="all"`` also inside one network) is aggregated with weight s:
the filter used in the forward pass is ``k̃_i = (k_i + Σ_{j: s_ij > ρ} s_ij
k_j) / (1 + Σ_{j: s_ij > ρ} s_ij)``; the similarities are recomputed every
step and treated as constants for the gradient, and the stored kernels are
trained end to end through the aggregation.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers import NDDR
from amtfl_tf.layers import CrossStitch
from amtfl_tf.models.damtl.base import TaskNetworksModel
from amtfl_tf.models.damtl.base import copy_class_columns
from amtfl_tf.models.damtl.base import copy_layer_weights
from amtfl_tf.models.damtl.base import flatten
from amtfl_tf.models.damtl.base import max_pool
from amtfl_tf.models.damtl.base import nonempty_batch
from amtfl_tf.models.damtl.base import own_task
from amtfl_tf.models.damtl.base import partition_by_task
from amtfl_tf.models.damtl.base import stitch

BASELINES = ("single", "multi", "cross_stitch", "nddr", "mtal")
SHARING_POSITIONS = ("conv", "fc", "all")
MTAL_PAIRS = ("across", "all")
PAPER_NAMES = {"single": "Single-Task", "multi": "Multi-task",
               "cross_stitch": "Cross-Stitch", "nddr": "NDDR-CNN",
               "mtal": "MTAL"}


def aggregate_similar_kernels(kernels: Sequence[Any], threshold: float,
                              pairs: str = "all") -> list[Any]:
    """MTAL's kernel aggregation (our reading; see the module doc).

    Args:
      kernels: T kernels of one conv layer, each ``(kh, kw, C_in, M)``.
      threshold: ρ in (0, 1]; pairs with cosine similarity > ρ are
        aggregated.
      pairs: ``"across"`` (pairs of different tasks only) or ``"all"``
        (also pairs inside one network).

    Returns:
      The T aggregated kernels, same shapes.
    """
    if pairs not in MTAL_PAIRS:
        raise ValueError(f"pairs must be one of {MTAL_PAIRS}. Received: "
                         f"pairs={pairs!r}")
    num_tasks = len(kernels)
    shape = tuple(kernels[0].shape)
    m = shape[-1]
    flat = ops.concatenate(
        [ops.transpose(ops.reshape(k, (-1, m))) for k in kernels], axis=0)
    unit = flat / ops.maximum(
        ops.sqrt(ops.sum(ops.square(flat), axis=1, keepdims=True)), 1e-12)
    sim = ops.stop_gradient(ops.matmul(unit, ops.transpose(unit)))
    n = num_tasks * m
    eye = np.eye(n, dtype=np.float32)
    allowed = 1.0 - eye
    if pairs == "across":
        allowed = allowed * (1.0 - np.kron(np.eye(num_tasks),
                                           np.ones((m, m))))
    allowed = ops.convert_to_tensor(allowed.astype(np.float32))
    weights = ops.where(sim > threshold, sim, 0.0) * ops.cast(
        allowed, sim.dtype) + ops.cast(eye, sim.dtype)
    weights = weights / ops.sum(weights, axis=1, keepdims=True)
    mixed = ops.matmul(weights, flat)
    return [ops.reshape(ops.transpose(mixed[t * m:(t + 1) * m]), shape)
            for t in range(num_tasks)]


@keras.saving.register_keras_serializable(package="amtfl_tf")
class DAMTLBaseline(TaskNetworksModel):
    """One of the DAMTL paper's comparison methods (see the module doc).

    Args:
      num_classes, input_shape, conv_blocks, fc_units, ce_reduction,
        hyperparameters: see :class:`TaskNetworksModel` (hyper-parameter
        ``alpha``: the task weight α_{T_j}, 0.01 as for DAMTL).
      method: one of ``BASELINES``.
      cross_stitch_granularity: ``"channel"`` or ``"layer"`` α.
      sharing_positions: where Cross-Stitch / NDDR units go: after every
        conv block (``"conv"``), every hidden FC layer (``"fc"``) or both
        (``"all"``). Default: ``"all"`` for Cross-Stitch (Misra et al. put
        units after the pooling and FC layers), ``"conv"`` for NDDR.
      self_weight: initial weight of a task's own stream in Cross-Stitch
        (α_S) and NDDR (α); the other stream gets ``1 − self_weight``
        spread over the other tasks (0.9 / 0.1 in both originals).
      mtal_threshold: ρ of MTAL.
      mtal_pairs: ``"all"`` or ``"across"`` (see
        :func:`aggregate_similar_kernels`).
      bn_momentum: momentum of the NDDR layers' moving batch statistics
        (0.9: with ~100 full-batch steps Keras' 0.99 leaves them
        0.99^100 ≈ 37% short of the data's, which wrecks test accuracy).
      nddr_batch_norm: whether the NDDR units end in batch normalisation,
        as in the original, whose backbones normalise every layer. On a
        backbone without it (ours, and the auxiliary network it starts
        from) the units renormalise features the next pretrained layer
        never saw normalised; ``False`` keeps the 1×1 fusion and ReLU
        only (docs/damtl.md).

    Call arguments:
      inputs: images ``(B, H, W, C)`` or ``{"x": images, "task": ids}``.

    Returns:
      ``(B, T, max c_j)`` logits of every task for every sample.
    """

    def __init__(self, num_classes: Sequence[int],
                 input_shape: Sequence[int], method: str = "single",
                 conv_blocks: Sequence[Sequence[int]] | None = None,
                 fc_units: Sequence[int] | None = None,
                 ce_reduction: str = "sum",
                 cross_stitch_granularity: str = "channel",
                 sharing_positions: str | None = None,
                 self_weight: float = 0.9, mtal_threshold: float = 0.8,
                 mtal_pairs: str = "all", bn_momentum: float = 0.9,
                 nddr_batch_norm: bool = True, **kwargs: Any) -> None:
        super().__init__(num_classes, input_shape, conv_blocks=conv_blocks,
                         fc_units=fc_units, ce_reduction=ce_reduction,
                         **kwargs)
        if method not in BASELINES:
            raise ValueError(f"method must be one of {BASELINES}. Received: "
                             f"method={method!r}")
        if sharing_positions is None:
            sharing_positions = "conv" if method == "nddr" else "all"
        if sharing_positions not in SHARING_POSITIONS:
            raise ValueError(
                f"sharing_positions must be one of {SHARING_POSITIONS}. "
                f"Received: sharing_positions={sharing_positions!r}")
        try:
            rho_ok = 0.0 < float(mtal_threshold) <= 1.0
        except (TypeError, ValueError):
            rho_ok = False
        if not rho_ok:
            raise ValueError("mtal_threshold must be in (0, 1]. Received: "
                             f"mtal_threshold={mtal_threshold!r}")
        if mtal_pairs not in MTAL_PAIRS:
            raise ValueError(f"mtal_pairs must be one of {MTAL_PAIRS}. "
                             f"Received: mtal_pairs={mtal_pairs!r}")
        if method in ("cross_stitch", "nddr", "mtal") and \
                self.num_tasks < 2:
            raise ValueError(f"method={method!r} needs >= 2 tasks. "
                             f"Received: num_classes={self.num_classes}")
        self.method = method
        self.cross_stitch_granularity = cross_stitch_granularity
        self.sharing_positions = sharing_positions
        self.self_weight = float(self_weight)
        self.mtal_threshold = float(mtal_threshold)
        self.mtal_pairs = mtal_pairs
        self.bn_momentum = float(bn_momentum)
        self.nddr_batch_norm = bool(nddr_batch_norm)
        streams = 1 if method == "multi" else self.num_tasks
        self.stream_convs = [self._conv_stack(f"s{s}") for s in
                             range(streams)]
        self.stream_fcs = [self._fc_stack(f"s{s}") for s in range(streams)]
        width = self.fc_units[-1] if self.fc_units else self.flat_dim
        self.heads = []
        for t, c in enumerate(self.num_classes):
            head = self._head(c, f"task{t}_logits")
            head.build((None, width))
            self.heads.append(head)
        self.units = []
        if method in ("cross_stitch", "nddr"):
            self._build_units()
        self.built = True

    def _conv_stack(self, prefix):
        convs, k = [], 0
        for shape, filters in zip(self._conv_input_shapes(),
                                  [f for b in self.conv_blocks for f in b]):
            k += 1
            conv = keras.layers.Conv2D(filters, 3, padding="same",
                                       activation="relu",
                                       name=f"{prefix}_conv{k}")
            conv.build((None,) + shape)
            convs.append(conv)
        return convs

    def _fc_stack(self, prefix):
        fcs, width = [], self.flat_dim
        for h, units in enumerate(self.fc_units):
            fc = keras.layers.Dense(units, activation="relu",
                                    name=f"{prefix}_fc{h + 1}")
            fc.build((None, width))
            fcs.append(fc)
            width = units
        return fcs

    def _positions(self):
        """(kind, index, feature shape) of every sharing unit."""
        out = []
        if self.sharing_positions in ("conv", "all"):
            h, w = self.image_shape[:2]
            for b, block in enumerate(self.conv_blocks):
                h, w = -(-h // 2), -(-w // 2)
                out.append(("conv", b, (h, w, block[-1])))
        if self.sharing_positions in ("fc", "all"):
            out += [("fc", h, (u,)) for h, u in enumerate(self.fc_units)]
        return out

    def _build_units(self):
        for kind, i, shape in self._positions():
            if self.method == "cross_stitch":
                unit = CrossStitch(self.cross_stitch_granularity,
                                   self_weight=self.self_weight,
                                   name=f"cross_stitch_{kind}{i + 1}")
            else:
                unit = NDDR(self_weight=self.self_weight,
                            other_weight=(1.0 - self.self_weight)
                            / (self.num_tasks - 1),
                            momentum=self.bn_momentum,
                            use_batch_norm=self.nddr_batch_norm,
                            name=f"nddr_{kind}{i + 1}")
            unit.build([(None,) + shape] * self.num_tasks)
            self.units.append(unit)

    # -- auxiliary initialisation ------------------------------------------

    def load_auxiliary(self, aux_model: keras.Model,
                       class_map: Sequence[Sequence[int]] | None = None
                       ) -> None:
        """Every stream's conv and hidden FC layers ← the auxiliary
        network's (the pre-trained VGG the baselines fine-tune). The output
        layers keep their random initial values, or, with ``class_map``
        (task t's classes as auxiliary class ids, as DAMTL's
        ``head_init="aux"`` uses them), each task's output layer ← the
        auxiliary output columns of its classes: the start DAMTL gets, so
        that both can be compared from the same initialisation."""
        n_conv = sum(len(b) for b in self.conv_blocks)
        for convs, fcs in zip(self.stream_convs, self.stream_fcs):
            for k in range(n_conv):
                copy_layer_weights(aux_model.get_layer(f"conv{k + 1}"),
                                   convs[k], f"conv{k + 1}")
            for h in range(len(self.fc_units)):
                copy_layer_weights(aux_model.get_layer(f"fc{h + 1}"),
                                   fcs[h], f"fc{h + 1}")
        if class_map is None:
            return
        if len(class_map) != self.num_tasks or any(
                len(m) != c for m, c in zip(class_map, self.num_classes)):
            raise ValueError(
                "class_map must list each task's classes (num_classes="
                f"{self.num_classes}). Received: class_map={class_map!r}")
        copy_class_columns(aux_model.get_layer("logits"), self.heads,
                           class_map)

    # -- forward ---------------------------------------------------------

    def _stream(self, s, x, kernels=None):
        """Stream s on x; ``kernels`` replace the conv kernels (MTAL)."""
        k = 0
        for block in self.conv_blocks:
            for _ in block:
                conv = self.stream_convs[s][k]
                if kernels is None:
                    x = conv(x)
                else:
                    x = ops.relu(ops.conv(x, kernels[k], padding="same")
                                 + conv.bias)
                k += 1
            x = max_pool(x)
        x = flatten(x)
        for fc in self.stream_fcs[s]:
            x = fc(x)
        return x

    def _mtal_kernels(self):
        n_conv = sum(len(b) for b in self.conv_blocks)
        per_layer = [aggregate_similar_kernels(
            [self.stream_convs[t][k].kernel for t in range(self.num_tasks)],
            self.mtal_threshold, self.mtal_pairs) for k in range(n_conv)]
        return [[per_layer[k][t] for k in range(n_conv)]
                for t in range(self.num_tasks)]

    def _mixed_streams(self, x, training):
        """Cross-Stitch / NDDR: all streams on all samples, with units."""
        units = {(kind, i): u for (kind, i, _), u in
                 zip(self._positions(), self.units)}

        def mix(kind, i, hs):
            u = units.get((kind, i))
            if u is None:
                return hs
            if isinstance(u, NDDR):
                return u(hs, training=training)
            return u(hs)

        hs = [x] * self.num_tasks
        k0 = 0
        for b, block in enumerate(self.conv_blocks):
            new = []
            for t in range(self.num_tasks):
                h = hs[t]
                for j in range(len(block)):
                    h = self.stream_convs[t][k0 + j](h)
                new.append(max_pool(h))
            k0 += len(block)
            hs = mix("conv", b, new)
        hs = [flatten(h) for h in hs]
        for i in range(len(self.fc_units)):
            hs = mix("fc", i, [self.stream_fcs[t][i](hs[t])
                               for t in range(self.num_tasks)])
        return [self._padded(self.heads[t](hs[t]))
                for t in range(self.num_tasks)]

    def forward(self, x: Any, task: Any = None, y: Any = None,
                training: bool = False) -> tuple[Any, dict[str, Any]]:
        if self.method in ("cross_stitch", "nddr"):
            logits = ops.stack(self._mixed_streams(x, training), axis=1)
        elif self.method == "multi":
            z = self._stream(0, x)
            logits = ops.stack([self._padded(h(z)) for h in self.heads],
                               axis=1)
        else:
            kernels = self._mtal_kernels() if self.method == "mtal" \
                else [None] * self.num_tasks
            if task is not None:  # each network on its own samples only
                idx, xs = partition_by_task(x, task, self.num_tasks)
                parts = [self._padded(self.heads[t](nonempty_batch(
                    lambda v, t=t: self._stream(t, v, kernels[t]), xs[t])))
                    for t in range(self.num_tasks)]
                return stitch(idx, parts), {}
            logits = ops.stack([self._padded(self.heads[t](self._stream(
                t, x, kernels[t]))) for t in range(self.num_tasks)], axis=1)
        if task is None:
            return logits, {}
        return own_task(logits, task), {}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "method": self.method,
                "cross_stitch_granularity": self.cross_stitch_granularity,
                "sharing_positions": self.sharing_positions,
                "self_weight": self.self_weight,
                "mtal_threshold": self.mtal_threshold,
                "mtal_pairs": self.mtal_pairs,
                "bn_momentum": self.bn_momentum,
                "nddr_batch_norm": self.nddr_batch_norm}
