"""Deep models (Table 2), backbones, MNIST-Imbalanced, export, Fig. 6."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from amtfl_tf import datasets
from amtfl_tf import export
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.amtfl import table2
from amtfl_tf.models import DEEP_METHODS
from amtfl_tf.models import DeepMultiTaskModel
from amtfl_tf.models import HyperparameterRamp
from amtfl_tf.models import build_backbone

from conftest import REPO_ROOT


def _batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return x, y


def _model(method, **kw):
    keras.utils.set_random_seed(0)
    return DeepMultiTaskModel(10, (28, 28, 1), method=method, delta=0.01,
                              task_sizes=list(range(200, 0, -20)), **kw)


def test_lenet_conv_matches_the_authors_architecture():
    b = build_backbone("lenet_conv", (28, 28, 1))
    assert b.output.shape[-1] == 500
    shapes = [tuple(w.shape) for w in b.weights]
    assert shapes == [(5, 5, 1, 20), (20,), (5, 5, 20, 50), (50,),
                      (800, 500), (500,)]


@pytest.mark.parametrize("name,size,width", [("resnet18", 32, 512),
                                             ("resnet50", 32, 2048)])
def test_resnets_accept_any_size(name, size, width):
    b = build_backbone(name, (size, size, 3))
    out = b(np.zeros((2, size, size, 3), np.float32))
    assert out.shape == (2, width)
    if name == "resnet18":
        assert 11_000_000 < b.count_params() < 11_300_000


def test_penalties_and_extra_match_numpy():
    x, y = _batch()
    hp = dict(alpha=0.2, gamma=0.3, mu=0.05, lam=0.01)
    cnn = _model("cnn", hyperparameters=hp)
    ws = cnn.backbone.get_weights() + cnn.head.get_weights()
    half = 0.5 * 0.01 * sum(float((w.astype(np.float64) ** 2).sum())
                            for w in ws)
    np.testing.assert_allclose(float(cnn.penalty()), half, rtol=1e-5)
    full = _model("cnn", hyperparameters=hp, l2_convention="full")
    np.testing.assert_allclose(float(full.penalty()), 2 * half, rtol=1e-5)

    m = _model("deep-amtfl", hyperparameters=hp)
    z = np.asarray(m.backbone(x))
    W, c = (np.asarray(v) for v in (m.head.kernel, m.head.bias))
    A, a = (np.asarray(v) for v in (m.feedback.feedback, m.feedback.bias))
    logits, extra = m.forward(x)
    z_hat = np.maximum((z @ W + c) @ A + a, 0)
    np.testing.assert_allclose(
        float(extra), 0.3 * ((z_hat - z) ** 2).sum(axis=1).mean(),
        rtol=1e-4)
    bb = sum(float((w.astype(np.float64) ** 2).sum())
             for w in m.backbone.get_weights())
    np.testing.assert_allclose(float(m.penalty()),
                               0.005 * bb + 0.05 * np.abs(W).sum(),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(m.task_weights()),
                               1 + 0.2 * np.abs(A).sum(axis=1), rtol=1e-5)
    assert m.transfer_matrix().shape == (10, 10)


@pytest.mark.parametrize("method", DEEP_METHODS)
@pytest.mark.large
def test_one_step_and_keras_round_trip(method, tmp_path):
    x, y = _batch()
    m = _model(method)
    m.compile(keras.optimizers.Adam(1e-3))
    before = [np.asarray(w).copy() for w in m.trainable_weights]
    hist = m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert "task_loss_9" in hist.history
    assert any(not np.allclose(a, np.asarray(b))
               for a, b in zip(before, m.trainable_weights))
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)),
                               rtol=1e-5, atol=1e-6)
    assert loaded.get_config() == m.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="method='rnn'"):
        DeepMultiTaskModel(10, (28, 28, 1), method="rnn")
    with pytest.raises(ValueError, match="backbone='vgg'"):
        DeepMultiTaskModel(10, (28, 28, 1), backbone="vgg")
    with pytest.raises(ValueError, match="l2_convention='third'"):
        DeepMultiTaskModel(10, (28, 28, 1), l2_convention="third")
    with pytest.raises(ValueError, match=r"input_dim=\(28, -1\)"):
        DeepMultiTaskModel(10, (28, -1))
    m = _model("cnn")
    with pytest.raises(ValueError, match=r"x.shape=\(2, 28, 28\)"):
        m(np.zeros((2, 28, 28), np.float32))


def test_hyperparameter_ramp():
    x, y = _batch()
    m = _model("deep-amtfl", hyperparameters=dict(alpha=0.4, gamma=0.2))
    m.compile(keras.optimizers.Adam(1e-3))
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(self.model.get_hyperparameters()["alpha"])

    m.fit(x, y, batch_size=2, epochs=2, verbose=0,
          callbacks=[HyperparameterRamp(ramp_steps=4), Spy()])
    np.testing.assert_allclose(seen[:6], [0.0, 0.1, 0.2, 0.3, 0.4, 0.4],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="ramp_steps=0"):
        HyperparameterRamp(ramp_steps=0)


@pytest.mark.data
def test_mnist_imbalanced(data_dir):
    d = datasets.load("mnist_imbalanced", data_dir=data_dir)
    assert np.bincount(d.y_train).tolist() == list(range(200, 0, -20))
    assert d.x_train.shape == (1100, 28, 28, 1)
    assert d.x_train.dtype == np.float32 and d.x_train.max() <= 1.0
    assert len(d.y_val) == 58900 and len(d.y_test) == 10000
    # "first": the first N_t images of each class in file order
    full = datasets.load("mnist", data_dir=data_dir)
    first_zeros = np.flatnonzero(full.train_labels == 0)[:200]
    assert set(first_zeros) <= set(d.train_index)
    r1 = datasets.load("mnist_imbalanced", data_dir=data_dir,
                       selection="random", seed=1)
    assert not np.array_equal(r1.train_index, d.train_index)
    assert np.bincount(r1.y_train).tolist() == list(range(200, 0, -20))
    with pytest.raises(ValueError, match="selection='last'"):
        datasets.load("mnist_imbalanced", data_dir=data_dir,
                      selection="last")


def _image_folder(root, classes=3, per=(6, 2), size=20):
    from PIL import Image
    rng = np.random.default_rng(0)
    for part, n in zip(("train", "test"), per):
        for c in range(classes):
            folder = root / part / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                img = (rng.random((size, size, 3)) * 80 + 60 * c).astype(
                    np.uint8)
                Image.fromarray(img).save(folder / f"{i}.png")


@pytest.mark.slow  # 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
def test_image_folder_path_trains_and_finetunes(tmp_path):
    _image_folder(tmp_path / "data" / "awa_c")
    cfg = CommonConfig("table2", "smoke", str(tmp_path / "data"),
                       str(tmp_path / "out"), 0, False, "auto", False)
    res = table2.run_dataset(cfg, "awa_c", epochs=1, image_size=32,
                             batch_size=6)
    assert [r.method for r in res.rows] == ["CNN", "MT-CNN", "Deep-AMTL",
                                            "Deep-AMTFL"]
    assert res.rows[0].paper == 33.36
    with pytest.raises(datasets.DatasetNotFoundError, match="imagenet_small"):
        table2.run_dataset(cfg, "imagenet_small")


def test_cub_without_data_fails_fast(tmp_path):
    cfg = CommonConfig("table2", "smoke", str(tmp_path), str(tmp_path), 0,
                       False, "auto", False)
    with pytest.raises(datasets.DatasetNotFoundError, match="caltech_birds"):
        table2.run_dataset(cfg, "cub")


SERVE = textwrap.dedent("""
    import sys
    import numpy as np, tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    x = np.load(sys.argv[2])
    out = loaded.serve(tf.constant(x)).numpy()
    np.save(sys.argv[3], out)
    print("amtfl_tf" in sys.modules)
""")


@pytest.mark.large
def test_export_round_trips(tmp_path):
    x, y = _batch()
    m = _model("deep-amtfl")
    m.compile(keras.optimizers.Adam(1e-3))
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    paths = export.export_model(m, str(tmp_path / "export"))
    expected = 1 / (1 + np.exp(-np.asarray(m(x))))
    loaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)),
                               rtol=1e-5, atol=1e-6)
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([sys.executable, "-c", SERVE, paths["saved_model"],
                        str(tmp_path / "x.npy"), str(tmp_path / "out.npy")],
                       capture_output=True, text=True, timeout=300,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False"  # never imported
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="MultiTaskModel"):
        export.export_model(keras.Sequential([keras.layers.Dense(1)]),
                            str(tmp_path / "bad"))


@pytest.mark.data
@pytest.mark.large
@pytest.mark.slow  # 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
def test_table2_and_fig6_smoke(tmp_path, data_dir):
    env = dict(os.environ)
    r = subprocess.run(
        [sys.executable, "reproductions/table2.py", "--profile=smoke",
         f"--workdir={tmp_path / 't2'}", f"--data_dir={data_dir}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "t2" / "mnist_imbalanced" /
                      "results.json").read_text())
    papers = {(row["method"], row["metric"]): row["paper"]
              for row in res["rows"]}
    assert papers[("Deep-AMTFL", "error_pct_per_class")] == 5.82
    assert papers[("Deep-AMTFL", "accuracy_overall")] == 0.9301
    r = subprocess.run(
        [sys.executable, "reproductions/fig6_transfer.py", "--profile=smoke",
         f"--workdir={tmp_path / 'f6'}", f"--source_workdir={tmp_path / 't2'}",
         f"--data_dir={data_dir}", "--overwrite"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    # reused the Table 2 runs (--overwrite applies to the figure only)
    assert "already recorded" in r.stderr
    res = json.loads((tmp_path / "f6" / "results.json").read_text())
    assert len(res["claims"]) == 4
    assert (tmp_path / "f6" / "fig6_transfer.png").stat().st_size > 5000


@pytest.mark.parametrize("method,alpha,gamma", [("mt-cnn", 0.0, 0.0),
                                                ("deep-amtfl", 0.1, 0.01)])
def test_training_follows_the_authors_tf1_graph(method, alpha, gamma):
    """From the same weights and batches, our model (with Table 2's
    settings) and the authors' graph (authors_tf1, TF1 Adam) give the same
    loss at every step: any gap between them is initialisation and data
    order, not the objective or the optimiser."""
    import tensorflow as tf

    from amtfl_tf.experiments.amtfl import authors_tf1

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(300, 28, 28, 1)).astype(np.float32)
    labels = np.repeat(np.arange(10), 30)
    y = np.eye(10, dtype=np.float32)[labels]
    sizes = np.bincount(labels, minlength=10)
    s = table2.settings_for("paper")
    keras.utils.set_random_seed(3)
    model = DeepMultiTaskModel(
        10, (28, 28, 1), method=method, loss=s.loss, task_sizes=sizes,
        delta=s.delta_scale * float(np.sqrt(sizes.mean())),
        hyperparameters=dict(alpha=alpha or s.alpha, gamma=gamma or s.gamma,
                             mu=s.mu, lam=s.lam))
    start = {v.path: v.numpy() for v in model.trainable_variables}
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [10], [1e-3, 1e-4])
    model.compile(keras.optimizers.Adam(schedule, epsilon=s.adam_epsilon))
    batches = [rng.choice(300, 100, replace=False) for _ in range(20)]
    ours = [model.train_on_batch(x[b], y[b], return_dict=True)["loss"]
            for b in batches]
    ours_names = {"conv1/kernel": "conv1/kernel", "conv1/bias": "conv1/bias",
                  "conv2/kernel": "conv2/kernel", "conv2/bias": "conv2/bias",
                  "dense1/kernel": "fc/kernel", "dense1/bias": "fc/bias",
                  "fc_last/SW": "task_layer/kernel",
                  "fc_last/Sb": "task_layer/bias",
                  "recon/AW": "feedback/feedback", "recon/Ab": "feedback/bias"}
    graph = tf.Graph()
    with graph.as_default():
        xp, yp, _, loss = authors_tf1._graph(tf, alpha, gamma, s.mu, s.lam,
                                             sizes, 0)
        step = tf.compat.v1.train.get_or_create_global_step()
        lr = tf.compat.v1.train.piecewise_constant(
            tf.cast(step, tf.int32), [10], [1e-3, 1e-4])
        train = tf.compat.v1.train.AdamOptimizer(lr).minimize(
            loss, global_step=step)
        with tf.compat.v1.Session(config=authors_tf1.session_config()) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in tf.compat.v1.trainable_variables():
                ours_path = ours_names[v.op.name[len("lenet/"):]]
                if ours_path in start:
                    v.load(start[ours_path], sess)
            theirs = [sess.run([train, loss], {xp: x[b], yp: y[b]})[1]
                      for b in batches]
    np.testing.assert_allclose(ours, theirs, rtol=2e-4)
    assert theirs[-1] < 0.8 * theirs[0]   # it trained


def test_authors_tf1_graph_reports_progress():
    """A long TF1-graph fit is not silent: one line per ~5% of the epochs,
    the last one at the final epoch, and a finite result."""
    import types

    from amtfl_tf.experiments.amtfl import authors_tf1

    rng = np.random.default_rng(0)
    problem = types.SimpleNamespace(
        x_train=rng.random((200, 28, 28, 1), dtype=np.float32),
        y_train=np.arange(200) % 10,
        x_test=rng.random((50, 28, 28, 1), dtype=np.float32),
        y_test=np.arange(50) % 10)
    lines = []
    rec = authors_tf1.train_and_evaluate(problem, epochs=3,
                                         progress=lines.append)
    assert [line.split(" (")[0] for line in lines] == [
        "epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "left)" in lines[-1]
    assert 0 <= rec["error_per_class"] <= 100 and rec["train_seconds"] > 0
