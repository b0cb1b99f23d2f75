"""Keras layers, one public class per file, each registered with
``keras.saving.register_keras_serializable(package="amtfl_tf")``.

- :class:`AsymmetricFeedback` (Deep-AMTFL's task-to-feature feedback A).

Planned (see the issues): ``TuckerDense``/``TuckerConv2D``,
``TTDense``/``TTConv2D``, ``LAFDense``/``LAFConv2D`` (DMTRL),
``SoftMaskConv2D``, ``CrossStitch`` and ``NDDR`` (DAMTL and baselines).
"""

from amtfl_tf.layers.asymmetric_feedback import AsymmetricFeedback

__all__ = ["AsymmetricFeedback"]
