"""The precision lever: Keras dtype policies entered per model, Table 2's
``precision`` setting, and the bfloat16-against-float32 claim."""

import json
import os

import numpy as np
import pytest

from amtfl_tf import precision
from amtfl_tf.experiments.amtfl import table2
from amtfl_tf.experiments.amtfl import table2_variants
from amtfl_tf.results import Row

from conftest import REPO_ROOT


def test_check_names_the_value():
    assert precision.check("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match=r"precision=.*'bf16'"):
        precision.check("bf16")
    with pytest.raises(ValueError, match="precision="):
        table2.settings_for("smoke", precision="float16")


def test_policy_is_restored_even_when_the_block_raises():
    import keras

    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError):
        with precision.policy("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == before


def test_deep_model_trains_in_bfloat16_with_float32_weights():
    import keras

    from amtfl_tf.models import DeepMultiTaskModel

    keras.utils.set_random_seed(0)
    with precision.policy("mixed_bfloat16"):
        m = DeepMultiTaskModel(10, (28, 28, 1), method="deep-amtfl",
                               backbone="lenet_conv", delta=0.01,
                               task_sizes=[20] * 10, loss="logistic_clipped")
    assert keras.config.dtype_policy().name == "float32"
    m.compile(keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    x = rng.random((40, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 40)]
    hist = m.fit(x, y, batch_size=20, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    convs = [v for v in m.backbone.weights if "kernel" in v.path]
    assert convs and all(v.dtype == "float32" for v in convs)
    assert {lay.compute_dtype for lay in m.backbone.layers
            if lay.weights} == {"bfloat16"}


def test_table2_fingerprint_unchanged_for_float32():
    """Records written before ``precision`` existed keep matching: the
    committed paper runs' fingerprint is what the code computes now, and
    bfloat16 runs get a fingerprint of their own."""
    path = os.path.join(REPO_ROOT, "figures", "paper", "table2",
                        "mnist_imbalanced", "splits", "_fingerprint.json")
    with open(path) as f:
        committed = json.load(f)
    s = table2.settings_for("paper")
    assert table2.fingerprint("mnist_imbalanced", s) == committed
    bf = table2.settings_for("paper", precision="mixed_bfloat16")
    assert table2.fingerprint("mnist_imbalanced", bf)["precision"] == \
        "mixed_bfloat16"


def test_bfloat16_is_opt_in():
    assert "bfloat16" in table2_variants.VARIANTS
    assert "bfloat16" not in table2_variants.settings_for("quick").variants
    ts = table2_variants.table2_settings(
        table2_variants.settings_for("smoke", variants=("authors",
                                                        "bfloat16")),
        "bfloat16")
    assert ts.precision == "mixed_bfloat16"


def test_variants_fingerprint_does_not_depend_on_runs():
    a = table2_variants.settings_for("paper", variants=("authors",
                                                        "bfloat16"))
    b = table2_variants.settings_for("paper", runs=3,
                                     variants=("authors", "bfloat16"))
    fp = table2_variants.fingerprint("table2_variants", a)
    assert fp == table2_variants.fingerprint("table2_variants", b)
    assert fp["table2"]["bfloat16"]["precision"] == "mixed_bfloat16"
    assert "precision" not in fp["table2"]["authors"]


def _row(values):
    return Row.from_splits("x", "error_pct_per_class", values)


def test_bfloat16_claim_decides_from_the_paired_differences():
    s = table2_variants.settings_for("paper", variants=("authors",
                                                        "bfloat16"))
    fp32 = [5.6, 5.9, 5.7, 6.0, 5.8]  # SD 0.158
    same = table2_variants.bfloat16_claim(
        "deep-amtfl", _row(fp32), _row(np.add(fp32, [0.01, -0.01, 0.0,
                                                     0.01, -0.01])), s)
    assert same.verdict == "holds"
    worse = table2_variants.bfloat16_claim(
        "deep-amtfl", _row(fp32), _row(np.add(fp32, [1.0, 1.1, 0.9, 1.05,
                                                     0.95])), s)
    assert worse.verdict == "contradicted"
    noisy = table2_variants.bfloat16_claim(
        "deep-amtfl", _row(fp32), _row(np.add(fp32, [0.5, -0.5, 0.4, -0.3,
                                                     0.1])), s)
    assert noisy.verdict == "inconclusive"
    one = table2_variants.bfloat16_claim("mt-cnn", _row([9.0]),
                                         _row([9.1]), s)
    assert one.verdict == "inconclusive" and "not tested" in one.test

