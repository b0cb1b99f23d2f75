"""DMTRL (Yang & Hospedales, ICLR 2017): T task networks on one
architecture, a sharing mode per layer (STL, UD-MTL, DMTRL-LAF / Tucker /
TT), and their initialisation from trained single-task networks.

``amtfl_tf.models.dmtrl.build_network`` and ``dmtrl_from_stl`` are the
entry points (see :mod:`amtfl_tf.models.dmtrl.network`).
"""

from amtfl_tf.models.dmtrl.network import ARCHITECTURES
from amtfl_tf.models.dmtrl.network import FACTORISED
from amtfl_tf.models.dmtrl.network import METHODS
from amtfl_tf.models.dmtrl.network import PAPER_NAMES
from amtfl_tf.models.dmtrl.network import SHARING_MODES
from amtfl_tf.models.dmtrl.network import TASK_LAYOUTS
from amtfl_tf.models.dmtrl.network import TASK_REDUCTIONS
from amtfl_tf.models.dmtrl.network import DMTRLNetwork
from amtfl_tf.models.dmtrl.network import build_network
from amtfl_tf.models.dmtrl.network import dmtrl_from_stl
from amtfl_tf.models.dmtrl.network import full_ranks
from amtfl_tf.models.dmtrl.network import method_sharing
from amtfl_tf.models.dmtrl.network import param_layer_names
from amtfl_tf.models.dmtrl.network import stacked_shapes

__all__ = ["ARCHITECTURES", "DMTRLNetwork", "FACTORISED", "METHODS",
           "PAPER_NAMES", "SHARING_MODES", "TASK_LAYOUTS", "TASK_REDUCTIONS",
           "build_network", "dmtrl_from_stl", "full_ranks", "method_sharing",
           "param_layer_names", "stacked_shapes"]
