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

``ℓ1`` (hyper-parameter ``l1``) is the "ℓ1 on L for all models" of the
synthetic experiment; it is 0 by default. All penalties use squared
Frobenius norms as printed (Keras ``L2`` convention, no ½).

The models are trained jointly by gradient descent (the paper: "we implement
all base models as neural networks"); GO-MTL's and AMTL's original
alternating solvers are not used.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers import AsymmetricFeedback
from amtfl_tf.models.multitask import MultiTaskModel


def _l1(w):
    return ops.sum(ops.abs(w))


def _sq(w):
    return ops.sum(ops.square(w))


def _np(v):
    return np.asarray(ops.convert_to_numpy(v))


def _linear_outputs(h, kernel, bias, task):
    """``h W + b`` for every task, or each sample's own task only."""
    if task is None:
        return ops.matmul(h, kernel) + bias
    task = ops.cast(task, "int32")
    own = ops.take(ops.transpose(kernel), task, axis=0)  # (B, k)
    return ops.sum(h * own, axis=1) + ops.take(bias, task)


@keras.saving.register_keras_serializable(package="amtfl_tf")
class STL(MultiTaskModel):
    """Single-task learning: T independent linear predictors ``X W + b``.

    Every task's loss depends only on its own column, so joint training is
    independent training. Hyper-parameters: ``lam`` (ℓ2), ``l1`` (ℓ1).
    """

    HYPERPARAMETERS = {"lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks, input_dim, **kwargs):
        super().__init__(num_tasks, input_dim, **kwargs)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.input_dim, self.num_tasks),
            initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")
        self.built = True

    def forward(self, x, training=False, task=None):
        return _linear_outputs(x, self.kernel, self.bias, task), 0.0

    def penalty(self):
        return self.hp["lam"] * _sq(self.kernel) + self.hp["l1"] * _l1(
            self.kernel)

    def task_parameters(self) -> np.ndarray:
        """W (d × T)."""
        return _np(self.kernel)


@keras.saving.register_keras_serializable(package="amtfl_tf")
class GOMTL(MultiTaskModel):
    """GO-MTL: linear predictors sharing k latent bases, ``W = L S``.

    Args:
      num_latent: k, the number of latent bases.
    Hyper-parameters: ``mu`` (ℓ1 on S), ``lam`` (ℓ2 on L), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"mu": 1e-3, "lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks, input_dim, num_latent=6, **kwargs):
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

    def forward(self, x, training=False, task=None):
        return _linear_outputs(ops.matmul(x, self.basis), self.coefficients,
                               self.bias, task), 0.0

    def penalty(self):
        return (self.hp["mu"] * _l1(self.coefficients)
                + self.hp["lam"] * _sq(self.basis)
                + self.hp["l1"] * _l1(self.basis))

    def latent_basis(self) -> np.ndarray:
        """L (d × k)."""
        return _np(self.basis)

    def task_parameters(self) -> np.ndarray:
        """W = L S (d × T)."""
        return _np(self.basis) @ _np(self.coefficients)

    def get_config(self):
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

    def __init__(self, num_tasks, input_dim, nonnegative=True, **kwargs):
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

    def forward(self, x, training=False, task=None):
        return _linear_outputs(x, self.kernel, self.bias, task), 0.0

    def task_weights(self):
        return 1.0 + self.hp["alpha"] * ops.sum(
            ops.abs(self._masked_transfer()), axis=1)

    def penalty(self):
        w = self.kernel
        recon = w - ops.matmul(w, self._masked_transfer())
        return (self.hp["gamma"] * _sq(recon) + self.hp["lam"] * _sq(w)
                + self.hp["l1"] * _l1(w))

    def task_parameters(self) -> np.ndarray:
        """W (d × T)."""
        return _np(self.kernel)

    def transfer_matrix(self) -> np.ndarray:
        """B with zero diagonal (T × T); rows are sources."""
        return _np(self._masked_transfer())

    def get_config(self):
        return {**super().get_config(), "nonnegative": self.nonnegative}


class _SharedFeatureNet(MultiTaskModel):
    """``Z = σ(X L + c)``, outputs ``Z S + b``; NN, MT-NN and AMTFL."""

    def __init__(self, num_tasks, input_dim, hidden_units=10,
                 activation="relu", **kwargs):
        super().__init__(num_tasks, input_dim, **kwargs)
        if not isinstance(hidden_units, (int, np.integer)) or \
                hidden_units < 1:
            raise ValueError(
                f"hidden_units must be an int >= 1. Received: "
                f"hidden_units={hidden_units!r}")
        self.hidden_units = int(hidden_units)
        self.activation = keras.activations.get(activation)
        self.basis = self.add_weight(
            name="basis", shape=(self.input_dim, self.hidden_units),
            initializer="glorot_uniform")
        self.hidden_bias = self.add_weight(
            name="hidden_bias", shape=(self.hidden_units,),
            initializer="zeros")
        self.coefficients = self.add_weight(
            name="coefficients", shape=(self.hidden_units, self.num_tasks),
            initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")

    def features(self, x):
        return self.activation(ops.matmul(x, self.basis) + self.hidden_bias)

    def forward(self, x, training=False, task=None):
        return _linear_outputs(self.features(x), self.coefficients,
                               self.bias, task), 0.0

    def latent_basis(self) -> np.ndarray:
        """L (d × k)."""
        return _np(self.basis)

    def task_parameters(self) -> np.ndarray:
        """L S (d × T): the task parameters when σ is linear."""
        return _np(self.basis) @ _np(self.coefficients)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="amtfl_tf")
class NN(_SharedFeatureNet):
    """One hidden layer shared by all tasks, losses pooled over samples.

    Hyper-parameters: ``lam`` (ℓ2 on L and S), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks, input_dim, **kwargs):
        kwargs.setdefault("per_task_mean", False)
        super().__init__(num_tasks, input_dim, **kwargs)
        self.built = True

    def penalty(self):
        return (self.hp["lam"] * (_sq(self.basis) + _sq(self.coefficients))
                + self.hp["l1"] * _l1(self.basis))


@keras.saving.register_keras_serializable(package="amtfl_tf")
class MTNN(_SharedFeatureNet):
    """NN with each task's loss averaged over its own samples and ℓ1 on the
    last layer (Eq. 6 with α = γ = 0).

    Hyper-parameters: ``mu`` (ℓ1 on S), ``lam`` (ℓ2 on L), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"mu": 1e-3, "lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks, input_dim, **kwargs):
        super().__init__(num_tasks, input_dim, **kwargs)
        self.built = True

    def penalty(self):
        return (self.hp["mu"] * _l1(self.coefficients)
                + self.hp["lam"] * _sq(self.basis)
                + self.hp["l1"] * _l1(self.basis))


@keras.saving.register_keras_serializable(package="amtfl_tf")
class AMTFL(_SharedFeatureNet):
    """Asymmetric multi-task feature learning (Deep-AMTFL Eq. 6).

    The task outputs ``O = Z S + b`` are fed back through an
    :class:`AsymmetricFeedback` layer to reconstruct ``Z``; task t's loss is
    weighted by ``1 + α ||a_t||₁``. Use ``activation="linear"`` for the
    synthetic experiment (the paper removes the hidden ReLU there); the
    reconstruction uses the same σ.

    Args:
      reconstruction: ``"mean"`` or ``"sum"`` over samples (see
        :class:`AsymmetricFeedback`).
    Hyper-parameters: ``alpha``, ``gamma``, ``mu`` (ℓ1 on S), ``lam``
    (ℓ2 on L), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"alpha": 1e-2, "gamma": 1e-2, "mu": 1e-3, "lam": 1e-3,
                       "l1": 0.0}

    def __init__(self, num_tasks, input_dim, reconstruction="mean",
                 **kwargs):
        super().__init__(num_tasks, input_dim, **kwargs)
        self.reconstruction = reconstruction
        self.feedback = AsymmetricFeedback(
            self.num_tasks, activation=self.activation,
            reduction=reconstruction, name="feedback")
        self.feedback.build([(None, self.hidden_units),
                             (None, self.num_tasks)])
        self.built = True

    def forward(self, x, training=False, task=None):
        z = self.features(x)
        outputs = _linear_outputs(z, self.coefficients, self.bias, task)
        # σ(O A + a) with O = Z S + b, computed as σ(Z (S A) + b A + a):
        # the same numbers without materialising O when task ids are given.
        z_hat = self.feedback.reconstruct_from_features(
            z, self.coefficients, self.bias)
        return outputs, self.hp["gamma"] * self.feedback.reconstruction_error(
            z, z_hat)

    def task_weights(self):
        return self.feedback.task_weights(self.hp["alpha"])

    def penalty(self):
        return (self.hp["mu"] * _l1(self.coefficients)
                + self.hp["lam"] * _sq(self.basis)
                + self.hp["l1"] * _l1(self.basis))

    def transfer_matrix(self) -> np.ndarray:
        """A S (T × T): entry (s, t) is the transfer from task s to task t
        through the features (the paper's Fig. 4(h))."""
        return _np(self.feedback.transfer_matrix(self.coefficients))

    def get_config(self):
        return {**super().get_config(), "reconstruction": self.reconstruction}


METHODS = {"STL": STL, "GO-MTL": GOMTL, "AMTL": AMTL, "NN": NN,
           "MT-NN": MTNN, "AMTFL": AMTFL}
