"""What DAMTL and its baselines share: VGG-style task networks, the
auxiliary network, and :class:`TaskNetworksModel`, the base of the models
of Feng & Chen, "Learning Multi-Tasks with Inconsistent Labels by using
Auxiliary Big Task" (arXiv:2201.02305).

Data (task-partitioned, heterogeneous label sets): ``x = {"x": images
(B, H, W, C), "task": (B,) int}``, ``y``: ``(B,)`` the task-local class
(0 … c_j − 1 for task j). Tasks may have different numbers of classes;
logits are padded to ``max_j c_j`` with a large negative value, which
softmax ignores.

Objective (Eq. 4–5, with the penalties counted once per task, not once per
sample; see docs/damtl.md)::

    L = Σ_j α · L_j,   L_j = CE_j + Σ_terms term_j

``CE_j`` is the softmax cross-entropy of task j's samples in the batch,
summed (Eq. 4 as printed, ``ce_reduction="sum"``) or averaged; the extra
per-task terms (DAMTL: ``λ₁ Σ_l ‖Ψ_j^l‖₁`` and ``λ₂ Σ_h D(T_aux, T_j)``)
are *returned* by :meth:`TaskNetworksModel.forward`, never added with
``add_loss`` (which mixes replicas up under ``tf.distribute``). Per-task
values of ``L_j`` (``objective_<j>``), ``CE_j`` (``ce_<j>``) and each term
(``<term>_<j>``) are reported as metrics; ``loss`` is L (Eq. 5).

The VGG networks: 3×3 "same" convolutions with ReLU in blocks, 2×2
max-pooling ("same") after every block, flatten, ReLU FC layers, a linear
output layer. :func:`build_vgg` makes the auxiliary network with layer
names ``conv1 … convL``, ``fc1 … fcH``, ``logits``; the task models copy
its weights by those names (:meth:`TaskNetworksModel.load_auxiliary`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np
from keras import ops
from numpy.typing import ArrayLike

from amtfl_tf.models.backbones import VGG_ARCHITECTURES
from amtfl_tf.models.backbones import build_vgg
from amtfl_tf.models.backbones import check_conv_blocks
from amtfl_tf.models.backbones import feature_shapes
from amtfl_tf.models.backbones import vgg_architecture
from amtfl_tf.models.base import MultiTaskBase
from amtfl_tf.models.replicas import distribution
from amtfl_tf.models.task_metrics import PerTaskMean
from amtfl_tf.validation import check_id_array
from amtfl_tf.validation import check_per_sample
from amtfl_tf.validation import is_int

# the VGG variants, by name (amtfl_tf.models.backbones)
ARCHITECTURES = VGG_ARCHITECTURES
__all__ = ["ARCHITECTURES", "TaskNetworksModel",
           "build_vgg", "check_conv_blocks", "copy_class_columns",
           "copy_layer_weights",
           "feature_shapes", "flatten", "max_pool", "nonempty_batch",
           "own_task", "pad_logits", "partition_by_task", "stitch"]
CE_REDUCTIONS = ("sum", "mean")
PAD_LOGIT = -1e9


def max_pool(x: Any) -> Any:
    return ops.max_pool(x, 2, strides=2, padding="same")


def flatten(x: Any) -> Any:
    return ops.reshape(x, (-1, int(np.prod(x.shape[1:]))))


def pad_logits(logits: Any, width: int) -> Any:
    """Pad ``(n, c)`` logits to ``(n, width)`` with ``PAD_LOGIT``."""
    missing = width - int(logits.shape[-1])
    if missing == 0:
        return logits
    pad = ops.full((ops.shape(logits)[0], missing), PAD_LOGIT,
                   dtype=logits.dtype)
    return ops.concatenate([logits, pad], axis=-1)


def partition_by_task(x: Any, task: Any,
                      num_tasks: int) -> tuple[list[Any], list[Any]]:
    """Indices and rows of every task: ``(indices, parts)`` (TensorFlow
    ``dynamic_partition``; every task network then sees only its own
    samples)."""
    import tensorflow as tf

    task = tf.cast(tf.reshape(task, (-1,)), tf.int32)
    idx = tf.dynamic_partition(tf.range(tf.shape(task)[0]), task, num_tasks)
    return idx, [tf.gather(x, i) for i in idx]


def nonempty_batch(fn: Callable[[Any], Any], x: Any) -> Any:
    """``fn(x)`` for a task's part of a batch, which may have no rows.
    TensorFlow 2.21's oneDNN convolution (on by default on x86 CPUs)
    returns a wrong shape for an empty batch (``(0, H, W, C_in)`` instead
    of ``C_out`` channels, then "input depth must be evenly divisible by
    filter depth"), so ``fn`` runs on ``x`` plus one zero row that is then
    dropped (no gradient reaches it). ``fn`` must treat rows independently
    (no batch statistics)."""
    spare = ops.zeros((1,) + tuple(x.shape[1:]), dtype=x.dtype)
    return fn(ops.concatenate([x, spare], axis=0))[:ops.shape(x)[0]]


def stitch(indices: Sequence[Any], parts: Sequence[Any]) -> Any:
    import tensorflow as tf

    return tf.dynamic_stitch(indices, parts)


def own_task(logits_all: Any, task: Any) -> Any:
    """``(B, T, C)`` → ``(B, C)``: each sample's own task's logits."""
    task = ops.cast(ops.reshape(task, (-1, 1, 1)), "int32")
    return ops.take_along_axis(logits_all, task, axis=1)[:, 0]


def copy_layer_weights(source_layer: keras.layers.Layer,
                       target_layer: keras.layers.Layer,
                       name: str = "") -> None:
    """Copy weights between layers of equal weight shapes."""
    src = source_layer.get_weights()
    dst = target_layer.get_weights()
    if [w.shape for w in src] != [w.shape for w in dst]:
        raise ValueError(
            f"auxiliary layer {name or source_layer.name!r} has weight "
            f"shapes {[w.shape for w in src]}; the task layer needs "
            f"{[w.shape for w in dst]}")
    target_layer.set_weights(src)


def copy_class_columns(aux_head: keras.layers.Layer,
                       heads: Sequence[keras.layers.Layer],
                       class_map: Sequence[Sequence[int]]) -> None:
    """Each task's output layer ``heads[t]`` ← the columns of the
    auxiliary output layer ``aux_head`` for its classes ``class_map[t]``
    (the class map of DAMTL's cover assumption)."""
    kernel, bias = aux_head.get_weights()
    for head, classes in zip(heads, class_map):
        head.set_weights([kernel[:, classes], bias[classes]])


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TaskNetworksModel(MultiTaskBase):
    """Base of DAMTL and its baselines (see the module doc).

    Subclasses build their layers in ``__init__`` and implement
    :meth:`forward`; the base provides the objective, the train and test
    steps, the metrics, the hyper-parameter variables and the config.

    Args:
      num_classes: ``c_j`` of every task (a list; T = its length).
      input_shape: one image, ``(H, W, C)``.
      conv_blocks: conv widths per VGG block, e.g. ``[[16], [32]]``.
      fc_units: widths of the hidden FC layers.
      ce_reduction: ``"sum"`` (Eq. 4: CE summed over the task's samples)
        or ``"mean"``.
      head_stddev: output layers that do not come from the auxiliary
        network start as N(0, head_stddev²) with zero bias (0.01: the
        usual initialisation of a new classifier on pre-trained
        features; Glorot's on the proxy's large ReLU features gave a mean
        initial cross-entropy of about 25, and momentum SGD at η = 0.01
        then collapsed to chance).
      hyperparameters: initial values of ``HYPERPARAMETERS`` (α, …),
        stored as non-trainable variables.
    """

    HYPERPARAMETERS: Mapping[str, float] = {"alpha": 0.01}
    TERMS: tuple[str, ...] = ()
    # the task networks see their own samples through dynamic partitions
    # (tf.dynamic_partition), which XLA cannot compile (Keras' "auto" would
    # pick XLA on a GPU)
    DEFAULT_OPTIMIZER = "sgd"
    DEFAULT_JIT_COMPILE = False

    def __init__(self, num_classes: Sequence[int],
                 input_shape: Sequence[int],
                 conv_blocks: Sequence[Sequence[int]] | None = None,
                 fc_units: Sequence[int] | None = None,
                 ce_reduction: str = "sum", head_stddev: float = 0.01,
                 hyperparameters: Mapping[str, float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_classes, (list, tuple)) or len(
                num_classes) < 1 or not all(is_int(c, 1)
                                            for c in num_classes):
            raise ValueError(
                "num_classes must be a non-empty list of ints >= 1 (one "
                f"per task). Received: num_classes={num_classes!r}")
        if not isinstance(input_shape, (list, tuple)) or len(
                input_shape) != 3 or not all(is_int(v, 1)
                                             for v in input_shape):
            raise ValueError(
                "input_shape must be (height, width, channels) of ints >= 1."
                f" Received: input_shape={input_shape!r}")
        if ce_reduction not in CE_REDUCTIONS:
            raise ValueError(f"ce_reduction must be one of {CE_REDUCTIONS}. "
                             f"Received: ce_reduction={ce_reduction!r}")
        try:
            ok = float(head_stddev) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError("head_stddev must be > 0. Received: "
                             f"head_stddev={head_stddev!r}")
        self.head_stddev = float(head_stddev)
        default_blocks, default_fc = vgg_architecture("vgg_small")
        self.conv_blocks, self.fc_units = check_conv_blocks(
            default_blocks if conv_blocks is None else conv_blocks,
            default_fc if fc_units is None else fc_units)
        self.num_classes = [int(c) for c in num_classes]
        self.num_tasks = len(self.num_classes)
        self.max_classes = max(self.num_classes)
        self.image_shape = tuple(int(v) for v in input_shape)
        self.ce_reduction = ce_reduction
        self._block_shapes, self._last_map, self.flat_dim = feature_shapes(
            self.image_shape, self.conv_blocks)
        self._init_hyperparameters(hyperparameters)
        self.objective_tracker = PerTaskMean(
            self.num_tasks, prefix="objective_", name="objectives")
        self.ce_tracker = PerTaskMean(self.num_tasks, prefix="ce_",
                                      name="cross_entropies")
        self.term_trackers = [PerTaskMean(self.num_tasks, prefix=f"{t}_",
                                          name=f"{t}_terms")
                              for t in self.TERMS]

    # -- to implement ----------------------------------------------------

    def forward(self, x: Any, task: Any = None, y: Any = None,
                training: bool = False) -> tuple[Any, dict[str, Any]]:
        """Images ``(B, H, W, C)`` → ``(logits, terms)``.

        Without ``task``: logits ``(B, T, max c_j)`` of every task for
        every sample, terms ``{}``. With ``task`` ``(B,)``: logits ``(B,
        max c_j)`` of each sample's own task, and ``terms`` a dict
        ``{name: (T,) per-task value}`` for every name in ``TERMS``,
        already scaled by its hyper-parameter (``y``, the task-local labels,
        is given for terms that need it, e.g. CMMD).
        """
        raise NotImplementedError

    def load_auxiliary(self, aux_model: keras.Model) -> None:
        """Initialise from a trained auxiliary network (:func:`build_vgg`
        layer names)."""
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------

    def _conv_input_shapes(self):
        return [s for block in self._block_shapes for s in block]

    def _head(self, units, name, trainable=True):
        return keras.layers.Dense(
            units, name=name, trainable=trainable,
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=self.head_stddev))

    def _padded(self, logits):
        return pad_logits(logits, self.max_classes)

    def _zeros_terms(self, dtype="float32"):
        return {name: ops.zeros((self.num_tasks,), dtype=dtype)
                for name in self.TERMS}

    # -- Keras -------------------------------------------------------------

    def _split(self, inputs):
        if isinstance(inputs, Mapping):
            x, task = inputs["x"], inputs.get("task")
        else:
            x, task = inputs, None
        if tuple(x.shape[1:]) != self.image_shape:
            want = ", ".join(map(str, self.image_shape))
            raise ValueError(f"x must have shape (batch, {want}). Received: "
                             f"x.shape={tuple(x.shape)}")
        return x, task

    def check_targets(self, y: np.ndarray, task: np.ndarray | None,
                      has_task: bool, name: str = "") -> None:
        """Training data are ``x={"x": images, "task": ids}`` with ``y`` the
        task-local class ids, ``(B,)``, each in ``[0, num_classes[task])``."""
        if not has_task:
            raise ValueError(
                f"{type(self).__name__} trains on x={{'x': images, 'task': "
                "task ids} with y the task-local labels. Received: "
                f"{name}x without task ids")
        check_per_sample(f"{name}y", y,
                         "each sample's class id in its own task")
        labels = check_id_array(f"{name}y", y.reshape(-1), self.max_classes,
                                "class ids", "max(num_classes)")
        if task is None or len(task) != len(labels):
            return
        limit = np.asarray(self.num_classes)[task]
        out = labels >= limit
        if out.any():
            i = int(np.argmax(out))
            raise ValueError(
                f"{name}y must hold class ids in [0, num_classes[task]). "
                f"Received: {name}y[{i}]={labels[i]} for task {task[i]} "
                f"(num_classes[{task[i]}]={limit[i]}; {int(out.sum())} out "
                "of range)")

    def call(self, inputs: Any, training: bool = False) -> Any:
        x, _ = self._split(inputs)
        return self.forward(x, training=training)[0]

    def _features(self, inputs):
        return self._split(inputs)[0]

    def step_forward(self, x: Any, y: Any,
                     training: bool) -> tuple[Any, dict[str, Any]]:
        images, task = self._split(x)
        return self.forward(images, task=task, y=y, training=training)

    def objective(self, x: Any, y: Any, y_pred: Any, extra: Any,
                  sample_weight: Any = None) -> Any:
        """Eq. (5) of one replica's batch (:meth:`task_objective`)."""
        return self.task_objective(self._split(x)[1], y, y_pred, extra,
                                   sample_weight)

    def task_objective(self, task: Any, y: Any, logits: Any,
                       terms: Mapping[str, Any],
                       sample_weight: Any = None) -> Any:
        """Eq. (5): ``Σ_j α (CE_j + Σ terms_j)`` of one replica's batch."""
        replicas, all_sum = distribution()
        dtype = logits.dtype
        task = ops.cast(ops.reshape(task, (-1,)), "int32")
        ce = ops.sparse_categorical_crossentropy(
            ops.cast(ops.reshape(y, (-1,)), "int32"), logits,
            from_logits=True)
        w = ops.ones_like(ce) if sample_weight is None else ops.cast(
            ops.reshape(sample_weight, (-1,)), dtype)
        sums = ops.segment_sum(ce * w, task, num_segments=self.num_tasks)
        counts = ops.segment_sum(w, task, num_segments=self.num_tasks)
        if self.ce_reduction == "mean":
            ce_task = sums / ops.maximum(all_sum(counts), 1.0)
        else:
            ce_task = sums
        extra = ops.zeros((self.num_tasks,), dtype=dtype)
        for name in self.TERMS:
            extra = extra + ops.cast(terms[name], dtype)
        per_task = ce_task + extra / replicas
        total = ops.cast(self.hp["alpha"], dtype) * ops.sum(per_task)
        present = ops.cast(counts > 0, dtype)
        self.objective_tracker.update_state(ce_task + extra, present)
        self.ce_tracker.update_state(ce_task, present)
        for name, tracker in zip(self.TERMS, self.term_trackers):
            tracker.update_state(ops.cast(terms[name], dtype), present)
        return total

    def extra_metrics(self) -> list[keras.metrics.Metric]:
        return [self.objective_tracker, self.ce_tracker, *self.term_trackers]

    def predict_own_task(self, x: ArrayLike, task: ArrayLike,
                         batch_size: int = 256) -> np.ndarray:
        """Predicted task-local class of every sample for its own task
        (numpy)."""
        logits = self.predict({"x": x, "task": task}, batch_size=batch_size,
                              verbose=0)
        own = logits[np.arange(len(task)), np.asarray(task)]
        return own.argmax(axis=-1)

    def serving_input_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def serving_outputs(self, x: Any) -> Any:
        """Every task's class probabilities ``(B, T, max c_j)`` (padded
        classes get 0) for images ``(B, H, W, C)``."""
        return ops.softmax(self(x, training=False), axis=-1)

    # -- hyper-parameters and config ------------------------------------

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "num_classes": list(self.num_classes),
            "input_shape": list(self.image_shape),
            "conv_blocks": [list(b) for b in self.conv_blocks],
            "fc_units": list(self.fc_units),
            "ce_reduction": self.ce_reduction,
            "head_stddev": self.head_stddev,
            "hyperparameters": self.get_hyperparameters(),
        })
        return config
