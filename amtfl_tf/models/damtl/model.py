"""DAMTL (Feng & Chen, "Learning Multi-Tasks with Inconsistent Labels by
using Auxiliary Big Task", arXiv:2201.02305; Frontiers of Computer Science
17(5):175342).

A VGG auxiliary network is first trained on a big task whose classes cover
every task's classes. Each task j then gets a network of the same shape
whose conv kernels are soft-masked copies of the auxiliary kernels (Eq. 1–2,
:class:`~amtfl_tf.layers.SoftMaskConv2D`), and all tasks are trained
jointly with (Eq. 4–5)::

    L = Σ_j α ( CE_j + λ₁ Σ_l ‖Ψ_j^l‖₁ + λ₂ Σ_h D_h(T_aux, T_j) )

where ``D_h`` is the class-conditional MMD (Eq. 3,
:func:`amtfl_tf.objectives.cmmd`) between the auxiliary FC layer ``h`` and
task j's FC layer ``h``, both applied to task j's own representation
``O^{h−1}`` at that depth. The auxiliary FC layers are frozen (Algorithm 1
updates only ``W_{T_j}``, ``Ψ_{T_j}`` and ``f_{T_j}``). At the output
layer the auxiliary logits are restricted to task j's classes through
``class_map`` (task j's class c is auxiliary class ``class_map[j][c]``),
so both sides have ``c_j`` entries. DAMTL_Fa (the ablation of Tables 6–7)
is this model with ``λ₂ = 0`` (``align_layers="none"`` skips computing the
unused term).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers import SoftMaskConv2D
from amtfl_tf.models.damtl.base import TaskNetworksModel
from amtfl_tf.models.damtl.base import copy_class_columns
from amtfl_tf.models.damtl.base import copy_layer_weights
from amtfl_tf.models.damtl.base import flatten
from amtfl_tf.models.damtl.base import max_pool
from amtfl_tf.models.damtl.base import nonempty_batch
from amtfl_tf.models.damtl.base import partition_by_task
from amtfl_tf.models.damtl.base import stitch
from amtfl_tf.models.replicas import all_gather
from amtfl_tf.objectives import CMMD_KERNELS
from amtfl_tf.objectives import cmmd

ALIGN_LAYERS = ("all", "hidden", "output", "none")
HEAD_INITS = ("aux", "random")


@keras.saving.register_keras_serializable(package="amtfl_tf")
class DAMTL(TaskNetworksModel):
    """DAMTL's task networks, auxiliary FC layers and objective.

    Args:
      num_classes, input_shape, conv_blocks, fc_units, ce_reduction,
        hyperparameters: see :class:`TaskNetworksModel`. Hyper-parameters:
        ``alpha`` (α_{T_j}, 0.01), ``lambda1`` (λ₁, 0.9), ``lambda2`` (λ₂,
        0.9), the paper's values (Sec. 4.3).
      aux_num_classes: c, the auxiliary task's number of classes.
      class_map: for every task, the auxiliary class of each of its
        classes (``class_map[j][c]``); the cover assumption of Sec. 3.1.
      mask_granularity: ``"weight"`` (Eq. 1) or ``"filter"``.
      mask_parameterization: ``"constraint"``, ``"softplus"`` or ``"abs"``
        (see :class:`SoftMaskConv2D`).
      mask_init_range: Ψ's initial values ~ U(low, high).
      train_aux_fc: also train the auxiliary FC layers f_aux used by
        Eq. (3) (default False: Algorithm 1 updates only W_{T_j}, Ψ_{T_j}
        and f_{T_j}).
      train_conv: train the per-task copy W_{T_j} (Algorithm 1) or keep
        W_aux fixed (Eq. 1 read literally).
      l1_reduction: ``"mean"`` (per mask entry) or ``"sum"``.
      align_layers: which FC layers Eq. (3) aligns: ``"all"`` (every
        hidden FC layer and the output layer, Eq. 4's Σ_{h=1}^{H}),
        ``"hidden"``, ``"output"`` or ``"none"``.
      head_init: the task output layer starts from the auxiliary output
        columns of its classes (``"aux"``) or at random.
      cmmd_kernel, cmmd_num_kernels, cmmd_kernel_mul, cmmd_bandwidth:
        the kernel of Eq. (3) (:func:`amtfl_tf.objectives.cmmd`).

    Call arguments:
      inputs: images ``(B, H, W, C)`` or ``{"x": images, "task": ids}``.

    Returns:
      ``(B, T, max c_j)`` logits of every task for every sample.
    """

    HYPERPARAMETERS = {"alpha": 0.01, "lambda1": 0.9, "lambda2": 0.9}
    TERMS = ("l1", "cmmd")

    def __init__(self, num_classes: Sequence[int],
                 input_shape: Sequence[int], aux_num_classes: int,
                 class_map: Sequence[Sequence[int]],
                 conv_blocks: Sequence[Sequence[int]] | None = None,
                 fc_units: Sequence[int] | None = None,
                 ce_reduction: str = "sum",
                 mask_granularity: str = "weight",
                 mask_parameterization: str = "constraint",
                 mask_init_range: Sequence[float] = (0.9, 1.1),
                 train_conv: bool = True,
                 train_aux_fc: bool = False,
                 l1_reduction: str = "mean", align_layers: str = "all",
                 head_init: str = "aux",
                 cmmd_kernel: str = "multi_gaussian",
                 cmmd_num_kernels: int = 5,
                 cmmd_kernel_mul: float = 2.0,
                 cmmd_bandwidth: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(num_classes, input_shape, conv_blocks=conv_blocks,
                         fc_units=fc_units, ce_reduction=ce_reduction,
                         **kwargs)
        if not isinstance(aux_num_classes, (int, np.integer)) or \
                aux_num_classes < 1:
            raise ValueError("aux_num_classes must be an int >= 1. Received: "
                             f"aux_num_classes={aux_num_classes!r}")
        self.aux_num_classes = int(aux_num_classes)
        self.class_map = self._check_class_map(class_map)
        lo_hi = tuple(float(v) for v in mask_init_range) \
            if isinstance(mask_init_range, (list, tuple)) else ()
        if len(lo_hi) != 2 or not 0 <= lo_hi[0] <= lo_hi[1]:
            raise ValueError(
                "mask_init_range must be (low, high) with 0 <= low <= high. "
                f"Received: mask_init_range={mask_init_range!r}")
        if align_layers not in ALIGN_LAYERS:
            raise ValueError(f"align_layers must be one of {ALIGN_LAYERS}. "
                             f"Received: align_layers={align_layers!r}")
        if head_init not in HEAD_INITS:
            raise ValueError(f"head_init must be one of {HEAD_INITS}. "
                             f"Received: head_init={head_init!r}")
        if cmmd_kernel not in CMMD_KERNELS:
            raise ValueError(f"cmmd_kernel must be one of {CMMD_KERNELS}. "
                             f"Received: cmmd_kernel={cmmd_kernel!r}")
        self.mask_granularity = mask_granularity
        self.mask_parameterization = mask_parameterization
        self.mask_init_range = list(lo_hi)
        self.train_conv = bool(train_conv)
        self.train_aux_fc = bool(train_aux_fc)
        self.l1_reduction = l1_reduction
        self.align_layers = align_layers
        self.head_init = head_init
        self.cmmd_kernel = cmmd_kernel
        self.cmmd_num_kernels = int(cmmd_num_kernels)
        self.cmmd_kernel_mul = float(cmmd_kernel_mul)
        self.cmmd_bandwidth = None if cmmd_bandwidth is None \
            else float(cmmd_bandwidth)
        # the frozen auxiliary FC layers f_aux^h (weights from
        # load_auxiliary)
        self.aux_fcs, self.aux_head = self._dense_stack(
            "aux", self.aux_num_classes, trainable=self.train_aux_fc)
        self.task_convs, self.task_fcs, self.task_heads = [], [], []
        for t, c in enumerate(self.num_classes):
            convs = []
            for k, (shape, filters) in enumerate(zip(
                    self._conv_input_shapes(),
                    [f for b in self.conv_blocks for f in b])):
                conv = SoftMaskConv2D(
                    filters, 3, padding="same", activation="relu",
                    mask_granularity=mask_granularity,
                    mask_parameterization=mask_parameterization,
                    kernel_trainable=self.train_conv,
                    l1_reduction=l1_reduction,
                    mask_initializer=keras.initializers.RandomUniform(
                        *lo_hi),
                    name=f"task{t}_conv{k + 1}")
                conv.build((None,) + shape)
                convs.append(conv)
            fcs, head = self._dense_stack(f"task{t}", c)
            self.task_convs.append(convs)
            self.task_fcs.append(fcs)
            self.task_heads.append(head)
        self.built = True

    def _check_class_map(self, class_map):
        ok = isinstance(class_map, (list, tuple)) and len(
            class_map) == self.num_tasks
        if ok:
            for m, c in zip(class_map, self.num_classes):
                ok = ok and isinstance(m, (list, tuple)) and len(m) == c \
                    and all(isinstance(v, (int, np.integer)) and 0 <= v
                            < self.aux_num_classes for v in m) \
                    and len(set(m)) == len(m)
        if not ok:
            raise ValueError(
                "class_map must list, for every task, the distinct auxiliary "
                f"class (0..{self.aux_num_classes - 1}) of each of its "
                f"{self.num_classes} classes. Received: "
                f"class_map={class_map!r}")
        return [[int(v) for v in m] for m in class_map]

    def _dense_stack(self, prefix, out_units, trainable=True):
        fcs, width = [], self.flat_dim
        for h, units in enumerate(self.fc_units):
            fc = keras.layers.Dense(units, activation="relu",
                                    name=f"{prefix}_fc{h + 1}",
                                    trainable=trainable)
            fc.build((None, width))
            fcs.append(fc)
            width = units
        head = self._head(out_units, f"{prefix}_logits", trainable)
        head.build((None, width))
        return fcs, head

    # -- auxiliary network -----------------------------------------------

    def load_auxiliary(self, aux_model: keras.Model) -> None:
        """W_{T_j} ← W_aux (every task), f_aux ← the auxiliary FC layers,
        task FC layers ← the auxiliary ones, and (``head_init="aux"``) each
        task's output layer ← the auxiliary output columns of its classes.
        Ψ keeps its random initial values."""
        n_conv = sum(len(b) for b in self.conv_blocks)
        for k in range(n_conv):
            src = aux_model.get_layer(f"conv{k + 1}")
            kernel, bias = src.get_weights()
            for convs in self.task_convs:
                convs[k].load_kernel(kernel, bias)
        for h in range(len(self.fc_units)):
            src = aux_model.get_layer(f"fc{h + 1}")
            copy_layer_weights(src, self.aux_fcs[h], f"fc{h + 1}")
            for fcs in self.task_fcs:
                copy_layer_weights(src, fcs[h], f"fc{h + 1}")
        head = aux_model.get_layer("logits")
        copy_layer_weights(head, self.aux_head, "logits")
        if self.head_init == "aux":
            copy_class_columns(head, self.task_heads, self.class_map)

    # -- forward ---------------------------------------------------------

    def _features(self, t, x):
        k = 0
        for block in self.conv_blocks:
            for _ in block:
                x = self.task_convs[t][k](x)
                k += 1
            x = max_pool(x)
        return flatten(x)

    def _task_forward(self, t, x, y=None):
        """Task t's logits and (with labels) its CMMD sum over the aligned
        FC layers."""
        o = nonempty_batch(lambda v: self._features(t, v), x)
        align_hidden = y is not None and self.align_layers in ("all",
                                                               "hidden")
        align_out = y is not None and self.align_layers in ("all",
                                                            "output")
        d = 0.0
        for fc, fc_aux in zip(self.task_fcs[t], self.aux_fcs):
            out = fc(o)
            if align_hidden:
                d = d + self._cmmd(fc_aux(o), out, y, t)
            o = out
        logits = self.task_heads[t](o)
        if align_out:
            aux_logits = ops.take(self.aux_head(o), self.class_map[t],
                                  axis=1)
            d = d + self._cmmd(aux_logits, logits, y, t)
        return logits, d

    def _cmmd(self, aux_out, task_out, y, t):
        # Eq. (3) over the global batch: under tf.distribute every replica
        # gathers all replicas' task-t samples (a no-op on one device).
        aux_out, task_out, y = all_gather(aux_out, task_out, y)
        return cmmd(aux_out, task_out, y, self.num_classes[t],
                    kernel=self.cmmd_kernel,
                    num_kernels=self.cmmd_num_kernels,
                    kernel_mul=self.cmmd_kernel_mul,
                    bandwidth=self.cmmd_bandwidth)

    def mask_l1(self, t: int) -> Any:
        """Σ_l ‖Ψ_t^l‖₁ of task t."""
        return ops.sum(ops.stack([c.mask_l1() for c in self.task_convs[t]]))

    def forward(self, x: Any, task: Any = None, y: Any = None,
                training: bool = False) -> tuple[Any, dict[str, Any]]:
        if task is None:
            return ops.stack([self._padded(self._task_forward(t, x)[0])
                              for t in range(self.num_tasks)], axis=1), {}
        idx, xs = partition_by_task(x, task, self.num_tasks)
        ys = partition_by_task(y, task, self.num_tasks)[1] \
            if y is not None else [None] * self.num_tasks
        logits, dists = [], []
        for t in range(self.num_tasks):
            lt, dt = self._task_forward(t, xs[t], ys[t])
            logits.append(self._padded(lt))
            dists.append(ops.cast(dt, lt.dtype))
        l1 = ops.stack([self.mask_l1(t) for t in range(self.num_tasks)])
        terms = {"l1": self.hp["lambda1"] * l1,
                 "cmmd": self.hp["lambda2"] * ops.stack(dists)}
        return stitch(idx, logits), terms

    def masks(self, t: int) -> list[np.ndarray]:
        """Ψ of every conv layer of task t (numpy)."""
        return [np.asarray(ops.convert_to_numpy(c.mask()))
                for c in self.task_convs[t]]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "aux_num_classes": self.aux_num_classes,
                "class_map": [list(m) for m in self.class_map],
                "mask_granularity": self.mask_granularity,
                "mask_parameterization": self.mask_parameterization,
                "mask_init_range": list(self.mask_init_range),
                "train_conv": self.train_conv,
                "train_aux_fc": self.train_aux_fc,
                "l1_reduction": self.l1_reduction,
                "align_layers": self.align_layers,
                "head_init": self.head_init,
                "cmmd_kernel": self.cmmd_kernel,
                "cmmd_num_kernels": self.cmmd_num_kernels,
                "cmmd_kernel_mul": self.cmmd_kernel_mul,
                "cmmd_bandwidth": self.cmmd_bandwidth}
