"""Deep-AMTFL's asymmetric task-to-feature feedback (Lee et al., ICML 2018)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

from amtfl_tf.validation import check_choice
from amtfl_tf.validation import check_int
from amtfl_tf.validation import check_nonnegative

REDUCTIONS = ("mean", "sum")


def feedback_order(batch: int | None, features: int, tasks: int) -> str:
    """Which association of ``Z W A`` (Z: batch × features, W: features ×
    tasks, A: tasks × features) takes fewer multiply-adds.

    Returns ``"outputs_first"`` for ``(Z W) A`` (2·B·k·T) or
    ``"transfer_first"`` for ``Z (W A)`` (k²·T + B·k²). An unknown batch
    (None, a symbolic dimension) is compared in the large-batch limit,
    2·T against k.
    """
    k, t = int(features), int(tasks)
    if batch is None:
        return "outputs_first" if 2 * t <= k else "transfer_first"
    b = int(batch)
    return ("outputs_first" if 2 * b * k * t <= k * k * t + b * k * k
            else "transfer_first")


@keras.saving.register_keras_serializable(package="amtfl_tf")
class AsymmetricFeedback(keras.layers.Layer):
    """Reconstructs shared features from the task outputs through A.

    Deep-AMTFL (Eq. 6 and 7) feeds the T task outputs ``O = Z W`` back to
    the k shared features through a task-to-feature matrix ``A`` (T × k):
    ``Ẑ = σ(O A + b)``, and penalises ``γ ||Ẑ − Z||²``. Row ``a_t`` of A is
    task t's outgoing feedback; the model multiplies task t's loss by
    ``1 + α ||a_t||₁`` (:meth:`task_weights`), so unreliable (high-loss)
    tasks are pushed to feed the features less. The bias ``b`` is the "ReLU
    with a bias term" of the paper's Fig. 2(d) (the authors' code has it).

    Args:
      num_tasks: T, the width of the task outputs.
      activation: σ of the reconstruction; ``"relu"`` (paper) or
        ``"linear"`` (the synthetic experiment's linear features).
      use_bias: add the bias ``b`` (k,).
      gamma: if > 0, the layer adds ``gamma * reconstruction_error`` to its
        losses on every call (for use inside any Keras model). Leave 0 when
        the model adds the term itself. A layer's losses count only where
        the layer runs: in a functional model, ``Ẑ`` must be in the graph
        between the inputs and the outputs, e.g. among the outputs with no
        loss of its own (``keras.Model(z, [logits, z_hat])`` compiled with
        ``loss=[..., None]``; see the example). ``keras.Model(z, logits)``
        leaves the layer, and so the penalty, out of the model.
      reduction: ``"mean"``: mean over samples of Σ_features (Ẑ − Z)²
        (the authors' code; batch-size independent); ``"sum"``: the squared
        Frobenius norm over the batch, as Eq. 6 prints it.
      stop_gradient_target: treat Z as a constant target (the authors' code
        does not; default False keeps the reconstruction training Z).
      feedback_initializer: initializer of A (authors' code N(0, 0.01²)).
      bias_initializer, feedback_regularizer, feedback_constraint: as usual.

    Call arguments:
      inputs: ``[z, task_outputs]``, shapes ``(B, k)`` and ``(B, T)``.

    Returns:
      The reconstruction ``Ẑ`` of shape ``(B, k)``.

    Example (``Ẑ`` is an output, so ``γ‖Ẑ − Z‖²`` is in the model's loss):

    >>> z = keras.Input((8,))
    >>> logits = keras.layers.Dense(3)(z)
    >>> z_hat = AsymmetricFeedback(3, gamma=0.01)([z, logits])
    >>> model = keras.Model(z, [logits, z_hat])
    >>> model.compile("adam", loss=[
    ...     keras.losses.BinaryCrossentropy(from_logits=True), None])
    >>> len(model.losses)   # the penalty, once the model has run
    0
    >>> _ = model(keras.ops.zeros((2, 8)))
    >>> len(model.losses)
    1
    """

    def __init__(self, num_tasks: int, activation: Any = "relu",
                 use_bias: bool = True, gamma: float = 0.0,
                 reduction: str = "mean",
                 stop_gradient_target: bool = False,
                 feedback_initializer: Any = None,
                 bias_initializer: Any = "zeros",
                 feedback_regularizer: Any = None,
                 feedback_constraint: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # numpy ints (e.g. a task count read from an array) are ints too
        self.num_tasks = check_int("num_tasks", num_tasks)
        self.gamma = check_nonnegative("gamma", gamma)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.stop_gradient_target = bool(stop_gradient_target)
        self.feedback_initializer = keras.initializers.get(
            feedback_initializer
            or keras.initializers.RandomNormal(stddev=0.01))
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.feedback_regularizer = keras.regularizers.get(
            feedback_regularizer)
        self.feedback_constraint = keras.constraints.get(feedback_constraint)

    def build(self, input_shape: Sequence[Sequence[int | None]]) -> None:
        if not isinstance(input_shape, (list, tuple)) or len(
                input_shape) != 2 or not isinstance(input_shape[0],
                                                    (list, tuple)):
            raise ValueError(
                "AsymmetricFeedback expects inputs [z, task_outputs]. "
                f"Received: input_shape={input_shape}")
        z_shape, o_shape = input_shape
        if len(z_shape) != 2 or len(o_shape) != 2:
            raise ValueError(
                "z and task_outputs must be rank 2, (batch, k) and (batch, "
                f"T). Received: input_shape={input_shape}")
        if o_shape[-1] != self.num_tasks:
            raise ValueError(
                f"task_outputs must have num_tasks={self.num_tasks} columns. "
                f"Received: task_outputs shape {o_shape}")
        check_same_batch(z_shape, o_shape)
        k = z_shape[-1]
        self.feedback = self.add_weight(
            name="feedback", shape=(self.num_tasks, k),
            initializer=self.feedback_initializer,
            regularizer=self.feedback_regularizer,
            constraint=self.feedback_constraint)
        self.bias = self.add_weight(
            name="bias", shape=(k,), initializer=self.bias_initializer
        ) if self.use_bias else None

    def call(self, inputs: Sequence[Any]) -> Any:
        z, outputs = inputs
        check_same_batch(z.shape, outputs.shape)
        z_hat = ops.matmul(outputs, self.feedback)
        if self.use_bias:
            z_hat = z_hat + self.bias
        z_hat = self.activation(z_hat)
        if self.gamma > 0:
            self.add_loss(self.gamma * self.reconstruction_error(z, z_hat))
        return z_hat

    def reconstruct_from_features(self, z: Any, task_kernel: Any,
                                  task_bias: Any = None) -> Any:
        """``σ((Z W + c) A + b)`` from the features Z and the task layer.

        Equal to ``self([z, z @ task_kernel + task_bias])``. The product is
        associated in the cheaper order for the shapes (see
        :func:`feedback_order`): ``(Z W) A`` costs about 2·B·k·T
        multiply-adds, ``Z (W A)`` about k²·T + B·k². For Table 1 MNIST's
        AMTFL (B = 1,000, k = 500, T = 10) the first makes the whole
        training step 2.2× faster (``benchmarks/levers.py``).
        """
        batch = z.shape[0] if len(z.shape) == 2 else None
        k, t = task_kernel.shape[0], task_kernel.shape[1]
        if feedback_order(batch, k, t) == "outputs_first":
            z_hat = ops.matmul(ops.matmul(z, task_kernel), self.feedback)
        else:
            z_hat = ops.matmul(z, ops.matmul(task_kernel, self.feedback))
        if task_bias is not None:
            z_hat = z_hat + ops.matmul(task_bias[None, :],
                                       self.feedback)[0]
        if self.use_bias:
            z_hat = z_hat + self.bias
        return self.activation(z_hat)

    def reconstruction_error(self, z: Any, z_hat: Any) -> Any:
        """||Ẑ − Z||² under this layer's ``reduction``."""
        if self.stop_gradient_target:
            z = ops.stop_gradient(z)
        per_sample = ops.sum(ops.square(z_hat - z), axis=-1)
        if self.reduction == "sum":
            return ops.sum(per_sample)
        return ops.mean(per_sample)

    def outgoing_l1(self) -> Any:
        """``||a_t||₁`` of every task, shape ``(T,)``."""
        return ops.sum(ops.abs(self.feedback), axis=1)

    def task_weights(self, alpha: Any) -> Any:
        """The loss weights ``1 + α ||a_t||₁``, shape ``(T,)``."""
        return 1.0 + alpha * self.outgoing_l1()

    def transfer_matrix(self, task_kernel: Any) -> Any:
        """The implied inter-task transfer ``A W`` (T × T) for the task layer
        kernel ``W`` (k × T); entry (s, t) is the transfer from task s to t
        through the features (the paper's Figs. 4(h) and 6(b))."""
        return ops.matmul(self.feedback, task_kernel)

    def compute_output_shape(self, input_shape: Sequence[Sequence[int | None]]
                             ) -> tuple[int | None, ...]:
        return tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "num_tasks": self.num_tasks,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "gamma": self.gamma,
            "reduction": self.reduction,
            "stop_gradient_target": self.stop_gradient_target,
            "feedback_initializer": keras.initializers.serialize(
                self.feedback_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer),
            "feedback_regularizer": keras.regularizers.serialize(
                self.feedback_regularizer),
            "feedback_constraint": keras.constraints.serialize(
                self.feedback_constraint),
        })
        return config


def check_same_batch(z_shape: Sequence[int | None],
                     outputs_shape: Sequence[int | None]) -> None:
    """``z`` and the task outputs describe the same samples: their batch
    sizes, where both are known, are equal (a batch of 1 would otherwise
    broadcast against the other without a word)."""
    bz, bo = tuple(z_shape)[0], tuple(outputs_shape)[0]
    if bz is not None and bo is not None and int(bz) != int(bo):
        raise ValueError(
            "z and task_outputs must have the same batch size (one row per "
            f"sample). Received: z.shape={tuple(z_shape)}, "
            f"task_outputs.shape={tuple(outputs_shape)}")
