"""DMTRL's networks (Yang & Hospedales, "Deep Multi-task Representation
Learning: A Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391).

One class, :class:`DMTRLNetwork`, holds T task networks of one architecture
(``ARCHITECTURES``, :mod:`.sharing`), every parametrised layer in one of
five sharing modes:

| mode | layer | what the T tasks share |
|---|---|---|
| ``"task"`` | :class:`TaskConv2D` / :class:`TaskDense` | nothing (STL) |
| ``"shared"`` | ``keras.layers.Conv2D`` / ``Dense`` | everything (UD-MTL) |
| ``"laf"``, ``"tucker"``, ``"tt"`` | the factorised layers | the factors |

The paper's methods are sharing patterns (:mod:`.sharing`); the networks
are built at random or from T trained STL networks (:mod:`.builders`).

Two input layouts (``task_layout``):

- ``"shared"`` (homogeneous MTL, one-vs-all MNIST): ``x`` ``(B, H, W, C)``
  is every task's input; ``y`` ``(B, T)``.
- ``"blocked"`` (heterogeneous, task-partitioned data such as Omniglot's
  alphabets): ``x`` ``(B, T, H, W, C)`` holds B samples of *each* task,
  ``x[:, t]`` task t's; ``y`` ``(B, T)`` integer class ids. Only task t's
  network sees task t's samples.

Heterogeneous outputs (Omniglot: 14–55 characters per alphabet) share one
padded output layer of ``max(num_classes)`` units; the logits of classes a
task does not have are masked to -1e9, so they get no probability and no
gradient: the same maths as separate heads of the right sizes.
:meth:`DMTRLNetwork.effective_param_count` counts only the real units.

Losses: ``"hinge"`` (MNIST, y in {-1, +1}), ``"logistic"`` (y in {0, 1})
or ``"softmax_ce"`` (multi-class; the paper does not state its loss for
Omniglot/Adience). Each task's loss is its mean over the batch; the tasks
are averaged (``task_reduction="mean"``, as the authors' demo) or summed.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers.factorised import FactorisedConv2D
from amtfl_tf.layers.factorised import fold_tasks
from amtfl_tf.layers.factorised import unfold_tasks
from amtfl_tf.layers.laf_conv2d import LAFConv2D
from amtfl_tf.layers.laf_dense import LAFDense
from amtfl_tf.layers.task_conv2d import TaskConv2D
from amtfl_tf.layers.task_dense import TaskDense
from amtfl_tf.layers.tt_conv2d import TTConv2D
from amtfl_tf.layers.tt_dense import TTDense
from amtfl_tf.layers.tucker_conv2d import TuckerConv2D
from amtfl_tf.layers.tucker_dense import TuckerDense
from amtfl_tf.models.backbones import dmtrl_architecture
from amtfl_tf.models.dmtrl.sharing import FACTORISED
from amtfl_tf.models.dmtrl.sharing import check_sharing
from amtfl_tf.models.dmtrl.sharing import full_ranks
from amtfl_tf.models.dmtrl.sharing import param_layer_names
from amtfl_tf.models.dmtrl.sharing import stacked_shapes
from amtfl_tf.models.multitask import MultiTaskModel
from amtfl_tf.objectives import LOSSES
from amtfl_tf.tensor import sharing as sharing_lib
from amtfl_tf.validation import check_id_array

TASK_LAYOUTS = ("shared", "blocked")
TASK_REDUCTIONS = ("mean", "sum")
_CONV = {"task": TaskConv2D, "laf": LAFConv2D, "tucker": TuckerConv2D,
         "tt": TTConv2D}
_DENSE = {"task": TaskDense, "laf": LAFDense, "tucker": TuckerDense,
          "tt": TTDense}
_MASKED = -1e9


@keras.saving.register_keras_serializable(package="amtfl_tf")
class DMTRLNetwork(MultiTaskModel):
    """T task networks of one architecture with per-layer sharing modes.

    Args:
      num_tasks: T.
      input_shape: one image, e.g. ``(28, 28, 1)``.
      architecture: a key of ``ARCHITECTURES`` (:mod:`.sharing`).
      sharing: one mode of ``SHARING_MODES`` per parametrised layer
        (see :func:`.sharing.method_sharing`); the output layer cannot be
        ``"shared"``.
      ranks: per parametrised layer, the ranks of a factorised layer (None:
        its full ranks, an exact decomposition) or None for the other
        modes; default all None.
      num_classes: outputs per task: an int (every task) or a list of T
        ints. 1 means one score per task (binary; outputs ``(B, T)``).
      task_layout: ``"shared"`` or ``"blocked"`` (module doc).
      loss: ``"hinge"``, ``"logistic"``, ``"squared"`` (one output per
        task) or ``"softmax_ce"`` (multi-class).
      task_reduction: ``"mean"`` or ``"sum"`` over the tasks' losses.
      kernel_initializer: each task's kernel distribution (default Glorot
        uniform; factorised layers decompose a draw of it).
    """

    LOSSES = LOSSES + ("softmax_ce",)

    def __init__(self, num_tasks: int, input_shape: Sequence[int],
                 architecture: str = "mnist_lenet",
                 sharing: Sequence[str] | None = None,
                 ranks: Sequence[Any] | None = None,
                 num_classes: int | Sequence[int] = 1,
                 task_layout: str = "shared", loss: str = "hinge",
                 task_reduction: str = "mean",
                 kernel_initializer: Any = "glorot_uniform",
                 **kwargs: Any) -> None:
        image, example = _check_layout(task_layout, input_shape, num_tasks)
        for key in ("per_task_mean", "delta", "task_sizes",
                    "hyperparameters"):
            kwargs.pop(key, None)  # fixed here; present in saved configs
        kwargs.pop("input_dim", None)
        super().__init__(num_tasks, list(example), loss=loss, **kwargs)
        arch = dmtrl_architecture(architecture)
        self.architecture = architecture
        self.task_layout = task_layout
        self.image_shape = tuple(int(v) for v in image)
        names = arch["names"]
        sharing, ranks = check_sharing(names, sharing, ranks)
        classes = self._check_classes(num_classes, loss)
        if task_reduction not in TASK_REDUCTIONS:
            raise ValueError(
                f"task_reduction must be one of {TASK_REDUCTIONS}. "
                f"Received: task_reduction={task_reduction!r}")
        shapes = stacked_shapes(architecture, image, self.num_tasks,
                                max(classes))
        ranks = [full_ranks(m, shp) if r is None and m in FACTORISED else r
                 for m, shp, r in zip(sharing, shapes, ranks)]
        self.sharing = sharing
        self.ranks = [None if r is None else
                      [int(v) for v in np.atleast_1d(r)] for r in ranks]
        self.num_classes = classes
        self.task_reduction = task_reduction
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer))
        self._build_layers(arch, kernel_initializer)
        mask = np.zeros((self.num_tasks, max(classes)), dtype=bool)
        for t, c in enumerate(classes):
            mask[t, :c] = True
        self._class_mask = mask

    # -- construction -------------------------------------------------------

    def _check_classes(self, num_classes, loss) -> list[int]:
        """``num_classes`` as one int per task, checked against ``loss``."""
        if isinstance(num_classes, (int, np.integer)) and not isinstance(
                num_classes, bool):
            classes = [int(num_classes)] * self.num_tasks
        else:
            classes = [int(c) for c in num_classes]
        if len(classes) != self.num_tasks or min(classes) < 1:
            raise ValueError(
                f"num_classes must be an int >= 1 or {self.num_tasks} such "
                f"ints (num_tasks={self.num_tasks}). Received: "
                f"num_classes={num_classes!r}")
        if loss == "softmax_ce" and min(classes) < 2:
            raise ValueError(
                "loss='softmax_ce' needs num_classes >= 2 for every task. "
                f"Received: num_classes={num_classes!r}")
        if loss != "softmax_ce" and max(classes) != 1:
            raise ValueError(
                f"loss={loss!r} scores one output per task; use num_classes"
                f"=1 or loss='softmax_ce'. Received: num_classes="
                f"{num_classes!r}")
        return classes

    def _build_layers(self, arch, kernel_initializer) -> None:
        """The layers of ``arch`` in order: ``self._ops`` (every step of
        the forward pass) and ``self.param_layers`` (the parametrised
        ones), from ``self.sharing`` and ``self.ranks``."""
        names = arch["names"]
        sharing = self.sharing
        classes = self.num_classes
        self._ops = []
        self.param_layers = []
        act = arch["activation"]
        i = 0
        for spec in arch["layers"]:
            kind = spec[0]
            if kind in ("conv", "dense", "output"):
                mode, r, name = sharing[i], self.ranks[i], names[i]
                if mode == "laf" and r is not None:
                    r = r[0]
                last = kind == "output"
                width = max(classes) if last else spec[1]
                layer = self._make_layer(kind, spec, mode, r, name, width,
                                         None if last else act,
                                         kernel_initializer)
                self.param_layers.append(layer)
                self._ops.append(("layer", layer, mode))
                i += 1
            elif kind == "pool":
                self._ops.append(("pool", spec[1], (
                    spec[2] if len(spec) > 2 else spec[1],
                    spec[3] if len(spec) > 3 else "valid")))
            elif kind == "dropout":
                drop = keras.layers.Dropout(spec[1], name=f"dropout{i}")
                self._ops.append(("dropout", drop, None))
            else:
                self._ops.append((kind, None, None))

    def _make_layer(self, kind, spec, mode, ranks, name, width, activation,
                    initializer):
        init = keras.initializers.get(initializer)
        if kind == "conv":
            stride = spec[3] if len(spec) > 3 else 1
            padding = spec[4] if len(spec) > 4 else "valid"
            if mode == "shared":
                return keras.layers.Conv2D(
                    width, spec[2], strides=stride, padding=padding,
                    activation=activation, kernel_initializer=init,
                    name=name)
            return _CONV[mode](
                width, spec[2], num_tasks=self.num_tasks, ranks=ranks,
                strides=stride, padding=padding, activation=activation,
                kernel_initializer=init, name=name)
        if mode == "shared":
            return keras.layers.Dense(width, activation=activation,
                                      kernel_initializer=init, name=name)
        return _DENSE[mode](width, num_tasks=self.num_tasks, ranks=ranks,
                            activation=activation, kernel_initializer=init,
                            name=name)

    # -- forward ----------------------------------------------------------

    def _per_image(self, fn, h, tasked):
        """Apply ``fn`` to every image of ``h``, folding a task axis."""
        if not tasked:
            return fn(h)
        s = ops.shape(h)
        y = fn(ops.reshape(h, (-1,) + tuple(h.shape[2:])))
        return ops.reshape(y, (s[0], s[1]) + tuple(y.shape[1:]))

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        h = self._run(x, training)
        if max(self.num_classes) == 1:
            return h[..., 0], 0.0
        mask = ops.convert_to_tensor(self._class_mask)
        return ops.where(mask, h, ops.cast(_MASKED, h.dtype)), 0.0

    def _run(self, x, training=False, stop=None):
        """The layers in order, up to (not including) the parametrised
        layer named ``stop``.

        Runs of task-specific or factorised convolutions (and the max-pools
        between them) keep their activations task-folded, ``(B, H, W,
        T*C)`` (:meth:`FactorisedConv2D.call_folded`): the same numbers,
        without a pair of transposes of every activation around every
        layer (a third of an Omniglot STL step at 105 × 105)."""
        h = x
        tasked = self.task_layout == "blocked"
        folded = False
        names = iter(self.layer_names())
        for kind, obj, arg in self._ops:
            fold = (kind == "layer" and arg != "shared" and tasked
                    and isinstance(obj, FactorisedConv2D) and obj.can_fold())
            if folded and not fold and kind != "pool":
                h, folded = unfold_tasks(h, self.num_tasks), False
            if kind == "layer":
                if next(names) == stop:
                    return unfold_tasks(h, self.num_tasks) if folded else h
                if fold:
                    if not folded:
                        h, folded = fold_tasks(h), True
                    h = obj.call_folded(h)
                elif arg == "shared":
                    h = self._per_image(obj, h, tasked)
                else:
                    h = obj(h)
                    tasked = True
            elif kind == "pool":
                size, (stride, pad) = obj, arg
                if folded:  # per channel: the folded layout as it is
                    h = ops.max_pool(h, size, stride, pad)
                else:
                    h = self._per_image(
                        lambda v: ops.max_pool(v, size, stride, pad), h,
                        tasked)
            elif kind == "lrn":
                h = self._per_image(_lrn, h, tasked)
            elif kind == "flatten":
                lead = 2 if tasked else 1
                s = ops.shape(h)
                h = ops.reshape(h, tuple(s[i] for i in range(lead)) + (
                    int(np.prod(h.shape[lead:])),))
            elif kind == "dropout":
                h = obj(h, training=training)
        if folded:
            h = unfold_tasks(h, self.num_tasks)
        return h

    def features(self, x: Any, layer: str) -> Any:
        """The activations that enter the parametrised layer ``layer``
        (e.g. ``"fc2"``: the penultimate features), ``(B, D)`` while every
        layer below is hard-shared, else ``(B, T, D)``."""
        if layer not in self.layer_names():
            raise ValueError(f"layer must be one of {self.layer_names()}. "
                             f"Received: layer={layer!r}")
        return self._run(ops.convert_to_tensor(x), False, stop=layer)

    # -- objective ----------------------------------------------------------

    def task_weights(self) -> Any:
        if self.task_reduction == "mean":
            return ops.full((self.num_tasks,), 1.0 / self.num_tasks)
        return None

    def check_targets(self, y: np.ndarray, task: np.ndarray | None,
                      has_task: bool, name: str = "") -> None:
        """``(B, num_tasks)`` targets; with ``loss="softmax_ce"``, class ids
        of task t in ``[0, num_classes[t])``."""
        super().check_targets(y, task, has_task, name)
        if self.loss_kind == "softmax_ce" and y.ndim == 2:
            for t, classes in enumerate(self.num_classes):
                check_id_array(f"{name}y[:, {t}]", y[:, t], classes,
                               f"class ids of task {t}",
                               f"num_classes[{t}]")

    def task_loss_vector(self, x: Any, y: Any, y_pred: Any,
                         sample_weight: Any = None) -> tuple[Any, Any]:
        if self.loss_kind != "softmax_ce":
            return super().task_loss_vector(x, y, y_pred, sample_weight)
        if len(y.shape) != 2:
            raise ValueError(
                "loss='softmax_ce' needs integer labels y of shape (batch, "
                f"num_tasks). Received: y.shape={tuple(y.shape)}")
        ce = keras.losses.sparse_categorical_crossentropy(
            ops.cast(y, "int32"), y_pred, from_logits=True)
        w = ops.ones_like(ce) if sample_weight is None else ops.cast(
            sample_weight, ce.dtype)
        if len(w.shape) == 1:
            w = ops.broadcast_to(ops.reshape(w, (-1, 1)), ops.shape(ce))
        return ops.sum(ce * w, axis=0), ops.sum(w, axis=0)

    def build_weights(self) -> None:
        """Create every weight by calling the network on one zero input."""
        shape = ((1, self.num_tasks) if self.task_layout == "blocked"
                 else (1,)) + self.image_shape
        self(np.zeros(shape, dtype="float32"))

    # -- diagnostics --------------------------------------------------------

    def layer_names(self) -> tuple[str, ...]:
        return param_layer_names(self.architecture)

    def _per_layer(self, measure) -> dict[str, float]:
        """``measure(layer)`` of every parametrised layer: 1 for
        hard-shared layers (every task the same weights), NaN with a single
        task."""
        out = {}
        for name, layer, mode in zip(self.layer_names(), self.param_layers,
                                     self.sharing):
            if mode == "shared":
                out[name] = 1.0
            elif self.num_tasks < 2:
                out[name] = float("nan")
            else:
                out[name] = measure(layer)
        return out

    def sharing_strengths(self, normalization: str = "softmax"
                          ) -> dict[str, float]:
        """ρ (Eq. 9) of every parametrised layer: from the learned task
        factor of factorised layers, 1 for hard-shared layers and the value
        of S = I_T for task-specific ones (0 with ``"l1"``, > 0 with the
        paper's softmax, see ``softmax_identity_strength``)."""
        return self._per_layer(lambda layer: sharing_lib.sharing_strength(
            ops.convert_to_numpy(layer.task_factor()), normalization))

    def kernel_sharing(self, measure: str = "cosine") -> dict[str, float]:
        """Sharing of every parametrised layer measured on the tasks'
        synthesised kernels (:func:`amtfl_tf.tensor.kernel_sharing`): the
        same for any factorisation of the same weights, unlike ρ. 1 for
        hard-shared layers; NaN with a single task."""
        return self._per_layer(lambda layer: sharing_lib.kernel_sharing(
            ops.convert_to_numpy(layer.recompose()), measure))

    def task_similarity(self, layer: str,
                        normalization: str = "softmax") -> np.ndarray:
        """T × T cosine similarities of the tasks' columns at one layer."""
        names = self.layer_names()
        if layer not in names:
            raise ValueError(f"layer must be one of {names}. Received: "
                             f"layer={layer!r}")
        i = names.index(layer)
        if self.sharing[i] == "shared":
            return np.ones((self.num_tasks, self.num_tasks))
        factor = ops.convert_to_numpy(self.param_layers[i].task_factor())
        return sharing_lib.task_similarity(factor, normalization)

    def effective_param_count(self) -> int:
        """Trainable parameters, the padded output units excluded."""
        total = 0
        for layer in self.param_layers:
            total += int(sum(int(np.prod(v.shape))
                             for v in layer.trainable_weights))
        out, mode = self.param_layers[-1], self.sharing[-1]
        pad = sum(max(self.num_classes) - c for c in self.num_classes)
        if pad and mode == "task":
            d_in = int(out.stacked_shape[0])
            total -= pad * (d_in + 1)
        return total

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in ("input_dim", "per_task_mean", "delta", "task_sizes",
                    "hyperparameters"):
            config.pop(key, None)
        config.update({
            "input_shape": list(self.image_shape),
            "architecture": self.architecture,
            "sharing": list(self.sharing),
            "ranks": copy.deepcopy(self.ranks),
            "num_classes": list(self.num_classes),
            "task_layout": self.task_layout,
            "task_reduction": self.task_reduction,
            "kernel_initializer": self.kernel_initializer,
        })
        return config



def _check_layout(task_layout, input_shape, num_tasks):
    """``(image, example)``: one image's shape and one example's (with the
    task axis of the ``"blocked"`` layout)."""
    if task_layout not in TASK_LAYOUTS:
        raise ValueError(f"task_layout must be one of {TASK_LAYOUTS}. "
                         f"Received: task_layout={task_layout!r}")
    image = tuple(input_shape) if isinstance(
        input_shape, (list, tuple)) else (input_shape,)
    if len(image) != 3:
        raise ValueError(
            "input_shape must be one image's (height, width, channels). "
            f"Received: input_shape={input_shape!r}")
    example = ((num_tasks,) + image if task_layout == "blocked"
               else image)
    return image, example


def _lrn(x):
    """Local response normalisation as Levi & Hassner (size 5, α 1e-4, β
    0.75); TensorFlow only."""
    import tensorflow as tf
    return tf.nn.local_response_normalization(x, depth_radius=2, bias=1.0,
                                              alpha=1e-4 / 5, beta=0.75)

