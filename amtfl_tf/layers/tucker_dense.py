"""TuckerDense: DMTRL-Tucker dense layer (Yang & Hospedales 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from amtfl_tf.layers.factorised import FactorisedDense


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TuckerDense(FactorisedDense):
    """T task-specific dense layers whose stacked kernel is Tucker-factorised.

    DMTRL (Yang & Hospedales, "Deep Multi-task Representation Learning: A
    Tensor Factorisation Approach", ICLR 2017, arXiv:1605.06391, Sec. 3, Eq.
    3–5) stacks the T tasks' kernels of one layer into ``D_in × D_out × T``
    (task axis last) and learns its factors instead of the kernels: ``W = S ×_1
    U^(1) ×_2 U^(2) … ×_N U^(N)`` (Eq. 4): a core ``S`` ``(K_1, …, K_N)`` and
    one factor ``U^(n)`` ``(D_n, K_n)`` per mode; the last, ``U^(N)`` (T ×
    K_N), is task-specific, the rest are shared. Every call synthesises all T
    kernels from the factors and applies task t's kernel to task t's
    activations; biases are per task, ``(T, units)``, and not shared. Weights:
    ``core`` ``(K_1, …, K_N)``, ``factor_0`` … ``factor_{N-1}`` (``factor_n``
    is ``(D_{n+1}, K_{n+1})``; ``factor_{N-1}`` is the T × K_N task factor),
    then ``bias``. :meth:`task_factor` returns ``U^(N)ᵀ`` (K_N × T), the input
    of the sharing strength ρ (:func:`amtfl_tf.tensor.sharing_strength`, Eq.
    9).

    The task axis is carried through the activations right after the batch
    axis (see ``amtfl_tf/layers/factorised.py``). Initialise from T trained
    single-task kernels, or from a random draw of them, with
    :meth:`from_stacked_kernels` (ε = 0.1 picks the ranks).

    Args:
      units: D_out, the output width of every task.
      num_tasks: T.
      ranks: the N Tucker ranks ``(K_1, …, K_N)``, one per mode of the
        stacked tensor, task mode last; ``K_n <= min(D_n, prod of the other
        dims)``.
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

    >>> layer = TuckerDense(8, num_tasks=3, ranks=(4, 5, 3))
    >>> y = layer(np.zeros((2, 3, 6), "float32"))  # (2, 3, 8)
    >>> layer.recompose().shape  # (D_in, D_out, T)
    TensorShape([6, 8, 3])
    >>> stl = np.random.default_rng(0).normal(size=(6, 8, 3))
    >>> init = TuckerDense.from_stacked_kernels(stl, eps=0.1)
    """

    _method = "tucker"

    def __init__(self, units: int, num_tasks: int, ranks: Sequence[int],
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
            units, num_tasks, ranks,
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
