"""The linear shallow models of Deep-AMTFL Sec. 4.1 (overview in
:mod:`~amtfl_tf.models.amtfl.shallow`).

- :class:`STL`: outputs X W + b; λ‖W‖² + ℓ1‖W‖₁ (tasks never interact).
- :class:`GOMTL`: X L S + b; μ‖S‖₁ + λ‖L‖² + ℓ1‖L‖₁ (Kumar & Daumé 2012,
  Eq. 3).
- :class:`AMTL`: X W + b; task weights 1 + α‖b_t‖₁; γ‖W − W B‖² + λ‖W‖²
  + ℓ1‖W‖₁; B_tt = 0, B ≥ 0 optional (Lee et al. 2016, Eq. 4).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.models.amtfl.terms import l1
from amtfl_tf.models.amtfl.terms import linear_outputs
from amtfl_tf.models.amtfl.terms import sq
from amtfl_tf.models.amtfl.terms import to_numpy
from amtfl_tf.models.multitask import MultiTaskModel


@keras.saving.register_keras_serializable(package="amtfl_tf")
class STL(MultiTaskModel):
    """Single-task learning: T independent linear predictors ``X W + b``.

    Every task's loss depends only on its own column, so joint training is
    independent training. Hyper-parameters: ``lam`` (ℓ2), ``l1`` (ℓ1).
    """

    HYPERPARAMETERS = {"lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.input_dim, self.num_tasks),
            initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")
        self.built = True

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        return linear_outputs(x, self.kernel, self.bias, task), 0.0

    def penalty(self) -> Any:
        return self.hp["lam"] * sq(self.kernel) + self.hp["l1"] * l1(
            self.kernel)

    def task_parameters(self) -> np.ndarray:
        """W (d × T)."""
        return to_numpy(self.kernel)


@keras.saving.register_keras_serializable(package="amtfl_tf")
class GOMTL(MultiTaskModel):
    """GO-MTL: linear predictors sharing k latent bases, ``W = L S``.

    Args:
      num_latent: k, the number of latent bases.
    Hyper-parameters: ``mu`` (ℓ1 on S), ``lam`` (ℓ2 on L), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"mu": 1e-3, "lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 num_latent: int = 6, **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        if not isinstance(num_latent, (int, np.integer)) or num_latent < 1:
            raise ValueError(
                f"num_latent must be an int >= 1. Received: "
                f"num_latent={num_latent!r}")
        self.num_latent = int(num_latent)
        self.basis = self.add_weight(
            name="basis", shape=(self.input_dim, self.num_latent),
            initializer="glorot_uniform")
        self.coefficients = self.add_weight(
            name="coefficients", shape=(self.num_latent, self.num_tasks),
            initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")
        self.built = True

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        return linear_outputs(ops.matmul(x, self.basis), self.coefficients,
                               self.bias, task), 0.0

    def penalty(self) -> Any:
        return (self.hp["mu"] * l1(self.coefficients)
                + self.hp["lam"] * sq(self.basis)
                + self.hp["l1"] * l1(self.basis))

    def latent_basis(self) -> np.ndarray:
        """L (d × k)."""
        return to_numpy(self.basis)

    def task_parameters(self) -> np.ndarray:
        """W = L S (d × T)."""
        return to_numpy(self.basis) @ to_numpy(self.coefficients)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_latent": self.num_latent}


@keras.saving.register_keras_serializable(package="amtfl_tf")
class AMTL(MultiTaskModel):
    """Asymmetric MTL (Lee, Yang, Hwang, ICML 2016): inter-task transfer B.

    ``B[s, t]`` is the transfer from task s to task t; column t of ``W B``
    is ``Σ_s B[s, t] w_s``; the diagonal is held at 0 and row t (task t's
    outgoing transfer) weights its loss by ``1 + α ||b_t||₁``.

    Args:
      nonnegative: keep B ≥ 0 (projection after every update, as the
        original); the paper drops it for its synthetic data.
    Hyper-parameters: ``alpha``, ``gamma``, ``lam`` (ℓ2 on W), ``l1``
    (ℓ1 on W).
    """

    HYPERPARAMETERS = {"alpha": 1e-2, "gamma": 1e-2, "lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 nonnegative: bool = True, **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        self.nonnegative = bool(nonnegative)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.input_dim, self.num_tasks),
            initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")
        self.transfer = self.add_weight(
            name="transfer", shape=(self.num_tasks, self.num_tasks),
            initializer="zeros",
            constraint=keras.constraints.NonNeg() if self.nonnegative
            else None)
        self._off_diagonal = 1.0 - np.eye(self.num_tasks, dtype=np.float32)
        self.built = True

    def _masked_transfer(self):
        return self.transfer * ops.convert_to_tensor(
            self._off_diagonal, self.transfer.dtype)

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        return linear_outputs(x, self.kernel, self.bias, task), 0.0

    def task_weights(self) -> Any:
        return 1.0 + self.hp["alpha"] * ops.sum(
            ops.abs(self._masked_transfer()), axis=1)

    def penalty(self) -> Any:
        w = self.kernel
        recon = w - ops.matmul(w, self._masked_transfer())
        return (self.hp["gamma"] * sq(recon) + self.hp["lam"] * sq(w)
                + self.hp["l1"] * l1(w))

    def task_parameters(self) -> np.ndarray:
        """W (d × T)."""
        return to_numpy(self.kernel)

    def transfer_matrix(self) -> np.ndarray:
        """B with zero diagonal (T × T); rows are sources."""
        return to_numpy(self._masked_transfer())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nonnegative": self.nonnegative}
