"""CMMD (DAMTL Eq. 3) against a direct numpy computation."""

import numpy as np
import pytest
import tensorflow as tf

from amtfl_tf.objectives import cmmd
from amtfl_tf.objectives import kernel_matrix


def _k(a, b, kind, base, num=5, mul=2.0):
    d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    if kind == "linear":
        return a @ b.T
    if kind == "gaussian":
        return np.exp(-d / base)
    s2 = base / mul ** (num // 2)
    return sum(np.exp(-d / (s2 * mul ** i)) for i in range(num))


def _reference(src, tgt, ys, yt, num_classes, kind, bandwidth=None):
    """Σ_c ‖mean φ(src_c) − mean φ(tgt_c)‖² by explicit kernel means."""
    pooled = np.concatenate([src, tgt])
    if bandwidth is None:
        d = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
        n = len(pooled)
        base = d.sum() / (n * n - n)
    else:
        base = bandwidth
    total = 0.0
    for c in range(num_classes):
        a, b = src[ys == c], tgt[yt == c]
        if len(a) == 0 or len(b) == 0:
            continue
        total += (_k(a, a, kind, base).mean() + _k(b, b, kind, base).mean()
                  - 2 * _k(a, b, kind, base).mean())
    return total


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(12, 5))
    tgt = src + 0.3 * rng.normal(size=(12, 5))
    ys = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 3, 0, 1])
    return src, tgt, ys


@pytest.mark.parametrize("kind,bandwidth", [
    ("linear", None), ("gaussian", None), ("gaussian", 2.0),
    ("multi_gaussian", None), ("multi_gaussian", 3.0)])
def test_matches_numpy_same_samples(data, kind, bandwidth):
    src, tgt, ys = data
    got = float(cmmd(src, tgt, ys, 5, kernel=kind, bandwidth=bandwidth))
    ref = _reference(src, tgt, ys, ys, 5, kind, bandwidth)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert got > 0


def test_linear_is_squared_distance_of_class_means(data):
    src, tgt, ys = data
    ref = sum(((src[ys == c].mean(0) - tgt[ys == c].mean(0)) ** 2).sum()
              for c in np.unique(ys))
    np.testing.assert_allclose(float(cmmd(src, tgt, ys, 4,
                                          kernel="linear")), ref)


def test_different_sets_and_absent_classes():
    rng = np.random.default_rng(1)
    src, tgt = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 1
    ys = np.array([0, 0, 1, 1, 2, 2, 2])
    yt = np.array([0, 1, 1, 3, 3])  # class 2 only in src, 3 only in tgt
    got = float(cmmd(src, tgt, ys, 4, target_labels=yt))
    np.testing.assert_allclose(got, _reference(src, tgt, ys, yt, 4,
                                               "multi_gaussian"), rtol=1e-9)
    # identical representations: zero discrepancy
    assert abs(float(cmmd(src, src, ys, 4))) < 1e-12
    # no class in both sets (e.g. a task absent from a batch): exactly 0
    assert float(cmmd(src, tgt, np.zeros(7, int), 4,
                      target_labels=np.ones(5, int))) == 0.0
    empty = np.zeros((0, 3))
    assert float(cmmd(empty, empty, np.zeros(0, int), 4)) == 0.0


def test_kernel_matrix_and_gradients():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3))
    k = np.asarray(kernel_matrix(x, kernel="gaussian", bandwidth=1.5))
    np.testing.assert_allclose(k, _k(x, x, "gaussian", 1.5))
    ys = np.array([0, 1, 0, 1])
    src = tf.constant(x)
    tgt0 = x + 0.1 * rng.normal(size=x.shape)

    def f(t):
        return cmmd(src, t, ys, 2, bandwidth=2.0)[None]

    theo, num = tf.test.compute_gradient(f, [tf.constant(tgt0)])
    np.testing.assert_allclose(theo[0], num[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"kernel": "rbf"}, "kernel='rbf'"),
    ({"num_kernels": 0}, "num_kernels=0"),
    ({"kernel_mul": -2.0}, "kernel_mul=-2.0"),
    ({"bandwidth": 0.0}, "bandwidth=0.0"),
])
def test_bad_arguments(data, kwargs, match):
    src, tgt, ys = data
    with pytest.raises(ValueError, match=match):
        cmmd(src, tgt, ys, 4, **kwargs)
    with pytest.raises(ValueError, match="num_classes=0"):
        cmmd(src, tgt, ys, 0)
    with pytest.raises(ValueError, match=r"source.shape=\(12,\)"):
        cmmd(src[:, 0], tgt, ys, 4)
