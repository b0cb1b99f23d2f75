"""``MultiTaskModel``: the base of every multi-task model in amtfl_tf.

Data. Two layouts (see docs/design): shared inputs, ``x: (B, d)`` with
``y: (B, T)`` (every sample counts for every task), or task-partitioned
inputs, ``x: {"x": (B, d), "task": (B,)}`` with ``y: (B,)``. The model
always outputs ``(B, T)``: every task's prediction for every sample.

Objective (:meth:`objective`, called by the train and test steps of
:class:`~amtfl_tf.models.base.MultiTaskBase`, which add the layer losses;
the forward pass returns its extra loss term with the outputs, so nothing
goes through ``add_loss``, which under ``tf.distribute`` mixed up the
replicas' terms)::

    Σ_t  w_t · (L_t + δ/√N_t · [task t in batch])  +  penalty  +  layer losses

- ``L_t``: task t's mean loss over its samples in the batch (absent tasks
  give 0); with ``per_task_mean=False`` the losses are pooled instead
  (sum over all samples / number of samples), as a plain network does.
- ``w_t``: the method's task weights (:meth:`task_weights`; 1 by default,
  ``1 + α||b_t||₁`` for AMTL, ``1 + α||a_t||₁`` for AMTFL).
- ``penalty``: the method's regularisers (:meth:`penalty`), written with the
  model's hyper-parameter variables.

Hyper-parameters (α, γ, μ, λ, ...) are non-trainable scalar variables, so a
grid search changes them with :meth:`set_hyperparameters` and reuses one
compiled train function (no retracing per grid point).

Under ``tf.distribute`` each replica divides its task sums by the task's
*global* sample count (an all-reduce), and replica-independent terms by the
number of replicas, so the summed replica losses equal the one-device loss
of the global batch exactly.

The per-task losses are reported as metrics ``task_loss_<t>``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import keras
import numpy as np
from keras import ops
from numpy.typing import ArrayLike

from amtfl_tf import objectives
from amtfl_tf.models.base import MultiTaskBase
from amtfl_tf.models.replicas import distribution
from amtfl_tf.models.task_metrics import PerTaskMean
from amtfl_tf.validation import check_nonnegative
from amtfl_tf.validation import check_per_sample
from amtfl_tf.validation import is_int


@keras.saving.register_keras_serializable(package="amtfl_tf")
class MultiTaskModel(MultiTaskBase):
    """Base class; subclasses implement :meth:`forward` and optionally
    :meth:`penalty` and :meth:`task_weights`.

    Args:
      num_tasks: T.
      input_dim: d, the feature dimension (weights are created at once),
        or the shape of one example, e.g. ``(28, 28, 1)`` for images.
      loss: ``"squared"`` (regression) or ``"logistic"`` (one-vs-all
        classification; outputs are logits); ``"logistic_clipped"`` is the
        logistic loss as the Deep-AMTFL code computes it
        (:mod:`amtfl_tf.objectives.losses`).
      per_task_mean: average each task's loss over its own samples (True)
        or pool all samples (False).
      delta: δ of the imbalance term δ/√N_t (0 disables it).
      task_sizes: N_t, the training-set size of every task (needed when
        ``delta > 0``).
      hyperparameters: initial values of the method's hyper-parameters
        (names in ``HYPERPARAMETERS``; missing ones take the defaults).
    """

    HYPERPARAMETERS: Mapping[str, float] = {}
    LOSSES: tuple[str, ...] = objectives.LOSSES

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 loss: str = "squared", per_task_mean: bool = True,
                 delta: float = 0.0, task_sizes: ArrayLike | None = None,
                 hyperparameters: Mapping[str, float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not is_int(num_tasks, 1):
            raise ValueError(f"num_tasks must be an int >= 1. Received: "
                             f"num_tasks={num_tasks!r}")
        shape = tuple(input_dim) if isinstance(input_dim, (list, tuple)) \
            else (input_dim,)
        if not shape or not all(is_int(v, 1) for v in shape):
            raise ValueError(
                "input_dim must be an int >= 1 or a shape of such ints. "
                f"Received: input_dim={input_dim!r}")
        if loss not in self.LOSSES:
            raise ValueError(
                f"loss must be one of {self.LOSSES}. Received: "
                f"loss={loss!r}")
        self.num_tasks = int(num_tasks)
        self.example_shape = tuple(int(v) for v in shape)
        self.input_dim = (self.example_shape[0] if len(shape) == 1
                          and not isinstance(input_dim, (list, tuple))
                          else list(self.example_shape))
        self.loss_kind = loss
        self.per_task_mean = bool(per_task_mean)
        self.delta = check_nonnegative("delta", delta)
        if delta and task_sizes is None:
            raise ValueError(
                "task_sizes are needed when delta > 0. Received: "
                f"delta={delta!r}, task_sizes=None")
        if task_sizes is not None:
            sizes = np.asarray(task_sizes, dtype=np.float64).reshape(-1)
            if sizes.shape != (self.num_tasks,):
                raise ValueError(
                    f"task_sizes must have num_tasks={self.num_tasks} "
                    f"entries. Received: {len(sizes)} entries")
            self.task_sizes = [float(s) for s in sizes]
            imbalance = objectives.imbalance_term(self.delta, sizes)
        else:
            self.task_sizes = None
            imbalance = np.zeros(self.num_tasks)
        self._imbalance = imbalance.astype(np.float32)
        self._init_hyperparameters(hyperparameters)
        self.task_loss_tracker = PerTaskMean(self.num_tasks,
                                             name="task_losses")
        # the objective's other terms, logged as "penalty" (the method's
        # regularisers and layer losses) and "forward_loss" (the forward
        # pass's extra term, e.g. AMTFL's reconstruction)
        self.term_trackers = {
            "penalty": keras.metrics.Mean(name="penalty"),
            "forward_loss": keras.metrics.Mean(name="forward_loss")}

    # -- to implement ---------------------------------------------------

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        """``(B, d)`` features → ``(outputs, extra loss)``.

        Outputs are ``(B, T)`` (every task for every sample) when ``task``
        is None, else ``(B,)``: each sample's own task only, which is all a
        task-partitioned loss needs and costs O(B) instead of O(B·T) (139
        schools: the difference between seconds and minutes per fit).

        The extra loss is a scalar term computed from the forward pass
        (e.g. AMTFL's γ‖Ẑ − Z‖²), or 0. Returning it, instead of calling
        ``add_loss``, keeps it tied to this call: under ``tf.distribute``
        every replica gets its own term.
        """
        raise NotImplementedError

    def penalty(self) -> Any:
        """The method's regularisers (a scalar), using ``self.hp``."""
        return 0.0

    def task_weights(self) -> Any:
        """``(T,)`` loss weights, or None for all ones."""
        return None

    # -- Keras ------------------------------------------------------------

    def _features(self, inputs):
        x = inputs["x"] if isinstance(inputs, Mapping) else inputs
        if tuple(x.shape[1:]) != self.example_shape:
            want = ", ".join(map(str, self.example_shape))
            raise ValueError(f"x must have shape (batch, {want}). Received: "
                             f"x.shape={tuple(x.shape)}")
        return x

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.forward(self._features(inputs), training=training)[0]

    def _task_ids(self, x):
        """The batch's task ids (None for shared inputs), checked to lie in
        ``[0, num_tasks)``: an id out of range stops the step with an error
        naming ``task`` and printing the offending ids."""
        task = x.get("task") if isinstance(x, Mapping) else None
        if task is None or keras.backend.backend() != "tensorflow":
            return task
        import tensorflow as tf
        t = tf.cast(task, tf.int64)
        msg = (f"task ids must be in [0, num_tasks) with num_tasks="
               f"{self.num_tasks}. Received: task=")
        with tf.control_dependencies([
                tf.debugging.assert_non_negative(t, message=msg),
                tf.debugging.assert_less(
                    t, tf.constant(self.num_tasks, tf.int64), message=msg)]):
            return tf.identity(task)

    def check_targets(self, y: np.ndarray, task: np.ndarray | None,
                      has_task: bool, name: str = "") -> None:
        """Task-partitioned data take one target per sample, ``(B,)``;
        shared inputs one per sample and task, ``(B, num_tasks)``."""
        if has_task:
            check_per_sample(f"{name}y", y, "task-partitioned data (x={'x': "
                             "..., 'task': ...}) take one target per sample, "
                             "for its own task")
        elif y.ndim != 2 or y.shape[1] != self.num_tasks:
            raise ValueError(
                f"{name}y must have shape (batch, num_tasks) = (batch, "
                f"{self.num_tasks}) for shared inputs (every sample labelled "
                "for every task); task-partitioned data need x={'x': ..., "
                "'task': ...} and y of shape (batch,). Received: "
                f"{name}y.shape={y.shape}")

    def task_loss_vector(self, x: Any, y: Any, y_pred: Any,
                         sample_weight: Any = None) -> tuple[Any, Any]:
        """Per-task sums and counts of the batch (local to a replica).
        ``y_pred`` is ``(B, T)``, or ``(B,)`` own-task outputs."""
        task = self._task_ids(x)
        if task is None and len(y.shape) != 2:
            raise ValueError(
                "Shared-input data need y of shape (batch, num_tasks); "
                "task-partitioned data need x={'x': ..., 'task': ...}. "
                f"Received: y.shape={tuple(y.shape)} without task ids")
        return objectives.task_loss_sums(
            self.loss_kind, y, y_pred, self.num_tasks, task, sample_weight)

    def objective(self, x: Any, y: Any, y_pred: Any, extra: Any = 0.0,
                  sample_weight: Any = None) -> Any:
        """The total loss of one replica's batch (see the module doc)."""
        replicas, all_sum = distribution()
        sums, counts = self.task_loss_vector(x, y, y_pred, sample_weight)
        global_counts = all_sum(counts)
        present = ops.cast(global_counts > 0, sums.dtype)
        if self.per_task_mean:
            task_losses = sums / ops.maximum(global_counts, 1.0)
        else:
            task_losses = sums / ops.maximum(ops.sum(global_counts), 1.0)
        imbalance = ops.convert_to_tensor(self._imbalance, sums.dtype)
        task_losses = task_losses + imbalance * present / replicas
        weights = self.task_weights()
        if weights is not None:
            task_losses = ops.cast(weights, sums.dtype) * task_losses
        total = ops.sum(task_losses)
        forward = ops.cast(extra, sums.dtype)
        penalty = ops.cast(self.penalty(), sums.dtype)
        total = total + (forward + penalty) / replicas
        self.term_trackers["penalty"].update_state(penalty)
        self.term_trackers["forward_loss"].update_state(forward)
        self.task_loss_tracker.update_state(
            sums / ops.maximum(counts, 1.0), ops.cast(counts > 0, sums.dtype))
        return total

    def step_forward(self, x: Any, y: Any,
                     training: bool) -> tuple[Any, Any]:
        return self.forward(self._features(x), training=training,
                            task=self._task_ids(x))

    def extra_metrics(self) -> list[keras.metrics.Metric]:
        return [self.task_loss_tracker, *self.term_trackers.values()]

    def predict_own_task(self, x: ArrayLike, task: ArrayLike,
                         batch_size: int | None = None) -> np.ndarray:
        """Each sample's output for its own task, ``(N,)`` numpy: the
        entry ``[i, task[i]]`` of ``predict`` (which returns every task's
        output, ``(N, T)``). Raw outputs: logits for the logistic loss."""
        task = np.asarray(task)
        out = self.predict({"x": x, "task": task}, batch_size=batch_size,
                           verbose=0)
        return np.asarray(out)[np.arange(len(task)), task.astype(int)]

    def serving_input_shape(self) -> tuple[int, ...]:
        return self.example_shape

    def serving_outputs(self, x: Any) -> Any:
        """Per-task probabilities (sigmoid of the logits) for the logistic
        loss, raw outputs for regression."""
        out = self(x, training=False)
        logistic = self.loss_kind in objectives.LOGISTIC_LOSSES
        return ops.sigmoid(out) if logistic else out

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "num_tasks": self.num_tasks,
            "input_dim": self.input_dim,
            "loss": self.loss_kind,
            "per_task_mean": self.per_task_mean,
            "delta": self.delta,
            "task_sizes": self.task_sizes,
            "hyperparameters": self.get_hyperparameters(),
        })
        return config

