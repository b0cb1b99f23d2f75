"""LAFDense: DMTRL-LAF dense layer (Yang & Hospedales 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedDense


@keras.saving.register_keras_serializable(package="amtfl_tf")
class LAFDense(FactorisedDense):
    """T task-specific dense layers whose stacked kernel is LAF-factorised.

    DMTRL (Yang & Hospedales, "Deep Multi-task Representation Learning: A
    Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391, Sec. 3, Eq. 2)
    stacks the T tasks' kernels of one layer into ``D_in × D_out × T`` (task
    axis last) and learns its factors instead of the kernels: ``W_(N)ᵀ = L S``
    (Eq. 2): the transposed mode-N flattening (task t's flattened kernel in
    column t) is a shared basis ``L`` ``((Π D_n) × K)`` times a task matrix
    ``S`` ``(K × T)``: every task's kernel is a linear combination of K shared
    kernels. Every call synthesises all T kernels from the factors and applies
    task t's kernel to task t's activations; biases are per task, ``(T,
    units)``, and not shared. Weights: ``shared_factor`` ``((Π D_n) × K)``,
    ``task_factor`` ``(K × T)``, then ``bias``. :meth:`task_factor` returns
    ``S`` (K × T), the input of the sharing strength ρ
    (:func:`amtfl_tf.tensor.sharing_strength`, Eq. 9).

    The task axis is carried through the activations right after the batch
    axis (see ``amtfl_tf/layers/factorised.py``). Initialise from T trained
    single-task kernels, or from a random draw of them, with
    :meth:`from_stacked_kernels` (ε = 0.1 picks the ranks).

    Args:
      units: D_out, the output width of every task.
      num_tasks: T.
      ranks: the LAF rank K (an int), ``K <= min(prod D, T)``.
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

    >>> layer = LAFDense(8, num_tasks=3, ranks=2)
    >>> y = layer(np.zeros((2, 3, 6), "float32"))
    >>> layer.task_factor().shape  # (K, T)
    TensorShape([2, 3])
    """

    _method = "laf"

    def __init__(self, units: int, num_tasks: int, ranks: int | Sequence[int],
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 factor_initializer: Any = None,
                 factor_regularizer: Any = None,
                 factor_constraint: Any = None,
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
                "factor": (factor_initializer, factor_regularizer,
                        factor_constraint),
            },
            **kwargs)
