"""TTConv2D: DMTRL-TT 2-D convolution layer (Yang & Hospedales 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedConv2D


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TTConv2D(FactorisedConv2D):
    """T task-specific 2-D convolutions with a TT-factorised stacked kernel.

    DMTRL (Yang & Hospedales, "Deep Multi-task Representation Learning: A
    Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391, Sec. 3, Eq.
    6–8) stacks the T tasks' kernels of one layer into ``H × W × C × M × T``
    (task axis last) and learns its factors instead of the kernels:
    ``W_{d_1…d_N} = U^(1)_{d_1,·} U^(2)_{·,d_2,·} … U^(N)_{·,d_N}`` (Eq. 7):
    cores ``U^(1)`` ``(D_1, K_1)``, ``U^(n)`` ``(K_{n-1}, D_n, K_n)``,
    ``U^(N)`` ``(K_{N-1}, T)``; the last core is task-specific, the rest are
    shared. Every call synthesises all T kernels from the factors and applies
    task t's kernel to task t's activations; biases are per task, ``(T,
    filters)``, and not shared. Weights: ``tt_core_0`` ``(D_1, K_1)``,
    ``tt_core_k`` ``(K_k, D_{k+1}, K_{k+1})``, ``tt_core_{N-1}`` ``(K_{N-1},
    T)`` (task-specific), then ``bias``. :meth:`task_factor` returns the last
    core ``U^(N)`` (K_{N-1} × T), the input of the sharing strength ρ
    (:func:`amtfl_tf.tensor.sharing_strength`, Eq. 9).

    The task axis is carried through the activations right after the batch
    axis (see ``amtfl_tf/layers/factorised.py``). Initialise from T trained
    single-task kernels, or from a random draw of them, with
    :meth:`from_stacked_kernels` (ε = 0.1 picks the ranks).

    Args:
      filters: M, the number of filters of every task.
      kernel_size: int or pair (H, W).
      num_tasks: T.
      ranks: the N − 1 interior TT ranks ``(K_1, …, K_{N-1})``
        (``r_0 = r_N = 1`` implicit); ``K_k <= min(prod of the first k
        dims, prod of the rest)``.
      strides: int or pair.
      padding: ``"valid"`` or ``"same"``.
      activation: activation applied to the output.
      use_bias: add the unshared per-task bias.
      kernel_initializer: distribution of one task's kernel; by default
        ``build`` draws T independent kernels from it and decomposes them
        at ``ranks``.
      core_initializer: initializer of every TT core. Default None:
        decompose a draw of ``kernel_initializer`` by TT-SVD at ``ranks``.
      core_regularizer, core_constraint: for every TT core.
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

    >>> layer = TTConv2D(4, 3, num_tasks=2, ranks=(3, 3, 3, 2))
    >>> y = layer(np.zeros((5, 8, 8, 1), "float32"))  # shared
    >>> y.shape
    TensorShape([5, 2, 6, 6, 4])
    """

    _method = "tt"

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 num_tasks: int, ranks: Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 core_initializer: Any = None,
                 core_regularizer: Any = None,
                 core_constraint: Any = None,
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
            },
            **kwargs)
