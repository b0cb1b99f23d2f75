"""Keras callbacks shared by the experiments, and the process-wide
TensorBoard switch the scripts' ``--tensorboard`` flag turns on
(:func:`set_tensorboard_root`; :func:`training_callbacks` is what every
experiment's fit uses)."""

from __future__ import annotations

import math
import os
import re

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


class MultiTaskTensorBoard(keras.callbacks.Callback):
    """Writes what a multi-task run needs to TensorBoard, under ``log_dir``:

    - every logged scalar each epoch: the total ``loss``, the per-task
      ``task_loss_<t>`` and the objective's other terms (``penalty``,
      ``forward_loss``; validation ones with a ``val_`` prefix);
    - the model's learned task-transfer matrix as an image (Deep-AMTFL's
      ``A W``, AMTL's ``B``: any model with ``transfer_matrix()``), scaled
      to [0, 1] by its largest absolute entry, every ``image_every``
      epochs and at the end;
    - DMTRL networks: the sharing strength ρ of every layer
      (``sharing_strengths``) as scalars.

    TensorFlow backend only (``tf.summary``).
    """

    def __init__(self, log_dir: str, image_every: int = 1):
        super().__init__()
        if not isinstance(image_every, int) or image_every < 1:
            raise ValueError(f"image_every must be an int >= 1. Received: "
                             f"image_every={image_every!r}")
        self.log_dir = log_dir
        self.image_every = image_every
        self._writer = None

    def _w(self):
        import tensorflow as tf
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def _images(self, step: int) -> None:
        import tensorflow as tf
        fn = getattr(self.model, "transfer_matrix", None)
        if fn is None:
            return
        try:
            m = np.abs(np.asarray(fn(), dtype=np.float32))
        except ValueError:  # e.g. a method without a transfer matrix
            return
        img = m / max(float(m.max()), 1e-12)
        tf.summary.image("transfer_matrix", img[None, :, :, None],
                         step=step)

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        with self._w().as_default():
            for k, v in (logs or {}).items():
                try:
                    tf.summary.scalar(k, float(np.asarray(v)), step=epoch)
                except (TypeError, ValueError):
                    continue
            rho = getattr(self.model, "sharing_strengths", None)
            if rho is not None and getattr(self.model, "num_tasks", 0) > 1:
                for layer, value in rho("l1").items():
                    tf.summary.scalar(f"rho_l1/{layer}", value, step=epoch)
            if (epoch + 1) % self.image_every == 0:
                self._images(epoch)
        self._w().flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


_TENSORBOARD_ROOT: str | None = None
# mid-split checkpoints (--checkpoint): root folder, the split being
# computed and how many fits it has started
_CHECKPOINT = {"root": None, "key": None, "fits": 0}


def set_checkpoint_root(root: str | None) -> None:
    """Turn on (a folder) or off (None) per-epoch checkpoints of every fit
    made by :func:`training_callbacks`: model, optimizer and epoch, saved
    by ``keras.callbacks.BackupAndRestore`` under
    ``<root>/<split key>/fit<n>`` and deleted when the fit ends. A run
    killed mid-fit resumes that fit at its last finished epoch (the splits
    already recorded are skipped by the run folder)."""
    _CHECKPOINT["root"] = root


def begin_split(key: str) -> None:
    """Called by the split loop before computing ``key``: fits are
    numbered from 1 within each split, so a restarted process finds the
    checkpoint of the fit it was in."""
    _CHECKPOINT["key"] = key
    _CHECKPOINT["fits"] = 0


def set_tensorboard_root(root: str | None) -> None:
    """Make every later :func:`training_callbacks` also log to TensorBoard
    under ``root/<run name>`` (None turns it off). Process-wide, like the
    scripts' other switches (``--deterministic``)."""
    global _TENSORBOARD_ROOT
    _TENSORBOARD_ROOT = root


def training_callbacks(name: str, hint: str) -> list:
    """The callbacks of one fit: :class:`StopOnNonFinite`, a
    ``BackupAndRestore`` when checkpoints are on
    (:func:`set_checkpoint_root`) and, when a TensorBoard root is set, a
    :class:`MultiTaskTensorBoard` logging to ``<root>/<name>`` (``name``
    made path-safe; repeated names get a numbered suffix)."""
    out = [StopOnNonFinite(hint)]
    if _CHECKPOINT["root"]:
        _CHECKPOINT["fits"] += 1
        out.append(keras.callbacks.BackupAndRestore(os.path.join(
            _CHECKPOINT["root"], _CHECKPOINT["key"] or "run",
            f"fit{_CHECKPOINT['fits']}"), delete_checkpoint=True))
    if _TENSORBOARD_ROOT:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "run"
        path, i = os.path.join(_TENSORBOARD_ROOT, base), 1
        while os.path.exists(path):
            i += 1
            path = os.path.join(_TENSORBOARD_ROOT, f"{base}_{i}")
        os.makedirs(path)
        out.append(MultiTaskTensorBoard(path))
    return out
