"""benchmarks/faithful_cost.py: the step count of a ``fit`` call, and a
dry run of a real script whose counted steps are checked against the
script's own settings."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "faithful_cost.py")


def _module():
    spec = importlib.util.spec_from_file_location("faithful_cost", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_steps_per_epoch_of_every_input_kind():
    import keras
    import tensorflow as tf

    fc = _module()
    x = np.zeros((1100, 3), np.float32)
    assert fc.epoch_steps(x, 100, None) == 11
    assert fc.epoch_steps(x, None, None) == 35  # Keras' 32
    assert fc.epoch_steps({"x": x}, 64, None) == 18
    assert fc.epoch_steps(x, 100, 7) == 7
    ds = tf.data.Dataset.from_tensor_slices(x).batch(100)
    assert fc.epoch_steps(ds, None, None) == 11
    assert fc.epoch_steps(ds.repeat(), None, None) is None

    class Seq(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.zeros((4, 2, 6, 6, 1), np.float32), np.zeros((4, 2))

    seq = Seq()
    assert fc.epoch_steps(seq, None, None) == 5
    assert fc.batch_shape(seq, None) == (4, 2, 6, 6, 1)
    assert fc.batch_shape(x, 100) == (100, 3)
    assert fc.batch_shape(ds, None) == (None, 3)


@pytest.mark.slow
def test_dry_run_counts_table2s_steps(tmp_path, data_dir):
    """Table 2 at smoke: 4 models × 2 epochs × ceil(1,100 / 100) steps
    (MNIST-Imbalanced has 200 + 180 + … + 20 = 1,100 training images)."""
    out = tmp_path / "cost.json"
    env = dict(os.environ, AMTFL_TF_DATA_DIR=data_dir,
               PYTHONPATH=REPO_ROOT)
    r = subprocess.run([sys.executable, SCRIPT, "--scripts", "table2",
                        "--profile", "smoke", "--probe_steps", "2",
                        "--json", str(out)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    item = json.loads(out.read_text())["items"]["table2"]
    assert item["exit_status"] == 0, r.stderr[-3000:]
    assert item["fits"] == 4 and item["steps"] == 4 * 2 * 11
    assert all(d["seconds_per_step"] > 0
               for d in item["by_signature"].values())
    assert item["estimated_seconds"] >= item["estimated_training_seconds"]
