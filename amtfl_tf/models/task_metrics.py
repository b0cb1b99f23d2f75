"""A metric that tracks one running mean per task."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="amtfl_tf")
class PerTaskMean(keras.metrics.Metric):
    """Running mean of a ``(T,)`` vector, e.g. the per-task losses.

    ``result()`` is a dict ``{"<prefix>0": ..., "<prefix>1": ...}``, which
    Keras flattens into the logs (``task_loss_0``, ``val_task_loss_0``...).
    Tasks absent from a batch (weight 0) do not move their mean.
    """

    def __init__(self, num_tasks: int, prefix: str = "task_loss_",
                 name: str = "per_task_mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.num_tasks = int(num_tasks)
        self.prefix = prefix
        self.total = self.add_variable(shape=(self.num_tasks,),
                                       initializer="zeros", name="total")
        self.count = self.add_variable(shape=(self.num_tasks,),
                                       initializer="zeros", name="count")

    def update_state(self, values: Any, weights: Any = None) -> None:
        values = ops.cast(values, self.dtype)
        weights = ops.ones_like(values) if weights is None else ops.cast(
            weights, self.dtype)
        self.total.assign_add(values * weights)
        self.count.assign_add(weights)

    def result(self) -> dict[str, Any]:
        mean = self.total / ops.maximum(self.count, 1e-12)
        return {f"{self.prefix}{t}": mean[t] for t in range(self.num_tasks)}

    def get_config(self) -> dict[str, Any]:
        return {"num_tasks": self.num_tasks, "prefix": self.prefix,
                "name": self.name, "dtype": self.dtype}
