"""Golden first outputs: every model family, built with a fixed seed, gives
the same initial weights, forward outputs, one-step loss and post-step
outputs as the code of the day the golden file was made
(``tests/data/golden_outputs.npz``, written by
``tests/make_golden_outputs.py``, whose builders this test reuses; see
that module for the cases and how to regenerate the file).

A failure on ``init`` means the seeded initial values changed (initialiser,
weight creation order or count); ``forward`` with ``init`` passing means
the forward pass changed; ``loss`` / ``after_step`` the objective, the
gradients or the update. Tolerance: rtol 1e-5, atol 1e-6 (float32).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import make_golden_outputs as golden

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                    "golden_outputs.npz")
KEYS = ("init", "forward", "loss", "after_step")
WHAT = {"init": "the seeded initial weights (count, sum of squares)",
        "forward": "the forward output", "loss": "the one-step loss",
        "after_step": "the forward output after one SGD step"}
REGENERATE = ("regenerate with the reference code: PYTHONPATH=<reference "
              "checkout> python tests/make_golden_outputs.py --out "
              "tests/data/golden_outputs.npz")


@pytest.fixture(scope="module")
def stored():
    with np.load(PATH) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module", autouse=True)
def _no_tf32():
    """Full float32 matmuls/convolutions on GPUs (TF32 is on by default
    there and is far outside the tolerance); no effect on CPU."""
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(before)


def test_golden_file_matches_the_cases(stored):
    """One golden entry per case: a new method (in DEEP_METHODS,
    dmtrl.METHODS or BASELINES) needs golden values too."""
    have = {k.rsplit("/", 1)[0] for k in stored}
    want = set(golden.case_names())
    assert not want - have, f"no golden values for {sorted(want - have)}; " \
        + REGENERATE
    assert not have - want, f"golden values of unknown cases " \
        f"{sorted(have - want)}; " + REGENERATE
    assert os.path.getsize(PATH) < 200_000


@pytest.mark.parametrize("name", golden.case_names())
def test_golden_outputs(name, stored):
    if f"{name}/forward" not in stored:
        pytest.fail(f"no golden values for {name}; " + REGENERATE)
    got = golden.run_case(name)
    for key in KEYS:
        want = stored[f"{name}/{key}"]
        assert np.shape(got[key]) == want.shape, (
            f"{name}: {WHAT[key]} has shape {np.shape(got[key])}, golden "
            f"{want.shape}")
        np.testing.assert_allclose(
            got[key], want, rtol=golden.RTOL, atol=golden.ATOL,
            err_msg=f"{name}: {WHAT[key]} differs from the golden value")
