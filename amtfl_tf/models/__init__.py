"""Multi-task models: the :class:`MultiTaskModel` base and the methods.

Shallow (Deep-AMTFL Sec. 4.1): :class:`STL`, :class:`GOMTL`, :class:`AMTL`,
:class:`NN`, :class:`MTNN`, :class:`AMTFL` (``METHODS`` maps the paper's
names to them), plus DMTRL Appendix A's classic baselines
:class:`EvgeniouPontil` and :class:`MTFL`. Deep (Sec. 4.2):
:class:`DeepMultiTaskModel` with ``method`` in ``DEEP_METHODS`` on a backbone
in ``BACKBONES``. DMTRL: :class:`DMTRLNetwork` (STL, UD-MTL, DMTRL-LAF /
Tucker / TT as per-layer sharing modes; :func:`dmtrl_from_stl`). DAMTL:
:class:`DAMTL` and the baselines in ``BASELINES`` (Single-task,
Multi-task, Cross-Stitch, NDDR-CNN, MTAL) on one VGG-style trunk.
"""

from amtfl_tf.models.backbones import BACKBONES
from amtfl_tf.models.backbones import build_backbone
from amtfl_tf.models.amtfl.deep import DEEP_METHODS
from amtfl_tf.models.amtfl.deep import DeepMultiTaskModel
from amtfl_tf.models.amtfl.deep import HyperparameterRamp
from amtfl_tf.models.multitask import MultiTaskModel
from amtfl_tf.models.amtfl.shallow import AMTFL
from amtfl_tf.models.amtfl.shallow import AMTL
from amtfl_tf.models.amtfl.shallow import GOMTL
from amtfl_tf.models.amtfl.shallow import METHODS
from amtfl_tf.models.amtfl.shallow import MTNN
from amtfl_tf.models.amtfl.shallow import NN
from amtfl_tf.models.amtfl.shallow import STL
from amtfl_tf.models.task_metrics import PerTaskMean

__all__ = ["AMTFL", "AMTL", "BACKBONES", "DEEP_METHODS",
           "DeepMultiTaskModel", "GOMTL", "HyperparameterRamp", "METHODS",
           "MTNN", "MultiTaskModel", "NN", "PerTaskMean", "STL",
           "build_backbone"]

# Classic shallow baselines (DMTRL Appendix A): also in METHODS as
# "Evgeniou-Pontil" and "MTFL".
from amtfl_tf.models.amtfl.shallow import EvgeniouPontil  # noqa: E402
from amtfl_tf.models.amtfl.shallow import MTFL  # noqa: E402
from amtfl_tf.models.amtfl.shallow import MTFLDStep  # noqa: E402
from amtfl_tf.models.amtfl.shallow import mtfl_d_step  # noqa: E402

__all__ += ["EvgeniouPontil", "MTFL", "MTFLDStep", "mtfl_d_step"]

# DAMTL (Feng & Chen) and its baselines.
from amtfl_tf.models.damtl import DAMTL  # noqa: E402
from amtfl_tf.models.damtl.base import ARCHITECTURES  # noqa: E402
from amtfl_tf.models.damtl.base import TaskNetworksModel  # noqa: E402
from amtfl_tf.models.damtl.base import build_vgg  # noqa: E402
from amtfl_tf.models.damtl.baselines import BASELINES  # noqa: E402
from amtfl_tf.models.damtl.baselines import DAMTLBaseline  # noqa: E402

__all__ += ["ARCHITECTURES", "BASELINES", "DAMTL", "DAMTLBaseline",
            "TaskNetworksModel", "build_vgg"]

# DMTRL (Yang & Hospedales 2017): T task networks with per-layer sharing.
from amtfl_tf.models.dmtrl import DMTRLNetwork  # noqa: E402
from amtfl_tf.models.dmtrl import dmtrl_from_stl  # noqa: E402

__all__ += ["DMTRLNetwork", "dmtrl_from_stl"]
