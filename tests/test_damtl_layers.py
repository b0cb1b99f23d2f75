"""DAMTL layers: SoftMaskConv2D, SoftMaskDense, CrossStitch, NDDR —
formulas against numpy, config/.keras/SavedModel round trips, float64
gradients, argument validation."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from amtfl_tf.layers import NDDR
from amtfl_tf.layers import CrossStitch
from amtfl_tf.layers import SoftMaskConv2D
from amtfl_tf.layers import SoftMaskDense

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _conv_ref(x, k, b, padding):
    """Direct numpy 2-D convolution (stride 1, channels last)."""
    kh, kw = k.shape[:2]
    if padding == "same":
        x = np.pad(x, ((0, 0), (kh // 2, kh - 1 - kh // 2),
                       (kw // 2, kw - 1 - kw // 2), (0, 0)))
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, k.shape[-1]))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            patch = x[:, i:i + kh, j:j + kw, :]
            out[:, i, j] = np.tensordot(patch, k, axes=([1, 2, 3],
                                                        [0, 1, 2]))
    return out + b


@pytest.mark.parametrize("granularity,param,padding", [
    ("weight", "constraint", "same"), ("filter", "softplus", "valid"),
    ("weight", "abs", "same")])
def test_soft_mask_conv_matches_numpy(granularity, param, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 6, 3))
    layer = SoftMaskConv2D(4, 3, padding=padding, activation="relu",
                           mask_granularity=granularity,
                           mask_parameterization=param, dtype="float64")
    layer.build(x.shape)
    k, b = rng.normal(size=(3, 3, 3, 4)), rng.normal(size=4)
    layer.load_kernel(k, b)
    psi = np.asarray(layer.mask())
    assert psi.shape == ((3, 3, 3, 4) if granularity == "weight" else (4,))
    # default initial Ψ ~ U(0.9, 1.1), whatever the parameterisation
    assert 0.9 - 1e-9 <= psi.min() and psi.max() <= 1.1 + 1e-9
    expected = np.maximum(_conv_ref(x, k * psi, b, padding), 0)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-10,
                               atol=1e-10)
    assert layer.compute_output_shape(x.shape) == expected.shape
    np.testing.assert_allclose(float(layer.mask_l1()), psi.mean())


def test_soft_mask_from_conv2d_and_l1_loss():
    aux = keras.layers.Conv2D(5, 3, padding="same", activation="relu")
    aux.build((None, 7, 7, 2))
    layer = SoftMaskConv2D.from_conv2d(
        aux, mask_initializer="ones", l1=0.5, l1_reduction="sum",
        kernel_trainable=False)
    x = np.random.default_rng(1).normal(size=(3, 7, 7, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(aux(x)),
                               rtol=1e-5, atol=1e-6)  # Ψ = 1: S = W_aux
    (loss,) = layer.losses
    np.testing.assert_allclose(float(loss), 0.5 * 3 * 3 * 2 * 5)
    assert [w.name for w in layer.trainable_weights] == ["mask", "bias"]
    assert not layer.kernel.trainable
    d = keras.layers.Dense(3, activation="tanh")
    d.build((None, 4))
    sd = SoftMaskDense.from_dense(d, mask_initializer="ones")
    z = np.ones((2, 4), "float32")
    np.testing.assert_allclose(np.asarray(sd(z)), np.asarray(d(z)),
                               rtol=1e-6)


def test_nonneg_constraint_projects_and_can_prune():
    layer = SoftMaskDense(2, mask_parameterization="constraint",
                          mask_initializer="ones", l1=1.0,
                          l1_reduction="sum")
    model = keras.Sequential([keras.Input((3,)), layer])
    model.compile(keras.optimizers.SGD(10.0), loss="mse")
    model.fit(np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"),
              epochs=1, verbose=0)
    psi = np.asarray(layer.mask())
    assert psi.min() == 0.0  # the ℓ1 step overshot and was projected to 0


@pytest.mark.parametrize("param", ["softplus", "constraint"])
def test_soft_mask_gradients_float64(param):
    rng = np.random.default_rng(2)
    layer = SoftMaskConv2D(2, 2, padding="valid",
                           mask_parameterization=param, dtype="float64")
    layer.build((None, 4, 4, 2))
    x0 = rng.normal(size=(2, 4, 4, 2))

    def f(x):
        return tf.reduce_sum(tf.square(layer(x)))[None]

    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(x0)])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6,
                               atol=1e-6)
    raw0 = np.asarray(layer.mask_raw).copy()

    def loss():
        return (tf.reduce_sum(tf.square(layer(x0)))
                + 0.3 * layer.mask_l1())

    with tf.GradientTape() as tape:
        value = loss()
    analytic = np.asarray(tape.gradient(value, layer.mask_raw)).ravel()
    numeric = np.zeros(raw0.size)
    eps = 1e-6
    for i in range(raw0.size):
        d = np.zeros(raw0.size)
        d[i] = eps
        layer.mask_raw.assign(raw0 + d.reshape(raw0.shape))
        up = float(loss())
        layer.mask_raw.assign(raw0 - d.reshape(raw0.shape))
        numeric[i] = (up - float(loss())) / (2 * eps)
    layer.mask_raw.assign(raw0)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


def test_cross_stitch_matches_numpy_and_gradients():
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, 3, 3, 4)) for _ in range(3)]
    layer = CrossStitch("channel", self_weight=0.8, dtype="float64")
    layer.build([x.shape for x in xs])
    a = np.asarray(layer.alpha)
    assert a.shape == (3, 3, 4)
    np.testing.assert_allclose(a[:, :, 0], [[0.8, 0.1, 0.1],
                                            [0.1, 0.8, 0.1],
                                            [0.1, 0.1, 0.8]])
    a = rng.normal(size=a.shape)
    layer.alpha.assign(a)
    out = layer(xs)
    for t in range(3):
        ref = sum(a[t, s] * xs[s] for s in range(3))
        np.testing.assert_allclose(np.asarray(out[t]), ref, rtol=1e-12)
    two = CrossStitch()
    got = two([np.ones((1, 2), "float32"), np.zeros((1, 2), "float32")])
    np.testing.assert_allclose([np.asarray(o)[0, 0] for o in got],
                               [0.9, 0.1], rtol=1e-6)  # Misra et al.

    def f(x0, x1, x2):
        return tf.reduce_sum(tf.square(layer([x0, x1, x2])[1]))[None]

    theo, num = tf.test.compute_gradient(f, [tf.constant(x) for x in xs])
    for t_, n_ in zip(theo, num):
        np.testing.assert_allclose(t_, n_, rtol=1e-6, atol=1e-7)


def test_nddr_matches_numpy_and_gradients():
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(5, 2, 2, 3)) for _ in range(2)]
    layer = NDDR(dtype="float64", momentum=0.5)
    layer.build([x.shape for x in xs])
    w = np.asarray(layer.kernel)
    # Gao et al.'s init: [0.9 I; 0.1 I] for task 0, [0.1 I; 0.9 I] task 1
    np.testing.assert_allclose(w[:3, :3], 0.9 * np.eye(3))
    np.testing.assert_allclose(w[3:, :3], 0.1 * np.eye(3))
    np.testing.assert_allclose(w[3:, 3:], 0.9 * np.eye(3))
    w = rng.normal(size=w.shape)
    layer.kernel.assign(w)
    z = np.concatenate(xs, -1) @ w
    mean, var = z.mean(axis=(0, 1, 2)), z.var(axis=(0, 1, 2))
    ref = np.maximum((z - mean) / np.sqrt(var + 1e-3), 0)
    out = layer(xs, training=True)
    np.testing.assert_allclose(np.asarray(out[0]), ref[..., :3], rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(np.asarray(out[1]), ref[..., 3:], rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(np.asarray(layer.moving_mean), 0.5 * mean)
    inf = layer(xs, training=False)  # moving statistics
    mv, vv = 0.5 * mean, 0.5 + 0.5 * var
    np.testing.assert_allclose(np.asarray(inf[1]), np.maximum(
        (z - mv) / np.sqrt(vv + 1e-3), 0)[..., 3:], rtol=1e-8, atol=1e-10)
    plain = NDDR(use_batch_norm=False, activation="linear",
                 dtype="float64")

    def f(x0, x1):
        return tf.reduce_sum(tf.square(plain([x0, x1])[0]))[None]

    theo, num = tf.test.compute_gradient(f, [tf.constant(x) for x in xs])
    for t_, n_ in zip(theo, num):
        np.testing.assert_allclose(t_, n_, rtol=1e-6, atol=1e-7)


def _model():
    inp = keras.Input((6, 6, 1))
    h = SoftMaskConv2D(3, 3, activation="relu", name="sm",
                       mask_granularity="filter")(inp)
    a = keras.layers.Conv2D(3, 1, name="other")(inp)
    h, a = CrossStitch(name="cs")([h, a])
    h, a = NDDR(name="nddr")([h, a])
    z = keras.layers.Flatten()(keras.layers.Add()([h, a]))
    out = SoftMaskDense(2, name="smd", mask_parameterization="softplus")(z)
    return keras.Model(inp, out)


@pytest.mark.large
def test_keras_and_saved_model_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = _model()
    model.compile("sgd", loss="mse")
    x = np.random.default_rng(5).random((4, 6, 6, 1)).astype("float32")
    model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    before = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before,
                               rtol=1e-5, atol=1e-6)
    for name, cls in (("sm", SoftMaskConv2D), ("cs", CrossStitch),
                      ("nddr", NDDR), ("smd", SoftMaskDense)):
        assert isinstance(loaded.get_layer(name), cls)
    export = str(tmp_path / "export")
    model.export(export, verbose=False)
    reloaded = tf.saved_model.load(export)
    served = reloaded.serve(tf.constant(x))
    np.testing.assert_allclose(np.asarray(served), before, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("layer", [
    SoftMaskConv2D(4, (3, 2), strides=2, padding="valid", use_bias=False,
                   mask_granularity="filter", mask_parameterization="abs",
                   kernel_trainable=False, l1=0.1, l1_reduction="sum",
                   mask_initializer=keras.initializers.RandomUniform(0, 2),
                   kernel_regularizer=keras.regularizers.L2(0.01),
                   name="a"),
    SoftMaskDense(3, activation="relu", mask_parameterization="softplus",
                  bias_constraint="non_neg", name="b"),
    CrossStitch("channel", self_weight=0.7, other_weight=0.2,
                alpha_regularizer="l1", name="c"),
    NDDR(0.8, 0.3, activation="linear", use_batch_norm=False,
         momentum=0.9, epsilon=1e-4, name="d"),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is type(layer)
    assert again.get_config() == config


@pytest.mark.parametrize("make,match", [
    (lambda: SoftMaskConv2D(0, 3), "filters=0"),
    (lambda: SoftMaskConv2D(2, (3, 0)), r"kernel_size=\(3, 0\)"),
    (lambda: SoftMaskConv2D(2, 3, padding="full"), "padding='full'"),
    (lambda: SoftMaskConv2D(2, 3, mask_granularity="row"),
     "mask_granularity='row'"),
    (lambda: SoftMaskConv2D(2, 3, mask_parameterization="sigmoid"),
     "mask_parameterization='sigmoid'"),
    (lambda: SoftMaskConv2D(2, 3, l1=-1), "l1=-1"),
    (lambda: SoftMaskDense(2, l1_reduction="max"), "l1_reduction='max'"),
    (lambda: SoftMaskDense(1.5), "units=1.5"),
    (lambda: CrossStitch("task"), "granularity='task'"),
    (lambda: CrossStitch(self_weight=1.5), "self_weight=1.5"),
    (lambda: NDDR(other_weight=-0.1), "other_weight=-0.1"),
    (lambda: NDDR(epsilon=0), "epsilon=0"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="list of >= 2 task inputs"):
        CrossStitch().build((None, 3))
    with pytest.raises(ValueError, match="same shape"):
        NDDR().build([(None, 3), (None, 4)])
    layer = SoftMaskConv2D(2, 3)
    layer.build((None, 5, 5, 1))
    with pytest.raises(ValueError, match=r"kernel.shape=\(3, 3, 2, 2\)"):
        layer.load_kernel(np.zeros((3, 3, 2, 2)))
    with pytest.raises(ValueError, match="built keras.layers.Conv2D"):
        SoftMaskConv2D.from_conv2d(keras.layers.Dense(2))


# --------------------------------------------------------------------------
# NDDR files written before NDDR composed keras.layers.BatchNormalization


def _nddr_fixture_model():
    inputs = [keras.Input((3, 3, 2)), keras.Input((3, 3, 2))]
    h = NDDR(use_bias=True, momentum=0.8, name="nddr_bn")(inputs)
    h = NDDR(use_batch_norm=False, name="nddr_plain")(h)
    return keras.Model(inputs, h)


def write_nddr_fixture(directory=DATA):
    """Writes ``nddr_old.keras`` and ``nddr_old_outputs.npz``. Run once with
    the hand-written batch-norm NDDR (commit 0058d60) first on the path:
    ``cd tests && PYTHONPATH=<old checkout> python -c "import
    test_damtl_layers as t; t.write_nddr_fixture()"``."""
    model = _nddr_fixture_model()
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 6, 3, 3, 2)).astype("float32")
    nddr = model.get_layer("nddr_bn")
    kernel, bias, gamma, beta, mean, var = nddr.get_weights()
    nddr.set_weights([
        kernel + 0.3 * rng.normal(size=kernel.shape), rng.normal(size=4),
        1 + 0.5 * rng.normal(size=4), rng.normal(size=4), mean, var])
    plain = model.get_layer("nddr_plain")
    plain.set_weights([w + 0.3 * rng.normal(size=w.shape)
                       for w in plain.get_weights()])
    for _ in range(3):  # moving statistics away from (0, 1)
        model(list(x), training=True)
    os.makedirs(directory, exist_ok=True)
    model.save(os.path.join(directory, "nddr_old.keras"))
    weights = {f"w{i}": np.asarray(w) for i, w in
               enumerate(nddr.get_weights())}
    inference = np.stack(model(list(x), training=False))
    training = np.stack(model(list(x), training=True))
    np.savez(os.path.join(directory, "nddr_old_outputs.npz"), x=x,
             inference=inference, training=training, **weights)


@pytest.mark.large
def test_nddr_loads_files_of_the_hand_written_batch_norm():
    """A .keras file saved when NDDR hand-wrote its batch norm (variables
    kernel, bias, gamma, beta, moving_mean, moving_variance as the layer's
    own) loads, with the same weights and outputs."""
    ref = np.load(os.path.join(DATA, "nddr_old_outputs.npz"))
    model = keras.models.load_model(os.path.join(DATA, "nddr_old.keras"))
    nddr = model.get_layer("nddr_bn")
    assert isinstance(nddr.batch_norm, keras.layers.BatchNormalization)
    for i, w in enumerate(nddr.get_weights()):
        np.testing.assert_array_equal(w, ref[f"w{i}"])
    x = list(ref["x"])
    np.testing.assert_allclose(np.stack(model(x, training=False)),
                               ref["inference"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.stack(model(x, training=True)),
                               ref["training"], rtol=1e-5, atol=1e-6)


@pytest.mark.large
def test_nddr_saves_batch_norm_as_its_own_variables(tmp_path):
    """New files keep that layout, so the batch norm's variables are NDDR's
    own entries 2..5 (older code reads them)."""
    import zipfile

    import h5py
    model = _nddr_fixture_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        z.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as f:
        stored = [np.asarray(f["layers/nddr/vars"][str(i)]) for i in
                  range(len(f["layers/nddr/vars"]))]
        assert len(f["layers/nddr_1/vars"]) == 2
    weights = model.get_layer("nddr_bn").get_weights()
    assert len(stored) == len(weights) == 6
    for s, w in zip(stored, weights):
        np.testing.assert_array_equal(s, w)
    loaded = keras.models.load_model(path)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_nddr_composes_keras_batch_norm():
    layer = NDDR(momentum=0.8, epsilon=1e-4)
    layer.build([(None, 5)] * 3)
    bn = layer.batch_norm
    assert isinstance(bn, keras.layers.BatchNormalization)
    assert (bn.axis, bn.momentum, bn.epsilon) == (-1, 0.8, 1e-4)
    assert [v.name for v in layer.weights] == [
        "kernel", "gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.name for v in layer.trainable_weights] == [
        "kernel", "gamma", "beta"]
    assert layer.moving_mean is bn.moving_mean
    # the keys of the hand-written batch-norm version
    assert sorted(layer.get_config()) == [
        "activation", "dtype", "epsilon", "kernel_constraint",
        "kernel_regularizer", "momentum", "name", "other_weight",
        "self_weight", "trainable", "use_batch_norm", "use_bias"]
    plain = NDDR(use_batch_norm=False)
    plain.build([(None, 5)] * 2)
    assert plain.batch_norm is None and plain.gamma is None
    assert [v.name for v in plain.weights] == ["kernel", "bias"]


@pytest.mark.parametrize("policy,dtype", [("mixed_float16", "float16"),
                                          ("mixed_bfloat16", "bfloat16")])
def test_nddr_mixed_precision(policy, dtype):
    rng = np.random.default_rng(9)
    xs = [rng.normal(size=(8, 3, 3, 2)).astype("float32") for _ in range(2)]
    ref = NDDR(momentum=0.5)
    ref.build([x.shape for x in xs])
    want_train = np.stack(ref(xs, training=True))
    want_inf = np.stack(ref(xs, training=False))
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        layer = NDDR(momentum=0.5)
        layer.build([x.shape for x in xs])
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert layer.batch_norm.dtype_policy.name == policy
    assert all(v.dtype == "float32" for v in layer.weights)
    out = layer(xs, training=True)
    assert all(o.dtype == dtype for o in out)
    tol = 1e-2 if dtype == "float16" else 5e-2
    np.testing.assert_allclose(np.stack(out).astype("float32"), want_train,
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(layer.moving_mean),
                               np.asarray(ref.moving_mean), rtol=tol,
                               atol=tol)
    np.testing.assert_allclose(
        np.stack(layer(xs, training=False)).astype("float32"), want_inf,
        rtol=tol, atol=tol)
