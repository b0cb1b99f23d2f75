"""The convolution of the factorised Conv2D layers: one grouped
``tf.nn.conv2d`` where TensorFlow can run and differentiate it (see
:mod:`amtfl_tf.layers.factorised` for why and its limits)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops


_GROUPED_SUPPORT = {}


def grouped_conv_supported(dtype: Any) -> bool:
    """Whether a grouped ``Conv2D`` runs *and differentiates* in ``dtype``.

    JAX and PyTorch support grouped convolutions natively. TensorFlow 2.21
    runs them forward everywhere, but on CPU their gradients exist only
    through oneDNN (float32, the x86 default); with oneDNN off
    (``TF_ENABLE_ONEDNN_OPTS=0``, non-x86 builds) or in float64 the
    backward pass raises "Gradients for grouped convolutions are not
    supported on CPU". The answer is probed once per dtype with a tiny
    eager convolution and its gradient on the default device and cached.
    """
    if keras.backend.backend() != "tensorflow":
        return True
    key = str(dtype)
    if key not in _GROUPED_SUPPORT:
        import tensorflow as tf
        # eager even inside a tf.function; tapes are paused there, so the
        # two backward ops are called directly
        with tf.init_scope():
            try:
                x = tf.ones((1, 3, 3, 4), dtype)
                k = tf.ones((2, 2, 2, 4), dtype)
                y = tf.nn.conv2d(x, k, 1, "VALID")
                ones = [1, 1, 1, 1]
                tf.raw_ops.Conv2DBackpropInput(
                    input_sizes=[1, 3, 3, 4], filter=k, out_backprop=y,
                    strides=ones, padding="VALID")
                tf.raw_ops.Conv2DBackpropFilter(
                    input=x, filter_sizes=[2, 2, 2, 4], out_backprop=y,
                    strides=ones, padding="VALID")
                _GROUPED_SUPPORT[key] = True
            except (tf.errors.OpError, ValueError, TypeError):
                _GROUPED_SUPPORT[key] = False
    return _GROUPED_SUPPORT[key]


def conv2d(x: Any, kernel: Any, strides: int | Sequence[int],
           padding: str) -> Any:
    """``keras.ops.conv``, except on TensorFlow, where ``tf.nn.conv2d`` is
    called directly: Keras' TF backend compiles every grouped convolution
    with XLA, whose CPU backward pass was 50–100× slower than the oneDNN
    kernel here (4.5 s vs 55 ms per step for DMTRL's MNIST conv2, T = 10,
    batch 64)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        return tf.nn.conv2d(x, kernel, strides, padding.upper())
    return ops.conv(x, kernel, strides=strides, padding=padding)


def conv_output_length(length: int | None, kernel: int, stride: int,
                       padding: str) -> int | None:
    """Output length of a convolution along one spatial axis (None if
    unknown)."""
    if length is None:
        return None
    if padding == "same":
        return (length + stride - 1) // stride
    return (length - kernel) // stride + 1
