"""DMTRL's factorised layers (Tucker/TT/LAF × Dense/Conv2D): equivalence
with per-task Keras layers, float64 gradients, config / .keras / SavedModel
round-trips, initialisation from stacked kernels, argument validation."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from amtfl_tf import tensor as tn
from amtfl_tf.layers import random_stacked_kernels
from amtfl_tf.layers.grouped_conv import grouped_conv_supported
from amtfl_tf.layers.laf_conv2d import LAFConv2D
from amtfl_tf.layers.laf_dense import LAFDense
from amtfl_tf.layers.tt_conv2d import TTConv2D
from amtfl_tf.layers.tt_dense import TTDense
from amtfl_tf.layers.tucker_conv2d import TuckerConv2D
from amtfl_tf.layers.tucker_dense import TuckerDense

T = 3
D_IN, UNITS = 5, 4
H, C, FILTERS, K = 7, 2, 4, 3

DENSE = {
    TuckerDense: dict(ranks=(4, 3, 2)),
    TTDense: dict(ranks=(3, 2)),
    LAFDense: dict(ranks=2),
}
CONV = {
    TuckerConv2D: dict(ranks=(2, 3, 2, 3, 2)),
    TTConv2D: dict(ranks=(2, 4, 5, 2)),
    LAFConv2D: dict(ranks=2),
}
ALL = {**DENSE, **CONV}


def _make(cls, **overrides):
    if cls in DENSE:
        kwargs = dict(units=UNITS, num_tasks=T, **DENSE[cls])
    else:
        kwargs = dict(filters=FILTERS, kernel_size=K, num_tasks=T,
                      **CONV[cls])
    kwargs.update(overrides)
    return cls(**kwargs)


def _input(cls, shared=False, batch=2, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    if cls in DENSE:
        shape = (batch, D_IN) if shared else (batch, T, D_IN)
    else:
        shape = (batch, H, H, C) if shared else (batch, T, H, H, C)
    return rng.normal(size=shape).astype(dtype)


def _factors(layer):
    return {v.name: np.asarray(v, np.float64) for v in layer.weights
            if v.name != "bias"}


# --------------------------------------------------------------------------
# Numerical equivalence


@pytest.mark.parametrize("cls", list(DENSE), ids=lambda c: c.__name__)
@pytest.mark.parametrize("shared", [False, True])
def test_dense_equals_per_task_dense(cls, shared):
    layer = _make(cls, activation="relu",
                  bias_initializer=keras.initializers.RandomNormal(seed=1))
    x = _input(cls, shared)
    y = np.asarray(layer(x))
    assert y.shape == (2, T, UNITS)
    w = np.asarray(layer.recompose())
    assert w.shape == (D_IN, UNITS, T)
    # the synthesised kernel is the paper's composition of the factors
    np.testing.assert_allclose(
        w, tn.factors_to_tensor(layer.method, _factors(layer), w.shape),
        rtol=1e-5, atol=1e-6)
    bias = np.asarray(layer.bias)
    for t in range(T):
        ref = keras.layers.Dense(UNITS, activation="relu")
        ref.build((None, D_IN))
        ref.set_weights([w[..., t], bias[t]])
        xt = x if shared else x[:, t]
        np.testing.assert_allclose(y[:, t], np.asarray(ref(xt)), rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize("cls", list(CONV), ids=lambda c: c.__name__)
@pytest.mark.parametrize("shared,strides,padding", [
    (False, 1, "valid"), (True, 1, "valid"), (False, 2, "same"),
    (True, (2, 1), "same")])
def test_conv_equals_per_task_conv2d(cls, shared, strides, padding):
    layer = _make(cls, activation="tanh", strides=strides, padding=padding,
                  bias_initializer=keras.initializers.RandomNormal(seed=2))
    x = _input(cls, shared)
    y = np.asarray(layer(x))
    assert y.shape == layer.compute_output_shape(x.shape)
    w = np.asarray(layer.recompose())
    assert w.shape == (K, K, C, FILTERS, T)
    np.testing.assert_allclose(
        w, tn.factors_to_tensor(layer.method, _factors(layer), w.shape),
        rtol=1e-5, atol=1e-6)
    bias = np.asarray(layer.bias)
    for t in range(T):
        ref = keras.layers.Conv2D(FILTERS, K, strides=strides,
                                  padding=padding, activation="tanh")
        ref.build((None, H, H, C))
        ref.set_weights([w[..., t], bias[t]])
        xt = x if shared else x[:, t]
        np.testing.assert_allclose(y[:, t], np.asarray(ref(xt)), rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize("cls", [TTDense, TuckerConv2D],
                         ids=lambda c: c.__name__)
def test_task_blocked_batches_do_not_mix_tasks(cls):
    layer = _make(cls)
    x = _input(cls)
    y = np.asarray(layer(x))
    x2 = x.copy()
    x2[:, 1] += 5.0  # perturb task 1's samples only
    y2 = np.asarray(layer(x2))
    np.testing.assert_array_equal(y2[:, [0, 2]], y[:, [0, 2]])
    assert not np.allclose(y2[:, 1], y[:, 1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grouped_and_per_task_convolutions_agree(dtype):
    """One grouped convolution (groups = T) where TF can differentiate it,
    one convolution per task otherwise: same outputs and gradients."""
    layer = _make(TuckerConv2D, strides=2, padding="same", dtype=dtype)
    x = tf.constant(_input(TuckerConv2D, dtype=dtype))
    results = []
    for impl in ("grouped", "per_task"):
        layer._conv_impl = impl
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        if impl == "grouped" and not grouped_conv_supported(dtype):
            with pytest.raises(Exception, match="grouped"):
                tape.gradient(loss, [x] + layer.trainable_variables)
            return
        results.append([y] + tape.gradient(
            loss, [x] + layer.trainable_variables))
    for a, b in zip(*results):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4,
                                   atol=1e-4)


def test_xla_matches_eager():
    layer = _make(TTConv2D, padding="same")
    x = _input(TTConv2D)
    xla = tf.function(layer, jit_compile=True)
    np.testing.assert_allclose(np.asarray(xla(x)), np.asarray(layer(x)),
                               rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# Gradients (float64)


@pytest.mark.parametrize("cls,shared", [(TuckerDense, False),
                                        (LAFDense, True),
                                        (TTConv2D, False)],
                         ids=["tucker_dense", "laf_dense", "tt_conv"])
def test_gradients_float64(cls, shared):
    if cls in CONV:
        layer = _make(cls, filters=2, kernel_size=2, num_tasks=2,
                      ranks=(2, 2, 2, 2), dtype="float64",
                      activation="tanh")
        x = np.random.default_rng(0).normal(size=(1, 2, 3, 3, 2))
    else:
        layer = _make(cls, dtype="float64", activation="tanh")
        x = _input(cls, shared, dtype="float64")
    layer(x)
    values = [tf.constant(np.asarray(v)) for v in layer.trainable_variables]

    @tf.function
    def f(x_, *weights):
        y, _ = layer.stateless_call(list(weights), [], x_)
        return y

    theoretical, numerical = tf.test.compute_gradient(
        f, [tf.constant(x)] + values, delta=1e-5)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-8)


def test_fit_step_trains_every_factor():
    inputs = keras.Input((8, 8, 1))
    h = TTConv2D(3, 3, num_tasks=T, ranks=(2, 3, 3, 2), activation="relu",
                 name="conv")(inputs)
    h = keras.layers.Reshape((T, -1))(h)
    h = TuckerDense(6, num_tasks=T, ranks=(5, 4, 3), activation="relu",
                    name="fc")(h)
    out = LAFDense(1, num_tasks=T, ranks=2, name="head")(h)
    model = keras.Model(inputs, out)
    model.compile("sgd", loss="mse")
    before = [np.asarray(v).copy() for v in model.trainable_variables]
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 1))
    y = np.ones((4, T, 1))
    hist = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert len(before) == (5 + 1) + (4 + 1) + (2 + 1)  # factors + bias
    for b, v in zip(before, model.trainable_variables):
        assert not np.allclose(b, np.asarray(v)), v.path


# --------------------------------------------------------------------------
# Initialisation


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
def test_from_stacked_kernels(cls):
    dense = cls in DENSE
    shape = (D_IN, UNITS) if dense else (K, K, C, FILTERS)
    kernels = random_stacked_kernels(shape, T, seed=4)
    biases = np.random.default_rng(5).normal(size=(T, shape[-1]))
    layer = cls.from_stacked_kernels(kernels, biases=biases, eps=0.0,
                                     activation="relu", name="init")
    assert layer.built and layer.name == "init"
    assert layer.stacked_shape == kernels.shape
    np.testing.assert_allclose(np.asarray(layer.recompose()), kernels,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer.bias), biases, rtol=1e-6)
    config = layer.get_config()
    assert len(json.dumps(config)) < 3000  # ranks only, never the factors
    assert cls.from_config(config).get_config() == config
    # a list of per-task kernels is the same thing
    again = cls.from_stacked_kernels(
        [kernels[..., t] for t in range(T)], eps=0.0)
    assert again.ranks == layer.ranks
    # truncation at ε: ranks drop on correlated kernels, error within bound
    base = kernels[..., :1] * np.linspace(1, 2, T) + 0.01 * kernels
    small = cls.from_stacked_kernels(base, eps=0.1)
    err = np.linalg.norm(np.asarray(small.recompose()) - base) / \
        np.linalg.norm(base)
    bound = 0.1 * np.sqrt(base.ndim) if small.method == "tucker" else \
        0.1 * np.sqrt(base.ndim - 1)
    assert err <= bound + 1e-5
    factor = np.asarray(small.task_factor())
    assert factor.shape[1] == T
    if small.method == "laf":
        assert small.ranks == 1
        assert tn.sharing_strength(factor, "l1") == pytest.approx(1)
    counts = tn.layer_param_counts(small)
    assert counts["factorised"] == small.count_params()
    assert counts["stl"] == kernels.size + T * shape[-1]


def test_from_stacked_kernels_tt_oseledets_and_errors():
    kernels = random_stacked_kernels((4, 3, 2, 5), T, seed=0)
    layer = TTConv2D.from_stacked_kernels(kernels, eps=0.3,
                                          tt_eps_split="oseledets")
    err = np.linalg.norm(np.asarray(layer.recompose()) - kernels)
    assert err <= 0.3 * np.linalg.norm(kernels) + 1e-5
    assert layer.kernel_size == (4, 3) and layer.filters == 5
    with pytest.raises(ValueError, match="tt_eps_split"):
        LAFConv2D.from_stacked_kernels(kernels, tt_eps_split="oseledets")
    with pytest.raises(ValueError, match="use_bias=False"):
        LAFConv2D.from_stacked_kernels(kernels, biases=np.zeros((T, 5)),
                                       use_bias=False)
    with pytest.raises(ValueError, match="biases with shape"):
        LAFConv2D.from_stacked_kernels(kernels, biases=np.zeros((5, T)))
    with pytest.raises(ValueError, match="kernels with shape"):
        TuckerDense.from_stacked_kernels(kernels)


def test_default_init_decomposes_independent_glorot_draws():
    # full ranks: the recomposed kernels are the Glorot draw itself
    layer = TuckerDense(16, num_tasks=4, ranks=(12, 16, 4),
                        kernel_initializer=keras.initializers.GlorotUniform(
                            seed=3))
    layer.build((None, 4, 12))
    w = np.asarray(layer.recompose())
    limit = np.sqrt(6 / (12 + 16))
    assert np.abs(w).max() <= limit + 1e-6
    assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.15)
    # every task has its own draw (not replicated: pitfall 5)
    for t in range(1, 4):
        assert not np.allclose(w[..., 0], w[..., t])
    np.testing.assert_allclose(
        w, random_stacked_kernels((12, 16), 4, keras.initializers.
                                  GlorotUniform(seed=3)), atol=1e-6)
    # random factors when the family initializers are given
    layer = LAFDense(3, num_tasks=4, ranks=2, factor_initializer="ones")
    layer.build((None, 5))
    np.testing.assert_array_equal(np.asarray(layer.recompose()), 2.0)


# --------------------------------------------------------------------------
# Config, .keras and SavedModel round-trips


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    families = {"core", "factor"} if cls in (TuckerDense, TuckerConv2D) \
        else {"core"} if cls in (TTDense, TTConv2D) else {"factor"}
    extra = {}
    for fam in families:
        extra[f"{fam}_initializer"] = keras.initializers.RandomNormal(
            stddev=0.3, seed=1)
        extra[f"{fam}_regularizer"] = keras.regularizers.L2(0.01)
        extra[f"{fam}_constraint"] = "max_norm"
    if cls in CONV:
        extra.update(strides=(2, 1), padding="same")
    layer = _make(cls, activation="relu", use_bias=False,
                  bias_regularizer=keras.regularizers.L1(0.1), name="fl",
                  **extra)
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(again, cls) and again.get_config() == config
    # regularizers reach the losses
    clone(_input(cls))
    assert len(clone.losses) == len(clone.trainable_weights)


def _model(cls):
    if cls in DENSE:
        inputs = keras.Input((T, D_IN))
    else:
        inputs = keras.Input((T, H, H, C))
    outputs = _make(cls, activation="relu", name="fl")(inputs)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
@pytest.mark.large
def test_keras_file_round_trip(cls, tmp_path):
    model = _model(cls)
    x = _input(cls, batch=3, seed=7)
    before = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("fl"), cls)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", [TuckerDense, LAFConv2D],
                         ids=lambda c: c.__name__)
@pytest.mark.large
def test_saved_model_export(cls, tmp_path):
    model = _model(cls)
    x = _input(cls, batch=3, seed=8)
    before = model.predict(x, verbose=0)
    path = str(tmp_path / "export")
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)  # keep a reference: it owns the
    after = reloaded.serve(tf.constant(x))  # variables
    np.testing.assert_allclose(np.asarray(after), before, rtol=1e-6,
                               atol=1e-6)


# --------------------------------------------------------------------------
# Argument validation (table-driven)


@pytest.mark.parametrize("cls,kwargs,match", [
    (TuckerDense, {"num_tasks": 0}, "num_tasks=0"),
    (TuckerDense, {"num_tasks": True}, "num_tasks=True"),
    (TuckerDense, {"units": 0}, "units=0"),
    (TuckerDense, {"ranks": (2, 2)}, "3 entries"),
    (TuckerDense, {"ranks": (2, 2, 2, 2)}, "3 entries"),
    (TuckerDense, {"ranks": (2, 5, 2)}, "K_2 = 5"),
    (TuckerDense, {"ranks": (2, 2, 4)}, "K_3 = 4"),
    (TuckerDense, {"ranks": 3}, "ranks=3"),
    (TuckerDense, {"ranks": (2, 0, 2)}, "ints >= 1"),
    (TuckerDense, {"core_initializer": "ones"}, "core_initializer='ones'"),
    (TTDense, {"ranks": (2,)}, "2 entries"),
    (TTDense, {"ranks": (2, 2, 2)}, "2 entries"),
    (TTDense, {"ranks": (2, 4)}, "K_2 = 4"),
    (TTConv2D, {"ranks": (4, 2, 2, 2)}, "K_1 = 4"),
    (LAFDense, {"ranks": 4}, "K = 4"),
    (LAFDense, {"ranks": 0}, "ranks=0"),
    (LAFDense, {"ranks": 1.5}, "ranks=1.5"),
    (TuckerConv2D, {"ranks": (4, 2, 2, 2, 2)}, "K_1 = 4"),
    (TuckerConv2D, {"ranks": (2, 2, 2, 2)}, "5 entries"),
    (TTConv2D, {"ranks": (2, 2, 2)}, "4 entries"),
    (TTConv2D, {"kernel_size": 0}, "kernel_size=0"),
    (TTConv2D, {"kernel_size": (3, 3, 3)}, r"kernel_size=\(3, 3, 3\)"),
    (TTConv2D, {"kernel_size": "3"}, "kernel_size='3'"),
    (LAFConv2D, {"strides": (1, 0)}, r"strides=\(1, 0\)"),
    (LAFConv2D, {"padding": "full"}, "padding='full'"),
    (LAFConv2D, {"filters": -1}, "filters=-1"),
])
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _make(cls, **kwargs)


@pytest.mark.parametrize("cls,kwargs,shape,match", [
    # ranks beyond what the unfoldings allow, known only at build
    (TuckerDense, {"ranks": (4, 3, 2)}, (None, T, 3), "K_1 = 4"),
    (TuckerDense, {"units": 1, "ranks": (4, 1, 3)}, (None, T, 9),
     "K_1 = 4"),
    (TTDense, {"ranks": (4, 3)}, (None, T, 3), "K_1 = 4"),
    (TTConv2D, {"ranks": (3, 9, 10, 3)}, (None, T, 7, 7, 1), "K_3 = 10"),
    (TuckerConv2D, {"ranks": (2, 2, 3, 2, 2)}, (None, T, 7, 7, 2),
     "K_3 = 3"),
    # wrong input ranks / task axis
    (TuckerDense, {}, (None, 2, T, D_IN), "input_shape"),
    (TuckerDense, {}, (None,), "input_shape"),
    (LAFDense, {}, (None, T + 1, D_IN), "num_tasks=3"),
    (LAFConv2D, {}, (None, T + 1, H, H, C), "num_tasks=3"),
    (LAFConv2D, {}, (None, H, H), "input_shape"),
    (LAFConv2D, {}, (None, T, 2, 2, C), "kernel_size"),
    (LAFConv2D, {}, (None, T, H, H, None), "channel"),
])
def test_bad_input_shapes(cls, kwargs, shape, match):
    layer = _make(cls, **kwargs)
    with pytest.raises(ValueError, match=match):
        layer.build(shape)


def test_call_checks_shapes_after_build():
    layer = _make(TTDense)
    layer(_input(TTDense))
    with pytest.raises(ValueError, match="num_tasks=3"):
        layer(np.zeros((2, T + 1, D_IN), "float32"))
    with pytest.raises(ValueError, match="input_dim=5"):
        layer(np.zeros((2, T, D_IN + 1), "float32"))
    with pytest.raises(ValueError, match="not built"):
        _make(LAFDense).recompose()


@pytest.mark.parametrize("cls, ranks", [(TuckerDense, (12, 5, 4)),
                                        (TTDense, (12, 4))])
def test_dense_routes_agree_and_auto_picks_by_batch(cls, ranks,
                                                    monkeypatch):
    """Tucker/TT dense layers on task-blocked input either synthesise the
    T kernels or apply the factors to the input (at full rank on a wide
    layer the synthesis dominated a DMTRL Omniglot step); both routes give
    the same outputs and gradients, and "auto" takes the input route for
    small batches and the kernel route for large ones, also when the batch
    is unknown while tracing (ops.cond)."""
    layer = cls(7, num_tasks=4, ranks=ranks, activation="tanh")
    layer.build((None, 4, 12))
    rng = np.random.default_rng(0)
    for w in layer.trainable_weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.3)
    def run(route, x):
        monkeypatch.setattr(cls, "_dense_route", route)
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(y ** 2)
        return [y.numpy()] + [g.numpy() for g in tape.gradient(
            loss, layer.trainable_weights)]

    x = rng.normal(size=(3, 4, 12)).astype("float32")
    for a, b in zip(run("kernel", x), run("input", x)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    costs = layer._strategy.dense_costs(layer._weights_dict())
    (k0, k1), (i0, i1) = costs["kernel"], costs["input"]
    b_star = (k0 - i0) / (i1 - k1)
    assert i1 > k1 and 1 < b_star < 200   # a batch-dependent choice here
    routes = []
    strategy = layer._strategy   # the strategy class
    apply = strategy.apply_dense
    monkeypatch.setattr(strategy, "apply_dense", staticmethod(
        lambda w, x: routes.append("input") or apply(w, x)))
    monkeypatch.setattr(cls, "_dense_route", "auto")
    small, large = int(b_star) - 1, int(b_star) + 2
    for b in (small, large):
        layer(rng.normal(size=(b, 4, 12)).astype("float32"))
    assert routes == ["input"]   # the large batch synthesised the kernels
    f = tf.function(layer, input_signature=[
        tf.TensorSpec((None, 4, 12), tf.float32)])
    for b in (small, large):
        xb = rng.normal(size=(b, 4, 12)).astype("float32")
        monkeypatch.setattr(cls, "_dense_route", "kernel")
        want = layer(xb).numpy()
        monkeypatch.setattr(cls, "_dense_route", "auto")
        np.testing.assert_allclose(f(xb).numpy(), want, rtol=1e-4,
                                   atol=1e-5)
