"""TensorFlow's oneDNN kernels (``TF_ENABLE_ONEDNN_OPTS``), which the
scripts turn on where TensorFlow leaves them off (CPUs without AVX-512
VNNI/BF16/AMX): both paths train the DMTRL networks to the same numbers,
up to float32 rounding. The variable is read when TensorFlow is imported,
so each path runs in a process of its own."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

# A few Adam steps of STL on fixed random data, at the faithful shapes of
# Fig. 2 (LeNet, 10 one-vs-all tasks) and Fig. 4 (the 105 x 105 tanh CNN,
# here 5 alphabets); prints each step's loss and the final weights' norm.
STEPS = r"""
import json, sys
import numpy as np
import keras
from amtfl_tf.models import dmtrl as dm
out = {}
rng = np.random.default_rng(0)
for name in ("fig2", "fig4"):
    keras.utils.set_random_seed(0)
    if name == "fig2":
        m = dm.build_network("stl", 10, (28, 28, 1), "mnist_lenet")
        x = rng.random((64, 28, 28, 1)).astype("float32")
        y = np.sign(rng.normal(size=(64, 10))).astype("float32")
    else:
        sizes = [20, 14, 30, 25, 17]
        m = dm.build_network("stl", 5, (105, 105, 1), "omniglot_cnn",
                             task_layout="blocked", num_classes=sizes,
                             loss="softmax_ce")
        x = rng.random((4, 5, 105, 105, 1)).astype("float32")
        y = np.stack([rng.integers(0, n, 4) for n in sizes],
                     1).astype("int32")
    m.compile(keras.optimizers.Adam(1e-3))
    losses = [float(np.ravel(m.train_on_batch(x, y))[0])
              for _ in range(4)]
    norm = float(np.sqrt(sum(np.sum(np.square(w))
                             for w in m.get_weights())))
    out[name] = {"losses": losses, "norm": norm}
print("RESULT " + json.dumps(out))
"""


def _run(code, onednn):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn,
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = [v for v in proc.stdout.splitlines() if v.startswith("RESULT ")]
    return json.loads(line[-1][len("RESULT "):])


@pytest.mark.large
def test_onednn_and_tensorflows_own_kernels_train_alike():
    off, on = _run(STEPS, "0"), _run(STEPS, "1")
    for name in ("fig2", "fig4"):
        # the losses move (training happens) and agree step by step
        assert off[name]["losses"][0] != off[name]["losses"][-1]
        np.testing.assert_allclose(on[name]["losses"], off[name]["losses"],
                                   rtol=5e-4, err_msg=name)
        assert on[name]["norm"] == pytest.approx(off[name]["norm"],
                                                 rel=1e-5), name


@pytest.mark.large
def test_scripts_turn_onednn_on_unless_the_environment_says_otherwise():
    code = ("import sys, os; import amtfl_tf.cli; "
            "print('RESULT ' + repr(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
            ".replace(\"'\", '\"')); "
            "assert 'tensorflow' not in sys.modules")
    assert _run(code, "0") == "0"
    env = {k: v for k, v in os.environ.items()
           if k != "TF_ENABLE_ONEDNN_OPTS"}
    proc = subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == 'RESULT "1"'
