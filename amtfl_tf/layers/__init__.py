"""Keras layers, one public class per file, each registered with
``keras.saving.register_keras_serializable(package="amtfl_tf")``.

- :class:`AsymmetricFeedback` (Deep-AMTFL's task-to-feature feedback A).
- DMTRL's task-factorised layers (the stacked per-task weight tensor, task
  axis last, held as Tucker / Tensor-Train / last-axis-flattening factors;
  the task axis is carried through the activations, ``(B, T, ...)``):
  :class:`TuckerDense`, :class:`TuckerConv2D`, :class:`TTDense`,
  :class:`TTConv2D`, :class:`LAFDense`, :class:`LAFConv2D`; and their
  unfactorised counterparts :class:`TaskDense`, :class:`TaskConv2D` (T
  independent kernels in one batched op: STL).

- DAMTL's soft-mask transfer :class:`SoftMaskConv2D` / :class:`SoftMaskDense`
  (kernel Ψ ⊙ W, Ψ ≥ 0, λ₁‖Ψ‖₁) and its baselines' :class:`CrossStitch` and
  :class:`NDDR` layers.
"""

from amtfl_tf.layers.stacked_kernels import random_stacked_kernels
from amtfl_tf.layers.asymmetric_feedback import AsymmetricFeedback
from amtfl_tf.layers.laf_conv2d import LAFConv2D
from amtfl_tf.layers.laf_dense import LAFDense
from amtfl_tf.layers.task_conv2d import TaskConv2D
from amtfl_tf.layers.task_dense import TaskDense
from amtfl_tf.layers.tt_conv2d import TTConv2D
from amtfl_tf.layers.tt_dense import TTDense
from amtfl_tf.layers.tucker_conv2d import TuckerConv2D
from amtfl_tf.layers.tucker_dense import TuckerDense

__all__ = ["AsymmetricFeedback", "LAFConv2D", "LAFDense", "TTConv2D",
           "TTDense", "TaskConv2D", "TaskDense", "TuckerConv2D",
           "TuckerDense", "random_stacked_kernels"]

# DAMTL (Feng & Chen) and its baselines.
from amtfl_tf.layers.cross_stitch import CrossStitch  # noqa: E402
from amtfl_tf.layers.nddr import NDDR  # noqa: E402
from amtfl_tf.layers.soft_mask_conv2d import SoftMaskConv2D  # noqa: E402
from amtfl_tf.layers.soft_mask_dense import SoftMaskDense  # noqa: E402

__all__ += ["CrossStitch", "NDDR", "SoftMaskConv2D", "SoftMaskDense"]
