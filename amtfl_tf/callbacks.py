"""Keras callbacks shared by the experiments."""

from __future__ import annotations

import math

import keras
import numpy as np


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first NaN/Inf in the logged loss terms with a
    ``FloatingPointError`` naming the epoch, the step and every term
    (``loss`` and the per-task ``task_loss_<t>`` the multi-task models
    log), so no run goes on to write a table of NaNs.

    Keras' own ``TerminateOnNaN`` only stops quietly; this one raises, and
    the scripts turn the error into one message (``cli.run_main``).

    Args:
      hint: appended to the message (e.g. which flag lowers the step size).
    """

    def __init__(self, hint: str = "lower the learning rate"):
        super().__init__()
        self.hint = hint
        self._epoch = 0
        self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._check(logs, f"epoch {self._epoch + 1}, step {batch + 1} "
                          f"(training step {self._step})")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"the end of epoch {epoch + 1}")

    def _check(self, logs, where: str) -> None:
        if not logs:
            return
        values = {}
        for k, v in logs.items():
            try:
                values[k] = float(np.asarray(v))
            except (TypeError, ValueError):
                continue
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            terms = ", ".join(f"{k}={v:.6g}" for k, v in values.items())
            name = getattr(self.model, "name", "model")
            raise FloatingPointError(
                f"{name}: non-finite loss at {where}: {terms} (non-finite: "
                f"{', '.join(bad)}); {self.hint}.")
