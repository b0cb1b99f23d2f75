"""SoftMaskLayer: what DAMTL's soft-masked layers share (Feng & Chen).

The base of :class:`~amtfl_tf.layers.SoftMaskConv2D` and
:class:`~amtfl_tf.layers.SoftMaskDense` (not exported): the non-negative
mask Ψ (granularity, parameterisation, initial values), the masked kernel
``S = Ψ ⊙ W`` and the ℓ1 penalty ``‖Ψ‖₁``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops
from numpy.typing import ArrayLike

from amtfl_tf.validation import check_choice
from amtfl_tf.validation import check_nonnegative

MASK_GRANULARITIES = ("weight", "filter")
MASK_PARAMETERIZATIONS = ("constraint", "softplus", "abs")
L1_REDUCTIONS = ("mean", "sum")
_SOFTPLUS_FLOOR = 1e-6


def default_mask_initializer() -> keras.initializers.Initializer:
    """Ψ ~ U(0.9, 1.1): "random initialisation" (Algorithm 1) around one,
    so that ``S = Ψ ⊙ W_aux`` starts close to the auxiliary kernel."""
    return keras.initializers.RandomUniform(0.9, 1.1)


class SoftMaskLayer(keras.layers.Layer):
    """Shared machinery: a kernel ``W``, a mask Ψ ≥ 0 and a bias.

    Subclasses define ``_kernel_shape(input_shape)``, ``_linear(x, s)``
    and ``_out_axis_size``.
    """

    def __init__(self, activation: Any = None, use_bias: bool = True,
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
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.mask_granularity = check_choice(
            "mask_granularity", mask_granularity, MASK_GRANULARITIES)
        self.mask_parameterization = check_choice(
            "mask_parameterization", mask_parameterization,
            MASK_PARAMETERIZATIONS)
        self.kernel_trainable = bool(kernel_trainable)
        self.l1 = check_nonnegative("l1", l1)
        self.l1_reduction = check_choice("l1_reduction", l1_reduction,
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

    def mask(self) -> Any:
        """Ψ ≥ 0: the kernel's shape (``"weight"``) or ``(filters,)``
        (``"filter"``)."""
        if self.mask_parameterization == "softplus":
            return ops.softplus(self.mask_raw)
        if self.mask_parameterization == "abs":
            return ops.abs(self.mask_raw)
        return self.mask_raw  # kept >= 0 by the NonNeg constraint

    def masked_kernel(self) -> Any:
        """``S = Ψ ⊙ W`` (Eq. 1); a filter mask scales whole filters."""
        return ops.multiply(self.kernel, self.mask())

    def mask_l1(self) -> Any:
        """``‖Ψ‖₁`` under ``l1_reduction`` (``"mean"``: per entry)."""
        a = ops.abs(self.mask())
        return ops.mean(a) if self.l1_reduction == "mean" else ops.sum(a)

    def load_kernel(self, kernel: ArrayLike,
                    bias: ArrayLike | None = None) -> None:
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

    def call(self, inputs: Any) -> Any:
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
