"""CrossStitch: Misra et al.'s cross-stitch unit (a DAMTL baseline)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers.task_inputs import check_task_shapes
from amtfl_tf.validation import check_choice
from amtfl_tf.validation import check_unit_interval

GRANULARITIES = ("layer", "channel")


def mixing_matrix(num_tasks: int, self_weight: float,
                  other_weight: float | None = None) -> np.ndarray:
    """``(T, T)``: ``self_weight`` on the diagonal, ``other_weight`` off
    it (default ``(1 - self_weight) / (T - 1)``, rows summing to 1)."""
    if other_weight is None:
        other_weight = (1.0 - self_weight) / max(num_tasks - 1, 1)
    m = np.full((num_tasks, num_tasks), other_weight, np.float64)
    np.fill_diagonal(m, self_weight)
    return m


@keras.saving.register_keras_serializable(package="amtfl_tf")
class CrossStitch(keras.layers.Layer):
    """Learned linear mixing of T task streams' activations.

    Cross-stitch unit (Misra, Shrivastava, Gupta, Hebert, "Cross-stitch
    Networks for Multi-task Learning", CVPR 2016): at a chosen layer, task
    t's new activation is ``x̃_t = Σ_s α_ts x_s`` (Eq. 1 of that paper for
    two tasks: ``x̃_A = α_AA x_A + α_AB x_B``). ``α`` is one ``(T, T)``
    matrix for the layer (``granularity="layer"``) or one per channel,
    ``(T, T, C)`` (``"channel"``). The original initialises ``(α_S, α_D) =
    (0.9, 0.1)`` for two tasks; here the diagonal is ``self_weight`` and
    the rest ``other_weight`` (default ``(1 − self_weight)/(T − 1)``).

    Weights: ``alpha``.

    Args:
      granularity: ``"layer"`` or ``"channel"``.
      self_weight: initial α_tt (0.9).
      other_weight: initial α_ts, s ≠ t (None: rows sum to one).
      alpha_regularizer, alpha_constraint: for ``alpha``.

    Call arguments:
      inputs: a list of T ≥ 2 tensors of one shape ``(batch, ..., C)``.

    Returns:
      A list of T tensors of that shape.

    Example:

    >>> a, b = np.ones((2, 4, 4, 3), "float32"), np.zeros((2, 4, 4, 3),
    ...                                                   "float32")
    >>> out_a, out_b = CrossStitch()([a, b])
    >>> [round(float(o[0, 0, 0, 0]), 4) for o in (out_a, out_b)]
    [0.9, 0.1]
    """

    def __init__(self, granularity: str = "layer", self_weight: float = 0.9,
                 other_weight: float | None = None,
                 alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.granularity = check_choice("granularity", granularity,
                                        GRANULARITIES)
        self.self_weight = check_unit_interval("self_weight", self_weight)
        self.other_weight = check_unit_interval(
            "other_weight", other_weight, allow_none=True)
        self.alpha_regularizer = keras.regularizers.get(alpha_regularizer)
        self.alpha_constraint = keras.constraints.get(alpha_constraint)

    def build(self, input_shape: Sequence[Sequence[int | None]]) -> None:
        self.num_tasks, channels = check_task_shapes(self, input_shape)
        m = mixing_matrix(self.num_tasks, self.self_weight,
                          self.other_weight)
        if self.granularity == "channel":
            m = np.repeat(m[:, :, None], channels, axis=2)
            shape = (self.num_tasks, self.num_tasks, channels)
        else:
            shape = (self.num_tasks, self.num_tasks)

        def init(shape_, dtype=None):
            return ops.cast(ops.convert_to_tensor(m), dtype or "float32")

        self.alpha = self.add_weight(
            name="alpha", shape=shape, initializer=init,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint)

    def call(self, inputs: Sequence[Any]) -> list[Any]:
        if len(inputs) != self.num_tasks:
            raise ValueError(
                f"CrossStitch was built for {self.num_tasks} tasks. "
                f"Received: {len(inputs)} inputs")
        outputs = []
        for t in range(self.num_tasks):
            out = 0.0
            for s, x in enumerate(inputs):
                out = out + self.alpha[t, s] * x
            outputs.append(out)
        return outputs

    def compute_output_shape(self, input_shape: Sequence[Sequence[int | None]]
                             ) -> list[tuple[int | None, ...]]:
        return [tuple(s) for s in input_shape]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "granularity": self.granularity,
            "self_weight": self.self_weight,
            "other_weight": self.other_weight,
            "alpha_regularizer": keras.regularizers.serialize(
                self.alpha_regularizer),
            "alpha_constraint": keras.constraints.serialize(
                self.alpha_constraint),
        })
        return config
