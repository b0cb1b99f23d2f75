"""DMTRL (Yang & Hospedales, ICLR 2017): T task networks on one
architecture, a sharing mode per layer (STL, UD-MTL, DMTRL-LAF / Tucker /
TT), and their initialisation from trained single-task networks.

``amtfl_tf.models.dmtrl.build_network`` and ``dmtrl_from_stl`` are the
entry points (:mod:`amtfl_tf.models.dmtrl.builders`); the network is
:mod:`amtfl_tf.models.dmtrl.network`'s :class:`DMTRLNetwork`, the
architectures and sharing patterns are in
:mod:`amtfl_tf.models.dmtrl.sharing`.
"""

from amtfl_tf.models.dmtrl.builders import build_network
from amtfl_tf.models.dmtrl.builders import dmtrl_from_stl
from amtfl_tf.models.dmtrl.network import TASK_LAYOUTS
from amtfl_tf.models.dmtrl.network import TASK_REDUCTIONS
from amtfl_tf.models.dmtrl.network import DMTRLNetwork
from amtfl_tf.models.dmtrl.sharing import ARCHITECTURES
from amtfl_tf.models.dmtrl.sharing import FACTORISED
from amtfl_tf.models.dmtrl.sharing import METHODS
from amtfl_tf.models.dmtrl.sharing import PAPER_NAMES
from amtfl_tf.models.dmtrl.sharing import SHARING_MODES
from amtfl_tf.models.dmtrl.sharing import full_ranks
from amtfl_tf.models.dmtrl.sharing import method_sharing
from amtfl_tf.models.dmtrl.sharing import param_layer_names
from amtfl_tf.models.dmtrl.sharing import stacked_shapes

__all__ = ["ARCHITECTURES", "DMTRLNetwork", "FACTORISED", "METHODS",
           "PAPER_NAMES", "SHARING_MODES", "TASK_LAYOUTS", "TASK_REDUCTIONS",
           "build_network", "dmtrl_from_stl", "full_ranks", "method_sharing",
           "param_layer_names", "stacked_shapes"]
