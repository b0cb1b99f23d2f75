"""Keras callbacks shared by the experiments; :func:`training_callbacks` is
what every experiment's fit uses (its TensorBoard and checkpoint folders
come from the active :class:`~amtfl_tf.runtime.Runtime`)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import time
from typing import Any

import keras
import numpy as np

from amtfl_tf import runtime
from amtfl_tf.durations import hms
from amtfl_tf.results import atomic_write_json


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
        self._first: int | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = self._last = time.monotonic()
        self._first = None

    def on_epoch_begin(self, epoch: int,
                       logs: dict[str, Any] | None = None) -> None:
        if self._first is None:  # a resumed fit starts past epoch 0
            self._first = epoch

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if now - self._last < self.every_seconds:
            return
        self._last = now
        total = self.params.get("epochs") or epoch + 1
        elapsed = now - self._start
        ran = epoch + 1 - (self._first or 0)
        left = elapsed / max(ran, 1) * max(total - epoch - 1, 0)
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


class EpochState(keras.callbacks.Callback):
    """Keeps a fit's state in ``folder`` after every epoch, so a process
    killed mid-fit resumes it at its last finished epoch with its stopping
    rule intact (a faithful fit can take hours; a session is shorter).

    Keras' own ``BackupAndRestore`` keeps the weights, the optimizer and
    the epoch, but ``EarlyStopping`` starts afresh on every ``fit`` (its
    best loss, patience count and best weights are reset in
    ``on_train_begin``) and the ``History`` of the resumed fit lacks the
    earlier epochs. This one also keeps those: after each epoch it writes
    the model's weights with the optimizer's (``epoch<n>.weights.h5``),
    the stopping rule's best weights when they change (``best<n>.npz``),
    and ``state.json`` last, naming both files, so the state read back is
    always one finished epoch's (an older file is removed only after the
    new state names its successor).

    Use: build it, call :meth:`restore` on the compiled model before
    ``fit`` and pass what it returns as ``initial_epoch``; put the callback
    after ``stopper`` in ``callbacks`` (its ``on_train_begin`` must run
    after the stopper's reset); after ``fit``, :meth:`merge_history` puts
    the earlier epochs back in front of ``model.history``. A resumed fit
    is not bit-identical to an uninterrupted one: its batches after the
    resume are shuffled by the random state of the new process.

    Args:
      folder: where the state lives (created; a state whose
        ``signature`` differs is removed).
      signature: JSON-able description of the fit (epochs, weight shapes,
        …); a state is resumed only by a fit with the same one.
      stopper: the fit's ``keras.callbacks.EarlyStopping``, or None.
      log: where the "resuming" line goes.
    """

    STATE = "state.json"

    def __init__(self, folder: str, signature: Any,
                 stopper: keras.callbacks.EarlyStopping | None = None,
                 log=print) -> None:
        super().__init__()
        self.folder = folder
        self.signature = json.loads(json.dumps(signature))
        self.stopper = stopper
        self.log = log
        self.state: dict[str, Any] = self._fresh()
        self._restored_best: list | None = None
        self._restored = False
        self._start = 0.0
        self._before = 0.0

    def _fresh(self) -> dict[str, Any]:
        return {"signature": self.signature, "epochs_done": 0,
                "stopped": False, "history": {}, "seconds": 0.0,
                "weights": None, "best_weights": None, "stopper": None,
                "resumed_at": []}

    def _read(self) -> dict[str, Any] | None:
        try:
            with open(os.path.join(self.folder, self.STATE)) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get(
                "signature") != self.signature or not state.get("weights"):
            return None
        return state

    def restore(self, model) -> int:
        """Load the kept state into ``model`` (compiled, its optimizer
        built); returns the epoch ``fit`` starts at (0 without a state,
        the fit's ``epochs`` if the kept fit had stopped)."""
        state = self._read()
        if state is None:
            if os.path.isdir(self.folder):
                shutil.rmtree(self.folder)
            os.makedirs(self.folder)
            return 0
        model.load_weights(os.path.join(self.folder, state["weights"]))
        if state.get("best_weights"):
            with np.load(os.path.join(self.folder,
                                      state["best_weights"])) as f:
                self._restored_best = [f[f"arr_{i}"]
                                       for i in range(len(f.files))]
        done = int(state["epochs_done"])
        epochs = int(self.signature.get("epochs", done))
        finished = bool(state.get("stopped")) or done >= epochs
        if not finished:
            state["resumed_at"] = [*state.get("resumed_at", []), done]
        self.state, self._restored = state, True
        self.log(f"the fit had finished after epoch {done} ({self.folder})"
                 if finished else f"resuming the fit at epoch {done + 1} "
                 f"of {epochs} from {self.folder}")
        return epochs if finished else done

    @property
    def resumed_at(self) -> list[int]:
        """The epochs (finished before each resume) this fit resumed at."""
        return list(self.state.get("resumed_at", []))

    @property
    def seconds_before(self) -> float:
        """Seconds the fit had taken before this process resumed it."""
        return self._before

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = time.monotonic()
        self._before = float(self.state.get("seconds", 0.0))
        kept = self.state.get("stopper")
        if self.stopper is not None and kept:
            self.stopper.wait = int(kept["wait"])
            self.stopper.best = kept["best"]
            self.stopper.best_epoch = int(kept["best_epoch"])
            self.stopper.stopped_epoch = int(kept["stopped_epoch"])
            self.stopper.best_weights = self._restored_best

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        state = dict(self.state)
        history = {k: list(v) for k, v in state["history"].items()}
        for k, v in (logs or {}).items():
            try:
                history.setdefault(k, []).append(float(np.asarray(v)))
            except (TypeError, ValueError):
                continue
        old = [state["weights"]]
        state["weights"] = f"epoch{epoch + 1}.weights.h5"
        self._save(state["weights"], self.model.save_weights)
        stop = self.stopper
        if stop is not None:
            if stop.best_weights is not None and stop.best_epoch == epoch:
                old.append(state["best_weights"])
                state["best_weights"] = f"best{epoch + 1}.npz"
                self._save(state["best_weights"], lambda path: np.savez(
                    path, *stop.best_weights))
            best = None if stop.best is None else float(stop.best)
            state["stopper"] = {"wait": int(stop.wait), "best": best,
                                "best_epoch": int(stop.best_epoch),
                                "stopped_epoch": int(stop.stopped_epoch)}
        state.update(
            epochs_done=epoch + 1, history=history,
            stopped=bool(getattr(self.model, "stop_training", False)),
            seconds=self._before + time.monotonic() - self._start)
        atomic_write_json(os.path.join(self.folder, self.STATE), state)
        self.state = state
        for name in old:
            if name and name not in (state["weights"],
                                     state["best_weights"]):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.folder, name))

    def _save(self, name: str, write) -> None:
        path = os.path.join(self.folder, name)
        tmp = os.path.join(self.folder, "tmp-" + name)
        write(tmp)
        os.replace(tmp, path)

    def merge_history(self, history) -> None:
        """After a restored fit, make ``history`` (the fit's
        ``keras.callbacks.History``) hold every epoch, the ones kept
        before this process's resume included; a fresh fit's is left."""
        if not self._restored:
            return
        history.history = {k: list(v)
                           for k, v in self.state["history"].items()}
        history.epoch = list(range(int(self.state["epochs_done"])))


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
