"""Keras layers, one public class per file, each registered with
``keras.saving.register_keras_serializable(package="amtfl_tf")``.

Planned (see the issues): ``AsymmetricFeedback`` (Deep-AMTFL),
``TuckerDense``/``TuckerConv2D``, ``TTDense``/``TTConv2D``,
``LAFDense``/``LAFConv2D`` (DMTRL), ``SoftMaskConv2D``, ``CrossStitch`` and
``NDDR`` (DAMTL and its baselines). None is implemented yet.
"""
