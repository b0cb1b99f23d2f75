"""AsymmetricFeedback: formula, config/.keras/SavedModel round-trips,
float64 gradients, argument validation."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from amtfl_tf.layers import AsymmetricFeedback


def _numpy_reference(z, o, A, b, relu=True, reduction="mean"):
    pre = o @ A + b
    z_hat = np.maximum(pre, 0) if relu else pre
    per = ((z_hat - z) ** 2).sum(axis=1)
    return z_hat, per.mean() if reduction == "mean" else per.sum()


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(5, 4)), rng.normal(size=(5, 3)),
            rng.normal(size=(3, 4)), rng.normal(size=(4,)))


@pytest.mark.parametrize("activation,reduction", [
    ("relu", "mean"), ("relu", "sum"), ("linear", "mean")])
def test_matches_numpy(arrays, activation, reduction):
    z, o, A, b = arrays
    layer = AsymmetricFeedback(3, activation=activation, reduction=reduction,
                               gamma=0.5, dtype="float64")
    layer.build([(None, 4), (None, 3)])
    layer.set_weights([A, b])
    z_hat = layer([z, o])
    ref, err = _numpy_reference(z, o, A, b, activation == "relu", reduction)
    np.testing.assert_allclose(np.asarray(z_hat), ref, rtol=1e-12)
    np.testing.assert_allclose(float(layer.reconstruction_error(z, z_hat)),
                               err, rtol=1e-12)
    (added,) = layer.losses
    np.testing.assert_allclose(float(added), 0.5 * err, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(layer.task_weights(0.1)),
                               1 + 0.1 * np.abs(A).sum(axis=1), rtol=1e-12)
    W = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(np.asarray(layer.transfer_matrix(W)), A @ W)


def test_no_loss_when_gamma_zero(arrays):
    z, o, _, _ = arrays
    layer = AsymmetricFeedback(3)
    layer([z.astype("float32"), o.astype("float32")])
    assert layer.losses == []
    # authors' code: A ~ N(0, 0.01^2), bias zeros
    assert np.asarray(layer.feedback).std() < 0.05
    assert not np.any(np.asarray(layer.bias))


def test_gradients_float64(arrays):
    z, o, A, b = arrays
    layer = AsymmetricFeedback(3, activation="linear", dtype="float64")
    layer.build([(None, 4), (None, 3)])
    layer.set_weights([A, b])

    def f(z_, o_):
        return layer.reconstruction_error(z_, layer([z_, o_]))[None]

    theoretical, numerical = tf.test.compute_gradient(
        f, [tf.constant(z), tf.constant(o)])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-7)

    def g(a_):
        layer.feedback.assign(a_)
        return layer.reconstruction_error(z, layer([z, o]))[None]

    with tf.GradientTape() as tape:
        loss = layer.reconstruction_error(z, layer([z, o]))
    analytic = tape.gradient(loss, layer.feedback)
    eps = 1e-6
    numeric = np.zeros_like(A)
    for i in range(3):
        for j in range(4):
            d = np.zeros_like(A)
            d[i, j] = eps
            numeric[i, j] = (float(g(A + d)[0]) - float(g(A - d)[0])) / (
                2 * eps)
    np.testing.assert_allclose(np.asarray(analytic), numeric, rtol=1e-5)


def test_stop_gradient_target(arrays):
    z, o, _, _ = arrays
    zt = tf.constant(z)
    layer = AsymmetricFeedback(3, stop_gradient_target=True,
                               dtype="float64")
    with tf.GradientTape() as tape:
        tape.watch(zt)
        err = layer.reconstruction_error(zt, layer([zt, tf.constant(o)]))
    assert tape.gradient(err, zt) is None


def _functional():
    z = keras.Input((4,))
    logits = keras.layers.Dense(3, name="head")(z)
    z_hat = AsymmetricFeedback(3, gamma=0.1, name="fb")([z, logits])
    return keras.Model(z, [logits, z_hat])


def test_config_round_trip():
    layer = AsymmetricFeedback(
        7, activation="linear", use_bias=False, gamma=0.3, reduction="sum",
        stop_gradient_target=True,
        feedback_regularizer=keras.regularizers.L1(0.01),
        feedback_constraint="non_neg", name="fb")
    config = layer.get_config()
    clone = AsymmetricFeedback.from_config(config)
    assert clone.get_config() == config
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(again, AsymmetricFeedback)
    assert again.get_config() == config


@pytest.mark.large
def test_keras_file_round_trip(tmp_path):
    model = _functional()
    x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
    before = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    after = loaded.predict(x, verbose=0)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert isinstance(loaded.get_layer("fb"), AsymmetricFeedback)


def test_one_fit_step_trains_feedback():
    model = _functional()
    model.compile("sgd", loss=["mse", None])
    x = np.random.default_rng(2).normal(size=(8, 4)).astype("float32")
    y = np.ones((8, 3), "float32")
    a0 = np.asarray(model.get_layer("fb").feedback).copy()
    hist = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert not np.allclose(a0, np.asarray(model.get_layer("fb").feedback))


@pytest.mark.large
def test_saved_model_export(tmp_path):
    model = _functional()
    x = np.random.default_rng(3).normal(size=(6, 4)).astype("float32")
    before = model.predict(x, verbose=0)
    path = str(tmp_path / "export")
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    after = reloaded.serve(tf.constant(x))
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"num_tasks": 0}, "num_tasks=0"),
    ({"num_tasks": 2.0}, "num_tasks=2.0"),
    ({"num_tasks": 2, "gamma": -1}, "gamma=-1"),
    ({"num_tasks": 2, "reduction": "max"}, "reduction='max'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AsymmetricFeedback(**kwargs)


def test_bad_input_shapes():
    layer = AsymmetricFeedback(3)
    with pytest.raises(ValueError, match="num_tasks=3"):
        layer([np.zeros((2, 4), "float32"), np.zeros((2, 5), "float32")])
    with pytest.raises(ValueError, match=r"\[z, task_outputs\]"):
        AsymmetricFeedback(3).build((None, 4))


def test_reconstruct_from_features_equals_call(arrays):
    z, _, A, b = arrays
    W = np.random.default_rng(5).normal(size=(4, 3))
    c = np.random.default_rng(6).normal(size=(3,))
    layer = AsymmetricFeedback(3, dtype="float64")
    layer.build([(None, 4), (None, 3)])
    layer.set_weights([A, b])
    np.testing.assert_allclose(
        np.asarray(layer.reconstruct_from_features(z, W, c)),
        np.asarray(layer([z, z @ W + c])), rtol=1e-12)


@pytest.mark.parametrize("k,t,order", [(40, 3, "outputs_first"),
                                       (4, 30, "transfer_first")])
def test_reconstruct_from_features_both_orders(k, t, order):
    from amtfl_tf.layers.asymmetric_feedback import feedback_order
    rng = np.random.default_rng(7)
    z = rng.normal(size=(16, k))
    W, c = rng.normal(size=(k, t)), rng.normal(size=(t,))
    assert feedback_order(16, k, t) == order
    layer = AsymmetricFeedback(t, dtype="float64")
    layer.build([(None, k), (None, t)])
    layer.set_weights([rng.normal(size=(t, k)), rng.normal(size=(k,))])
    np.testing.assert_allclose(
        np.asarray(layer.reconstruct_from_features(z, W, c)),
        np.asarray(layer([z, z @ W + c])), rtol=1e-10, atol=1e-12)


def test_feedback_order_counts_multiply_adds():
    from amtfl_tf.layers.asymmetric_feedback import feedback_order
    # Table 1 MNIST's AMTFL: B = 1000, k = 500, T = 10: 2BkT = 1e7 against
    # k²T + Bk² = 2.525e8.
    assert feedback_order(1000, 500, 10) == "outputs_first"
    # many tasks, few features: W A (k × k) is the small product
    assert feedback_order(1000, 10, 500) == "transfer_first"
    assert feedback_order(None, 500, 10) == "outputs_first"
    assert feedback_order(None, 10, 500) == "transfer_first"
