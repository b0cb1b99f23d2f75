"""Feature extractors ("backbones") for the deep models: each maps images
``(B, H, W, C)`` to features ``Z`` ``(B, k)`` (the penultimate layer).

- ``lenet_conv``: the Deep-AMTFL authors' LeNet-Conv (haebeom-lee/amtfl):
  conv 20@5×5 (valid) → ReLU → max-pool 2×2 → conv 50@5×5 → ReLU →
  max-pool 2×2 → flatten → dense 500 → ReLU. Glorot-uniform kernels, zero
  biases. ``channels_last`` (the authors' ``channels_first`` does not run
  on TF CPU kernels; only the flatten order differs).
- ``resnet18``: a Keras ResNet-18 (He et al. 2016; basic blocks [2, 2, 2,
  2], batch norm, global average pooling), any input size.
- ``resnet50``: ``keras.applications.ResNet50`` without its top, global
  average pooling, random initialisation (``weights`` may name a file or
  "imagenet" where the weights can be downloaded; never required).
"""

from __future__ import annotations

import keras
from keras import layers

BACKBONES = ("lenet_conv", "resnet18", "resnet50")


def lenet_conv(input_shape, name="lenet_conv") -> keras.Model:
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(20, 5, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(50, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    z = layers.Dense(500, activation="relu", name="fc")(x)
    return keras.Model(inputs, z, name=name)


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same",
                      use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                      name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 name=f"{name}_down")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_down_bn")(
            shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")(
        [y, shortcut]))


def resnet18(input_shape, name="resnet18") -> keras.Model:
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False,
                      name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, stride, f"s{stage + 1}b{block + 1}")
    z = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, z, name=name)


def resnet50(input_shape, name="resnet50", weights=None) -> keras.Model:
    base = keras.applications.ResNet50(include_top=False, weights=weights,
                                       input_shape=tuple(input_shape),
                                       pooling="avg")
    return keras.Model(base.input, base.output, name=name)


def build_backbone(name: str, input_shape) -> keras.Model:
    """The backbone ``name`` (one of ``BACKBONES``) for ``input_shape``."""
    builders = {"lenet_conv": lenet_conv, "resnet18": resnet18,
                "resnet50": resnet50}
    if name not in builders:
        raise ValueError(f"backbone must be one of {BACKBONES}. Received: "
                         f"backbone={name!r}")
    return builders[name](tuple(input_shape))
