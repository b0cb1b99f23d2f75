"""Keras callbacks shared by the experiments; :func:`training_callbacks` is
what every experiment's fit uses (its TensorBoard and checkpoint folders
come from the active :class:`~amtfl_tf.runtime.Runtime`)."""

from __future__ import annotations

import math
import os
import re
import time
from typing import Any

import keras
import numpy as np

from amtfl_tf import runtime
from amtfl_tf.durations import hms


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

    def __init__(self, hint: str = "lower the learning rate") -> None:
        super().__init__()
        self.hint = hint
        self._epoch = 0
        self._step = 0

    def on_epoch_begin(self, epoch: int,
                       logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int,
                           logs: dict[str, Any] | None = None) -> None:
        self._step += 1
        self._check(logs, f"epoch {self._epoch + 1}, step {batch + 1} "
                          f"(training step {self._step})")

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
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


class FitProgress(keras.callbacks.Callback):
    """A progress line for long fits: after an epoch that ends at least
    ``every_seconds`` after the fit began or after the last line, prints
    ``[fit <name>] epoch e/E: loss … (val_loss …) elapsed …, at most …
    left`` (the bound assumes every remaining epoch runs; a stopping rule
    may end the fit sooner). Short fits print nothing, so smoke runs and
    grid searches keep their output; the experiments run their fits with
    ``verbose=0``, and a faithful fit can take tens of minutes.

    Args:
      name: what the line calls the fit.
      every_seconds: the least time between two lines.
      print_fn: where the lines go (``print`` with flush by default).
    """

    def __init__(self, name: str, every_seconds: float = 60.0,
                 print_fn=None) -> None:
        super().__init__()
        if not every_seconds > 0:
            raise ValueError("every_seconds must be > 0. Received: "
                             f"every_seconds={every_seconds!r}")
        self.name = name
        self.every_seconds = float(every_seconds)
        self._print = print_fn or (lambda m: print(m, flush=True))
        self._start = self._last = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = self._last = time.monotonic()

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if now - self._last < self.every_seconds:
            return
        self._last = now
        total = self.params.get("epochs") or epoch + 1
        elapsed = now - self._start
        left = elapsed / (epoch + 1) * max(total - epoch - 1, 0)
        terms = ", ".join(f"{k} {float(np.asarray(logs[k])):.4g}"
                          for k in ("loss", "val_loss")
                          if logs and k in logs)
        self._print(f"[fit {self.name}] epoch {epoch + 1}/{total}: {terms}"
                    f" (elapsed {hms(elapsed)}, at most {hms(left)} "
                    "left)")


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

    def __init__(self, log_dir: str, image_every: int = 1) -> None:
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

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
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

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def training_callbacks(name: str, hint: str) -> list:
    """The callbacks of one fit: :class:`StopOnNonFinite`,
    :class:`FitProgress` (a line a minute for fits that long), a
    ``keras.callbacks.BackupAndRestore`` when the active run
    (:func:`amtfl_tf.runtime.active`) has a checkpoint root, and a
    :class:`MultiTaskTensorBoard` logging to ``<tensorboard_root>/<name>``
    when it has a TensorBoard root (``name`` made path-safe; repeated
    names get a numbered suffix).

    Checkpoints hold model, optimizer and epoch, under
    ``<checkpoint_root>/<split key>/fit<n>`` (fits numbered within the
    split), and are deleted when the fit ends: a run killed mid-fit resumes
    that fit at its last finished epoch (the splits already recorded are
    skipped by the run folder)."""
    rt = runtime.active()
    out = [StopOnNonFinite(hint), FitProgress(name)]
    if rt.checkpoint_root:
        out.append(keras.callbacks.BackupAndRestore(os.path.join(
            rt.checkpoint_root, rt.split_key or "run",
            f"fit{rt.next_fit()}"), delete_checkpoint=True))
    if rt.tensorboard_root:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "run"
        path, i = os.path.join(rt.tensorboard_root, base), 1
        while os.path.exists(path):
            i += 1
            path = os.path.join(rt.tensorboard_root, f"{base}_{i}")
        os.makedirs(path)
        out.append(MultiTaskTensorBoard(path))
    return out
