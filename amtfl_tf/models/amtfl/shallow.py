"""The shallow methods of Deep-AMTFL Sec. 4.1, on :class:`MultiTaskModel`.

- :class:`STL`: outputs X W + b; λ‖W‖² + ℓ1‖W‖₁ (tasks never interact).
- :class:`GOMTL`: X L S + b; μ‖S‖₁ + λ‖L‖² + ℓ1‖L‖₁ (Kumar & Daumé 2012,
  Eq. 3).
- :class:`AMTL`: X W + b; task weights 1 + α‖b_t‖₁; γ‖W − W B‖² + λ‖W‖²
  + ℓ1‖W‖₁; B_tt = 0, B ≥ 0 optional (Lee et al. 2016, Eq. 4).
- :class:`NN`: σ(X L + c) S + b; pooled losses; λ(‖L‖² + ‖S‖²) + ℓ1‖L‖₁.
- :class:`MTNN`: as NN with per-task mean losses; μ‖S‖₁ + λ‖L‖² + ℓ1‖L‖₁.
- :class:`AMTFL`: as MT-NN plus task weights 1 + α‖a_t‖₁ and
  γ‖σ(O A + a) − Z‖² (Eq. 6).

Classic shallow baselines of DMTRL's Appendix A (Table 1):

- :class:`EvgeniouPontil`: X (w₀1ᵀ + V) + b; (λ_task/T)‖V‖² + λ_shared‖w₀‖²
  (Evgeniou & Pontil 2004, regularised MTL).
- :class:`MTFL`: X W + b; γ tr(D⁻¹(W Wᵀ + εI)) with D updated in closed
  form (Argyriou, Evgeniou & Pontil 2008, convex multi-task feature
  learning; the alternating algorithm, see :class:`MTFLDStep`).

``ℓ1`` (hyper-parameter ``l1``) is the "ℓ1 on L for all models" of the
synthetic experiment; it is 0 by default. All penalties use squared
Frobenius norms as printed (Keras ``L2`` convention, no ½).

The models are trained jointly by gradient descent (the paper: "we implement
all base models as neural networks"); GO-MTL's and AMTL's original
alternating solvers are not used. MTFL keeps its closed-form D-step, so it
runs its alternating algorithm with inexact (gradient) W-steps.

The classes live in :mod:`~amtfl_tf.models.amtfl.linear` (STL, GO-MTL,
AMTL), :mod:`~amtfl_tf.models.amtfl.neural` (NN, MT-NN, AMTFL) and
:mod:`~amtfl_tf.models.amtfl.classic` (Evgeniou & Pontil, MTFL), on the
helpers of :mod:`~amtfl_tf.models.amtfl.terms`; this module re-exports
them and maps the paper's names to them in ``METHODS``.
"""

from __future__ import annotations

from amtfl_tf.models.amtfl.classic import EvgeniouPontil
from amtfl_tf.models.amtfl.classic import MTFL
from amtfl_tf.models.amtfl.classic import MTFLDStep
from amtfl_tf.models.amtfl.classic import mtfl_d_step
from amtfl_tf.models.amtfl.linear import AMTL
from amtfl_tf.models.amtfl.linear import GOMTL
from amtfl_tf.models.amtfl.linear import STL
from amtfl_tf.models.amtfl.neural import AMTFL
from amtfl_tf.models.amtfl.neural import MTNN
from amtfl_tf.models.amtfl.neural import NN

__all__ = ["AMTFL", "AMTL", "EvgeniouPontil", "GOMTL", "METHODS", "MTFL",
           "MTFLDStep", "MTNN", "NN", "STL", "mtfl_d_step"]


METHODS = {"STL": STL, "GO-MTL": GOMTL, "AMTL": AMTL, "NN": NN,
           "MT-NN": MTNN, "AMTFL": AMTFL, "Evgeniou-Pontil": EvgeniouPontil,
           "MTFL": MTFL}
