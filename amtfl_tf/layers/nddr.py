"""NDDR: Gao et al.'s neural discriminative dimensionality reduction layer
(a DAMTL baseline)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers.cross_stitch import _check_task_shapes
from amtfl_tf.layers.cross_stitch import _unit_interval


def nddr_initial_kernel(num_tasks, channels, self_weight=0.9,
                        other_weight=0.1):
    """``(T·C, T·C)`` 1×1-conv kernel; column block t (task t's output)
    holds ``self_weight · I`` in row block t and ``other_weight · I`` in
    the other row blocks (Gao et al.'s ``[αI, βI]`` initialisation)."""
    blocks = np.full((num_tasks, num_tasks), other_weight, np.float64)
    np.fill_diagonal(blocks, self_weight)
    return np.kron(blocks, np.eye(channels))


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
    task t's conv); BN statistics are per output channel and task. Works
    on conv feature maps ``(B, H, W, C)`` and FC features ``(B, C)``.

    Weights: ``kernel`` (T·C, T·C), ``bias`` (T·C,) when
    ``use_bias``; with batch norm ``gamma``, ``beta`` and the
    non-trainable ``moving_mean``, ``moving_variance`` (T·C,).

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

    def __init__(self, self_weight=0.9, other_weight=0.1,
                 activation="relu", use_batch_norm=True, use_bias=None,
                 momentum=0.99, epsilon=1e-3, kernel_regularizer=None,
                 kernel_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.self_weight = _unit_interval("self_weight", self_weight)
        self.other_weight = _unit_interval("other_weight", other_weight)
        self.activation = keras.activations.get(activation)
        self.use_batch_norm = bool(use_batch_norm)
        self.use_bias = (not self.use_batch_norm) if use_bias is None \
            else bool(use_bias)
        self.momentum = _unit_interval("momentum", momentum)
        try:
            ok = float(epsilon) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"epsilon must be > 0. Received: "
                             f"epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, input_shape):
        self.num_tasks, self.channels = _check_task_shapes(self, input_shape)
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
            self.gamma = self.add_weight(name="gamma", shape=(width,),
                                         initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(width,),
                                        initializer="zeros")
            self.moving_mean = self.add_weight(
                name="moving_mean", shape=(width,), initializer="zeros",
                trainable=False)
            self.moving_variance = self.add_weight(
                name="moving_variance", shape=(width,), initializer="ones",
                trainable=False)

    def call(self, inputs, training=False):
        if len(inputs) != self.num_tasks:
            raise ValueError(
                f"NDDR was built for {self.num_tasks} tasks. Received: "
                f"{len(inputs)} inputs")
        z = ops.matmul(ops.concatenate(list(inputs), axis=-1), self.kernel)
        if self.use_bias:
            z = z + self.bias
        if self.use_batch_norm:
            if training:
                axes = list(range(len(z.shape) - 1))
                mean, var = ops.moments(z, axes=axes)
                m = self.momentum
                self.moving_mean.assign(
                    m * self.moving_mean + (1.0 - m) * ops.cast(
                        mean, self.moving_mean.dtype))
                self.moving_variance.assign(
                    m * self.moving_variance + (1.0 - m) * ops.cast(
                        var, self.moving_variance.dtype))
            else:
                mean, var = self.moving_mean, self.moving_variance
            z = (z - mean) * ops.rsqrt(var + self.epsilon) * self.gamma \
                + self.beta
        z = self.activation(z)
        return [z[..., t * self.channels:(t + 1) * self.channels]
                for t in range(self.num_tasks)]

    def compute_output_shape(self, input_shape):
        return [tuple(s) for s in input_shape]

    def get_config(self):
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
