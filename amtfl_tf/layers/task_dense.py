"""TaskDense: T independent dense layers run as one batched op."""

from __future__ import annotations

from typing import Any

import keras

from amtfl_tf.layers.factorised import FactorisedDense


@keras.saving.register_keras_serializable(package="amtfl_tf")
class TaskDense(FactorisedDense):
    """T task-specific dense layers with independent, unfactorised kernels.

    The single-task-learning (STL) layer of DMTRL's experiments and the
    unshared layers of UD-MTL, in the same layout as the factorised layers
    (:class:`TuckerDense` …): the task axis is carried through the
    activations right after the batch axis, and the T kernels are applied
    by one batched ``einsum``. Weights: ``kernel`` ``(T, D_in, units)`` and
    ``bias`` ``(T, units)``. :meth:`task_factor` is ``I_T`` (no sharing,
    the "S = I" of DMTRL Sec. 4.3); :meth:`recompose` gives the stacked
    ``(D_in, units, T)`` tensor that :meth:`TuckerDense.from_stacked_kernels`
    and friends decompose.

    Args:
      units: the output width of every task.
      num_tasks: T.
      ranks: must be None (accepted so the config matches the family's).
      activation, use_bias, kernel_initializer (each task's kernel is an
        independent draw), bias_initializer, bias_regularizer,
        bias_constraint: as in ``keras.layers.Dense``.

    Call arguments:
      inputs: ``(batch, num_tasks, input_dim)`` or ``(batch, input_dim)``
        (one input shared by every task).

    Returns:
      ``(batch, num_tasks, units)``.
    """

    _method = "full"

    def __init__(self, units: int, num_tasks: int, ranks: None = None,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros",
                 bias_regularizer: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(
            units, num_tasks, ranks, activation=activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            bias_constraint=bias_constraint, families={}, **kwargs)
