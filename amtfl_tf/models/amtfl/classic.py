"""The classic shallow baselines of DMTRL's Appendix A (Table 1; overview
in :mod:`~amtfl_tf.models.amtfl.shallow`).

- :class:`EvgeniouPontil`: X (w₀1ᵀ + V) + b; (λ_task/T)‖V‖² + λ_shared‖w₀‖²
  (Evgeniou & Pontil 2004, regularised MTL).
- :class:`MTFL`: X W + b; γ tr(D⁻¹(W Wᵀ + εI)) with D updated in closed
  form (:func:`mtfl_d_step`; Argyriou, Evgeniou & Pontil 2008, convex
  multi-task feature learning; the alternating algorithm, see
  :class:`MTFLDStep`).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.models.amtfl.terms import linear_outputs
from amtfl_tf.models.amtfl.terms import sq
from amtfl_tf.models.amtfl.terms import to_numpy
from amtfl_tf.models.multitask import MultiTaskModel


@keras.saving.register_keras_serializable(package="amtfl_tf")
class EvgeniouPontil(MultiTaskModel):
    """Regularised MTL (Evgeniou & Pontil, KDD 2004): ``w_t = w₀ + v_t``.

    Outputs ``X (w₀ 1ᵀ + V) + b``; penalty
    ``(λ_task / T) Σ_t ‖v_t‖² + λ_shared ‖w₀‖²``; the per-task biases b are
    not regularised. In DMTRL's factor view W = L S with
    ``L = [w₀, v_1, …, v_T]`` and ``S = [1ᵀ; I]``.

    The original is an SVM (hinge loss, solved in the dual with a task
    kernel); here the model's ``loss`` (squared or logistic) is minimised
    jointly over w₀, V and b by gradient descent. The data term is the
    base class's (per-task means by default, not the original's sums, so
    λ's scale differs by the task sizes). λ_task ≫ λ_shared pulls every
    task to the common w₀; λ_task ≪ λ_shared gives independent tasks.

    Hyper-parameters: ``lam_task`` (λ₁ on the task offsets v_t),
    ``lam_shared`` (λ₂ on w₀).
    """

    HYPERPARAMETERS = {"lam_task": 1e-3, "lam_shared": 1e-3}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        self.shared_kernel = self.add_weight(
            name="shared_kernel", shape=(self.input_dim,),
            initializer="zeros")
        self.task_kernel = self.add_weight(
            name="task_kernel", shape=(self.input_dim, self.num_tasks),
            initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")
        self.built = True

    def _kernel(self):
        return ops.expand_dims(self.shared_kernel, 1) + self.task_kernel

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        return linear_outputs(x, self._kernel(), self.bias, task), 0.0

    def penalty(self) -> Any:
        return (self.hp["lam_task"] / self.num_tasks * sq(self.task_kernel)
                + self.hp["lam_shared"] * sq(self.shared_kernel))

    def shared_parameters(self) -> np.ndarray:
        """w₀ (d,)."""
        return to_numpy(self.shared_kernel)

    def task_parameters(self) -> np.ndarray:
        """W = w₀ 1ᵀ + V (d × T)."""
        return to_numpy(self._kernel())


def mtfl_d_step(w: Any, epsilon: float) -> tuple[Any, Any]:
    """The closed-form D-step of MTFL, in float64.

    ``D = (W Wᵀ + εI)^{1/2} / tr((W Wᵀ + εI)^{1/2})`` and its inverse, from
    one eigendecomposition ``W Wᵀ = U diag(λ) Uᵀ`` (λ clipped at 0 against
    round-off): with ``s = √(λ + ε)``, ``D = U diag(s / Σs) Uᵀ`` and
    ``D⁻¹ = U diag(Σs / s) Uᵀ``; ``s ≥ √ε > 0`` keeps both finite.

    Args:
      w: W (d × T), a tensor or array.
      epsilon: ε > 0.
    Returns:
      ``(D, D⁻¹)``, float64 (d × d) tensors; works eagerly and in graphs.
    """
    w = ops.cast(w, "float64")
    cov = ops.matmul(w, ops.transpose(w))
    cov = 0.5 * (cov + ops.transpose(cov))
    lam, u = ops.eigh(cov)
    s = ops.sqrt(ops.maximum(lam, 0.0) + float(epsilon))
    total = ops.sum(s)
    d = ops.matmul(u * (s / total), ops.transpose(u))
    d_inv = ops.matmul(u * (total / s), ops.transpose(u))
    return d, d_inv


@keras.saving.register_keras_serializable(package="amtfl_tf")
class MTFL(MultiTaskModel):
    """Convex multi-task feature learning (Argyriou, Evgeniou & Pontil,
    Machine Learning 2008).

    Outputs ``X W + b``. The paper's problem
    ``min_{W, D} Σ_t L_t(w_t) + γ Σ_t ⟨w_t, D⁺ w_t⟩``, ``D ⪰ 0``,
    ``tr D ≤ 1``, equals ``min_W Σ_t L_t(w_t) + γ ‖W‖²_*`` (squared trace
    norm). As in the paper's Sec. 4 the problem is perturbed by ε:

        penalty = γ tr(D⁻¹ (W Wᵀ + εI)) = γ (tr(Wᵀ D⁻¹ W) + ε tr D⁻¹),

    whose minimum over D is ``γ (Σ_i √(σ_i(W)² + ε))²`` (the squared trace
    norm of ``[W, √ε I]``, → γ‖W‖²_* as ε → 0), at the closed form
    ``D = (W Wᵀ + εI)^{1/2} / tr(·)`` (:func:`mtfl_d_step`). The ε tr D⁻¹
    term is constant in W (no gradient); it is kept so that the reported
    loss is the objective the alternating algorithm decreases.

    **The alternating algorithm, with inexact W-steps.** D (and D⁻¹) are
    non-trainable variables. A W-step is gradient training of W and b with
    D held fixed (a generalised ridge); the paper solves it exactly, here
    it is as many optimiser steps as run between two D-steps (optimiser
    state carries over). A D-step (:meth:`update_d`) replaces D by the
    closed form, the exact minimiser over D, so it never increases the
    objective. D-steps are applied by the :class:`MTFLDStep` callback
    (every k epochs), and/or inside the compiled train step every
    ``d_step_every`` optimiser steps (for drivers that pass no callbacks,
    such as ``experiments.shallow.Trainer``). W starts at 0 and D at
    ``I/d``, the D-step's value at W = 0.

    Per-task biases b are not regularised; the data term is the base
    class's (per-task means by default, not the paper's sums, so γ's scale
    differs by the task sizes).

    Args:
      epsilon: ε > 0, in the units of ‖W‖² (squared weights). D's
        eigenvalues are at least √ε / tr((WWᵀ + εI)^{1/2}), so directions
        of W whose squared singular value is ≪ ε are shrunk like a ridge of
        strength γ tr(·)/√ε. The default 1e-4 suits standardised inputs
        (e.g. PCA features scaled to unit variance, as Table 1 does) where
        the weights are O(0.1–1); scale it with the squared weight
        magnitude otherwise.
      d_step_every: apply the D-step inside the train step every this
        many optimiser steps; 0 (default): only by :meth:`update_d` or the
        :class:`MTFLDStep` callback.
    Hyper-parameters: ``gamma`` (γ).
    """

    HYPERPARAMETERS = {"gamma": 1e-2}

    def __init__(self, num_tasks: int, input_dim: int | Sequence[int],
                 epsilon: float = 1e-4, d_step_every: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(num_tasks, input_dim, **kwargs)
        try:
            ok = float(epsilon) > 0 and np.isfinite(float(epsilon))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"epsilon must be a finite number > 0. "
                             f"Received: epsilon={epsilon!r}")
        if not isinstance(d_step_every, (int, np.integer)) or isinstance(
                d_step_every, bool) or d_step_every < 0:
            raise ValueError(
                f"d_step_every must be an int >= 0. Received: "
                f"d_step_every={d_step_every!r}")
        self.epsilon = float(epsilon)
        self.d_step_every = int(d_step_every)
        d = self.input_dim
        self.kernel = self.add_weight(
            name="kernel", shape=(d, self.num_tasks), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.num_tasks,),
                                    initializer="zeros")
        # D and D⁻¹ at W = 0; replica-local updates keep replica 0's value.
        self.d_matrix = self.add_weight(
            name="d_matrix", shape=(d, d), trainable=False,
            initializer=keras.initializers.Identity(gain=1.0 / d),
            aggregation="only_first_replica")
        self.d_inverse = self.add_weight(
            name="d_inverse", shape=(d, d), trainable=False,
            initializer=keras.initializers.Identity(gain=float(d)),
            aggregation="only_first_replica")
        self.built = True

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        return linear_outputs(x, self.kernel, self.bias, task), 0.0

    def penalty(self) -> Any:
        w = self.kernel
        d_inv = ops.convert_to_tensor(self.d_inverse)
        return self.hp["gamma"] * (
            ops.sum(w * ops.matmul(d_inv, w))
            + self.epsilon * ops.trace(d_inv))

    def _closed_form(self):
        d, d_inv = mtfl_d_step(self.kernel, self.epsilon)
        return (ops.cast(d, self.d_matrix.dtype),
                ops.cast(d_inv, self.d_inverse.dtype))

    def _assign_d(self, d, d_inv):
        self.d_matrix.assign(d)
        self.d_inverse.assign(d_inv)

    def update_d(self) -> np.ndarray:
        """The D-step: set D (and D⁻¹) to the closed form for the current
        W; returns the new D (d × d). Call eagerly (between fits)."""
        self._assign_d(*self._closed_form())
        return to_numpy(self.d_matrix)

    def train_step(self, data: Any) -> dict[str, Any]:
        logs = super().train_step(data)
        if self.d_step_every:
            due = ops.equal(
                ops.mod(self.optimizer.iterations, self.d_step_every), 0)
            # The eigendecomposition runs only when due; the assignment is
            # outside the cond, where tf.distribute allows it.
            self._assign_d(*ops.cond(
                due, self._closed_form,
                lambda: (ops.convert_to_tensor(self.d_matrix),
                         ops.convert_to_tensor(self.d_inverse))))
        return logs

    def feature_matrix(self) -> np.ndarray:
        """D (d × d), tr D = 1."""
        return to_numpy(self.d_matrix)

    def task_parameters(self) -> np.ndarray:
        """W (d × T)."""
        return to_numpy(self.kernel)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon,
                "d_step_every": self.d_step_every}


class MTFLDStep(keras.callbacks.Callback):
    """Applies :meth:`MTFL.update_d` (the closed-form D-step) after every
    ``every_epochs`` epochs, so that ``fit`` runs MTFL's alternating
    algorithm: each epoch block is an inexact W-step (see :class:`MTFL`).

    Example::

        model.fit(x, y, epochs=20, callbacks=[MTFLDStep(every_epochs=1)])
    """

    def __init__(self, every_epochs: int = 1) -> None:
        super().__init__()
        if not isinstance(every_epochs, (int, np.integer)) or isinstance(
                every_epochs, bool) or every_epochs < 1:
            raise ValueError(
                f"every_epochs must be an int >= 1. Received: "
                f"every_epochs={every_epochs!r}")
        self.every_epochs = int(every_epochs)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not callable(getattr(self.model, "update_d", None)):
            raise TypeError(
                f"MTFLDStep needs a model with update_d() (MTFL). "
                f"Received: {type(self.model).__name__}")

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every_epochs == 0:
            self.model.update_d()
