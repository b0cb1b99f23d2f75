"""DAMTL (Feng & Chen, "Learning Multi-Tasks with Inconsistent Labels by
using Auxiliary Big Task") and its baselines, on one VGG-style trunk:

- :mod:`~amtfl_tf.models.damtl.base`: :class:`TaskNetworksModel`, the
  task-partitioned base (Eq. 4–5) and the helpers its subclasses share;
- :mod:`~amtfl_tf.models.damtl.model`: :class:`DAMTL` (soft-mask transfer
  from the auxiliary network, CMMD alignment);
- :mod:`~amtfl_tf.models.damtl.baselines`: :class:`DAMTLBaseline`
  (Single-task, Multi-task, Cross-Stitch, NDDR-CNN, MTAL).
"""

from amtfl_tf.models.damtl.base import ARCHITECTURES
from amtfl_tf.models.damtl.base import TaskNetworksModel
from amtfl_tf.models.damtl.base import build_vgg
from amtfl_tf.models.damtl.baselines import BASELINES
from amtfl_tf.models.damtl.baselines import DAMTLBaseline
from amtfl_tf.models.damtl.model import ALIGN_LAYERS
from amtfl_tf.models.damtl.model import DAMTL
from amtfl_tf.models.damtl.model import HEAD_INITS

__all__ = ["ALIGN_LAYERS", "ARCHITECTURES", "BASELINES", "DAMTL",
           "DAMTLBaseline", "HEAD_INITS", "TaskNetworksModel", "build_vgg"]
