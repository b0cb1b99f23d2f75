"""``.keras`` files saved by the reference code still load and compute the
same: ``tests/data/legacy_{deep_amtfl,dmtrl_tucker,damtl}.keras`` and the
outputs that code gave with them (``tests/data/legacy_outputs.npz``), both
written by ``tests/make_legacy_models.py`` (see there).

For each file: ``keras.saving.load_model`` (only ``amtfl_tf.models`` and
``amtfl_tf.layers`` imported: the registered names in the file must still
resolve) gives a model of the right class, compiled, with its optimizer
state (one step taken); its output on the fixed input, the loss of one
more ``train_on_batch`` and the output after it equal the reference's
(rtol 1e-5, atol 1e-6).
"""

import os
import zipfile

import keras
import numpy as np
import pytest

import amtfl_tf.layers  # noqa: F401  (registers the layers)
import amtfl_tf.models  # noqa: F401  (registers the models)
import make_legacy_models as legacy
from amtfl_tf import models

pytestmark = pytest.mark.large

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CLASSES = {"deep_amtfl": "DeepMultiTaskModel",
           "dmtrl_tucker": "DMTRLNetwork", "damtl": "DAMTL"}


@pytest.fixture(scope="module")
def stored():
    with np.load(os.path.join(DATA, legacy.OUTPUTS)) as f:
        return {k: f[k] for k in f.files}


def test_fixtures_are_small_and_complete():
    assert set(CLASSES) == set(legacy.NAMES)
    for name in legacy.NAMES:
        path = os.path.join(DATA, legacy.file_name(name))
        assert os.path.getsize(path) < 64_000, path
        with zipfile.ZipFile(path) as zf:
            assert {"config.json", "metadata.json", "model.weights.h5"} <= \
                set(zf.namelist())


@pytest.mark.parametrize("name", legacy.NAMES)
def test_legacy_model_loads_and_matches(name, stored):
    model = keras.saving.load_model(
        os.path.join(DATA, legacy.file_name(name)))
    assert isinstance(model, getattr(models, CLASSES[name]))
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert int(model.optimizer.iterations) == 1  # saved after one step
    x, (x_train, y_train) = legacy.data(name)
    np.testing.assert_allclose(legacy.checksum(x),
                               stored[f"{name}/x_checksum"], rtol=1e-12,
                               err_msg="the fixed inputs changed")
    got = legacy.reference_outputs(model, x, x_train, y_train)
    for key in ("forward", "loss", "after_step"):
        np.testing.assert_allclose(
            got[key], stored[f"{name}/{key}"], rtol=1e-5, atol=1e-6,
            err_msg=f"{name}: {key} differs from the reference code's")
