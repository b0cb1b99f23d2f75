"""The shared-feature shallow models of Deep-AMTFL Sec. 4.1 (overview in
:mod:`~amtfl_tf.models.amtfl.shallow`): ``Z = σ(X L + c)``, outputs
``Z S + b``.

- :class:`NN`: σ(X L + c) S + b; pooled losses; λ(‖L‖² + ‖S‖²) + ℓ1‖L‖₁.
- :class:`MTNN`: as NN with per-task mean losses; μ‖S‖₁ + λ‖L‖² + ℓ1‖L‖₁.
- :class:`AMTFL`: as MT-NN plus task weights 1 + α‖a_t‖₁ and
  γ‖σ(O A + a) − Z‖² (Eq. 6).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers import AsymmetricFeedback
from amtfl_tf.models.amtfl.terms import l1
from amtfl_tf.models.amtfl.terms import linear_outputs
from amtfl_tf.models.amtfl.terms import sq
from amtfl_tf.models.amtfl.terms import to_numpy
from amtfl_tf.models.multitask import MultiTaskModel


class _SharedFeatureNet(MultiTaskModel):
    """``Z = σ(X L + c)``, outputs ``Z S + b``; NN, MT-NN and AMTFL."""

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 hidden_units: int = 10, activation: Any = "relu",
                 **kwargs: Any) -> None:
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

    def features(self, x: Any) -> Any:
        return self.activation(ops.matmul(x, self.basis) + self.hidden_bias)

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        return linear_outputs(self.features(x), self.coefficients,
                               self.bias, task), 0.0

    def latent_basis(self) -> np.ndarray:
        """L (d × k)."""
        return to_numpy(self.basis)

    def task_parameters(self) -> np.ndarray:
        """L S (d × T): the task parameters when σ is linear."""
        return to_numpy(self.basis) @ to_numpy(self.coefficients)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="amtfl_tf")
class NN(_SharedFeatureNet):
    """One hidden layer shared by all tasks, losses pooled over samples.

    Hyper-parameters: ``lam`` (ℓ2 on L and S), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 **kwargs: Any) -> None:
        kwargs.setdefault("per_task_mean", False)
        super().__init__(num_tasks, input_dim, **kwargs)
        self.built = True

    def penalty(self) -> Any:
        return (self.hp["lam"] * (sq(self.basis) + sq(self.coefficients))
                + self.hp["l1"] * l1(self.basis))


@keras.saving.register_keras_serializable(package="amtfl_tf")
class MTNN(_SharedFeatureNet):
    """NN with each task's loss averaged over its own samples and ℓ1 on the
    last layer (Eq. 6 with α = γ = 0).

    Hyper-parameters: ``mu`` (ℓ1 on S), ``lam`` (ℓ2 on L), ``l1`` (ℓ1 on L).
    """

    HYPERPARAMETERS = {"mu": 1e-3, "lam": 1e-3, "l1": 0.0}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        self.built = True

    def penalty(self) -> Any:
        return (self.hp["mu"] * l1(self.coefficients)
                + self.hp["lam"] * sq(self.basis)
                + self.hp["l1"] * l1(self.basis))


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

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 reconstruction: str = "mean", **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        self.reconstruction = reconstruction
        self.feedback = AsymmetricFeedback(
            self.num_tasks, activation=self.activation,
            reduction=reconstruction, name="feedback")
        self.feedback.build([(None, self.hidden_units),
                             (None, self.num_tasks)])
        self.built = True

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        z = self.features(x)
        outputs = linear_outputs(z, self.coefficients, self.bias, task)
        # σ(O A + a) with O = Z S + b over all T columns, associated in the
        # cheaper order for the shapes (AsymmetricFeedback docs).
        z_hat = self.feedback.reconstruct_from_features(
            z, self.coefficients, self.bias)
        return outputs, self.hp["gamma"] * self.feedback.reconstruction_error(
            z, z_hat)

    def task_weights(self) -> Any:
        return self.feedback.task_weights(self.hp["alpha"])

    def penalty(self) -> Any:
        return (self.hp["mu"] * l1(self.coefficients)
                + self.hp["lam"] * sq(self.basis)
                + self.hp["l1"] * l1(self.basis))

    def transfer_matrix(self) -> np.ndarray:
        """A S (T × T): entry (s, t) is the transfer from task s to task t
        through the features (the paper's Fig. 4(h))."""
        return to_numpy(self.feedback.transfer_matrix(self.coefficients))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reconstruction": self.reconstruction}
