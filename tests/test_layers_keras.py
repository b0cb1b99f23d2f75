"""Every public layer of ``amtfl_tf.layers`` through Keras' own layer test
(``keras.src.testing.TestCase.run_layer_test``, via
:func:`layer_testing.check_layer`): config and serialization round trips,
exact weight counts, build / symbolic / eager calls and output shapes, one
``fit`` step, mixed precision, and a gradient for every trainable weight.

Weight counts (from each layer's ``build``):

- AsymmetricFeedback: ``feedback`` (T, k), ``bias`` (k,) if ``use_bias``.
- Tucker layers: ``core``, one ``factor_n`` per mode of the stacked kernel
  (3 dense, 5 conv), ``bias``; TT: one ``tt_core_k`` per mode, ``bias``;
  LAF: ``shared_factor``, ``task_factor``, ``bias``; Task*: ``kernel``,
  ``bias``.
- CrossStitch: ``alpha``. NDDR: ``kernel`` and, with batch norm, ``gamma``,
  ``beta`` (trainable) and ``moving_mean``, ``moving_variance``
  (non-trainable); without batch norm ``kernel`` and ``bias``.
- SoftMask*: ``kernel`` (non-trainable with ``kernel_trainable=False``),
  ``mask``, ``bias`` if ``use_bias``.

A new public layer without a case here fails
:func:`test_every_public_layer_has_a_case`.
"""

import inspect

import numpy as np
import pytest

import amtfl_tf.layers as layers_pkg
from layer_testing import check_layer
from layer_testing import make_input_data

# Keras' training check feeds a generator with fit(shuffle=True) and warns
pytestmark = pytest.mark.filterwarnings(
    "ignore:`shuffle=True` was passed:UserWarning")

_RNG_CS = make_input_data([(2, 4), (2, 4), (2, 4)], seed=3)
_RNG_NDDR = make_input_data([(4, 5), (4, 5), (4, 5)], seed=4)


def _cross_stitch_expected(xs, self_weight=0.9):
    t = len(xs)
    other = (1.0 - self_weight) / (t - 1)
    return [self_weight * xs[i] + other * sum(
        xs[j] for j in range(t) if j != i) for i in range(t)]


def _nddr_no_bn_expected(xs, self_weight=0.9, other_weight=0.1):
    t = len(xs)
    return [np.maximum(self_weight * xs[i] + other_weight * sum(
        xs[j] for j in range(t) if j != i), 0.0) for i in range(t)]


def case(layer, case_id, init_kwargs, **check_kwargs):
    return pytest.param(layer, init_kwargs, check_kwargs,
                        id=f"{layer}-{case_id}")


CASES = [
    # -- Deep-AMTFL ----------------------------------------------------------
    case("AsymmetricFeedback", "default", dict(num_tasks=3),
         input_shape=[(4, 6), (4, 3)], expected_output_shape=(4, 6),
         expected_num_trainable_weights=2),
    case("AsymmetricFeedback", "gamma_no_bias",
         dict(num_tasks=3, gamma=0.1, use_bias=False, activation="linear",
              reduction="sum"),
         input_shape=[(4, 6), (4, 3)], expected_output_shape=(4, 6),
         expected_num_trainable_weights=1, expected_num_losses=1),
    # -- DMTRL: dense ----------------------------------------------------------
    case("TuckerDense", "task_axis", dict(units=4, num_tasks=3,
                                          ranks=(4, 4, 3)),
         input_shape=(2, 3, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=5),
    case("TuckerDense", "shared_input_relu",
         dict(units=4, num_tasks=3, ranks=(3, 2, 2), activation="relu"),
         input_shape=(2, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=5),
    case("TTDense", "task_axis", dict(units=4, num_tasks=3, ranks=(3, 3)),
         input_shape=(2, 3, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=4),
    case("TTDense", "shared_input_no_bias",
         dict(units=4, num_tasks=3, ranks=(2, 2), use_bias=False),
         input_shape=(2, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=3),
    case("LAFDense", "task_axis", dict(units=4, num_tasks=3, ranks=2),
         input_shape=(2, 3, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=3),
    case("LAFDense", "shared_input", dict(units=4, num_tasks=3, ranks=3),
         input_shape=(2, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=3),
    case("TaskDense", "task_axis", dict(units=4, num_tasks=2),
         input_shape=(2, 2, 3), expected_output_shape=(2, 2, 4),
         expected_num_trainable_weights=2),
    case("TaskDense", "shared_input_no_bias",
         dict(units=4, num_tasks=2, use_bias=False),
         input_shape=(2, 3), expected_output_shape=(2, 2, 4),
         expected_num_trainable_weights=1),
    # -- DMTRL: conv -----------------------------------------------------------
    case("TuckerConv2D", "task_axis",
         dict(filters=4, kernel_size=3, num_tasks=2, ranks=(3, 3, 2, 4, 2)),
         input_shape=(2, 2, 6, 6, 2), expected_output_shape=(2, 2, 4, 4, 4),
         expected_num_trainable_weights=7),
    case("TTConv2D", "task_axis",
         dict(filters=4, kernel_size=3, num_tasks=2, ranks=(3, 3, 3, 2)),
         input_shape=(2, 2, 6, 6, 2), expected_output_shape=(2, 2, 4, 4, 4),
         expected_num_trainable_weights=6),
    case("TTConv2D", "shared_input_same",
         dict(filters=3, kernel_size=(3, 2), num_tasks=2, ranks=(2, 2, 2, 2),
              padding="same"),
         input_shape=(2, 5, 5, 2), expected_output_shape=(2, 2, 5, 5, 3),
         expected_num_trainable_weights=6),
    case("LAFConv2D", "task_axis_same",
         dict(filters=4, kernel_size=3, num_tasks=2, ranks=2,
              padding="same"),
         input_shape=(2, 2, 6, 6, 3), expected_output_shape=(2, 2, 6, 6, 4),
         expected_num_trainable_weights=3),
    case("LAFConv2D", "shared_input_strided",
         dict(filters=4, kernel_size=3, num_tasks=2, ranks=1, strides=2),
         input_shape=(2, 6, 6, 3), expected_output_shape=(2, 2, 2, 2, 4),
         expected_num_trainable_weights=3),
    case("TaskConv2D", "task_axis",
         dict(filters=4, kernel_size=3, num_tasks=2, activation="relu"),
         input_shape=(2, 2, 6, 6, 2), expected_output_shape=(2, 2, 4, 4, 4),
         expected_num_trainable_weights=2),
    case("TaskConv2D", "shared_input",
         dict(filters=4, kernel_size=3, num_tasks=2),
         input_shape=(2, 6, 6, 2), expected_output_shape=(2, 2, 4, 4, 4),
         expected_num_trainable_weights=2),
    # -- DAMTL and its baselines ---------------------------------------------
    case("CrossStitch", "layer_values", dict(),
         input_data=_RNG_CS, expected_output=_cross_stitch_expected(_RNG_CS),
         expected_num_trainable_weights=1),
    case("CrossStitch", "channel_maps", dict(granularity="channel"),
         input_shape=[(2, 3, 3, 4), (2, 3, 3, 4)],
         expected_output_shape=[(2, 3, 3, 4), (2, 3, 3, 4)],
         expected_num_trainable_weights=1),
    case("NDDR", "batch_norm_maps", dict(),
         input_shape=[(4, 3, 3, 4), (4, 3, 3, 4)],
         expected_output_shape=[(4, 3, 3, 4), (4, 3, 3, 4)],
         expected_num_trainable_weights=3,
         expected_num_non_trainable_weights=2),
    case("NDDR", "no_batch_norm_values", dict(use_batch_norm=False),
         input_data=_RNG_NDDR, expected_output=_nddr_no_bn_expected(
             _RNG_NDDR), expected_num_trainable_weights=2),
    case("SoftMaskConv2D", "default", dict(filters=4, kernel_size=3),
         input_shape=(2, 5, 5, 2), expected_output_shape=(2, 5, 5, 4),
         expected_num_trainable_weights=3),
    case("SoftMaskConv2D", "frozen_kernel_filter_mask_l1",
         dict(filters=4, kernel_size=3, padding="valid", strides=2,
              kernel_trainable=False, mask_granularity="filter",
              mask_parameterization="softplus", l1=0.1, activation="relu"),
         input_shape=(2, 7, 7, 2), expected_output_shape=(2, 3, 3, 4),
         expected_num_trainable_weights=2,
         expected_num_non_trainable_weights=1, expected_num_losses=1),
    case("SoftMaskDense", "default", dict(units=4),
         input_shape=(2, 5), expected_output_shape=(2, 4),
         expected_num_trainable_weights=3),
    case("SoftMaskDense", "abs_no_bias_rank3",
         dict(units=4, use_bias=False, mask_parameterization="abs"),
         input_shape=(2, 3, 5), expected_output_shape=(2, 3, 4),
         expected_num_trainable_weights=2),
]


@pytest.mark.parametrize("layer,init_kwargs,check_kwargs", CASES)
def test_keras_layer_checks(layer, init_kwargs, check_kwargs):
    check_layer(getattr(layers_pkg, layer), init_kwargs, **check_kwargs)


def test_every_public_layer_has_a_case():
    public = {name for name in layers_pkg.__all__
              if inspect.isclass(getattr(layers_pkg, name))}
    covered = {p.values[0] for p in CASES}
    assert not public - covered, (
        f"public layers without a run_layer_test case in "
        f"tests/test_layers_keras.py: {sorted(public - covered)}")
    assert not covered - public, (
        f"cases for names not in amtfl_tf.layers.__all__: "
        f"{sorted(covered - public)}")
