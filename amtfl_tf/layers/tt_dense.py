"""TTDense: DMTRL-TT dense layer (Yang & Hospedales 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedDense


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TTDense(FactorisedDense):
    """T task-specific dense layers with a TT-factorised stacked kernel.

    DMTRL (Yang & Hospedales, "Deep Multi-task Representation Learning: A
    Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391, Sec. 3, Eq.
    6–8) stacks the T tasks' kernels of one layer into ``D_in × D_out × T``
    (task axis last) and learns its factors instead of the kernels:
    ``W_{d_1…d_N} = U^(1)_{d_1,·} U^(2)_{·,d_2,·} … U^(N)_{·,d_N}`` (Eq. 7):
    cores ``U^(1)`` ``(D_1, K_1)``, ``U^(n)`` ``(K_{n-1}, D_n, K_n)``,
    ``U^(N)`` ``(K_{N-1}, T)``; the last core is task-specific, the rest are
    shared. Every call synthesises all T kernels from the factors and applies
    task t's kernel to task t's activations; biases are per task, ``(T,
    units)``, and not shared. Weights: ``tt_core_0`` ``(D_1, K_1)``,
    ``tt_core_k`` ``(K_k, D_{k+1}, K_{k+1})``, ``tt_core_{N-1}`` ``(K_{N-1},
    T)`` (task-specific), then ``bias``. :meth:`task_factor` returns the last
    core ``U^(N)`` (K_{N-1} × T), the input of the sharing strength ρ
    (:func:`amtfl_tf.tensor.sharing_strength`, Eq. 9).

    The task axis is carried through the activations right after the batch
    axis (see ``amtfl_tf/layers/factorised.py``). Initialise from T trained
    single-task kernels, or from a random draw of them, with
    :meth:`from_stacked_kernels` (ε = 0.1 picks the ranks).

    Args:
      units: D_out, the output width of every task.
      num_tasks: T.
      ranks: the N − 1 interior TT ranks ``(K_1, …, K_{N-1})``
        (``r_0 = r_N = 1`` implicit); ``K_k <= min(prod of the first k
        dims, prod of the rest)``.
      activation: activation applied to the output.
      use_bias: add the unshared per-task bias.
      kernel_initializer: distribution of one task's kernel; by default
        ``build`` draws T independent kernels from it and decomposes them
        at ``ranks``.
      core_initializer: initializer of every TT core. Default None:
        decompose a draw of ``kernel_initializer`` by TT-SVD at ``ranks``.
      core_regularizer, core_constraint: for every TT core.
      bias_initializer, bias_regularizer, bias_constraint: for the
        ``(T, units)`` bias.
      **kwargs: base layer arguments (``name``, ``dtype``, …).

    Call arguments:
      inputs: ``(batch, num_tasks, input_dim)``, task t's activations in
        ``inputs[:, t]``; or ``(batch, input_dim)``, one input shared by every
        task (broadcast). Task-partitioned data go in as task-blocked
        batches (b samples of each task along axis 1).

    Returns:
      ``(batch, num_tasks, units)``.

    Example:

    >>> layer = TTDense(8, num_tasks=3, ranks=(4, 3))
    >>> y = layer(np.zeros((2, 6), "float32"))  # shared input
    >>> y.shape
    TensorShape([2, 3, 8])
    """

    _method = "tt"

    def __init__(self, units: int, num_tasks: int, ranks: Sequence[int],
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 core_initializer: Any = None,
                 core_regularizer: Any = None,
                 core_constraint: Any = None,
                 bias_initializer: Any = "zeros",
                 bias_regularizer: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(
            units, num_tasks, ranks,
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
