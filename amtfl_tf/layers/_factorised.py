"""Shared machinery of DMTRL's factorised layers (private module).

Yang & Hospedales, "Deep Multi-task Representation Learning: A Tensor
Factorisation Approach", ICLR 2017 (arXiv:1605.06391). The public layers
(:class:`TuckerDense`, :class:`TuckerConv2D`, :class:`TTDense`,
:class:`TTConv2D`, :class:`LAFDense`, :class:`LAFConv2D`) are thin
subclasses of the two bases here; the factorisation (Tucker / TT / LAF)
is a small strategy object.

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

**Task structure: the task axis is carried through the activations,** right
after the batch axis.

- Dense: ``(B, T, D_in) -> (B, T, D_out)``, one ``einsum("btd,tdo->bto")``.
  A rank-2 input ``(B, D_in)`` is the input shared by every task (the
  homogeneous MTL of one-vs-all MNIST): one matmul with the ``(D_in, T ·
  D_out)`` kernel, reshaped to ``(B, T, D_out)``.
- Conv2D: ``(B, T, H, W, C) -> (B, T, H', W', M)``. The T per-task
  convolutions run as ONE grouped convolution: the task axis is folded into
  the channels, ``(B, H, W, T · C)``, and convolved with the ``(H, W, C,
  T · M)`` kernel whose output channels are grouped by task, so
  ``groups = T`` (TF infers the group count from the channel ratio). A
  rank-4 input ``(B, H, W, C)`` (shared by every task) needs no grouping:
  one ordinary convolution with the ``(H, W, C, T · M)`` kernel.

  Why grouped, and its limits on TF 2.21 CPU (checked in this repo):
  grouped ``tf.nn.conv2d`` runs forward everywhere (eager, graph, XLA) and
  equals T separate convolutions, but on CPU its *gradients* exist only
  through oneDNN (the x86 default; float32 and bfloat16). In float64 or
  float16, or with ``TF_ENABLE_ONEDNN_OPTS=0``, the backward pass raises
  "Gradients for grouped convolutions are not supported on CPU"; the layer
  probes this once per dtype (:func:`grouped_conv_supported`) and then
  falls back to one convolution per task (same maths, T ops in the graph).
  ``keras.ops.conv`` is bypassed on TensorFlow because Keras compiles every
  grouped convolution with XLA, whose CPU backward pass is 50–100× slower.
  Forward+backward of DMTRL's MNIST conv2 (T = 10, batch 64, input (64, 12,
  12, 10 × 32), kernel 4 × 4 × 32 × (10 × 64)), float32, 2 shared cores:
  grouped 79 ms, per-task loop 151 ms, im2col (``extract_patches`` + one
  batched matmul) 329 ms, ``keras.ops.conv`` (XLA) ≈ 4.5 s;
  ``tf.vectorized_map`` was no faster than the loop. A block-diagonal
  ``(H, W, T·C, T·M)`` kernel would cost T times the FLOPs.
- Heterogeneous, task-partitioned data (Omniglot: every sample belongs to
  one task) are fed as *task-blocked batches* ``(b, T, …)``: b samples of
  EACH task stacked along the task axis, so ``x[:, t]`` holds task t's
  samples and only task t's kernel ever sees them. Losses are then computed
  per task slice of the output.

**Initial values.** With the default ``kernel_initializer`` and no factor
initializers, ``build`` draws T *independent* per-task kernels from
``kernel_initializer`` (Glorot by default; Keras 3 initializers return the
same values on every call, so integer-seeded ones are re-seeded per task,
see :func:`random_stacked_kernels`) and decomposes that stacked tensor at
the layer's ranks (HOSVD / TT-SVD / SVD), so the recomposed kernels have
the intended scale (the paper's recommended random initialisation; at full
ranks they equal the draw). Giving the family initializers instead
(``core_initializer``, ``factor_initializer``) draws the factors directly
(their product's scale is then the user's responsibility).
``from_stacked_kernels`` decomposes given kernels (e.g. T trained
single-task networks) at a relative error ε, which sets the ranks, builds
the layer and assigns the factor values with ``set_weights``; factor
values never go into ``get_config`` (only ranks and shapes do).
"""

from __future__ import annotations

import contextlib
import numbers

import keras
import numpy as np
from keras import ops

from amtfl_tf.tensor import decompositions as dec

_DIMS = "nopqrstu"   # einsum letters for the stacked tensor's axes
_RANKS = "abcdefgh"  # einsum letters for the ranks
PADDINGS = ("valid", "same")


# --------------------------------------------------------------------------
# Argument checks


def check_int(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < low:
        raise ValueError(
            f"{name} must be an int >= {low}. Received: {name}={value!r}")
    return int(value)


def check_pair(name, value):
    """An int or a pair of positive ints, returned as a tuple of 2."""
    pair = value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        pair = (value, value)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral)
            or v < 1 for v in pair):
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints. "
            f"Received: {name}={value!r}")
    return tuple(int(v) for v in pair)


# --------------------------------------------------------------------------
# Random stacked kernels


def _per_task_initializers(initializer, num_tasks):
    seed = getattr(initializer, "seed", None)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        config = initializer.get_config()
        return [initializer.__class__.from_config(
            {**config, "seed": int(seed) + t}) for t in range(num_tasks)]
    return [initializer] * num_tasks


def random_stacked_kernels(kernel_shape, num_tasks,
                           initializer="glorot_uniform", seed=None):
    """T independent per-task kernels stacked along a new last axis.

    DMTRL's recommended random initialisation (Sec. 4) draws the full weight
    tensor "by a suitable random weight distribution first, then do[es]
    decomposition". Each task's kernel is drawn from ``initializer`` with
    the per-task shape, so fan-in/fan-out are those of one task's kernel.
    Keras 3 initializers return the same values on every call (seeded or
    not), which would give T identical kernels and a rank-1 task mode
    (pitfall 5), so an initializer with an integer seed s is re-created
    with seeds s, s + 1, …, s + T − 1.

    Args:
      kernel_shape: one task's kernel shape, e.g. ``(D_in, D_out)`` or
        ``(H, W, C, M)``.
      num_tasks: T.
      initializer: a Keras initializer (name, config or instance).
      seed: optional int seed (replaces the initializer's own seed).

    Returns:
      float64 array ``kernel_shape + (T,)``.
    """
    num_tasks = check_int("num_tasks", num_tasks)
    init = keras.initializers.get(initializer)
    if seed is not None:
        seed = check_int("seed", seed, low=0)
        config = init.get_config()
        if "seed" in config:
            init = init.__class__.from_config({**config, "seed": seed})
    kernel_shape = tuple(int(d) for d in kernel_shape)
    draws = [np.asarray(i(kernel_shape, dtype="float64"), dtype=np.float64)
             for i in _per_task_initializers(init, num_tasks)]
    return np.stack(draws, axis=-1)


# --------------------------------------------------------------------------
# Factorisation strategies: weight shapes, families, synthesis


class _Tucker:
    name = "tucker"
    families = ("core", "factor")

    @staticmethod
    def check_ranks(ranks, order, known):
        ranks = dec.check_rank_sequence(ranks, order, "ranks",
                                        "one Tucker rank per mode")
        for n, d in known.items():
            if ranks[n] > d:
                raise ValueError(
                    f"Tucker rank K_{n + 1} = {ranks[n]} exceeds D_{n + 1} ="
                    f" {d}. Received: ranks={ranks}")
        return ranks

    @staticmethod
    def family(name):
        return "core" if name == "core" else "factor"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        core = _RANKS[:order]
        terms = [core] + [_DIMS[n] + _RANKS[n] for n in range(order)]
        out = "".join(_DIMS[a] for a in out_axes)
        operands = [w["core"]] + [w[f"factor_{n}"] for n in range(order)]
        return ops.einsum(",".join(terms) + "->" + out, *operands)

    @staticmethod
    def task_factor(w, order):
        return ops.transpose(w[f"factor_{order - 1}"])


class _TT:
    name = "tt"
    families = ("core",)

    @staticmethod
    def check_ranks(ranks, order, known):
        ranks = dec.check_rank_sequence(ranks, order - 1, "ranks",
                                        "the interior TT ranks K_1..K_{N-1}")
        # K_1 <= D_1 and K_{N-1} <= T whenever those dims are known
        for k, n in ((0, 0), (order - 2, order - 1)):
            if n in known and ranks[k] > known[n]:
                raise ValueError(
                    f"TT rank K_{k + 1} = {ranks[k]} exceeds D_{n + 1} = "
                    f"{known[n]}. Received: ranks={ranks}")
        return ranks

    @staticmethod
    def family(name):
        return "core"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        terms = [_DIMS[0] + _RANKS[0]]
        for k in range(1, order - 1):
            terms.append(_RANKS[k - 1] + _DIMS[k] + _RANKS[k])
        terms.append(_RANKS[order - 2] + _DIMS[order - 1])
        out = "".join(_DIMS[a] for a in out_axes)
        operands = [w[f"tt_core_{k}"] for k in range(order)]
        return ops.einsum(",".join(terms) + "->" + out, *operands)

    @staticmethod
    def task_factor(w, order):
        return w[f"tt_core_{order - 1}"]


class _LAF:
    name = "laf"
    families = ("factor",)

    @staticmethod
    def check_ranks(ranks, order, known):
        if isinstance(ranks, (tuple, list)) and len(ranks) == 1:
            ranks = ranks[0]
        rank = check_int("ranks", ranks)
        t = known[order - 1]
        if rank > t:
            raise ValueError(
                f"LAF rank K = {rank} exceeds num_tasks = {t} (K <= min(prod"
                f" D, T)). Received: ranks={ranks!r}")
        return rank

    @staticmethod
    def family(name):
        return "factor"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        shared = w["shared_factor"]
        shared = ops.reshape(shared, tuple(shape[:-1]) + (shared.shape[-1],))
        lead_letters = _DIMS[:order - 1]
        out = "".join(_DIMS[a] for a in out_axes)
        return ops.einsum(
            f"{lead_letters}a,a{_DIMS[order - 1]}->{out}", shared,
            w["task_factor"])

    @staticmethod
    def task_factor(w, order):
        return w["task_factor"]


class _Full:
    """Independent full per-task kernels ``(T, D_1, …)`` (batched STL, the
    benchmark's and the tests' reference); not a DMTRL method."""

    name = "full"
    families = ()

    @staticmethod
    def check_ranks(ranks, order, known):
        if ranks is not None:
            raise ValueError(
                f"Full per-task kernels take no ranks. Received: "
                f"ranks={ranks!r}")
        return None

    @staticmethod
    def family(name):
        return "kernel"

    @staticmethod
    def synthesise(w, shape, out_axes):
        order = len(shape)
        # stored (T, D_1, ..., D_{N-1}); stacked axis a lives at (a+1) % N
        perm = [(a + 1) % order for a in out_axes]
        return ops.transpose(w["kernel"], perm)

    @staticmethod
    def task_factor(w, order):
        t = w["kernel"].shape[0]
        return ops.eye(t)


STRATEGIES = {s.name: s for s in (_Tucker, _TT, _LAF, _Full)}


def _factor_shapes(method, shape, ranks):
    if method == "full":
        return {"kernel": (shape[-1],) + tuple(shape[:-1])}
    return dec.layer_factor_shapes(method, shape, ranks)


def _initial_values(method, stacked, ranks):
    if method == "full":
        return {"kernel": np.moveaxis(stacked, -1, 0)}
    return dec.initial_factors(method, stacked, ranks=ranks)[1]


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


# --------------------------------------------------------------------------
# Convolution


_GROUPED_SUPPORT = {}


def grouped_conv_supported(dtype):
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


def _conv2d(x, kernel, strides, padding):
    """``keras.ops.conv``, except on TensorFlow, where ``tf.nn.conv2d`` is
    called directly: Keras' TF backend compiles every grouped convolution
    with XLA, whose CPU backward pass was 50–100× slower than the oneDNN
    kernel here (4.5 s vs 55 ms per step for DMTRL's MNIST conv2, T = 10,
    batch 64)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        return tf.nn.conv2d(x, kernel, strides, padding.upper())
    return ops.conv(x, kernel, strides=strides, padding=padding)


# --------------------------------------------------------------------------
# Base layers


class FactorisedLayer(keras.layers.Layer):
    """Common base of the dense and conv factorised layers (private)."""

    _method = None
    _order = None  # N, the stacked tensor's order

    def __init__(self, num_tasks, ranks, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", bias_regularizer=None,
                 bias_constraint=None, families=None, **kwargs):
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
    def method(self):
        """``"tucker"``, ``"tt"`` or ``"laf"``."""
        return self._method

    @property
    def stacked_shape(self):
        """The stacked kernel shape ``(…, T)`` (known after build)."""
        return self._stacked_shape

    def build(self, input_shape):
        in_dim = self._in_dim(input_shape)
        shape = self._stacked_shape_for(in_dim)
        if self._method != "full":
            self.ranks = dec.layer_ranks(self._method, shape, self.ranks)
        self._stacked_shape = shape
        shapes = _factor_shapes(self._method, shape, self.ranks)
        values = None
        if not self._random_factors and not self._skip_initial_values:
            with _eager_scope():
                stacked = random_stacked_kernels(
                    shape[:-1], self.num_tasks, self.kernel_initializer)
                values = _initial_values(self._method, stacked, self.ranks)
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

    def recompose(self):
        """The full stacked kernel tensor ``W`` (task axis last): ``(D_in,
        D_out, T)`` or ``(H, W, C, M, T)``."""
        return self._kernel(range(self._order))

    def task_factor(self):
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
    def from_stacked_kernels(cls, kernels, biases=None, eps=0.1, ranks=None,
                             tt_eps_split="per_unfolding", **layer_kwargs):
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
        stacked = _stack(kernels, cls._order, "kernels")
        if cls._method != "tt" and tt_eps_split != "per_unfolding":
            raise ValueError(
                f"tt_eps_split applies to TT layers only. Received: "
                f"tt_eps_split={tt_eps_split!r}")
        if cls._method == "full":
            found, values = None, _initial_values("full", stacked, None)
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


def _stack(kernels, order, name):
    if isinstance(kernels, (list, tuple)):
        arrays = [np.asarray(k, dtype=np.float64) for k in kernels]
        if not arrays or any(a.ndim != order - 1 or a.shape != arrays[0].shape
                             for a in arrays):
            raise ValueError(
                f"{name} as a list must hold T >= 1 per-task kernels of one "
                f"shape with {order - 1} dims. Received: shapes "
                f"{[a.shape for a in arrays]}")
        return np.stack(arrays, axis=-1)
    arr = np.asarray(kernels, dtype=np.float64)
    if arr.ndim != order:
        raise ValueError(
            f"{name} must be the stacked tensor with {order} dims (task axis "
            f"last) or a list of per-task kernels. Received: {name} with "
            f"shape {arr.shape}")
    return arr


class FactorisedDense(FactorisedLayer):
    """Base of the factorised dense layers (private)."""

    _order = 3

    def __init__(self, units, num_tasks, ranks, **kwargs):
        self.units = check_int("units", units)
        super().__init__(num_tasks, ranks, **kwargs)

    def _known_dims(self):
        return {1: self.units, 2: self.num_tasks}

    def _in_dim(self, input_shape):
        cls = self.__class__.__name__
        shape, in_dim = self._check_layout(
            input_shape, 3, "(batch, num_tasks, input_dim) or (batch, "
            "input_dim) (shared by every task)", "last (feature)")
        if self._stacked_shape is not None and \
                in_dim != self._stacked_shape[0]:
            raise ValueError(
                f"{cls} was built for input_dim={self._stacked_shape[0]}. "
                f"Received: input_shape={shape}")
        return in_dim

    def _stacked_shape_for(self, in_dim):
        return (in_dim, self.units, self.num_tasks)

    @classmethod
    def _layer_args_for(cls, shape):
        return {"units": int(shape[1]), "num_tasks": int(shape[2])}

    @classmethod
    def _build_shape_for(cls, shape):
        return (None, int(shape[2]), int(shape[0]))

    def call(self, inputs):
        x = inputs
        self._in_dim(x.shape)
        t, units = self.num_tasks, self.units
        if len(x.shape) == 2:
            kernel = self._kernel((0, 2, 1))  # (D_in, T, D_out)
            kernel = ops.reshape(kernel, (kernel.shape[0], t * units))
            y = ops.reshape(ops.matmul(x, kernel), (-1, t, units))
        else:
            kernel = self._kernel((2, 0, 1))  # (T, D_in, D_out)
            y = ops.einsum("btd,tdo->bto", x, kernel)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        self._in_dim(input_shape)
        return (input_shape[0], self.num_tasks, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, **self._base_config()})
        return config


def conv_output_length(length, kernel, stride, padding):
    if length is None:
        return None
    if padding == "same":
        return (length + stride - 1) // stride
    return (length - kernel) // stride + 1


class FactorisedConv2D(FactorisedLayer):
    """Base of the factorised 2-D convolutions (private)."""

    _order = 5

    def __init__(self, filters, kernel_size, num_tasks, ranks, strides=1,
                 padding="valid", **kwargs):
        self.filters = check_int("filters", filters)
        self.kernel_size = check_pair("kernel_size", kernel_size)
        self.strides = check_pair("strides", strides)
        if not isinstance(padding, str) or \
                padding.lower() not in PADDINGS:
            raise ValueError(
                f"padding must be one of {PADDINGS}. Received: "
                f"padding={padding!r}")
        self.padding = padding.lower()
        super().__init__(num_tasks, ranks, **kwargs)

    def _known_dims(self):
        return {0: self.kernel_size[0], 1: self.kernel_size[1],
                3: self.filters, 4: self.num_tasks}

    def _in_dim(self, input_shape):
        cls = self.__class__.__name__
        shape, channels = self._check_layout(
            input_shape, 5, "(batch, num_tasks, height, width, channels) or "
            "(batch, height, width, channels) (shared by every task)",
            "channel")
        if self.padding == "valid":
            for size, k in zip(shape[-3:-1], self.kernel_size):
                if size is not None and size < k:
                    raise ValueError(
                        f"{cls}: spatial size {size} is smaller than "
                        f"kernel_size={self.kernel_size} with padding="
                        f"'valid'. Received: input_shape={shape}")
        if self._stacked_shape is not None and \
                channels != self._stacked_shape[2]:
            raise ValueError(
                f"{cls} was built for {self._stacked_shape[2]} input "
                f"channels. Received: input_shape={shape}")
        return int(channels)

    def _stacked_shape_for(self, in_dim):
        return (*self.kernel_size, in_dim, self.filters, self.num_tasks)

    @classmethod
    def _layer_args_for(cls, shape):
        return {"filters": int(shape[3]),
                "kernel_size": (int(shape[0]), int(shape[1])),
                "num_tasks": int(shape[4])}

    @classmethod
    def _build_shape_for(cls, shape):
        return (None, int(shape[4]), None, None, int(shape[2]))

    # "auto": one grouped convolution where the backend can run and
    # differentiate it in this dtype (see grouped_conv_supported), else one
    # convolution per task; "grouped" / "per_task" force one (tests).
    _conv_impl = "auto"

    def _use_grouped(self):
        if self._conv_impl == "auto":
            return grouped_conv_supported(self.compute_dtype)
        return self._conv_impl == "grouped"

    def call(self, inputs):
        x = inputs
        self._in_dim(x.shape)
        t, m = self.num_tasks, self.filters
        kh, kw = self.kernel_size
        # (H, W, C, T, M); reshaped to (H, W, C, T*M) the output channels
        # are grouped by task
        kernels = self._kernel((0, 1, 2, 4, 3))
        c = kernels.shape[2]
        if len(x.shape) == 4:  # shared input: one ordinary convolution
            y = _conv2d(x, ops.reshape(kernels, (kh, kw, c, t * m)),
                        self.strides, self.padding)
        elif self._use_grouped():
            # fold the task axis into the channels, (B, H, W, T*C); the
            # kernel has C input channels, so the convolution runs with
            # groups = T
            s = ops.shape(x)
            x = ops.reshape(ops.transpose(x, (0, 2, 3, 1, 4)),
                            (s[0], s[2], s[3], t * c))
            y = _conv2d(x, ops.reshape(kernels, (kh, kw, c, t * m)),
                        self.strides, self.padding)
        else:
            y = ops.concatenate([
                _conv2d(x[:, i], kernels[:, :, :, i], self.strides,
                        self.padding) for i in range(t)], axis=-1)
        if self.use_bias:
            y = y + ops.reshape(self.bias, (t * m,))
        y = self.activation(y)
        s = ops.shape(y)
        y = ops.reshape(y, (s[0], s[1], s[2], t, m))
        return ops.transpose(y, (0, 3, 1, 2, 4))

    def compute_output_shape(self, input_shape):
        self._in_dim(input_shape)
        h, w = input_shape[-3], input_shape[-2]
        return (input_shape[0], self.num_tasks,
                conv_output_length(h, self.kernel_size[0], self.strides[0],
                                   self.padding),
                conv_output_length(w, self.kernel_size[1], self.strides[1],
                                   self.padding),
                self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            **self._base_config(),
        })
        return config
