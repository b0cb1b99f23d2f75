"""README snippets run as written (issue 21), and what the README promises
about reloading: ``keras.saving.load_model`` works after ``import
amtfl_tf`` alone."""

import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from conftest import REPO_ROOT


def _python_blocks():
    text = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _block_with(fragment):
    (block,) = [b for b in _python_blocks() if fragment in b]
    return block


def test_asymmetric_feedback_snippet_applies_the_penalty():
    """The snippet trains with gamma * ||Z_hat - Z||^2 in the loss (a
    model that leaves z_hat out of its graph drops the term silently)."""
    code = _block_with("AsymmetricFeedback(10, gamma=0.01)")
    rng = np.random.default_rng(0)
    ns = {"x": rng.normal(size=(16, 64)).astype("float32"),
          "y": (rng.random((16, 10)) > 0.5).astype("float32")}
    exec(compile(code, "README.md", "exec"), ns)
    model, x, y = ns["model"], ns["x"], ns["y"]
    layer = [v for v in model.layers if type(v).__name__ ==
             "AsymmetricFeedback"]
    assert layer, "the feedback layer is not part of the model"
    logits, z_hat = model(x)
    z = x   # the snippet's features are the model input
    bce = float(keras.losses.BinaryCrossentropy(from_logits=True)(y, logits))
    penalty = 0.01 * float(layer[0].reconstruction_error(z, z_hat))
    assert penalty > 0
    total = model.evaluate(x, y, verbose=0)
    total = total[0] if isinstance(total, list) else total
    np.testing.assert_allclose(total, bce + penalty, rtol=1e-4)


SAVE = textwrap.dedent("""
    import sys
    import numpy as np
    from amtfl_tf import layers, models
    m = models.DeepMultiTaskModel(3, (28, 28, 1), method="deep-amtfl")
    m(np.zeros((2, 28, 28, 1), "float32"))
    m.save(sys.argv[1] + "/deep.keras")
    s = models.AMTFL(3, 4, hidden_units=2)
    s(np.zeros((2, 4), "float32"))
    s.save(sys.argv[1] + "/amtfl.keras")
""")

# each loads with nothing but `import amtfl_tf` (before or after Keras)
LOAD = {
    "amtfl_tf first": "import amtfl_tf\nimport keras\n",
    "keras first": "import keras\nimport amtfl_tf\n",
    "tensorflow after": "import amtfl_tf\nimport tensorflow\nimport keras\n",
}


@pytest.mark.large
def test_keras_file_reloads_after_import_amtfl_tf(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    subprocess.run([sys.executable, "-c", SAVE, str(tmp_path)], check=True,
                   cwd=REPO_ROOT, env=env, capture_output=True)
    for case, head in LOAD.items():
        code = (f"{head}import sys\n"
                "for name in ('deep', 'amtfl'):\n"
                "    m = keras.saving.load_model(sys.argv[1] + "
                "f'/{name}.keras')\n"
                "    print(type(m).__name__)\n")
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                           cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True)
        assert r.returncode == 0, (case, r.stderr[-2000:])
        assert r.stdout.split() == ["DeepMultiTaskModel", "AMTFL"], case


@pytest.mark.large
def test_import_amtfl_tf_stays_cheap_and_registers_on_keras_import():
    """``import amtfl_tf`` leaves TensorFlow out; importing Keras later
    registers every class (amtfl_tf.registration)."""
    code = ("import sys, amtfl_tf\n"
            "print('tensorflow' in sys.modules)\n"
            "import keras\n"
            "from keras.saving import get_registered_object as get\n"
            "print(all(get('amtfl_tf>' + n) is not None for n in "
            "('DeepMultiTaskModel', 'AMTFL', 'DMTRLNetwork', 'DAMTL', "
            "'AsymmetricFeedback', 'TuckerDense', 'SoftMaskConv2D')))\n"
            "print(amtfl_tf.registration.is_registered())\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                       env=dict(os.environ, PYTHONPATH=REPO_ROOT),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["False", "True", "True"]


def _run_block(fragment, **names):
    code = _block_with(fragment)
    ns = {"keras": keras, "np": np, **names}
    exec(compile(code, "README.md", "exec"), ns)
    return ns


def test_every_python_block_is_tested():
    """Each README python block is executed by one test below (a new block
    needs its own test)."""
    fragments = ("datasets.load(\"school\")", "datasets.register(\"toy\"", "AsymmetricFeedback(10, gamma",
                 "TTConv2D(32, 5", "dmtrl.build_network(\"stl\"",
                 "SoftMaskConv2D(64, 3", "models.AMTFL(num_tasks=139",
                 "export.export_model(model")
    blocks = _python_blocks()
    assert len(blocks) == len(fragments)
    for fragment in fragments:
        _block_with(fragment)


@pytest.mark.data
def test_school_snippet(data_dir, monkeypatch):
    monkeypatch.setenv("AMTFL_TF_DATA_DIR", data_dir)
    ns = _run_block('datasets.load("school")')
    assert ns["x_tr"].shape == (len(ns["split"].train), 28)
    assert ns["t_tr"].max() < 139


def test_factorised_layers_snippet():
    rng = np.random.default_rng(0)
    ns = _run_block("TTConv2D(32, 5",
                    kernels=rng.normal(size=(20, 8, 10)).astype("float32"))
    assert tuple(ns["h"].shape)[1:] == (10, 24, 24, 32)
    assert np.all(np.isfinite(np.asarray(ns["rho"])))


@pytest.mark.slow  # builds the 50-task 105x105 Omniglot network: 40-90 s
def test_dmtrl_snippet():
    rng = np.random.default_rng(0)
    x = rng.random((8, 28, 28, 1), dtype=np.float32)
    y = np.where(rng.random((8, 10)) > 0.5, 1.0, -1.0).astype("float32")
    sizes = [int(v) for v in rng.integers(14, 55, 50)]
    ns = _run_block('dmtrl.build_network("stl"', x=x, y_pm1=y, sizes=sizes)
    assert ns["tt"].sharing_strengths("l1")
    assert ns["net"].num_tasks == 50


def test_damtl_snippet():
    rng = np.random.default_rng(0)
    ns = _run_block("SoftMaskConv2D(64, 3",
                    aux_features=rng.normal(size=(12, 6)).astype("float32"),
                    task_features=rng.normal(size=(12, 6)).astype("float32"),
                    labels=rng.integers(0, 10, 12))
    assert float(ns["gap"]) >= 0


def test_shallow_amtfl_snippet():
    rng = np.random.default_rng(0)
    task_ids = rng.integers(0, 139, 600)
    ns = _run_block("models.AMTFL(num_tasks=139",
                    x=rng.normal(size=(600, 28)).astype("float32"),
                    y=rng.normal(size=600).astype("float32"),
                    task_ids=task_ids,
                    sizes=np.maximum(np.bincount(task_ids, minlength=139), 1))
    assert ns["m"].transfer_matrix().shape == (139, 139)


def test_export_snippet(tmp_path, monkeypatch):
    from amtfl_tf import models
    monkeypatch.chdir(tmp_path)
    model = models.AMTFL(3, 4, hidden_units=2)
    model(np.zeros((2, 4), "float32"))
    ns = _run_block("export.export_model(model", model=model)
    assert (tmp_path / "out" / "model.keras").exists()
    assert ns["paths"]


def test_register_snippet():
    from amtfl_tf.datasets import registry
    try:
        ns = _run_block('datasets.register("toy"')
        assert ns["toy"]["x"].shape == (50, 5)
        assert "toy" in ns["datasets"].names()
    finally:
        registry._REGISTRY.pop("toy", None)
