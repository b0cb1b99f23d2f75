"""Export a trained multi-task model for reuse and for serving.

:func:`export_model` writes

- ``<dir>/model.keras``: the full model (architecture, weights, optimizer);
  reloads with ``keras.saving.load_model(path)`` once ``amtfl_tf`` is
  imported (its classes are registered), no ``custom_objects`` needed;
- ``<dir>/saved_model/``: a TensorFlow SavedModel whose ``serve`` endpoint
  (and ``serving_default`` signature) maps a batch of inputs to per-task
  probabilities (sigmoid of the logits; raw outputs for regression). It
  reloads with ``tf.saved_model.load`` in a process that never imports
  amtfl_tf.
"""

from __future__ import annotations

import os
import zipfile

import keras

from amtfl_tf.models.base import write_saved_model
from amtfl_tf.models.multitask import MultiTaskModel

__all__ = ["export_model", "load_model", "write_saved_model"]


def export_model(model: MultiTaskModel,
                 directory: str) -> dict[str, str]:
    """Write ``model.keras`` and ``saved_model/`` under ``directory``.

    Args:
      model: a built :class:`amtfl_tf.models.MultiTaskModel`.
      directory: output folder (created).

    Returns:
      ``{"keras": path, "saved_model": path}``.
    """
    from amtfl_tf.models import MultiTaskModel

    if not isinstance(model, MultiTaskModel):
        raise TypeError(f"model must be a MultiTaskModel. Received: "
                        f"model={type(model).__name__}")
    os.makedirs(directory, exist_ok=True)
    keras_path = os.path.join(directory, "model.keras")
    model.save(keras_path)
    saved = model.export_saved_model(os.path.join(directory, "saved_model"))
    return {"keras": keras_path, "saved_model": saved}


def load_model(path: str, name: str = "path") -> keras.Model:
    """``keras.saving.load_model(path)`` with a message that says what is
    wrong: a missing file, or a file that is not a ``.keras`` archive
    (Keras says "File not found" for a corrupt or truncated file too).
    ``name`` is the argument to name in the message (a script passes its
    flag, e.g. ``"--keras_file"``).

    Raises:
      ValueError: no such file, or not a zip archive with ``config.json``.
    """
    import keras

    if not os.path.isfile(path):
        raise ValueError(
            f"{name} must be an existing .keras file. Received: "
            f"{name}={path!r} (no such file)")
    problem = None
    if not zipfile.is_zipfile(path):
        problem = "not a zip archive: corrupt, truncated or another format"
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                if "config.json" not in archive.namelist():
                    problem = "a zip archive without config.json"
                elif archive.testzip() is not None:
                    problem = "a damaged zip archive"
        except (zipfile.BadZipFile, OSError) as e:
            problem = f"an unreadable zip archive ({e})"
    if problem:
        raise ValueError(
            f"{name} must be a .keras file written by model.save(...). "
            f"Received: {name}={path!r} ({problem})")
    return keras.saving.load_model(path)
