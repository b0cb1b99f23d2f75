"""SoftMaskDense: a fully connected layer with DAMTL's soft mask."""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers.soft_mask_base import SoftMaskLayer
from amtfl_tf.validation import check_int

_L = TypeVar("_L", bound="SoftMaskDense")


@keras.saving.register_keras_serializable(package="amtfl_tf")
class SoftMaskDense(SoftMaskLayer):
    """A dense layer whose kernel is ``S = Ψ ⊙ W`` with Ψ ≥ 0.

    The fully connected counterpart of :class:`SoftMaskConv2D` (DAMTL,
    Feng & Chen, arXiv:2201.02305, Eq. 1, applied to an FC weight). The
    paper masks only the conv layers; this layer serves variants that also
    mask FC layers, or plain Keras models. ``mask_granularity="filter"``
    gives one Ψ entry per output unit (pruning neurons).

    Weights: ``kernel`` (D_in, units), ``mask`` (same shape or
    ``(units,)``), ``bias`` (units,).

    Args:
      units: output width.
      activation, use_bias, mask_granularity, mask_parameterization,
        kernel_trainable, l1, l1_reduction, kernel_initializer,
        bias_initializer, mask_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: as in
        :class:`SoftMaskConv2D`.

    Call arguments:
      inputs: ``(batch, ..., D_in)``.

    Returns:
      ``(batch, ..., units)``.

    Example:

    >>> aux = keras.layers.Dense(4)
    >>> aux.build((None, 6))
    >>> layer = SoftMaskDense.from_dense(aux)
    >>> layer(np.zeros((3, 6), "float32")).shape
    TensorShape([3, 4])
    """

    def __init__(self, units: int, activation: Any = None,
                 use_bias: bool = True,
                 mask_granularity: str = "weight",
                 mask_parameterization: str = "constraint",
                 kernel_trainable: bool = True,
                 l1: float = 0.0, l1_reduction: str = "mean",
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros",
                 mask_initializer: Any = None,
                 kernel_regularizer: Any = None,
                 bias_regularizer: Any = None,
                 kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(
            activation=activation, use_bias=use_bias,
            mask_granularity=mask_granularity,
            mask_parameterization=mask_parameterization,
            kernel_trainable=kernel_trainable, l1=l1,
            l1_reduction=l1_reduction, kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            mask_initializer=mask_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint, **kwargs)
        self.units = check_int("units", units)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape: Sequence[int | None]) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "SoftMaskDense expects (batch, ..., features) with known "
                f"features. Received: input_shape={input_shape}")
        self._build_weights((int(input_shape[-1]), self.units))
        self.input_spec = keras.layers.InputSpec(
            min_ndim=2, axes={-1: int(input_shape[-1])})

    def _linear(self, x, kernel):
        return ops.matmul(x, kernel)

    def compute_output_shape(self, input_shape: Sequence[int | None]
                             ) -> tuple[int | None, ...]:
        return tuple(input_shape[:-1]) + (self.units,)

    @classmethod
    def from_dense(cls: type[_L], dense: keras.layers.Dense,
                   **kwargs: Any) -> _L:
        """A built layer with ``dense``'s width, activation, kernel and
        bias. ``kwargs`` set the mask options.

        Raises:
          ValueError: ``dense`` is not a built ``keras.layers.Dense``.
        """
        if not isinstance(dense, keras.layers.Dense) or not dense.built:
            raise ValueError("from_dense needs a built keras.layers.Dense. "
                             f"Received: dense={dense!r}")
        layer = cls(dense.units,
                    activation=keras.activations.serialize(dense.activation),
                    use_bias=dense.use_bias, **kwargs)
        kernel = np.asarray(dense.kernel)
        layer.build((None, kernel.shape[0]))
        layer.load_kernel(kernel, np.asarray(dense.bias) if dense.use_bias
                          else None)
        return layer

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"units": self.units, **self._base_config()})
        return config
