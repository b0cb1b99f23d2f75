"""The classic shallow baselines of DMTRL's Appendix A: Evgeniou & Pontil
(2004) regularised MTL and Argyriou et al. (2008) MTFL with its D-step."""

import os

import keras
import numpy as np
import pytest
import scipy.linalg

from amtfl_tf import models
from amtfl_tf.experiments import search as sh

T, D = 3, 4
CLASSES = [models.EvgeniouPontil, models.MTFL]


def _shared(n=12, seed=0, loss="squared"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    w = rng.normal(size=(D, 1)) @ rng.normal(size=(1, T))  # rank one
    y = x @ w + 0.1 * rng.normal(size=(n, T))
    if loss == "logistic":
        y = (y > 0).astype("float32")
    return x, y.astype("float32")


def _partitioned(n=9, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    task = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1])[:n]
    y = rng.normal(size=n).astype("float32")
    return {"x": x, "task": task}, y


def _randomise(model, seed=0):
    """Random trainable weights (the models start at W = 0)."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.5)


def _loss(model, x, y):
    return float(model.compute_loss(x, y, model(x)))


def _sq(v):
    return float((np.asarray(v, np.float64) ** 2).sum())


@pytest.mark.parametrize("cls", CLASSES)
def test_forward_shapes(cls):
    m = cls(T, D)
    _randomise(m)
    x, y = _shared()
    assert tuple(m(x).shape) == (len(x), T)
    full, extra = m.forward(x)
    np.testing.assert_allclose(np.asarray(full), np.asarray(m(x)))
    assert float(extra) == 0.0
    xp, yp = _partitioned()
    assert tuple(m(xp).shape) == (len(yp), T)
    own, _ = m.forward(xp["x"], task=xp["task"])
    assert tuple(own.shape) == (len(yp),)
    w = m.task_parameters()
    np.testing.assert_allclose(
        np.asarray(own), (xp["x"] @ w + np.asarray(m.bias))[
            np.arange(len(yp)), xp["task"]], rtol=1e-5, atol=1e-6)
    assert np.isfinite(_loss(m, x, y)) and np.isfinite(_loss(m, xp, yp))


def test_evgeniou_pontil_objective_matches_numpy():
    x, y = _shared(loss="logistic")
    m = models.EvgeniouPontil(T, D, loss="logistic", hyperparameters=dict(
        lam_task=0.3, lam_shared=0.05))
    _randomise(m)
    w0, v, b = (np.asarray(a, np.float64) for a in (
        m.shared_kernel, m.task_kernel, m.bias))
    w = w0[:, None] + v
    np.testing.assert_allclose(m.task_parameters(), w, rtol=1e-6)
    np.testing.assert_allclose(m.shared_parameters(), w0)
    penalty = 0.3 / T * _sq(v) + 0.05 * _sq(w0)
    np.testing.assert_allclose(float(m.penalty()), penalty, rtol=1e-5)
    o = x @ w + b
    ce = np.logaddexp(0, o) - y * o  # logistic loss, per-task means
    np.testing.assert_allclose(_loss(m, x, y),
                               ce.mean(axis=0).sum() + penalty, rtol=1e-5)


def test_mtfl_penalty_matches_numpy():
    m = models.MTFL(T, D, epsilon=0.01, hyperparameters={"gamma": 0.2})
    _randomise(m)
    rng = np.random.default_rng(3)
    a = rng.normal(size=(D, D))
    d_inv = a @ a.T + np.eye(D)  # any SPD matrix
    m.d_inverse.assign(d_inv.astype("float32"))
    w = m.task_parameters().astype(np.float64)
    expected = 0.2 * (np.trace(w.T @ d_inv @ w) + 0.01 * np.trace(d_inv))
    np.testing.assert_allclose(float(m.penalty()), expected, rtol=1e-5)
    # at W = 0 the initial D = I/d is the D-step's value
    fresh = models.MTFL(T, D)
    np.testing.assert_allclose(fresh.feature_matrix(), np.eye(D) / D)
    np.testing.assert_allclose(fresh.update_d(), np.eye(D) / D, atol=1e-7)


@pytest.mark.parametrize("shape,eps", [((D, T), 1e-4), ((D, 6), 1e-2),
                                       ((5, 2), 0.3)])
def test_d_step_closed_form(shape, eps):
    rng = np.random.default_rng(4)
    w = rng.normal(size=shape)
    d, d_inv = (np.asarray(v) for v in models.mtfl_d_step(w, eps))
    assert d.dtype == np.float64
    # closed form via scipy's matrix square root
    root = scipy.linalg.sqrtm(w @ w.T + eps * np.eye(shape[0])).real
    np.testing.assert_allclose(d, root / np.trace(root), atol=1e-12)
    np.testing.assert_allclose(d_inv, np.linalg.inv(d), rtol=1e-9)
    np.testing.assert_allclose(d, d.T, atol=1e-14)
    assert np.trace(d) == pytest.approx(1.0)
    assert np.linalg.eigvalsh(d).min() > 0
    # its objective tr(D⁻¹(WWᵀ + εI)) is (‖W_ε‖_*)², W_ε = [W, √ε I] ...
    sv = np.linalg.svd(w, compute_uv=False)
    sv = np.concatenate([sv, np.zeros(shape[0] - len(sv))])
    nuclear_eps = np.sqrt(sv ** 2 + eps).sum()
    w_eps = np.hstack([w, np.sqrt(eps) * np.eye(shape[0])])
    assert nuclear_eps == pytest.approx(
        np.linalg.norm(w_eps, "nuc"), rel=1e-10)
    perturbed = np.trace(d_inv @ (w @ w.T + eps * np.eye(shape[0])))
    assert perturbed == pytest.approx(nuclear_eps ** 2, rel=1e-10)
    # ... and the minimum over feasible D (any PD D' with tr D' = 1)
    for _ in range(5):
        a = rng.normal(size=(shape[0], shape[0]))
        other = a @ a.T + 1e-3 * np.eye(shape[0])
        other /= np.trace(other)
        val = np.trace(np.linalg.solve(other, w @ w.T + eps * np.eye(
            shape[0])))
        assert val >= perturbed * (1 - 1e-12)
    # tr(Wᵀ D⁻¹ W) ≈ ‖W‖²_* for small ε
    if eps <= 1e-4:
        np.testing.assert_allclose(np.trace(w.T @ d_inv @ w),
                                   sv.sum() ** 2, rtol=1e-2)


def test_model_d_step_and_penalty_at_optimal_d():
    m = models.MTFL(T, D, epsilon=1e-4, hyperparameters={"gamma": 0.5})
    _randomise(m)
    w = m.task_parameters().astype(np.float64)
    x, y = _shared()
    before = _loss(m, x, y)
    d = m.update_d()
    root = scipy.linalg.sqrtm(w @ w.T + 1e-4 * np.eye(D)).real
    np.testing.assert_allclose(d, root / np.trace(root), atol=1e-6)
    np.testing.assert_allclose(m.feature_matrix(), d)
    sv = np.linalg.svd(w, compute_uv=False)
    nuclear_eps = np.sqrt(np.concatenate([sv ** 2, [0.0] * (D - T)])
                          + 1e-4).sum()
    # penalty γ tr(D⁻¹(WWᵀ + εI)) at the optimal D = γ (‖W_ε‖_*)², and
    # its W part γ tr(Wᵀ D⁻¹ W) ≈ γ ‖W‖²_*
    np.testing.assert_allclose(float(m.penalty()), 0.5 * nuclear_eps ** 2,
                               rtol=1e-4)
    d_inv = np.asarray(m.d_inverse, np.float64)
    np.testing.assert_allclose(0.5 * np.trace(w.T @ d_inv @ w),
                               0.5 * sv.sum() ** 2, rtol=1e-2)
    # the D-step minimises over D: the objective does not increase
    assert _loss(m, x, y) <= before


def test_training_with_the_callback_reduces_the_loss():
    x, y = _shared(n=30)
    m = models.MTFL(T, D, hyperparameters={"gamma": 0.05})
    m.compile(keras.optimizers.Adam(0.05))
    start = _loss(m, x, y)
    hist = m.fit(x, y, batch_size=30, epochs=12, verbose=0,
                 callbacks=[models.MTFLDStep(every_epochs=3)])
    loss = hist.history["loss"]
    assert loss[-1] < 0.5 * loss[0] and _loss(m, x, y) < 0.5 * start
    # the last epoch ended with a D-step: D is the closed form of W
    d = np.asarray(models.mtfl_d_step(m.kernel, m.epsilon)[0])
    np.testing.assert_allclose(m.feature_matrix(), d, atol=1e-6)
    assert not np.allclose(d, np.eye(D) / D, atol=1e-3)
    # in-graph D-steps (for drivers without callbacks, e.g. Trainer)
    g = models.MTFL(T, D, d_step_every=4, hyperparameters={"gamma": 0.05})
    g.compile(keras.optimizers.Adam(0.05), steps_per_execution=4)
    g.fit(x, y, batch_size=30, epochs=8, verbose=0)
    d = np.asarray(models.mtfl_d_step(g.kernel, g.epsilon)[0])
    np.testing.assert_allclose(g.feature_matrix(), d, atol=1e-6)
    assert _loss(g, x, y) < 0.5 * start


def test_callback_errors():
    with pytest.raises(ValueError, match="every_epochs=0"):
        models.MTFLDStep(every_epochs=0)
    m = models.STL(T, D)
    m.compile("sgd")
    x, y = _shared()
    with pytest.raises(TypeError, match="update_d.*STL"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[models.MTFLDStep()])


@pytest.mark.parametrize("cls", CLASSES)
def test_one_fit_step_decreases_loss(cls):
    xp, yp = _partitioned()
    m = cls(T, D)
    m.compile(keras.optimizers.SGD(0.05))
    before = _loss(m, xp, yp)
    m.fit(xp, yp, batch_size=len(yp), epochs=1, verbose=0)
    assert _loss(m, xp, yp) < before


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.large
def test_config_and_keras_round_trip(cls, tmp_path):
    kwargs = {"epsilon": 1e-3, "d_step_every": 2} if cls is models.MTFL \
        else {}
    m = cls(T, D, loss="logistic", hyperparameters={
        k: 0.07 for k in cls.HYPERPARAMETERS}, **kwargs)
    _randomise(m)
    if cls is models.MTFL:
        m.update_d()
    config = m.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    assert again.get_hyperparameters() == pytest.approx(
        {k: 0.07 for k in cls.HYPERPARAMETERS})
    path = os.path.join(tmp_path, "m.keras")
    m.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is cls
    assert loaded.get_config() == config
    x, _ = _shared()
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)),
                               rtol=1e-6)
    for a, b in zip(loaded.weights, m.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(loaded.penalty()) == pytest.approx(float(m.penalty()))


@pytest.mark.parametrize("cls,hp", [
    (models.EvgeniouPontil, "lam_task"),
    (models.EvgeniouPontil, "lam_shared"),
    (models.MTFL, "gamma")])
def test_negative_hyperparameters(cls, hp):
    with pytest.raises(ValueError, match=f"{hp}=-0.1"):
        cls(T, D, hyperparameters={hp: -0.1})
    m = cls(T, D)
    with pytest.raises(ValueError, match=f"{hp}=-1"):
        m.set_hyperparameters(**{hp: -1})


@pytest.mark.parametrize("kwargs,match", [
    (dict(epsilon=0.0), "epsilon=0.0"),
    (dict(epsilon=-1e-4), "epsilon=-0.0001"),
    (dict(epsilon="x"), "epsilon='x'"),
    (dict(d_step_every=-1), "d_step_every=-1"),
    (dict(d_step_every=1.5), "d_step_every=1.5"),
])
def test_mtfl_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.MTFL(T, D, **kwargs)


def test_registered_for_the_experiments():
    assert models.METHODS["Evgeniou-Pontil"] is models.EvgeniouPontil
    assert models.METHODS["MTFL"] is models.MTFL
    for method, names in sh.CLASSIC_SEARCHED.items():
        assert set(names) <= set(models.METHODS[method].HYPERPARAMETERS)
    m = sh.build_model("MTFL", T, D, mtfl_epsilon=1e-3,
                       mtfl_d_step_every=5)
    assert (m.epsilon, m.d_step_every) == (1e-3, 5)
    # the Trainer resets D with the weights, so refits are reproducible
    x, y = _shared(n=20)
    tr = sh.Trainer(m, x, y, config=sh.TrainConfig(
        steps=20, steps_per_execution=10, learning_rate=0.05))
    first = tr.fit(gamma=0.1)
    d = m.feature_matrix()
    assert not np.allclose(d, np.eye(D) / D, atol=1e-3)
    assert tr.fit(gamma=0.1) == pytest.approx(first, rel=1e-5)
    np.testing.assert_allclose(m.feature_matrix(), d, atol=1e-6)
