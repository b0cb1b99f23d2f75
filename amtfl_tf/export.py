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

from amtfl_tf.models.base import write_saved_model

__all__ = ["export_model", "write_saved_model"]


def export_model(model, directory: str) -> dict[str, str]:
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
