"""DMTRL's networks (Yang & Hospedales, "Deep Multi-task Representation
Learning: A Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391).

One class, :class:`DMTRLNetwork`, holds T task networks of one architecture
(:data:`ARCHITECTURES`), every parametrised layer in one of five sharing
modes:

| mode | layer | what the T tasks share |
|---|---|---|
| ``"task"`` | :class:`TaskConv2D` / :class:`TaskDense` | nothing (STL) |
| ``"shared"`` | ``keras.layers.Conv2D`` / ``Dense`` | everything (UD-MTL) |
| ``"laf"``, ``"tucker"``, ``"tt"`` | the factorised layers | the factors |

The methods of the paper are sharing patterns (:func:`method_sharing`):
``stl`` (all ``"task"``), ``ud-mtl`` (the first N layers ``"shared"``, the
rest ``"task"``) and ``dmtrl-laf`` / ``dmtrl-tucker`` / ``dmtrl-tt`` (the
architecture's shareable layers factorised, the rest ``"task"``).
:func:`dmtrl_from_stl` builds a DMTRL network from T trained STL networks by
decomposing each stacked layer at a relative error ε (paper: 10%), which
sets every rank (Sec. 4, "Implementation Details").

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

from amtfl_tf.layers.laf_conv2d import LAFConv2D
from amtfl_tf.layers.laf_dense import LAFDense
from amtfl_tf.layers.task_conv2d import TaskConv2D
from amtfl_tf.layers.task_dense import TaskDense
from amtfl_tf.layers.tt_conv2d import TTConv2D
from amtfl_tf.layers.tt_dense import TTDense
from amtfl_tf.layers.tucker_conv2d import TuckerConv2D
from amtfl_tf.layers.tucker_dense import TuckerDense
from amtfl_tf.models.backbones import DMTRL_ARCHITECTURES
from amtfl_tf.models.backbones import dmtrl_architecture
from amtfl_tf.models.multitask import MultiTaskModel
from amtfl_tf.objectives import LOSSES
from amtfl_tf.tensor import decompositions as dec
from amtfl_tf.tensor import sharing as sharing_lib

# the DMTRL networks, by name (amtfl_tf.models.backbones)
ARCHITECTURES = DMTRL_ARCHITECTURES
SHARING_MODES = ("task", "shared", "laf", "tucker", "tt")
FACTORISED = ("laf", "tucker", "tt")
METHODS = ("stl", "ud-mtl", "dmtrl-laf", "dmtrl-tucker", "dmtrl-tt")
PAPER_NAMES = {"stl": "STL", "ud-mtl": "UD-MTL", "dmtrl-laf": "DMTRL-LAF",
               "dmtrl-tucker": "DMTRL-Tucker", "dmtrl-tt": "DMTRL-TT"}
TASK_LAYOUTS = ("shared", "blocked")
TASK_REDUCTIONS = ("mean", "sum")
_CONV = {"task": TaskConv2D, "laf": LAFConv2D, "tucker": TuckerConv2D,
         "tt": TTConv2D}
_DENSE = {"task": TaskDense, "laf": LAFDense, "tucker": TuckerDense,
          "tt": TTDense}
_MASKED = -1e9


def _architecture(name: str) -> dict[str, Any]:
    return dmtrl_architecture(name)


def param_layer_names(architecture: str) -> tuple[str, ...]:
    """Names of the parametrised layers, in order (``conv1`` … ``fc2``)."""
    return _architecture(architecture)["names"]


def stacked_shapes(architecture: str, input_shape, num_tasks: int,
                   num_classes: int = 1) -> list[tuple[int, ...]]:
    """The stacked kernel shape (task axis last) of every parametrised
    layer: ``(kh, kw, C, M, T)`` or ``(D_in, D_out, T)``."""
    arch = _architecture(architecture)
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


def full_ranks(mode: str, shape) -> Any:
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
    arch = _architecture(architecture)
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


@keras.saving.register_keras_serializable(package="amtfl_tf")
class DMTRLNetwork(MultiTaskModel):
    """T task networks of one architecture with per-layer sharing modes.

    Args:
      num_tasks: T.
      input_shape: one image, e.g. ``(28, 28, 1)``.
      architecture: a key of :data:`ARCHITECTURES`.
      sharing: one mode of :data:`SHARING_MODES` per parametrised layer
        (see :func:`method_sharing`); the output layer cannot be
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

    def __init__(self, num_tasks, input_shape, architecture="mnist_lenet",
                 sharing=None, ranks=None, num_classes=1,
                 task_layout="shared", loss="hinge", task_reduction="mean",
                 kernel_initializer="glorot_uniform", **kwargs):
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
        for key in ("per_task_mean", "delta", "task_sizes",
                    "hyperparameters"):
            kwargs.pop(key, None)  # fixed here; present in saved configs
        kwargs.pop("input_dim", None)
        super().__init__(num_tasks, list(example), loss=loss, **kwargs)
        arch = _architecture(architecture)
        self.architecture = architecture
        self.task_layout = task_layout
        self.image_shape = tuple(int(v) for v in image)
        names = arch["names"]
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
        mask = np.zeros((self.num_tasks, max(classes)), dtype=bool)
        for t, c in enumerate(classes):
            mask[t, :c] = True
        self._class_mask = mask

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

    def forward(self, x, training=False, task=None):
        h = self._run(x, training)
        if max(self.num_classes) == 1:
            return h[..., 0], 0.0
        mask = ops.convert_to_tensor(self._class_mask)
        return ops.where(mask, h, ops.cast(_MASKED, h.dtype)), 0.0

    def _run(self, x, training=False, stop=None):
        """The layers in order, up to (not including) the parametrised
        layer named ``stop``."""
        h = x
        tasked = self.task_layout == "blocked"
        names = iter(self.layer_names())
        for kind, obj, arg in self._ops:
            if kind == "layer":
                if next(names) == stop:
                    return h
                if arg == "shared":
                    h = self._per_image(obj, h, tasked)
                else:
                    h = obj(h)
                    tasked = True
            elif kind == "pool":
                size, (stride, pad) = obj, arg
                h = self._per_image(
                    lambda v: ops.max_pool(v, size, stride, pad), h, tasked)
            elif kind == "lrn":
                h = self._per_image(_lrn, h, tasked)
            elif kind == "flatten":
                lead = 2 if tasked else 1
                s = ops.shape(h)
                h = ops.reshape(h, tuple(s[i] for i in range(lead)) + (
                    int(np.prod(h.shape[lead:])),))
            elif kind == "dropout":
                h = obj(h, training=training)
        return h

    def features(self, x, layer: str):
        """The activations that enter the parametrised layer ``layer``
        (e.g. ``"fc2"``: the penultimate features), ``(B, D)`` while every
        layer below is hard-shared, else ``(B, T, D)``."""
        if layer not in self.layer_names():
            raise ValueError(f"layer must be one of {self.layer_names()}. "
                             f"Received: layer={layer!r}")
        return self._run(ops.convert_to_tensor(x), False, stop=layer)

    # -- objective ----------------------------------------------------------

    def task_weights(self):
        if self.task_reduction == "mean":
            return ops.full((self.num_tasks,), 1.0 / self.num_tasks)
        return None

    def task_loss_vector(self, x, y, y_pred, sample_weight=None):
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

    def sharing_strengths(self, normalization="softmax") -> dict[str, float]:
        """ρ (Eq. 9) of every parametrised layer: from the learned task
        factor of factorised layers, 1 for hard-shared layers and the value
        of S = I_T for task-specific ones (0 with ``"l1"``, > 0 with the
        paper's softmax, see ``softmax_identity_strength``)."""
        out = {}
        for name, layer, mode in zip(self.layer_names(), self.param_layers,
                                     self.sharing):
            if mode == "shared":
                out[name] = 1.0
            elif self.num_tasks < 2:
                out[name] = float("nan")
            else:
                factor = ops.convert_to_numpy(layer.task_factor())
                out[name] = sharing_lib.sharing_strength(factor,
                                                         normalization)
        return out

    def task_similarity(self, layer: str,
                        normalization="softmax") -> np.ndarray:
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

    def get_config(self):
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


def _lrn(x):
    """Local response normalisation as Levi & Hassner (size 5, α 1e-4, β
    0.75); TensorFlow only."""
    import tensorflow as tf
    return tf.nn.local_response_normalization(x, depth_radius=2, bias=1.0,
                                              alpha=1e-4 / 5, beta=0.75)


def build_network(method: str, num_tasks: int, input_shape,
                  architecture: str, ud_shared_layers: int | None = None,
                  **kwargs) -> DMTRLNetwork:
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
                   init_unshared: str = "stl") -> DMTRLNetwork:
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
            tt_eps_split=tt_eps_split if mode == "tt" else "per_unfolding")
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
