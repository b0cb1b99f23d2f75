"""Deep-AMTFL Sec. 4.2: CNN, MT-CNN, Deep-AMTL and Deep-AMTFL on one
backbone (:mod:`amtfl_tf.models.backbones`), as one-vs-all sigmoid tasks
(shared inputs: ``x`` images, ``y`` ``(B, T)`` 0/1).

| method | last layer W (k × T) | other layers | task weights / extra |
|---|---|---|---|
| ``cnn`` | ℓ2 (λ) | ℓ2 (λ) | – |
| ``mt-cnn`` | ℓ1 (μ) | ℓ2 (λ) | – |
| ``deep-amtl`` | ℓ1 (μ, ``amtl_l1``) + γ‖W − W B‖² | ℓ2 (λ) | 1 + α‖b_t‖₁ |
| ``deep-amtfl`` | ℓ1 (μ) | ℓ2 (λ) | 1 + α‖a_t‖₁; γ‖σ(O A + a) − Z‖² |

As in the authors' code (haebeom-lee/amtfl): the last layer is initialised
N(0, 0.01²) with zero bias, the feedback A likewise, the reconstruction
takes the logits O (bias included) through ReLU with a bias, Z is not
detached, the ℓ2 term covers every backbone variable including biases, and
with ``l2_convention="half"`` it is λ·½Σv² (TF1's ``tf.nn.l2_loss``);
``"full"`` is λ·Σv² (Keras' ``L2``).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.layers import AsymmetricFeedback
from amtfl_tf.models.backbones import build_backbone
from amtfl_tf.models.multitask import MultiTaskModel

DEEP_METHODS = ("cnn", "mt-cnn", "deep-amtl", "deep-amtfl")
PAPER_NAMES = {"cnn": "CNN", "mt-cnn": "MT-CNN", "deep-amtl": "Deep-AMTL",
               "deep-amtfl": "Deep-AMTFL"}
L2_CONVENTIONS = ("half", "full")


@keras.saving.register_keras_serializable(package="amtfl_tf")
class DeepMultiTaskModel(MultiTaskModel):
    """A backbone, a task layer and the method's objective.

    Args:
      num_tasks: T (one sigmoid output per task).
      input_dim: the image shape, e.g. ``(28, 28, 1)``.
      method: one of ``DEEP_METHODS``.
      backbone: one of ``backbones.BACKBONES``.
      l2_convention: ``"half"`` or ``"full"`` (see the module doc).
      amtl_l1: keep μ‖W‖₁ in Deep-AMTL (the deep version of Eq. 5 has it).
      amtl_nonnegative: B ≥ 0 in Deep-AMTL (off: the lab's deep AMTL code,
        anhtuan5696/TPAMTL, has none).
      head_init_stddev: std of the N(0, s²) init of W and A (0.01).
    Hyper-parameters: ``alpha``, ``gamma``, ``mu``, ``lam``.
    """

    HYPERPARAMETERS = {"alpha": 0.1, "gamma": 0.01, "mu": 1e-4, "lam": 1e-4}

    def __init__(self, num_tasks: int, input_dim: Sequence[int],
                 method: str = "deep-amtfl", backbone: str = "lenet_conv",
                 l2_convention: str = "half", amtl_l1: bool = True,
                 amtl_nonnegative: bool = False,
                 head_init_stddev: float = 0.01, **kwargs: Any) -> None:
        kwargs.setdefault("loss", "logistic")
        super().__init__(num_tasks, input_dim, **kwargs)
        if method not in DEEP_METHODS:
            raise ValueError(f"method must be one of {DEEP_METHODS}. "
                             f"Received: method={method!r}")
        if l2_convention not in L2_CONVENTIONS:
            raise ValueError(
                f"l2_convention must be one of {L2_CONVENTIONS}. Received: "
                f"l2_convention={l2_convention!r}")
        if not head_init_stddev > 0:
            raise ValueError("head_init_stddev must be > 0. Received: "
                             f"head_init_stddev={head_init_stddev!r}")
        self.method = method
        self.backbone_name = backbone
        self.l2_convention = l2_convention
        self.amtl_l1 = bool(amtl_l1)
        self.amtl_nonnegative = bool(amtl_nonnegative)
        self.head_init_stddev = float(head_init_stddev)
        self.backbone = build_backbone(backbone, self.example_shape)
        k = self.backbone.output.shape[-1]
        init = keras.initializers.RandomNormal(stddev=self.head_init_stddev)
        self.head = keras.layers.Dense(num_tasks, kernel_initializer=init,
                                       name="task_layer")
        self.head.build((None, k))
        self.feedback = None
        self.transfer = None
        if method == "deep-amtfl":
            self.feedback = AsymmetricFeedback(
                num_tasks, activation="relu", feedback_initializer=init,
                name="feedback")
            self.feedback.build([(None, k), (None, num_tasks)])
        elif method == "deep-amtl":
            self.transfer = self.add_weight(
                name="transfer", shape=(num_tasks, num_tasks),
                initializer="zeros",
                constraint=keras.constraints.NonNeg()
                if self.amtl_nonnegative else None)
        self._off_diagonal = 1.0 - np.eye(num_tasks, dtype=np.float32)
        self.built = True

    def forward(self, x: Any, training: bool = False,
                task: Any = None) -> tuple[Any, Any]:
        z = self.backbone(x, training=training)
        logits = self.head(z)
        if self.feedback is None:
            return logits, 0.0
        z_hat = self.feedback([z, logits])
        return logits, self.hp["gamma"] * self.feedback.reconstruction_error(
            z, z_hat)

    def _masked_transfer(self):
        return self.transfer * ops.convert_to_tensor(self._off_diagonal,
                                                     self.transfer.dtype)

    def task_weights(self) -> Any:
        if self.method == "deep-amtfl":
            return self.feedback.task_weights(self.hp["alpha"])
        if self.method == "deep-amtl":
            return 1.0 + self.hp["alpha"] * ops.sum(
                ops.abs(self._masked_transfer()), axis=1)
        return None

    def penalty(self) -> Any:
        scale = 0.5 if self.l2_convention == "half" else 1.0
        decayed = list(self.backbone.trainable_weights)
        w = self.head.kernel
        if self.method == "cnn":
            decayed += [w, self.head.bias]
        l2 = ops.sum([ops.sum(ops.square(v)) for v in decayed])
        total = self.hp["lam"] * scale * l2
        if self.method in ("mt-cnn", "deep-amtfl") or (
                self.method == "deep-amtl" and self.amtl_l1):
            total = total + self.hp["mu"] * ops.sum(ops.abs(w))
        if self.method == "deep-amtl":
            total = total + self.hp["gamma"] * ops.sum(ops.square(
                w - ops.matmul(w, self._masked_transfer())))
        return total

    def transfer_matrix(self) -> np.ndarray:
        """Deep-AMTFL: A W (T × T), entry (s, t) the transfer from task s
        to task t through the features (Fig. 6(b)); Deep-AMTL: B."""
        if self.method == "deep-amtfl":
            return np.asarray(ops.convert_to_numpy(
                self.feedback.transfer_matrix(self.head.kernel)))
        if self.method == "deep-amtl":
            return np.asarray(ops.convert_to_numpy(self._masked_transfer()))
        raise ValueError(f"method={self.method!r} has no transfer matrix")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "method": self.method,
                "backbone": self.backbone_name,
                "l2_convention": self.l2_convention,
                "amtl_l1": self.amtl_l1,
                "amtl_nonnegative": self.amtl_nonnegative,
                "head_init_stddev": self.head_init_stddev}


class HyperparameterRamp(keras.callbacks.Callback):
    """Raise hyper-parameters linearly from 0 to their targets over the
    first ``ramp_steps`` training steps (the paper's CUB setting: "we
    gradually increase α and γ from 0"). The targets are the model's values
    when training starts."""

    def __init__(self, names: Sequence[str] = ("alpha", "gamma"),
                 ramp_steps: int = 1000) -> None:
        super().__init__()
        if ramp_steps < 1:
            raise ValueError(f"ramp_steps must be >= 1. Received: "
                             f"ramp_steps={ramp_steps!r}")
        self.names = tuple(names)
        self.ramp_steps = int(ramp_steps)
        self._targets = None
        self._step = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        hps = self.model.get_hyperparameters()
        unknown = [n for n in self.names if n not in hps]
        if unknown:
            raise ValueError(f"HyperparameterRamp: the model has no "
                             f"hyper-parameter(s) {unknown}")
        if self._targets is None:
            self._targets = {n: hps[n] for n in self.names}
        self._assign()

    def _assign(self):
        frac = min(1.0, self._step / self.ramp_steps)
        self.model.set_hyperparameters(
            **{n: frac * v for n, v in self._targets.items()})

    def on_train_batch_begin(self, batch: int,
                             logs: dict[str, Any] | None = None) -> None:
        if self._step <= self.ramp_steps:
            self._assign()
        self._step += 1
