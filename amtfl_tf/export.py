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


def export_model(model, directory: str) -> dict[str, str]:
    """Write ``model.keras`` and ``saved_model/`` under ``directory``.

    Args:
      model: a built :class:`amtfl_tf.models.MultiTaskModel`.
      directory: output folder (created).

    Returns:
      ``{"keras": path, "saved_model": path}``.
    """
    import tensorflow as tf

    from amtfl_tf.models import MultiTaskModel

    if not isinstance(model, MultiTaskModel):
        raise TypeError(f"model must be a MultiTaskModel. Received: "
                        f"model={type(model).__name__}")
    os.makedirs(directory, exist_ok=True)
    keras_path = os.path.join(directory, "model.keras")
    model.save(keras_path)
    logistic = model.loss_kind == "logistic"

    def serve(x):
        out = model(x, training=False)
        return tf.sigmoid(out) if logistic else out

    saved = write_saved_model(model, serve, model.example_shape,
                              os.path.join(directory, "saved_model"))
    return {"keras": keras_path, "saved_model": saved}


def write_saved_model(model, serve, example_shape, path: str) -> str:
    """Write a SavedModel of ``model`` at ``path`` whose ``serve`` endpoint
    is ``serve(x)`` for float32 inputs ``(None, *example_shape)``; it
    reloads with ``tf.saved_model.load`` without amtfl_tf. Returns
    ``path``."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve", fn=serve,
        input_signature=[tf.TensorSpec((None, *example_shape), tf.float32,
                                       name="x")])
    archive.write_out(path, verbose=False)
    return path
