"""TuckerConv2D: DMTRL-Tucker 2-D convolution layer (Yang & Hospedales 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedConv2D


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TuckerConv2D(FactorisedConv2D):
    """T task-specific 2-D convolutions with a Tucker-factorised stacked kernel.

    DMTRL (Yang & Hospedales, "Deep Multi-task Representation Learning: A
    Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391, Sec. 3, Eq.
    3–5) stacks the T tasks' kernels of one layer into ``H × W × C × M × T``
    (task axis last) and learns its factors instead of the kernels: ``W = S ×_1
    U^(1) ×_2 U^(2) … ×_N U^(N)`` (Eq. 4): a core ``S`` ``(K_1, …, K_N)`` and
    one factor ``U^(n)`` ``(D_n, K_n)`` per mode; the last, ``U^(N)`` (T ×
    K_N), is task-specific, the rest are shared. Every call synthesises all T
    kernels from the factors and applies task t's kernel to task t's
    activations; biases are per task, ``(T, filters)``, and not shared.
    Weights: ``core`` ``(K_1, …, K_N)``, ``factor_0`` … ``factor_{N-1}``
    (``factor_n`` is ``(D_{n+1}, K_{n+1})``; ``factor_{N-1}`` is the T × K_N
    task factor), then ``bias``. :meth:`task_factor` returns ``U^(N)ᵀ`` (K_N ×
    T), the input of the sharing strength ρ
    (:func:`amtfl_tf.tensor.sharing_strength`, Eq. 9).

    The task axis is carried through the activations right after the batch
    axis (see ``amtfl_tf/layers/factorised.py``). Initialise from T trained
    single-task kernels, or from a random draw of them, with
    :meth:`from_stacked_kernels` (ε = 0.1 picks the ranks).

    Args:
      filters: M, the number of filters of every task.
      kernel_size: int or pair (H, W).
      num_tasks: T.
      ranks: the N Tucker ranks ``(K_1, …, K_N)``, one per mode of the
        stacked tensor, task mode last; ``K_n <= min(D_n, prod of the other
        dims)``.
      strides: int or pair.
      padding: ``"valid"`` or ``"same"``.
      activation: activation applied to the output.
      use_bias: add the unshared per-task bias.
      kernel_initializer: distribution of one task's kernel; by default
        ``build`` draws T independent kernels from it and decomposes them
        at ``ranks``.
      core_initializer, factor_initializer: initializers of the core and
        of the factors. Default None (both): decompose a draw of
        ``kernel_initializer`` by HOSVD at ``ranks``. Give both to draw
        random factors instead.
      core_regularizer, factor_regularizer, core_constraint,
        factor_constraint: per factor family.
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

    >>> layer = TuckerConv2D(4, 3, num_tasks=2, ranks=(3, 3, 1, 4, 2))
    >>> y = layer(np.zeros((5, 2, 8, 8, 1), "float32"))
    >>> y.shape  # valid padding
    TensorShape([5, 2, 6, 6, 4])
    """

    _method = "tucker"

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 num_tasks: int, ranks: Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 core_initializer: Any = None,
                 core_regularizer: Any = None,
                 core_constraint: Any = None,
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
                "core": (core_initializer, core_regularizer,
                        core_constraint),
                "factor": (factor_initializer, factor_regularizer,
                        factor_constraint),
            },
            **kwargs)
