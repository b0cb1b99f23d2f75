"""MultiTaskModel and the shallow methods: the objective against a numpy
computation, task partitioning, save/load, one fit step, golden numbers."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from amtfl_tf import models
from amtfl_tf import objectives
from amtfl_tf.experiments import search as sh

from conftest import REPO_ROOT

T, D, K = 3, 4, 2
# AMTFL objective of the fixed configuration below, computed once from
# the numpy reference (test_amtfl_objective_matches_numpy checks both).
GOLDEN_AMTFL_LOSS = 4.05095


def _data(n=9, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    task = np.array([0, 0, 0, 0, 1, 1, 0, 1, 0])[:n]  # task 2 absent
    y = rng.normal(size=n).astype("float32")
    return x, task, y


def _fixed_weights(model):
    """Deterministic weights (no RNG), so numbers are platform-stable."""
    out = []
    for i, w in enumerate(model.get_weights()):
        w = np.asarray(w)
        if w.ndim == 0:  # hyper-parameters
            out.append(w)
        else:
            out.append((np.sin(np.arange(w.size) + i) * 0.5).reshape(
                w.shape).astype(w.dtype))
    model.set_weights(out)


def _sq(v):
    return float((v ** 2).sum())


def _l1(v):
    return float(np.abs(v).sum())


def test_amtfl_objective_matches_numpy():
    x, task, y = _data()
    hps = dict(alpha=0.3, gamma=0.2, mu=0.05, lam=0.01, l1=0.02)
    m = models.AMTFL(T, D, hidden_units=K, delta=0.5, task_sizes=[6, 3, 2],
                     hyperparameters=hps)
    _fixed_weights(m)
    m.set_hyperparameters(**hps)
    out = m({"x": x, "task": task})
    loss = float(m.compute_loss({"x": x, "task": task}, y, out))
    L, c, S, b, A, a = (np.asarray(v) for v in (
        m.basis, m.hidden_bias, m.coefficients, m.bias, m.feedback.feedback,
        m.feedback.bias))
    z = np.maximum(x @ L + c, 0)
    o = z @ S + b
    np.testing.assert_allclose(np.asarray(out), o, rtol=1e-5)
    err = (o[np.arange(len(y)), task] - y) ** 2
    per_task = np.array([err[task == t].mean() if (task == t).any() else 0
                         for t in range(T)])
    present = np.array([(task == t).any() for t in range(T)])
    delta_term = 0.5 / np.sqrt([6, 3, 2]) * present
    weights = 1 + 0.3 * np.abs(A).sum(axis=1)
    z_hat = np.maximum(o @ A + a, 0)
    recon = ((z_hat - z) ** 2).sum(axis=1).mean()
    expected = ((weights * (per_task + delta_term)).sum()
                + 0.05 * _l1(S) + 0.01 * _sq(L) + 0.02 * _l1(L)
                + 0.2 * recon)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # golden value of this fixed configuration (guards refactors)
    np.testing.assert_allclose(loss, GOLDEN_AMTFL_LOSS, rtol=1e-5)


def test_amtl_objective_matches_numpy():
    x, task, y = _data()
    m = models.AMTL(T, D, nonnegative=False,
                    hyperparameters=dict(alpha=0.5, gamma=0.3, lam=0.1,
                                         l1=0.0))
    _fixed_weights(m)
    m.set_hyperparameters(alpha=0.5, gamma=0.3, lam=0.1, l1=0.0)
    out = m({"x": x, "task": task})
    loss = float(m.compute_loss({"x": x, "task": task}, y, out))
    W, b, B = (np.asarray(v) for v in (m.kernel, m.bias, m.transfer))
    B = B * (1 - np.eye(T))
    err = ((x @ W + b)[np.arange(len(y)), task] - y) ** 2
    per_task = np.array([err[task == t].mean() if (task == t).any() else 0
                         for t in range(T)])
    weights = 1 + 0.5 * np.abs(B).sum(axis=1)
    expected = (weights * per_task).sum() + 0.3 * _sq(W - W @ B) + \
        0.1 * _sq(W)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    np.testing.assert_allclose(m.transfer_matrix(), B, rtol=1e-6)


def test_pooled_loss_for_nn_and_shared_inputs_logistic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, D)).astype("float32")
    y = (rng.random(size=(6, T)) > 0.5).astype("float32")
    m = models.NN(T, D, hidden_units=K, loss="logistic",
                  hyperparameters={"lam": 0.0})
    out = np.asarray(m(x))
    loss = float(m.compute_loss(x, y, out))
    p = 1 / (1 + np.exp(-out))
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(loss, ce.sum() / ce.size, rtol=1e-5)
    mt = models.MTNN(T, D, hidden_units=K, loss="logistic",
                     hyperparameters={"mu": 0.0, "lam": 0.0})
    out = np.asarray(mt(x))
    p = 1 / (1 + np.exp(-out))
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(float(mt.compute_loss(x, y, out)),
                               ce.mean(axis=0).sum(), rtol=1e-5)


def test_absent_task_contributes_nothing_and_reported_per_task():
    x, task, y = _data()
    m = models.STL(T, D)
    m.compile("sgd")
    w0 = np.asarray(m.kernel).copy()
    m.fit({"x": x, "task": task}, y, batch_size=9, epochs=1, verbose=0)
    # task 2 has no sample: its column gets no data gradient (lam only;
    # zero-initialised kernel stays zero)
    np.testing.assert_array_equal(np.asarray(m.kernel)[:, 2], w0[:, 2])
    assert not np.allclose(np.asarray(m.kernel)[:, 0], w0[:, 0])
    logs = m.get_metrics_result()
    assert {"task_loss_0", "task_loss_1", "task_loss_2"} <= set(logs)


@pytest.mark.parametrize("method", sorted(models.METHODS))
@pytest.mark.large
def test_one_step_fit_and_keras_round_trip(method, tmp_path):
    x, task, y = _data()
    m = sh.build_model(method, T, D, hidden_units=K, delta=0.1,
                       task_sizes=[6, 3, 1])
    m.compile(keras.optimizers.Adam(0.01))
    before = [np.asarray(w).copy() for w in m.trainable_weights]
    hist = m.fit({"x": x, "task": task}, y, batch_size=9, epochs=1,
                 verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert any(not np.allclose(a, np.asarray(b))
               for a, b in zip(before, m.trainable_weights))
    m.set_hyperparameters(**{k: 0.07 for k in m.hp})
    path = os.path.join(tmp_path, "m.keras")
    m.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(m)
    assert loaded.get_hyperparameters() == pytest.approx(
        m.get_hyperparameters())
    np.testing.assert_allclose(np.asarray(loaded({"x": x, "task": task})),
                               np.asarray(m({"x": x, "task": task})),
                               rtol=1e-6)
    assert loaded.get_config() == m.get_config()
    # the loaded model comes back compiled and keeps training
    hist = loaded.fit({"x": x, "task": task}, y, batch_size=9, epochs=1,
                      verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_amtl_nonnegative_projection():
    x, task, y = _data()
    m = models.AMTL(T, D, nonnegative=True)
    m.compile(keras.optimizers.SGD(1.0))
    m.transfer.assign(-np.ones((T, T)))
    m.fit({"x": x, "task": task}, y, batch_size=9, epochs=1, verbose=0)
    assert np.asarray(m.transfer).min() >= 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_tasks=0, input_dim=3), "num_tasks=0"),
    (dict(num_tasks=2, input_dim=-1), "input_dim=-1"),
    (dict(num_tasks=2, input_dim=3, loss="huber"), "loss=.huber."),
    (dict(num_tasks=2, input_dim=3, delta=0.1), "task_sizes"),
    (dict(num_tasks=2, input_dim=3, task_sizes=[1, 2, 3]), "3 entries"),
    (dict(num_tasks=2, input_dim=3, hyperparameters={"beta": 1}),
     r"\['beta'\]"),
    (dict(num_tasks=2, input_dim=3, hyperparameters={"lam": -1}),
     "lam=-1"),
    (dict(num_tasks=2, input_dim=3, hyperparameters={"lam": "x"}),
     "lam='x'"),
    (dict(num_tasks=2, input_dim=3, delta=-0.1, task_sizes=[1, 2]),
     "delta=-0.1"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.STL(**kwargs)


def test_bad_data():
    m = models.STL(T, D)
    with pytest.raises(ValueError, match=r"x.shape=\(2, 5\)"):
        m(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="takes no loss"):
        m.compile("sgd", loss="mse")
    with pytest.raises(ValueError, match="Shared-input data"):
        m.compute_loss(np.zeros((2, D), "float32"), np.zeros(2, "float32"),
                       m(np.zeros((2, D), "float32")))
    with pytest.raises(ValueError, match="alpha"):
        m.set_hyperparameters(alpha=1.0)


def test_objectives_helpers():
    o = np.array([[-30.0, 0.0, 30.0]])
    y = np.array([[1.0, 1.0, 0.0]])
    got = np.asarray(objectives.elementwise_loss("logistic", y, o))
    np.testing.assert_allclose(got, [[30.0, np.log(2), 30.0]], rtol=1e-6)
    sums, counts = objectives.task_loss_sums(
        "squared", np.array([1.0, 2.0, 3.0]), np.zeros((3, 2)), 2,
        task=np.array([1, 1, 0]), sample_weight=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(np.asarray(sums), [18.0, 1.0])
    np.testing.assert_allclose(np.asarray(counts), [2.0, 1.0])
    np.testing.assert_allclose(objectives.imbalance_term(2.0, [4, 16]),
                               [1.0, 0.5])
    with pytest.raises(ValueError, match="delta=-1"):
        objectives.imbalance_term(-1, [4])
    with pytest.raises(ValueError, match="task_sizes"):
        objectives.imbalance_term(1, [4, 0])
    hinge = objectives.elementwise_loss(
        "hinge", np.array([1.0, -1.0, 1.0]), np.array([0.25, 0.5, 2.0]))
    np.testing.assert_allclose(np.asarray(hinge), [0.75, 1.5, 0.0])
    with pytest.raises(ValueError, match="loss='huber'"):
        objectives.elementwise_loss("huber", y, o)


MIRRORED = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from amtfl_tf import models
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    task = np.array([0, 0, 0, 1, 2, 2, 2, 2])  # uneven across replicas
    y = rng.normal(size=8).astype("float32")

    def run(strategy):
        with strategy.scope():
            m = models.AMTFL(3, 4, hidden_units=5, delta=0.3,
                             task_sizes=[3, 1, 4],
                             hyperparameters=dict(alpha=0.1, gamma=0.2,
                                                  mu=0.01, lam=0.01))
            m.set_weights([np.sin(np.arange(w.size) + i).reshape(
                np.shape(w)).astype("float32") * 0.3 if np.ndim(w) else w
                for i, w in enumerate(m.get_weights())])
            m.compile(keras.optimizers.SGD(0.1))
        ds = tf.data.Dataset.from_tensor_slices(
            ({"x": x, "task": task}, y)).batch(8)
        m.fit(ds, epochs=1, verbose=0)
        return [np.asarray(w) for w in m.trainable_weights]

    one = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one, two))
    moved = max(float(np.abs(a).max()) for a in one)
    print("MAXDIFF", diff)
    assert diff < 1e-5, diff
""")


@pytest.mark.large
def test_mirrored_strategy_matches_one_device():
    """One SGD step over two logical CPUs updates every weight as one
    device does (tolerance 1e-5; task counts differ between replicas)."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    r = subprocess.run([sys.executable, "-c", MIRRORED], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "MAXDIFF" in r.stdout


@pytest.mark.parametrize("method", sorted(models.METHODS))
def test_own_task_forward_equals_full_outputs(method):
    x, task, _ = _data()
    m = sh.build_model(method, T, D, hidden_units=K)
    _fixed_weights(m)
    full, extra_full = m.forward(x)
    own, extra_own = m.forward(x, task=task)
    np.testing.assert_allclose(
        np.asarray(own), np.asarray(full)[np.arange(len(task)), task],
        rtol=1e-5)
    np.testing.assert_allclose(float(extra_own), float(extra_full),
                               rtol=1e-5)


@pytest.mark.parametrize("method", ["STL", "GO-MTL", "AMTL", "NN", "MT-NN",
                                    "AMTFL", "Evgeniou-Pontil", "MTFL"])
def test_graph_loop_equals_keras_fit(method):
    """Trainer's in-graph loop (loop='graph') runs the same train steps as
    Keras fit: equal weights and loss after 30 full-batch steps, twice in a
    row (the second fit restarts from the initial weights)."""
    x, task, y = _data(seed=3)
    trained = {}
    for loop in ("fit", "graph"):
        m = sh.build_model(method, 3, x.shape[1], hidden_units=4,
                           mtfl_d_step_every=7, seed=1)
        tr = sh.Trainer(m, x, y, task, config=sh.TrainConfig(
            steps=30, steps_per_execution=10, loop=loop))
        assert tr.loop == loop
        losses = [tr.fit(**{k: 0.01 for k in m.hp}) for _ in range(2)]
        trained[loop] = (losses, [w.copy() for w in m.get_weights()])
    (lf, wf), (lg, wg) = trained["fit"], trained["graph"]
    np.testing.assert_allclose(lg, lf, rtol=1e-5)
    assert lg[0] == pytest.approx(lg[1], rel=1e-6)
    for a, b in zip(wg, wf):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_loop_auto_and_bad_loop():
    x, task, y = _data()
    m = sh.build_model("STL", 3, x.shape[1])
    assert sh.Trainer(m, x, y, task).loop == "graph"
    assert sh.Trainer(m, x, y, task, config=sh.TrainConfig(
        batch_size=4)).loop == "fit"
    with pytest.raises(ValueError, match="loop must be one of"):
        sh.TrainConfig(loop="eager")
    with pytest.raises(ValueError, match="loop='graph' trains on the full"):
        sh.Trainer(m, x, y, task, config=sh.TrainConfig(
            batch_size=4, loop="graph"))


def test_search_prints_a_line_per_fit(capsys):
    """search(progress=...) prints each fit's grid point, validation score,
    time and ETA to stderr; max_fits bounds the coordinate search."""
    assert sh.max_fits({"a": [1, 2, 3], "b": [1, 2]}) == 6
    assert sh.max_fits({"a": [1, 2, 3], "b": [1, 2]}, "grid") == 6
    assert sh.max_fits({"a": [1, 2, 3], "b": [1, 2]}, sweeps=2) == 11
    x, task, y = _data()
    m = sh.build_model("STL", 3, x.shape[1])
    tr = sh.Trainer(m, x, y, task, config=sh.TrainConfig(steps=5))
    res = sh.search(tr, lambda: 1.0, {"lam": [0.1, 0.01]}, "coordinate",
                    progress="test STL")
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("[test STL]")]
    assert len(lines) == len(res.tried) == 2
    assert "lam=0.01" in err and "val 1" in err and "eta" in lines[0]


def test_summary_lists_the_models_own_weights():
    """Keras' table lists sub-layers only; summary() adds the weights the
    model holds itself, so the listed parameters add up to the total."""
    m = models.AMTFL(139, 28, hidden_units=10)
    m({"x": np.zeros((2, 28), "float32"), "task": np.zeros(2, "int32")})
    lines = []
    m.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert "Weights of the model itself (1,819 parameters" in text
    assert "/coefficients" in text and "1,390" in text
    own = sum(int(np.prod(w.shape)) for w in m.own_weights())
    sub = sum(int(np.prod(w.shape)) for w in m.feedback.weights)
    assert own + sub + len(m.hp) == m.count_params()


def test_predict_own_task():
    x, task, y = _data()
    m = sh.build_model("AMTFL", 3, x.shape[1], hidden_units=4)
    full = np.asarray(m.predict({"x": x, "task": task}, verbose=0))
    assert full.shape == (len(x), 3)
    own = m.predict_own_task(x, task)
    np.testing.assert_allclose(own, full[np.arange(len(x)), task])


def test_clipped_logistic_loss_is_the_authors_form():
    """``logistic_clipped`` is -y log(1e-20 + σ) - (1-y) log(1e-20 + 1-σ)
    (haebeom-lee/amtfl's layers.py): equal to the stable loss for moderate
    logits, stopped at -log(1e-20) with a zero gradient once 1 - σ(o)
    rounds to 0 in float32."""
    import tensorflow as tf

    o = tf.constant([[-3.0, 0.5, 4.0, 20.0, 20.0]])
    y = tf.constant([[1.0, 0.0, 1.0, 0.0, 1.0]])
    with tf.GradientTape() as tape:
        tape.watch(o)
        loss = objectives.elementwise_loss("logistic_clipped", y, o)
    grad = tape.gradient(loss, o).numpy()[0]
    got = loss.numpy()
    stable = np.asarray(objectives.elementwise_loss("logistic", y, o))
    np.testing.assert_allclose(got[0, :3], stable[0, :3], rtol=1e-5)
    p = tf.sigmoid(o).numpy()
    literal = -(y * np.log(1e-20 + p) + (1 - y) * np.log(1e-20 + (1 - p)))
    np.testing.assert_allclose(got, literal, rtol=1e-6)
    # a confidently wrong negative: loss capped at 46.05, no gradient,
    # where the stable form keeps loss 20 and gradient 1
    assert got[0, 3] == pytest.approx(-np.log(1e-20), rel=1e-6)
    assert grad[3] == 0.0 and stable[0, 3] == pytest.approx(20.0)
    np.testing.assert_allclose(grad[:3], (p - y.numpy())[0, :3], rtol=1e-4)
    assert "logistic_clipped" in objectives.LOGISTIC_LOSSES


def test_progress_line_of_a_many_task_model_leaves_out_per_task_losses(
        capsys):
    """Above CONSOLE_TASK_LIMIT tasks the console line drops task_loss_<t>
    (139 tasks made it 3,304 characters); the history keeps them; a few
    tasks keep them on the line; verbose=0 stays silent."""
    from amtfl_tf.models import base

    rng = np.random.default_rng(0)

    def fit(num_tasks, verbose):
        model = models.METHODS["STL"](num_tasks, 3)
        model.compile(keras.optimizers.SGD(0.01))
        task = np.arange(40) % num_tasks
        x = {"x": rng.normal(size=(40, 3)).astype("float32"), "task": task}
        y = rng.normal(size=40).astype("float32")
        history = model.fit(x, y, epochs=1, batch_size=40, verbose=verbose,
                            validation_data=(x, y))
        model.evaluate(x, y, verbose=verbose)
        return history.history, capsys.readouterr().out

    many = base.CONSOLE_TASK_LIMIT + 2
    history, out = fit(many, 1)
    assert f"task_loss_{many - 1}" in history and "loss" in history
    assert f"val_task_loss_{many - 1}" in history
    assert "task_loss_" not in out and "loss:" in out
    history, out = fit(3, 1)
    assert "task_loss_0" in out
    _, out = fit(many, 0)
    assert out == ""
