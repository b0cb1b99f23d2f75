"""FactorisedLayer: the common base of DMTRL's factorised layers.

Yang & Hospedales, "Deep Multi-task Representation Learning: A Tensor
Factorisation Approach", ICLR 2017 (arXiv:1605.06391). The public layers
(:class:`TuckerDense`, :class:`TuckerConv2D`, :class:`TTDense`,
:class:`TTConv2D`, :class:`LAFDense`, :class:`LAFConv2D`) are thin
subclasses of :class:`FactorisedDense` / :class:`FactorisedConv2D`
(:mod:`amtfl_tf.layers.factorised`), which extend
:class:`FactorisedLayer` here; the factorisation (Tucker / TT / LAF)
is a small strategy object (:mod:`amtfl_tf.layers.factor_strategies`).

**Weights.** A layer of T tasks holds the factors of the stacked weight
tensor ``W`` with the task axis last: ``D_in × D_out × T`` (dense) or
``H × W × C × M × T`` (conv), plus an *unshared* bias per task, ``(T,
D_out)`` / ``(T, M)``. Weight names are stable: Tucker ``core``,
``factor_0`` … ``factor_{N−1}`` (``factor_{N−1}`` is the T × K_N task
factor); TT ``tt_core_0`` ``(D_1, K_1)`` … ``tt_core_{N−1}`` ``(K_{N−1},
T)`` (task-specific); LAF ``shared_factor`` ``((Π D_n) × K)`` and
``task_factor`` ``(K × T)``; then ``bias``. Every call synthesises all T
kernels from the factors ("tensor composition", Sec. 3.3) with one
``einsum``, directly in the axis order the batched op needs, and applies
them; nothing is decomposed during training.

The task axis is carried through the activations (see
:mod:`amtfl_tf.layers.factorised`).

**Initial values.** With the default ``kernel_initializer`` and no factor
initializers, ``build`` draws T *independent* per-task kernels from
``kernel_initializer`` (Glorot by default; Keras 3 initializers return the
same values on every call, so integer-seeded ones are re-seeded per task,
see :func:`~amtfl_tf.layers.stacked_kernels.random_stacked_kernels`) and
decomposes that stacked tensor at the layer's ranks (HOSVD / TT-SVD / SVD),
so the recomposed kernels have the intended scale (the paper's recommended
random initialisation; at full ranks they equal the draw). Giving the
family initializers instead (``core_initializer``, ``factor_initializer``)
draws the factors directly (their product's scale is then the user's
responsibility).
``from_stacked_kernels`` decomposes given kernels (e.g. T trained
single-task networks) at a relative error ε, which sets the ranks, builds
the layer and assigns the factor values with ``set_weights``; factor
values never go into ``get_config`` (only ranks and shapes do).
"""

from __future__ import annotations

import contextlib
from typing import Any, Mapping, Sequence, TypeVar

import keras
import numpy as np
from numpy.typing import ArrayLike
from keras import ops

from amtfl_tf.layers.factor_strategies import STRATEGIES
from amtfl_tf.layers.factor_strategies import factor_shapes
from amtfl_tf.layers.factor_strategies import initial_values
from amtfl_tf.layers.stacked_kernels import random_stacked_kernels
from amtfl_tf.layers.stacked_kernels import stack_kernels
from amtfl_tf.tensor import decompositions as dec
from amtfl_tf.validation import check_int

_L = TypeVar("_L", bound="FactorisedLayer")


def _constant(value):
    def init(shape, dtype=None):
        return ops.convert_to_tensor(np.reshape(value, shape), dtype=dtype)
    return init


def _eager_scope():
    """The NumPy draw and decomposition in ``build`` need eager values: with
    TensorFlow, lift them out of any ``tf.function`` being traced (a layer
    first called inside one, e.g. under ``jit_compile``)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        return tf.init_scope()
    return contextlib.nullcontext()


class FactorisedLayer(keras.layers.Layer):
    """Common base of the dense and conv factorised layers (not
    exported)."""

    _method = None
    _order = None  # N, the stacked tensor's order

    def __init__(self, num_tasks: int,
                 ranks: int | Sequence[int] | None,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros",
                 bias_regularizer: Any = None,
                 bias_constraint: Any = None,
                 families: Mapping[str, tuple[Any, Any, Any]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._strategy = STRATEGIES[self._method]
        self.num_tasks = check_int("num_tasks", num_tasks)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        families = dict(families or {})
        if set(families) != set(self._strategy.families):
            raise ValueError(
                f"internal: families {sorted(families)} do not match "
                f"{self._strategy.families}")
        given = []
        for fam in self._strategy.families:
            init, reg, cons = families[fam]
            setattr(self, f"{fam}_initializer",
                    keras.initializers.get(init))
            setattr(self, f"{fam}_regularizer", keras.regularizers.get(reg))
            setattr(self, f"{fam}_constraint", keras.constraints.get(cons))
            given.append(init is not None)
        if any(given) and not all(given):
            names = [f"{f}_initializer" for f in self._strategy.families]
            raise ValueError(
                f"Give all of {names} (random factors) or none of them "
                "(decompose a draw of kernel_initializer). Received: " +
                ", ".join(f"{n}={families[f][0]!r}" for n, f in
                          zip(names, self._strategy.families)))
        self._random_factors = all(given) and bool(given)
        self.ranks = self._strategy.check_ranks(
            ranks, self._order, self._known_dims())
        self._skip_initial_values = False
        self._stacked_shape = None
        self._factor_vars = {}

    # -- subclasses ---------------------------------------------------------

    def _known_dims(self):
        """Mode index → size for the stacked dims known before build."""
        raise NotImplementedError

    def _in_dim(self, input_shape):
        """Validates an input shape and returns D_in / C."""
        raise NotImplementedError

    def _check_layout(self, input_shape, rank, layout, last_name):
        """The input checks every factorised layer shares: rank ``rank``
        (with the task axis) or ``rank - 1`` (shared input), the task axis
        size, a known last dimension. Returns ``(shape, last_dim)``."""
        shape = tuple(input_shape)
        cls = self.__class__.__name__
        if len(shape) not in (rank - 1, rank):
            raise ValueError(
                f"{cls} expects inputs of shape {layout}. Received: "
                f"input_shape={shape}")
        if len(shape) == rank and shape[1] is not None and \
                shape[1] != self.num_tasks:
            raise ValueError(
                f"{cls} has num_tasks={self.num_tasks} but the input's task "
                f"axis (axis 1) has {shape[1]}. Received: input_shape={shape}")
        if shape[-1] is None:
            raise ValueError(
                f"{cls} needs a known {last_name} dimension. Received: "
                f"input_shape={shape}")
        return shape, int(shape[-1])

    def _stacked_shape_for(self, in_dim):
        raise NotImplementedError

    # -- build ---------------------------------------------------------------

    @property
    def method(self) -> str:
        """``"tucker"``, ``"tt"`` or ``"laf"``."""
        return self._method

    @property
    def stacked_shape(self) -> tuple[int, ...] | None:
        """The stacked kernel shape ``(…, T)`` (known after build)."""
        return self._stacked_shape

    def build(self, input_shape: Sequence[int | None]) -> None:
        in_dim = self._in_dim(input_shape)
        shape = self._stacked_shape_for(in_dim)
        if self._method != "full":
            self.ranks = dec.layer_ranks(self._method, shape, self.ranks)
        self._stacked_shape = shape
        shapes = factor_shapes(self._method, shape, self.ranks)
        values = None
        if not self._random_factors and not self._skip_initial_values:
            with _eager_scope():
                stacked = random_stacked_kernels(
                    shape[:-1], self.num_tasks, self.kernel_initializer)
                values = initial_values(self._method, stacked, self.ranks)
        for name, wshape in shapes.items():
            fam = self._strategy.family(name)
            if values is not None:
                init = _constant(values[name])
            elif self._skip_initial_values:
                init = "zeros"
            else:
                init = getattr(self, f"{fam}_initializer")
            self._factor_vars[name] = self.add_weight(
                name=name, shape=wshape, initializer=init,
                regularizer=getattr(self, f"{fam}_regularizer", None),
                constraint=getattr(self, f"{fam}_constraint", None))
        self.bias = self.add_weight(
            name="bias", shape=(self.num_tasks, shape[-2]),
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint) if self.use_bias else None

    # -- synthesis -----------------------------------------------------------

    def _weights_dict(self):
        if not self._factor_vars:
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' is not built yet;"
                " call it on an input or build(input_shape) first.")
        return dict(self._factor_vars)

    def _kernel(self, out_axes):
        """All T kernels in the axis order ``out_axes`` of the stacked
        tensor (a permutation of ``range(N)``)."""
        return self._strategy.synthesise(
            self._weights_dict(), self._stacked_shape, tuple(out_axes))

    def recompose(self) -> Any:
        """The full stacked kernel tensor ``W`` (task axis last): ``(D_in,
        D_out, T)`` or ``(H, W, C, M, T)``."""
        return self._kernel(range(self._order))

    def task_factor(self) -> Any:
        """The K × T task matrix used by the sharing strength ρ (Eq. 9):
        LAF's S, Tucker's ``U^(N)ᵀ``, TT's last core."""
        return self._strategy.task_factor(self._weights_dict(), self._order)

    # -- initialisation from kernels -----------------------------------------

    @classmethod
    def _layer_args_for(cls, shape):
        raise NotImplementedError

    @classmethod
    def _build_shape_for(cls, shape):
        raise NotImplementedError

    @classmethod
    def from_stacked_kernels(cls: type[_L], kernels: ArrayLike,
                             biases: ArrayLike | None = None,
                             eps: float | None = 0.1,
                             ranks: int | Sequence[int] | None = None,
                             tt_eps_split: str = "per_unfolding",
                             **layer_kwargs: Any) -> _L:
        """A built layer initialised by decomposing T kernels (DMTRL Sec. 4).

        Args:
          kernels: the stacked tensor ``(D_in, D_out, T)`` /
            ``(H, W, C, M, T)`` (task axis last), or a list of T per-task
            kernels (e.g. the kernels of T trained single-task layers, or
            :func:`random_stacked_kernels`).
          biases: optional ``(T, units)`` array or list of T bias vectors.
          eps: relative error that sets the ranks (paper: 0.1).
          ranks: explicit ranks (truncated decomposition at them); they
            take precedence over ``eps``.
          tt_eps_split: TT only: ``"per_unfolding"`` (authors) or
            ``"oseledets"``.
          **layer_kwargs: other constructor arguments (activation, …);
            units/filters, kernel_size, num_tasks and ranks come from the
            kernels.

        Returns:
          The built layer; its ``ranks`` are those the decomposition chose.
        """
        stacked = stack_kernels(kernels, cls._order, "kernels")
        if cls._method != "tt" and tt_eps_split != "per_unfolding":
            raise ValueError(
                f"tt_eps_split applies to TT layers only. Received: "
                f"tt_eps_split={tt_eps_split!r}")
        if cls._method == "full":
            found, values = None, initial_values("full", stacked, None)
        else:
            found, values = dec.initial_factors(
                cls._method, stacked, eps=eps, ranks=ranks,
                tt_eps_split=tt_eps_split)
        layer = cls(**cls._layer_args_for(stacked.shape), ranks=found,
                    **layer_kwargs)
        layer._skip_initial_values = True
        layer.build(cls._build_shape_for(stacked.shape))
        if biases is not None:
            if not layer.use_bias:
                raise ValueError(
                    "biases were given but use_bias=False. Received: "
                    "use_bias=False")
            b = np.asarray(biases, dtype=np.float64)
            want = (stacked.shape[-1], stacked.shape[-2])
            if b.shape != want:
                raise ValueError(
                    f"biases must have shape {want} (num_tasks, units). "
                    f"Received: biases with shape {b.shape}")
            values = {**values, "bias": b}
        layer.set_weights([
            np.asarray(values[v.name]) if v.name in values
            else np.asarray(v) for v in layer.weights])
        return layer

    # -- config --------------------------------------------------------------

    def _base_config(self):
        config = {
            "num_tasks": self.num_tasks,
            "ranks": list(self.ranks) if isinstance(self.ranks, tuple)
            else self.ranks,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
        }
        for fam in self._strategy.families:
            init = getattr(self, f"{fam}_initializer")
            config[f"{fam}_initializer"] = (
                None if init is None else keras.initializers.serialize(init))
        config["bias_initializer"] = keras.initializers.serialize(
            self.bias_initializer)
        for fam in self._strategy.families:
            config[f"{fam}_regularizer"] = keras.regularizers.serialize(
                getattr(self, f"{fam}_regularizer"))
        config["bias_regularizer"] = keras.regularizers.serialize(
            self.bias_regularizer)
        for fam in self._strategy.families:
            config[f"{fam}_constraint"] = keras.constraints.serialize(
                getattr(self, f"{fam}_constraint"))
        config["bias_constraint"] = keras.constraints.serialize(
            self.bias_constraint)
        return config
