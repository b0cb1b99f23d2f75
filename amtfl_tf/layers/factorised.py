"""The dense and conv bases of DMTRL's factorised layers.

:class:`FactorisedDense` and :class:`FactorisedConv2D` extend
:class:`~amtfl_tf.layers.factorised_layer.FactorisedLayer` with the input
layouts and the batched ops; the public layers (``TuckerDense``, ``TTConv2D``
…) only name their method and initializer families.

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
  probes this once per dtype
  (:func:`~amtfl_tf.layers.grouped_conv.grouped_conv_supported`) and then
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
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from keras import ops

from amtfl_tf.layers.factorised_layer import FactorisedLayer
from amtfl_tf.layers.grouped_conv import conv2d
from amtfl_tf.layers.grouped_conv import conv_output_length
from amtfl_tf.layers.grouped_conv import grouped_conv_supported
from amtfl_tf.validation import check_int
from amtfl_tf.validation import check_pair

PADDINGS = ("valid", "same")


class FactorisedDense(FactorisedLayer):
    """Base of the factorised dense layers (not exported)."""

    _order = 3
    # "auto": the cheaper of "kernel" and "input" (see _apply_tasked);
    # the two are forced by the tests and the benchmark
    _dense_route = "auto"

    def __init__(self, units: int, num_tasks: int,
                 ranks: int | Sequence[int] | None, **kwargs: Any) -> None:
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

    def call(self, inputs: Any) -> Any:
        x = inputs
        self._in_dim(x.shape)
        t, units = self.num_tasks, self.units
        if len(x.shape) == 2:
            kernel = self._kernel((0, 2, 1))  # (D_in, T, D_out)
            kernel = ops.reshape(kernel, (kernel.shape[0], t * units))
            y = ops.reshape(ops.matmul(x, kernel), (-1, t, units))
        else:
            y = self._apply_tasked(x)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def _apply_tasked(self, x):
        """``(B, T, D_in)`` → ``(B, T, D_out)`` by the cheaper route for
        the batch: the T kernels synthesised, then one batched matmul, or
        (Tucker, TT) the factors applied to the input
        (``apply_dense``), which skips the synthesis whose cost does not
        shrink with the batch. The routes' multiply-adds
        (``dense_costs``) decide; with the batch unknown while tracing,
        ``ops.cond`` decides at run time from the batch size."""
        def kernel_route():
            kernel = self._kernel((2, 0, 1))  # (T, D_in, D_out)
            return ops.einsum("btd,tdo->bto", x, kernel)

        strategy = self._strategy
        if self._dense_route == "kernel" or not hasattr(strategy,
                                                        "apply_dense"):
            return kernel_route()
        w = self._weights_dict()
        if self._dense_route == "input":
            return strategy.apply_dense(w, x)
        costs = strategy.dense_costs(w)
        (k0, k1), (i0, i1) = costs["kernel"], costs["input"]
        # the input route is cheaper for batches below b_star
        if i1 <= k1:
            return strategy.apply_dense(w, x) if i0 <= k0 else \
                kernel_route()
        # the largest batch for which the input route costs less
        b_max = math.ceil((k0 - i0) / (i1 - k1)) - 1
        if x.shape[0] is not None:
            return strategy.apply_dense(w, x) if x.shape[0] <= b_max \
                else kernel_route()
        if b_max < 1:
            return kernel_route()
        return ops.cond(ops.shape(x)[0] <= b_max,
                        lambda: strategy.apply_dense(w, x), kernel_route)

    def compute_output_shape(self, input_shape: Sequence[int | None]
                             ) -> tuple[int | None, ...]:
        self._in_dim(input_shape)
        return (input_shape[0], self.num_tasks, self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"units": self.units, **self._base_config()})
        return config


def fold_tasks(x: Any) -> Any:
    """``(B, T, H, W, C)`` to ``(B, H, W, T*C)``: the task axis folded into
    the channels, task-major (the grouped convolutions' layout)."""
    s = ops.shape(x)
    return ops.reshape(ops.transpose(x, (0, 2, 3, 1, 4)),
                       (s[0], s[2], s[3], x.shape[1] * x.shape[4]))


def unfold_tasks(y: Any, num_tasks: int) -> Any:
    """The inverse of :func:`fold_tasks`: ``(B, H, W, T*M)`` to
    ``(B, T, H, W, M)``."""
    s = ops.shape(y)
    y = ops.reshape(y, (s[0], s[1], s[2], num_tasks,
                        y.shape[3] // num_tasks))
    return ops.transpose(y, (0, 3, 1, 2, 4))


class FactorisedConv2D(FactorisedLayer):
    """Base of the factorised 2-D convolutions (not exported)."""

    _order = 5

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 num_tasks: int, ranks: int | Sequence[int] | None,
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 **kwargs: Any) -> None:
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

    def call(self, inputs: Any) -> Any:
        x = inputs
        self._in_dim(x.shape)
        t = self.num_tasks
        if len(x.shape) == 4:  # shared input: one ordinary convolution
            y = self._finish(conv2d(x, self._folded_kernel(),
                                    self.strides, self.padding))
        elif self._use_grouped():
            # the task axis folded into the channels, (B, H, W, T*C): one
            # convolution with groups = T
            y = self.call_folded(fold_tasks(x))
        else:
            kernels = self._kernel((0, 1, 2, 4, 3))
            y = self._finish(ops.concatenate([
                conv2d(x[:, i], kernels[:, :, :, i], self.strides,
                        self.padding) for i in range(t)], axis=-1))
        return unfold_tasks(y, t)

    def call_folded(self, x: Any) -> Any:
        """The layer on task-folded activations: ``(B, H, W, T*C)`` (task
        t's channels at ``t*C:(t+1)*C``) to ``(B, H', W', T*M)``, the same
        numbers :meth:`call` gives before it unfolds them. A network that
        stacks these layers (with max-pooling between them, which works on
        the folded channels as they are) folds once and unfolds once
        instead of transposing its activations around every layer
        (``DMTRLNetwork`` does, where :meth:`can_fold`). The layer must be
        built; Keras' ``__call__`` is bypassed (no autocast: see
        :meth:`can_fold`)."""
        return self._finish(conv2d(x, self._folded_kernel(), self.strides,
                                   self.padding))

    def can_fold(self) -> bool:
        """Whether :meth:`call_folded` may stand in for ``__call__``: the
        layer is built, its grouped convolution runs and differentiates
        here, and its variables are in its compute dtype (under a
        mixed-precision policy ``__call__`` casts them; this path would
        not)."""
        return (self.built and self._use_grouped()
                and self.compute_dtype == self.variable_dtype)

    def _folded_kernel(self):
        # (H, W, C, T, M); reshaped to (H, W, C, T*M) the output channels
        # are grouped by task
        kernels = self._kernel((0, 1, 2, 4, 3))
        kh, kw, c = kernels.shape[:3]
        return ops.reshape(kernels, (kh, kw, c, self.num_tasks
                                     * self.filters))

    def _finish(self, y):
        if self.use_bias:
            y = y + ops.reshape(self.bias, (self.num_tasks * self.filters,))
        return self.activation(y)

    def compute_output_shape(self, input_shape: Sequence[int | None]
                             ) -> tuple[int | None, ...]:
        self._in_dim(input_shape)
        h, w = input_shape[-3], input_shape[-2]
        return (input_shape[0], self.num_tasks,
                conv_output_length(h, self.kernel_size[0], self.strides[0],
                                   self.padding),
                conv_output_length(w, self.kernel_size[1], self.strides[1],
                                   self.padding),
                self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            **self._base_config(),
        })
        return config
