"""NDDR: Gao et al.'s neural discriminative dimensionality reduction layer
(a DAMTL baseline)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers.task_inputs import check_task_shapes
from amtfl_tf.validation import check_positive
from amtfl_tf.validation import check_unit_interval

# NDDR's weights in a saved file (.keras, .weights.h5), in this order: the
# layout of the layer before it composed keras.layers.BatchNormalization.
_BATCH_NORM_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")


def nddr_initial_kernel(num_tasks: int, channels: int,
                        self_weight: float = 0.9,
                        other_weight: float = 0.1) -> np.ndarray:
    """``(T·C, T·C)`` 1×1-conv kernel; column block t (task t's output)
    holds ``self_weight · I`` in row block t and ``other_weight · I`` in
    the other row blocks (Gao et al.'s ``[αI, βI]`` initialisation)."""
    blocks = np.full((num_tasks, num_tasks), other_weight, np.float64)
    np.fill_diagonal(blocks, self_weight)
    return np.kron(blocks, np.eye(channels))


class _BatchNormSavedByNDDR(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose variables its NDDR layer
    saves and loads with its own (see :meth:`NDDR.save_own_variables`)."""

    def save_own_variables(self, store):
        pass

    def load_own_variables(self, store):
        pass


@keras.saving.register_keras_serializable(package="amtfl_tf")
class NDDR(keras.layers.Layer):
    """Feature fusion of T task streams: concatenate, 1×1 conv, BN, ReLU.

    NDDR-CNN (Gao, Ma, Zhao, Liu, Yuille, "NDDR-CNN: Layerwise Feature
    Fusing in Multi-Task CNNs by Neural Discriminative Dimensionality
    Reduction", CVPR 2019): the T task features ``(…, C)`` are concatenated
    to ``(…, T·C)`` and every task reduces them back to C channels with its
    own 1×1 convolution, followed by batch normalisation and ReLU. The 1×1
    weights start as ``[αI, βI]`` (α = 0.9 for the task's own channels,
    β = 0.1 for the other task's, as in the original), biases at zero.

    All T convolutions are one ``(T·C, T·C)`` matrix (column block t is
    task t's conv); BN statistics are per output channel and task (one
    ``keras.layers.BatchNormalization`` over the ``T·C`` channels,
    ``batch_norm``; under a mixed precision policy it keeps float32
    statistics). Works on conv feature maps ``(B, H, W, C)`` and FC
    features ``(B, C)``.

    Weights: ``kernel`` (T·C, T·C), ``bias`` (T·C,) when
    ``use_bias``; with batch norm ``gamma``, ``beta`` and the
    non-trainable ``moving_mean``, ``moving_variance`` (T·C,), those of
    ``batch_norm``. Saved files hold them all as the layer's own, in that
    order.

    Args:
      self_weight: α, the initial weight of a task's own channels (0.9).
      other_weight: β, that of another task's channels (0.1).
      activation: applied after batch norm (``"relu"``).
      use_batch_norm: batch-normalise the reduced features.
      use_bias: add a bias after the 1×1 conv (default: only without BN).
      momentum, epsilon: of the batch norm's moving statistics.
      kernel_regularizer, kernel_constraint: for ``kernel`` (the original
        decays it).

    Call arguments:
      inputs: a list of T ≥ 2 tensors of one shape ``(batch, ..., C)``.
      training: batch statistics (True) or moving ones (False).

    Returns:
      A list of T tensors of that shape.

    Example:

    >>> a = np.ones((4, 3, 3, 2), "float32")
    >>> out_a, out_b = NDDR(use_batch_norm=False)([a, 2 * a])
    >>> [round(float(o[0, 0, 0, 0]), 4) for o in (out_a, out_b)]
    [1.1, 1.9]
    """

    def __init__(self, self_weight: float = 0.9, other_weight: float = 0.1,
                 activation: Any = "relu", use_batch_norm: bool = True,
                 use_bias: bool | None = None, momentum: float = 0.99,
                 epsilon: float = 1e-3, kernel_regularizer: Any = None,
                 kernel_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.self_weight = check_unit_interval("self_weight", self_weight)
        self.other_weight = check_unit_interval("other_weight", other_weight)
        self.activation = keras.activations.get(activation)
        self.use_batch_norm = bool(use_batch_norm)
        self.use_bias = (not self.use_batch_norm) if use_bias is None \
            else bool(use_bias)
        self.momentum = check_unit_interval("momentum", momentum)
        self.epsilon = check_positive("epsilon", epsilon)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.batch_norm = None

    def build(self, input_shape: Sequence[Sequence[int | None]]) -> None:
        self.num_tasks, self.channels = check_task_shapes(self, input_shape)
        width = self.num_tasks * self.channels
        init = nddr_initial_kernel(self.num_tasks, self.channels,
                                   self.self_weight, self.other_weight)

        def kernel_init(shape, dtype=None):
            return ops.cast(ops.convert_to_tensor(init), dtype or "float32")

        self.kernel = self.add_weight(
            name="kernel", shape=(width, width), initializer=kernel_init,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = self.add_weight(
            name="bias", shape=(width,), initializer="zeros") \
            if self.use_bias else None
        if self.use_batch_norm:
            self.batch_norm = _BatchNormSavedByNDDR(
                axis=-1, momentum=self.momentum, epsilon=self.epsilon,
                dtype=self.dtype_policy, name="batch_norm")
            self.batch_norm.build(tuple(input_shape[0][:-1]) + (width,))

    # the batch norm's variables, as the layer's attributes (None without)

    @property
    def gamma(self) -> Any:
        return self._batch_norm_weight("gamma")

    @property
    def beta(self) -> Any:
        return self._batch_norm_weight("beta")

    @property
    def moving_mean(self) -> Any:
        return self._batch_norm_weight("moving_mean")

    @property
    def moving_variance(self) -> Any:
        return self._batch_norm_weight("moving_variance")

    def _batch_norm_weight(self, name):
        bn = getattr(self, "batch_norm", None)
        return None if bn is None else getattr(bn, name)

    def _saved_variables(self):
        """kernel, [bias], [gamma, beta, moving_mean, moving_variance]."""
        own = [self.kernel] + ([self.bias] if self.use_bias else [])
        if self.batch_norm is None:
            return own
        return own + [getattr(self.batch_norm, n)
                      for n in _BATCH_NORM_WEIGHTS]

    def save_own_variables(self, store: Any) -> None:
        """Saves the batch norm's variables with the layer's own, in the
        layout of the hand-written batch norm this layer once had, so files
        of either version load in the other."""
        for i, v in enumerate(self._saved_variables()):
            store[f"{i}"] = v

    def load_own_variables(self, store: Any) -> None:
        variables = self._saved_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' expected {len(variables)} variables, "
                f"but received {len(store.keys())} variables during "
                "loading. Expected: "
                f"{[v.name for v in variables]}")
        for i, v in enumerate(variables):
            v.assign(store[f"{i}"])

    def call(self, inputs: Sequence[Any],
             training: bool = False) -> list[Any]:
        if len(inputs) != self.num_tasks:
            raise ValueError(
                f"NDDR was built for {self.num_tasks} tasks. Received: "
                f"{len(inputs)} inputs")
        z = ops.matmul(ops.concatenate(list(inputs), axis=-1), self.kernel)
        if self.use_bias:
            z = z + self.bias
        if self.use_batch_norm:
            z = self.batch_norm(z, training=training)
        z = self.activation(z)
        return [z[..., t * self.channels:(t + 1) * self.channels]
                for t in range(self.num_tasks)]

    def compute_output_shape(self, input_shape: Sequence[Sequence[int | None]]
                             ) -> list[tuple[int | None, ...]]:
        return [tuple(s) for s in input_shape]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "self_weight": self.self_weight,
            "other_weight": self.other_weight,
            "activation": keras.activations.serialize(self.activation),
            "use_batch_norm": self.use_batch_norm,
            "use_bias": self.use_bias,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer),
            "kernel_constraint": keras.constraints.serialize(
                self.kernel_constraint),
        })
        return config
