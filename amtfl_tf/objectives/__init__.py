"""Per-task losses and multi-task reductions (``keras.ops``; any backend).

- :func:`elementwise_loss`: squared error, logistic (stable, or clipped as
  the Deep-AMTFL code writes it) or hinge loss per sample and task.
- :func:`task_loss_sums`: per-task sums and counts of a loss over a batch,
  for task-partitioned (``task`` ids) or shared-input (``y`` of shape
  ``(B, T)``) data.
- :func:`imbalance_term`: Deep-AMTFL's δ/√N_t.
"""

from amtfl_tf.objectives.losses import LOGISTIC_LOSSES
from amtfl_tf.objectives.losses import LOSSES
from amtfl_tf.objectives.losses import elementwise_loss
from amtfl_tf.objectives.losses import imbalance_term
from amtfl_tf.objectives.losses import task_loss_sums

__all__ = ["LOGISTIC_LOSSES", "LOSSES", "elementwise_loss", "imbalance_term",
           "task_loss_sums"]

# DAMTL's class-conditional MMD (Eq. 3).
from amtfl_tf.objectives.cmmd import KERNELS as CMMD_KERNELS  # noqa: E402
from amtfl_tf.objectives.cmmd import cmmd  # noqa: E402
from amtfl_tf.objectives.cmmd import kernel_matrix  # noqa: E402

__all__ += ["CMMD_KERNELS", "cmmd", "kernel_matrix"]
