"""NumPy tensor tools for DMTRL (Yang & Hospedales, ICLR 2017,
arXiv:1605.06391): decompositions used at initialisation only (unfold/fold,
truncated SVD with a relative-error rank rule, HOSVD, TT-SVD, LAF SVD) and
the sharing-strength / parameter-count diagnostics. No TensorFlow import.
"""

from amtfl_tf.tensor.decompositions import METHODS
from amtfl_tf.tensor.decompositions import RANK_RULES
from amtfl_tf.tensor.decompositions import TT_EPS_SPLITS
from amtfl_tf.tensor.decompositions import factors_to_tensor
from amtfl_tf.tensor.decompositions import fold
from amtfl_tf.tensor.decompositions import hosvd
from amtfl_tf.tensor.decompositions import initial_factors
from amtfl_tf.tensor.decompositions import interpolative_rank
from amtfl_tf.tensor.decompositions import laf_svd
from amtfl_tf.tensor.decompositions import laf_to_tensor
from amtfl_tf.tensor.decompositions import layer_factor_shapes
from amtfl_tf.tensor.decompositions import layer_ranks
from amtfl_tf.tensor.decompositions import mode_dot
from amtfl_tf.tensor.decompositions import multi_mode_dot
from amtfl_tf.tensor.decompositions import truncated_svd
from amtfl_tf.tensor.decompositions import truncation_rank
from amtfl_tf.tensor.decompositions import tt_rank_bounds
from amtfl_tf.tensor.decompositions import tt_svd
from amtfl_tf.tensor.decompositions import tt_to_tensor
from amtfl_tf.tensor.decompositions import tucker_rank_bounds
from amtfl_tf.tensor.decompositions import tucker_to_tensor
from amtfl_tf.tensor.decompositions import unfold
from amtfl_tf.tensor.decompositions import validate_laf_rank
from amtfl_tf.tensor.decompositions import validate_tt_rank
from amtfl_tf.tensor.decompositions import validate_tucker_rank
from amtfl_tf.tensor.sharing import KERNEL_MEASURES
from amtfl_tf.tensor.sharing import factorised_param_count
from amtfl_tf.tensor.sharing import kernel_sharing
from amtfl_tf.tensor.sharing import layer_param_counts
from amtfl_tf.tensor.sharing import network_param_counts
from amtfl_tf.tensor.sharing import normalize_task_factor
from amtfl_tf.tensor.sharing import sharing_strength
from amtfl_tf.tensor.sharing import softmax_identity_strength
from amtfl_tf.tensor.sharing import stl_param_count
from amtfl_tf.tensor.sharing import task_similarity

__all__ = [
    "KERNEL_MEASURES", "METHODS", "RANK_RULES", "TT_EPS_SPLITS",
    "factorised_param_count", "factors_to_tensor", "fold", "hosvd",
    "initial_factors", "interpolative_rank", "kernel_sharing", "laf_svd",
    "laf_to_tensor", "layer_factor_shapes", "layer_param_counts",
    "layer_ranks", "mode_dot", "multi_mode_dot", "network_param_counts",
    "normalize_task_factor", "sharing_strength",
    "softmax_identity_strength", "stl_param_count", "task_similarity",
    "truncated_svd", "truncation_rank", "tt_rank_bounds", "tt_svd",
    "tt_to_tensor", "tucker_rank_bounds", "tucker_to_tensor", "unfold",
    "validate_laf_rank", "validate_tt_rank", "validate_tucker_rank",
]
