"""TaskConv2D: T independent 2-D convolutions run as one grouped op."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedConv2D


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TaskConv2D(FactorisedConv2D):
    """T task-specific convolutions with independent, unfactorised kernels.

    The STL layer of DMTRL's experiments (and UD-MTL's unshared conv
    layers) in the factorised layers' layout: activations ``(B, T, H, W,
    C)``, the T convolutions run as one grouped convolution (see
    ``amtfl_tf/layers/factorised.py`` for when it falls back to a per-task
    loop). Weights: ``kernel`` ``(T, kh, kw, C, filters)`` and ``bias``
    ``(T, filters)``; :meth:`task_factor` is ``I_T``.

    Args:
      filters, kernel_size, strides, padding (``"valid"``/``"same"``): as
        in ``keras.layers.Conv2D`` (channels last).
      num_tasks: T.
      ranks: must be None.
      activation, use_bias, kernel_initializer, bias_initializer,
        bias_regularizer, bias_constraint: as in ``keras.layers.Conv2D``.

    Call arguments:
      inputs: ``(batch, num_tasks, H, W, C)`` or ``(batch, H, W, C)``
        (shared by every task).

    Returns:
      ``(batch, num_tasks, H', W', filters)``.
    """

    _method = "full"

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 num_tasks: int, ranks: None = None,
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros",
                 bias_regularizer: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(
            filters, kernel_size, num_tasks, ranks, strides=strides,
            padding=padding, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            bias_constraint=bias_constraint, families={}, **kwargs)
