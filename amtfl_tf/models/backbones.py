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

Every network of the three papers is defined here:

- Deep-AMTFL's feature extractors above (``BACKBONES``,
  :func:`build_backbone`);
- DMTRL's networks as layer specs (``DMTRL_ARCHITECTURES``:
  ``mnist_lenet``, ``omniglot_cnn``, ``levi_hassner``), which
  :mod:`amtfl_tf.models.dmtrl` builds with a sharing mode per layer;
- DAMTL's VGG variants (``VGG_ARCHITECTURES``, :func:`build_vgg`, the
  auxiliary network whose layer names the task models copy).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import layers

from amtfl_tf.validation import is_int

BACKBONES = ("lenet_conv", "resnet18", "resnet50")


def lenet_conv(input_shape: Sequence[int],
               name: str = "lenet_conv") -> keras.Model:
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


def resnet18(input_shape: Sequence[int],
             name: str = "resnet18") -> keras.Model:
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


def resnet50(input_shape: Sequence[int], name: str = "resnet50",
             weights: str | None = None) -> keras.Model:
    base = keras.applications.ResNet50(include_top=False, weights=weights,
                                       input_shape=tuple(input_shape),
                                       pooling="avg")
    return keras.Model(base.input, base.output, name=name)


def build_backbone(name: str, input_shape: Sequence[int]) -> keras.Model:
    """The backbone ``name`` (one of ``BACKBONES``) for ``input_shape``."""
    builders = {"lenet_conv": lenet_conv, "resnet18": resnet18,
                "resnet50": resnet50}
    if name not in builders:
        raise ValueError(f"backbone must be one of {BACKBONES}. Received: "
                         f"backbone={name!r}")
    return builders[name](tuple(input_shape))


# --------------------------------------------------------------------------
# DMTRL's networks (Yang & Hospedales, Sec. 4), built layer by layer by
# amtfl_tf.models.dmtrl with a sharing mode per parametrised layer.

# Layer specs: ("conv", filters, kernel[, stride, padding]), ("pool",
# size[, stride, padding]), ("lrn",), ("flatten",), ("dense", units),
# ("dropout", rate), ("output",). "shareable" is how many leading
# parametrised layers the paper shares softly; "ud_options" the N the
# paper's UD-MTL search tries.
DMTRL_ARCHITECTURES: dict[str, dict[str, Any]] = {
    # Sec. 4.1: "modified LeNet"; all four parametrised layers shareable
    # (the 512 -> 1 output layer included); UD-MTL N in {1, 2, 3}.
    "mnist_lenet": {
        "activation": "relu", "shareable": 4, "ud_options": (1, 2, 3),
        "ud_paper": 3,
        "layers": (("conv", 32, 5), ("pool", 2), ("conv", 64, 4),
                   ("pool", 2), ("flatten",), ("dense", 512), ("output",)),
        "names": ("conv1", "conv2", "fc1", "fc2")},
    # Sec. 4.3: conv 8@5x5, 12@3x3, 16@3x3 (each + 2x2 max-pool), FC 64,
    # FC #characters, tanh; the first four layers shareable; N in 1..4.
    "omniglot_cnn": {
        "activation": "tanh", "shareable": 4, "ud_options": (1, 2, 3, 4),
        "ud_paper": 3,
        "layers": (("conv", 8, 5), ("pool", 2), ("conv", 12, 3), ("pool", 2),
                   ("conv", 16, 3), ("pool", 2), ("flatten",), ("dense", 64),
                   ("output",)),
        "names": ("conv1", "conv2", "conv3", "fc1", "fc2")},
    # Sec. 4.2: Levi & Hassner (2015): conv 96@7x7/4, pool 3/2, LRN; conv
    # 256@5x5 (same), pool 3/2, LRN; conv 384@3x3 (same), pool 3/2; FC 512,
    # dropout 0.5; FC 512, dropout 0.5; FC #classes. Every layer but the
    # last FC shareable; N in 1..5. Caffe rounds pooled sizes up, hence
    # "same" pools: 227 -> 56 -> 28 -> 14 -> 7, FC1 sees 7 x 7 x 384.
    "levi_hassner": {
        "activation": "relu", "shareable": 5,
        "ud_options": (1, 2, 3, 4, 5), "ud_paper": 5,
        "layers": (("conv", 96, 7, 4, "valid"), ("pool", 3, 2, "same"),
                   ("lrn",), ("conv", 256, 5, 1, "same"),
                   ("pool", 3, 2, "same"), ("lrn",),
                   ("conv", 384, 3, 1, "same"), ("pool", 3, 2, "same"),
                   ("flatten",),
                   ("dense", 512), ("dropout", 0.5), ("dense", 512),
                   ("dropout", 0.5), ("output",)),
        "names": ("conv1", "conv2", "conv3", "fc1", "fc2", "fc3")},
}


def dmtrl_architecture(name: str) -> dict[str, Any]:
    """The spec of a DMTRL network (``DMTRL_ARCHITECTURES``)."""
    if name not in DMTRL_ARCHITECTURES:
        raise ValueError(f"architecture must be one of "
                         f"{sorted(DMTRL_ARCHITECTURES)}. Received: "
                         f"architecture={name!r}")
    return DMTRL_ARCHITECTURES[name]


# --------------------------------------------------------------------------
# DAMTL's VGG-style networks (Feng & Chen, Fig. 1): 3×3 "same" convolutions
# with ReLU in blocks, 2×2 max-pooling after every block, ReLU FC layers.

VGG_ARCHITECTURES: dict[str, dict[str, Any]] = {
    # Fig. 1's five 3×3 conv stages (64, 128, 256, 512, 512) at a quarter
    # of the width, one conv per stage, two FC layers: the offline proxy.
    "vgg_small": {"conv_blocks": [[16], [32], [64], [128], [128]],
                  "fc_units": [128, 128]},
    "vgg_tiny": {"conv_blocks": [[4], [8]], "fc_units": [16]},
    "vgg11": {"conv_blocks": [[64], [128], [256, 256], [512, 512],
                              [512, 512]], "fc_units": [4096, 4096]},
    "vgg16": {"conv_blocks": [[64, 64], [128, 128], [256, 256, 256],
                              [512, 512, 512], [512, 512, 512]],
              "fc_units": [4096, 4096]},
}


def vgg_architecture(name: str) -> tuple[list[list[int]], list[int]]:
    """``(conv_blocks, fc_units)`` of a named VGG variant."""
    if name not in VGG_ARCHITECTURES:
        raise ValueError(f"architecture must be one of "
                         f"{tuple(VGG_ARCHITECTURES)}. Received: "
                         f"architecture={name!r}")
    a = VGG_ARCHITECTURES[name]
    return [list(b) for b in a["conv_blocks"]], list(a["fc_units"])


def check_conv_blocks(conv_blocks: Sequence[Sequence[int]],
                      fc_units: Sequence[int]
                      ) -> tuple[list[list[int]], list[int]]:
    """Validated ``(conv_blocks, fc_units)`` as lists of ints."""
    ok = isinstance(conv_blocks, (list, tuple)) and len(conv_blocks) > 0 \
        and all(isinstance(b, (list, tuple)) and len(b) > 0 and all(
            is_int(f, 1) for f in b) for b in conv_blocks)
    if not ok:
        raise ValueError(
            "conv_blocks must be a non-empty list of non-empty lists of "
            f"ints >= 1. Received: conv_blocks={conv_blocks!r}")
    if not isinstance(fc_units, (list, tuple)) or not all(
            is_int(u, 1) for u in fc_units):
        raise ValueError("fc_units must be a list of ints >= 1. Received: "
                         f"fc_units={fc_units!r}")
    return [[int(f) for f in b] for b in conv_blocks], [int(u)
                                                        for u in fc_units]


def build_vgg(input_shape: Sequence[int], num_classes: int,
              conv_blocks: Sequence[Sequence[int]], fc_units: Sequence[int],
              name: str = "auxiliary") -> keras.Model:
    """A plain VGG classifier (logits), e.g. the auxiliary network."""
    conv_blocks, fc_units = check_conv_blocks(conv_blocks, fc_units)
    inputs = keras.Input(tuple(input_shape))
    x, k = inputs, 0
    for b, block in enumerate(conv_blocks):
        for filters in block:
            k += 1
            x = keras.layers.Conv2D(filters, 3, padding="same",
                                    activation="relu", name=f"conv{k}")(x)
        x = keras.layers.MaxPooling2D(2, padding="same",
                                      name=f"pool{b + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for h, units in enumerate(fc_units):
        x = keras.layers.Dense(units, activation="relu",
                               name=f"fc{h + 1}")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def feature_shapes(input_shape: Sequence[int],
                   conv_blocks: Sequence[Sequence[int]]
                   ) -> tuple[list[list[tuple[int, int, int]]],
                              tuple[int, int, int], int]:
    """Shapes after every conv layer (per block) and the flattened size."""
    h, w, c = input_shape
    shapes = []
    for block in conv_blocks:
        block_shapes = []
        for filters in block:
            block_shapes.append((h, w, c))  # the conv's input shape
            c = filters
        shapes.append(block_shapes)
        h, w = -(-h // 2), -(-w // 2)
    return shapes, (h, w, c), h * w * c
