"""SoftMaskConv2D: DAMTL's soft-masked convolution (Feng & Chen).

What it shares with :class:`~amtfl_tf.layers.SoftMaskDense` (the mask Ψ,
``S = Ψ ⊙ W``, ``‖Ψ‖₁``) lives in
:class:`~amtfl_tf.layers.soft_mask_base.SoftMaskLayer`.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers.soft_mask_base import L1_REDUCTIONS
from amtfl_tf.layers.soft_mask_base import MASK_GRANULARITIES
from amtfl_tf.layers.soft_mask_base import MASK_PARAMETERIZATIONS
from amtfl_tf.layers.soft_mask_base import SoftMaskLayer
from amtfl_tf.layers.soft_mask_base import default_mask_initializer
from amtfl_tf.validation import check_choice
from amtfl_tf.validation import check_int
from amtfl_tf.validation import check_pair

# the mask options and their default live in soft_mask_base; re-exported
__all__ = ["L1_REDUCTIONS", "MASK_GRANULARITIES", "MASK_PARAMETERIZATIONS",
           "PADDINGS", "SoftMaskConv2D", "default_mask_initializer"]

PADDINGS = ("same", "valid")

_L = TypeVar("_L", bound="SoftMaskConv2D")


def _conv_length(n, k, stride, padding):
    if n is None:
        return None
    if padding == "same":
        return -(-n // stride)
    return max(0, (n - k) // stride + 1)


@keras.saving.register_keras_serializable(package="amtfl_tf")
class SoftMaskConv2D(SoftMaskLayer):
    """A 2-D convolution whose kernel is a soft-masked copy of another's.

    DAMTL (Feng & Chen, "Learning Multi-Tasks with Inconsistent Labels by
    using Auxiliary Big Task", arXiv:2201.02305, Eq. 1–2 and Algorithm 1)
    builds each task's network from a pre-trained auxiliary network by
    masking every conv kernel: ``S = Ψ ⊙ W`` with ``Ψ ≥ 0``, then
    ``F = σ(conv(F_prev, S) + b)``. ``W`` starts as the auxiliary kernel
    (:meth:`load_kernel`, :meth:`from_conv2d`) and is trained per task
    (Algorithm 1) unless ``kernel_trainable=False`` (Eq. 1's fixed
    ``W_aux``). ``λ₁‖Ψ‖₁`` (Eq. 4) is returned by :meth:`mask_l1` for the
    model to add to its objective; ``l1 > 0`` also adds ``l1·‖Ψ‖₁`` through
    Keras' ``add_loss`` for use in a plain Keras model.

    Weights: ``kernel`` (kh, kw, C_in, filters), ``mask`` (the stored
    parameter of Ψ: the kernel's shape, or ``(filters,)``), ``bias``.

    Args:
      filters: number of output channels.
      kernel_size: int or pair.
      strides: int or pair.
      padding: ``"same"`` or ``"valid"``.
      activation: σ (the paper: ReLU).
      use_bias: add the per-task bias ``b``.
      mask_granularity: ``"weight"`` (Eq. 1: one Ψ entry per kernel
        weight) or ``"filter"`` (one per output filter: pruning neurons).
      mask_parameterization: how Ψ ≥ 0 is kept: ``"constraint"`` (Ψ is the
        variable, projected onto Ψ ≥ 0 after every update by Keras'
        ``NonNeg``; entries can reach exactly 0), ``"softplus"`` (Ψ =
        softplus(ρ)) or ``"abs"`` (Ψ = |ρ|).
      kernel_trainable: train W (Algorithm 1) or keep it fixed.
      l1: if > 0, ``add_loss(l1 * mask_l1())`` on every call. Leave 0 when
        the model adds the term itself (DAMTL does).
      l1_reduction: ``"mean"`` (‖Ψ‖₁ divided by its number of entries;
        the default, see docs/damtl.md) or ``"sum"`` (Eq. 4 as printed).
      kernel_initializer, bias_initializer: used when the layer is not
        loaded from an auxiliary network.
      mask_initializer: the distribution of the initial Ψ (default
        U(0.9, 1.1)); mapped through the parameterisation's inverse.
      kernel_regularizer, bias_regularizer, kernel_constraint,
        bias_constraint: as in ``keras.layers.Conv2D``.

    Call arguments:
      inputs: ``(batch, height, width, channels)`` (channels last).

    Returns:
      ``(batch, new_height, new_width, filters)``.

    Example:

    >>> aux = keras.layers.Conv2D(8, 3, padding="same")
    >>> aux.build((None, 28, 28, 1))
    >>> layer = SoftMaskConv2D.from_conv2d(aux, mask_granularity="filter")
    >>> layer(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 28, 28, 8])
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "same",
                 activation: Any = None, use_bias: bool = True,
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
        self.filters = check_int("filters", filters)
        self.kernel_size = check_pair("kernel_size", kernel_size)
        self.strides = check_pair("strides", strides)
        self.padding = check_choice("padding", padding, PADDINGS)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape: Sequence[int | None]) -> None:
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "SoftMaskConv2D expects (batch, height, width, channels) "
                f"with known channels. Received: input_shape={input_shape}")
        self._build_weights(self.kernel_size + (int(input_shape[-1]),
                                                self.filters))
        self.input_spec = keras.layers.InputSpec(
            ndim=4, axes={-1: int(input_shape[-1])})

    def _linear(self, x, kernel):
        return ops.conv(x, kernel, strides=self.strides,
                        padding=self.padding)

    def compute_output_shape(self, input_shape: Sequence[int | None]
                             ) -> tuple[int | None, ...]:
        h = _conv_length(input_shape[1], self.kernel_size[0],
                         self.strides[0], self.padding)
        w = _conv_length(input_shape[2], self.kernel_size[1],
                         self.strides[1], self.padding)
        return (input_shape[0], h, w, self.filters)

    @classmethod
    def from_conv2d(cls: type[_L], conv: keras.layers.Conv2D,
                    **kwargs: Any) -> _L:
        """A built layer with ``conv``'s geometry, activation, kernel and
        bias (``W_{T_j}`` ← ``W_aux``). ``kwargs`` set the mask options.

        Raises:
          ValueError: ``conv`` is not a built, channels-last,
            undilated, ungrouped ``keras.layers.Conv2D``.
        """
        if not isinstance(conv, keras.layers.Conv2D) or not conv.built:
            raise ValueError("from_conv2d needs a built keras.layers.Conv2D."
                             f" Received: conv={conv!r}")
        if conv.data_format != "channels_last" or tuple(
                conv.dilation_rate) != (1, 1) or conv.groups != 1:
            raise ValueError(
                "from_conv2d supports channels_last, dilation 1, groups 1. "
                f"Received: data_format={conv.data_format!r}, "
                f"dilation_rate={conv.dilation_rate}, groups={conv.groups}")
        layer = cls(conv.filters, tuple(conv.kernel_size),
                    strides=tuple(conv.strides), padding=conv.padding,
                    activation=keras.activations.serialize(conv.activation),
                    use_bias=conv.use_bias, **kwargs)
        kernel = np.asarray(conv.kernel)
        layer.build((None, None, None, kernel.shape[2]))
        layer.load_kernel(kernel, np.asarray(conv.bias) if conv.use_bias
                          else None)
        return layer

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"filters": self.filters,
                       "kernel_size": self.kernel_size,
                       "strides": self.strides, "padding": self.padding,
                       **self._base_config()})
        return config
