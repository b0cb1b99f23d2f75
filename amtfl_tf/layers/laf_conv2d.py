"""LAFConv2D: DMTRL-LAF 2-D convolution layer (Yang & Hospedales 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedConv2D


@keras.saving.register_keras_serializable(package="amtfl_tf")
class LAFConv2D(FactorisedConv2D):
    """T task-specific 2-D convolutions with an LAF-factorised stacked kernel.

    DMTRL (Yang & Hospedales, "Deep Multi-task Representation Learning: A
    Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391, Sec. 3, Eq. 2)
    stacks the T tasks' kernels of one layer into ``H × W × C × M × T`` (task
    axis last) and learns its factors instead of the kernels: ``W_(N)ᵀ = L S``
    (Eq. 2): the transposed mode-N flattening (task t's flattened kernel in
    column t) is a shared basis ``L`` ``((Π D_n) × K)`` times a task matrix
    ``S`` ``(K × T)``: every task's kernel is a linear combination of K shared
    kernels. Every call synthesises all T kernels from the factors and applies
    task t's kernel to task t's activations; biases are per task, ``(T,
    filters)``, and not shared. Weights: ``shared_factor`` ``((Π D_n) × K)``,
    ``task_factor`` ``(K × T)``, then ``bias``. :meth:`task_factor` returns
    ``S`` (K × T), the input of the sharing strength ρ
    (:func:`amtfl_tf.tensor.sharing_strength`, Eq. 9).

    The task axis is carried through the activations right after the batch
    axis (see ``amtfl_tf/layers/factorised.py``). Initialise from T trained
    single-task kernels, or from a random draw of them, with
    :meth:`from_stacked_kernels` (ε = 0.1 picks the ranks).

    Args:
      filters: M, the number of filters of every task.
      kernel_size: int or pair (H, W).
      num_tasks: T.
      ranks: the LAF rank K (an int), ``K <= min(prod D, T)``.
      strides: int or pair.
      padding: ``"valid"`` or ``"same"``.
      activation: activation applied to the output.
      use_bias: add the unshared per-task bias.
      kernel_initializer: distribution of one task's kernel; by default
        ``build`` draws T independent kernels from it and decomposes them
        at ``ranks``.
      factor_initializer: initializer of ``shared_factor`` and
        ``task_factor``. Default None: decompose a draw of
        ``kernel_initializer`` by a truncated SVD at ``ranks``.
      factor_regularizer, factor_constraint: for both factors.
      bias_initializer, bias_regularizer, bias_constraint: for the
        ``(T, filters)`` bias.
      **kwargs: base layer arguments (``name``, ``dtype``, …).

    Call arguments:
      inputs: ``(batch, num_tasks, height, width, channels)``, task t's
        feature maps in ``inputs[:, t]``; or ``(batch, height, width,
        channels)``, one input shared by every task (broadcast). The T
        convolutions run as one grouped convolution (groups = T).
        Task-partitioned data go in as task-blocked batches.

    Returns:
      ``(batch, num_tasks, new_height, new_width, filters)``.

    Example:

    >>> layer = LAFConv2D(4, 3, num_tasks=2, ranks=2, padding="same")
    >>> y = layer(np.zeros((5, 2, 8, 8, 3), "float32"))
    >>> y.shape
    TensorShape([5, 2, 8, 8, 4])
    """

    _method = "laf"

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 num_tasks: int, ranks: int | Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 factor_initializer: Any = None,
                 factor_regularizer: Any = None,
                 factor_constraint: Any = None,
                 bias_initializer: Any = "zeros",
                 bias_regularizer: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(
            filters, kernel_size, num_tasks, ranks,
            strides=strides, padding=padding,
            activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            bias_constraint=bias_constraint,
            families={
                "factor": (factor_initializer, factor_regularizer,
                        factor_constraint),
            },
            **kwargs)
