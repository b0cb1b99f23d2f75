"""SoftMaskConv2D: DAMTL's soft-masked convolution (Feng & Chen).

The private base :class:`_SoftMaskLayer` holds what the conv layer and
:class:`~amtfl_tf.layers.SoftMaskDense` share: the non-negative mask Ψ
(granularity, parameterisation, initial values), the masked kernel
``S = Ψ ⊙ W`` and the ℓ1 penalty ``‖Ψ‖₁``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

MASK_GRANULARITIES = ("weight", "filter")
MASK_PARAMETERIZATIONS = ("constraint", "softplus", "abs")
L1_REDUCTIONS = ("mean", "sum")
PADDINGS = ("same", "valid")
_SOFTPLUS_FLOOR = 1e-6


def default_mask_initializer():
    """Ψ ~ U(0.9, 1.1): "random initialisation" (Algorithm 1) around one,
    so that ``S = Ψ ⊙ W_aux`` starts close to the auxiliary kernel."""
    return keras.initializers.RandomUniform(0.9, 1.1)


def _check_int(name, value, low=1):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) \
            or value < low:
        raise ValueError(f"{name} must be an int >= {low}. Received: "
                         f"{name}={value!r}")
    return int(value)


def _check_pair(name, value):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            and v >= 1 for v in value):
        raise ValueError(f"{name} must be an int >= 1 or a pair of them. "
                         f"Received: {name}={value!r}")
    return tuple(int(v) for v in value)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}. Received: "
                         f"{name}={value!r}")
    return value


class _SoftMaskLayer(keras.layers.Layer):
    """Shared machinery: a kernel ``W``, a mask Ψ ≥ 0 and a bias.

    Subclasses define ``_kernel_shape(input_shape)``, ``_linear(x, s)``
    and ``_out_axis_size``.
    """

    def __init__(self, activation=None, use_bias=True,
                 mask_granularity="weight",
                 mask_parameterization="constraint", kernel_trainable=True,
                 l1=0.0, l1_reduction="mean",
                 kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", mask_initializer=None,
                 kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.mask_granularity = _check_choice(
            "mask_granularity", mask_granularity, MASK_GRANULARITIES)
        self.mask_parameterization = _check_choice(
            "mask_parameterization", mask_parameterization,
            MASK_PARAMETERIZATIONS)
        self.kernel_trainable = bool(kernel_trainable)
        try:
            ok = float(l1) >= 0 and math.isfinite(float(l1))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"l1 must be a finite number >= 0. Received: "
                             f"l1={l1!r}")
        self.l1 = float(l1)
        self.l1_reduction = _check_choice("l1_reduction", l1_reduction,
                                          L1_REDUCTIONS)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.mask_initializer = keras.initializers.get(
            mask_initializer or default_mask_initializer())
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    # -- weights ---------------------------------------------------------

    def _build_weights(self, kernel_shape):
        units = kernel_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            trainable=self.kernel_trainable)
        mask_shape = (kernel_shape if self.mask_granularity == "weight"
                      else (units,))
        self.mask_raw = self.add_weight(
            name="mask", shape=mask_shape,
            initializer=self._raw_mask_initializer(),
            constraint=(keras.constraints.NonNeg()
                        if self.mask_parameterization == "constraint"
                        else None))
        self.bias = self.add_weight(
            name="bias", shape=(units,), initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint) if self.use_bias else None

    def _raw_mask_initializer(self):
        """Draws Ψ from ``mask_initializer`` and maps it to the stored
        variable (the inverse of the parameterisation)."""
        base = self.mask_initializer
        kind = self.mask_parameterization

        def init(shape, dtype=None):
            psi = ops.maximum(base(shape, dtype=dtype), 0.0)
            if kind == "softplus":
                psi = ops.maximum(psi, _SOFTPLUS_FLOOR)
                return ops.log(ops.expm1(psi))
            return psi

        return init

    # -- the paper's quantities ------------------------------------------

    def mask(self):
        """Ψ ≥ 0: the kernel's shape (``"weight"``) or ``(filters,)``
        (``"filter"``)."""
        if self.mask_parameterization == "softplus":
            return ops.softplus(self.mask_raw)
        if self.mask_parameterization == "abs":
            return ops.abs(self.mask_raw)
        return self.mask_raw  # kept >= 0 by the NonNeg constraint

    def masked_kernel(self):
        """``S = Ψ ⊙ W`` (Eq. 1); a filter mask scales whole filters."""
        return ops.multiply(self.kernel, self.mask())

    def mask_l1(self):
        """``‖Ψ‖₁`` under ``l1_reduction`` (``"mean"``: per entry)."""
        a = ops.abs(self.mask())
        return ops.mean(a) if self.l1_reduction == "mean" else ops.sum(a)

    def load_kernel(self, kernel, bias=None):
        """Set W (and b) to given values, e.g. the auxiliary network's
        trained kernel (``W_{T_j}`` ← ``W_aux``, Algorithm 1, line 1)."""
        kernel = np.asarray(kernel)
        if tuple(kernel.shape) != tuple(self.kernel.shape):
            raise ValueError(
                f"kernel must have shape {tuple(self.kernel.shape)}. "
                f"Received: kernel.shape={kernel.shape}")
        self.kernel.assign(kernel)
        if bias is not None:
            if not self.use_bias:
                raise ValueError("bias given to a layer with use_bias=False."
                                 " Received: bias of shape "
                                 f"{np.shape(bias)}")
            bias = np.asarray(bias)
            if tuple(bias.shape) != tuple(self.bias.shape):
                raise ValueError(
                    f"bias must have shape {tuple(self.bias.shape)}. "
                    f"Received: bias.shape={bias.shape}")
            self.bias.assign(bias)

    def call(self, inputs):
        y = self._linear(inputs, self.masked_kernel())
        if self.use_bias:
            y = y + self.bias
        if self.l1 > 0:
            self.add_loss(self.l1 * self.mask_l1())
        return self.activation(y)

    def _base_config(self):
        return {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "mask_granularity": self.mask_granularity,
            "mask_parameterization": self.mask_parameterization,
            "kernel_trainable": self.kernel_trainable,
            "l1": self.l1,
            "l1_reduction": self.l1_reduction,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer),
            "mask_initializer": keras.initializers.serialize(
                self.mask_initializer),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(
                self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(
                self.bias_constraint),
        }


def _conv_length(n, k, stride, padding):
    if n is None:
        return None
    if padding == "same":
        return -(-n // stride)
    return max(0, (n - k) // stride + 1)


@keras.saving.register_keras_serializable(package="amtfl_tf")
class SoftMaskConv2D(_SoftMaskLayer):
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

    def __init__(self, filters, kernel_size, strides=1, padding="same",
                 activation=None, use_bias=True, mask_granularity="weight",
                 mask_parameterization="constraint", kernel_trainable=True,
                 l1=0.0, l1_reduction="mean",
                 kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", mask_initializer=None,
                 kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
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
        self.filters = _check_int("filters", filters)
        self.kernel_size = _check_pair("kernel_size", kernel_size)
        self.strides = _check_pair("strides", strides)
        self.padding = _check_choice("padding", padding, PADDINGS)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
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

    def compute_output_shape(self, input_shape):
        h = _conv_length(input_shape[1], self.kernel_size[0],
                         self.strides[0], self.padding)
        w = _conv_length(input_shape[2], self.kernel_size[1],
                         self.strides[1], self.padding)
        return (input_shape[0], h, w, self.filters)

    @classmethod
    def from_conv2d(cls, conv, **kwargs):
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

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters,
                       "kernel_size": self.kernel_size,
                       "strides": self.strides, "padding": self.padding,
                       **self._base_config()})
        return config
