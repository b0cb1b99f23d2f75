"""DAMTL and its baselines: initialisation from the auxiliary network, the
objective against numpy, one training step, .keras round trips, MTAL's
kernel aggregation, argument validation."""

import keras
import numpy as np
import pytest

from amtfl_tf.experiments.damtl import common as dc
from amtfl_tf.models import DAMTL
from amtfl_tf.models import DAMTLBaseline
from amtfl_tf.models import build_vgg
from amtfl_tf.models.damtl.base import PAD_LOGIT
from amtfl_tf.models.damtl.baselines import aggregate_similar_kernels

BLOCKS, FC = [[4], [6]], [5]
SHAPE = (8, 8, 1)
CLASSES = [3, 4]
CLASS_MAP = [[0, 2, 5], [2, 1, 3, 4]]


GOLDEN_OBJECTIVE = 14.93265  # this fixed configuration (guards refactors)


@pytest.fixture(scope="module")
def aux():
    """An auxiliary network with fixed (numpy-drawn) weights."""
    model = build_vgg(SHAPE, 6, BLOCKS, FC)
    rng = np.random.default_rng(42)
    model.set_weights([0.4 * rng.normal(size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    task = np.array([0, 1, 1, 0, 1, 0, 1, 1], np.int32)
    y = np.array([0, 3, 1, 2, 0, 1, 2, 1], np.int32)
    return rng.random((8,) + SHAPE).astype("float32"), task, y


def _damtl(**kw):
    kw.setdefault("conv_blocks", BLOCKS)
    kw.setdefault("fc_units", FC)
    return DAMTL(CLASSES, SHAPE, 6, CLASS_MAP, **kw)


def _baseline(method, **kw):
    return DAMTLBaseline(CLASSES, SHAPE, method=method, conv_blocks=BLOCKS,
                         fc_units=FC, **kw)


def test_damtl_starts_from_the_auxiliary_network(aux, batch):
    x, task, _ = batch
    m = _damtl(mask_init_range=(1.0, 1.0))
    m.load_auxiliary(aux)
    for convs in m.task_convs:
        np.testing.assert_array_equal(np.asarray(convs[1].kernel),
                                      aux.get_layer("conv2").get_weights()[0])
    # Ψ = 1 and copied layers: task t's logits are the auxiliary logits of
    # its classes (the cover assumption's class map)
    logits = np.asarray(m(x))
    full = aux.predict(x, verbose=0)
    for t, cmap in enumerate(CLASS_MAP):
        np.testing.assert_allclose(logits[:, t, :len(cmap)], full[:, cmap],
                                   rtol=1e-5, atol=1e-5)
    assert np.all(logits[:, 0, 3] == PAD_LOGIT)  # task 0 has 3 classes
    # the auxiliary FC layers are frozen; Ψ, W_{T_j} and f_{T_j} train
    names = {w.path for w in m.trainable_weights}
    assert not any("aux_" in n for n in names)
    assert any("task1_conv1/mask" in n for n in names)
    frozen = _damtl(train_conv=False)
    assert not any(n.endswith("kernel") and "conv" in n
                   for n in (w.path for w in frozen.trainable_weights))


def test_baselines_fine_tune_the_auxiliary_trunk(aux):
    for method in ("single", "multi", "cross_stitch", "nddr", "mtal"):
        m = _baseline(method)
        m.load_auxiliary(aux)
        for convs in m.stream_convs:
            np.testing.assert_array_equal(
                np.asarray(convs[0].kernel),
                aux.get_layer("conv1").get_weights()[0])
        assert len(m.stream_convs) == (1 if method == "multi" else 2)
        for head in m.heads:  # new output layers ~ N(0, 0.01²)
            assert np.asarray(head.kernel).std() < 0.05


def test_baselines_can_start_from_damtls_heads(aux, batch):
    """class_map: each baseline's output layers start from the auxiliary
    classifier's columns of its task's classes, DAMTL's head_init='aux'
    start, so a Single-Task network's logits equal DAMTL's (Ψ = 1) before
    training: the controlled comparison (issue 20)."""
    x, _, _ = batch
    d = _damtl(mask_init_range=(1.0, 1.0))
    d.load_auxiliary(aux)
    kernel, bias = aux.get_layer("logits").get_weights()
    for method in ("single", "cross_stitch", "nddr", "mtal"):
        m = _baseline(method)
        m.load_auxiliary(aux, class_map=CLASS_MAP)
        for t, cmap in enumerate(CLASS_MAP):
            np.testing.assert_array_equal(np.asarray(m.heads[t].kernel),
                                          kernel[:, cmap])
            np.testing.assert_array_equal(np.asarray(m.heads[t].bias),
                                          bias[cmap])
    single = _baseline("single")
    single.load_auxiliary(aux, class_map=CLASS_MAP)
    np.testing.assert_allclose(np.asarray(single(x)), np.asarray(d(x)),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="class_map must list"):
        _baseline("single").load_auxiliary(aux, class_map=[[0, 1, 2]])


def test_baseline_head_init_setting():
    from amtfl_tf.experiments.damtl import common as dc
    from amtfl_tf.experiments.damtl import omniglot as do

    s = do.settings_for("smoke")
    fp = dc.fingerprint_settings(s)
    # the default leaves the earlier records' fingerprints as they were
    assert "baseline_head_init" not in fp["train"] and "time_json" not in fp
    aux = do.settings_for("smoke", baseline_head_init="aux")
    assert dc.fingerprint_settings(aux)["train"]["baseline_head_init"] == \
        "aux"
    with pytest.raises(ValueError, match="baseline_init='random'"):
        dc.TrainSettings(baseline_init="random", baseline_head_init="aux")
    with pytest.raises(ValueError, match="baseline_head_init='x'"):
        dc.TrainSettings(baseline_head_init="x")


def _np_forward_features(aux, x):
    feat = keras.Model(aux.input, aux.get_layer("flatten").output)
    return feat.predict(x, verbose=0).astype(np.float64)


def test_damtl_objective_matches_numpy(aux, batch):
    """Eq. (5) = Σ_j α (Σ_k CE + λ1 Σ_l mean Ψ + λ2 Σ_h CMMD_h), with a
    linear CMMD kernel, Ψ = 1 and perturbed task FC layers."""
    x, task, y = batch
    hp = dict(alpha=0.3, lambda1=0.7, lambda2=0.5)
    m = _damtl(mask_init_range=(1.0, 1.0), cmmd_kernel="linear",
               hyperparameters=hp)
    m.load_auxiliary(aux)
    rng = np.random.default_rng(3)
    for t in range(2):
        for layer in (m.task_fcs[t][0], m.task_heads[t]):
            layer.set_weights([w + 0.3 * rng.normal(size=w.shape)
                               for w in layer.get_weights()])
    logits, terms = m.forward(x, task=task, y=y)
    total = float(m.task_objective(task, y, logits, terms))

    o = _np_forward_features(aux, x)
    wa, ba = (w.astype(np.float64) for w in aux.get_layer("fc1").get_weights())
    ka, kb = (w.astype(np.float64)
              for w in aux.get_layer("logits").get_weights())
    expected = 0.0
    for t in range(2):
        sel = task == t
        ot, yt = o[sel], y[sel]
        wt, bt = (w.astype(np.float64) for w in m.task_fcs[t][0].get_weights())
        ht, hat = np.maximum(ot @ wt + bt, 0), np.maximum(ot @ wa + ba, 0)
        kh, bh = (w.astype(np.float64) for w in m.task_heads[t].get_weights())
        lt = ht @ kh + bh
        la = (ht @ ka + kb)[:, CLASS_MAP[t]]  # f_aux on the task's O
        p = np.exp(lt - lt.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        ce = -np.log(p[np.arange(len(yt)), yt]).sum()

        def lin(a, b):
            return sum(((a[yt == c].mean(0) - b[yt == c].mean(0)) ** 2).sum()
                       for c in np.unique(yt))

        expected += 0.3 * (ce + 0.7 * 2 + 0.5 * (lin(hat, ht) + lin(la, lt)))
    np.testing.assert_allclose(total, expected, rtol=1e-4)
    # golden value of this fixed configuration (guards refactors)
    np.testing.assert_allclose(total, GOLDEN_OBJECTIVE, rtol=1e-4)


def test_partitioned_forward_equals_full_forward(aux, batch):
    x, task, y = batch
    for m in (_damtl(), _baseline("single"), _baseline("mtal"),
              _baseline("cross_stitch"), _baseline("multi")):
        m.load_auxiliary(aux)
        own = np.asarray(m.forward(x, task=task, y=y)[0])
        full = np.asarray(m(x))
        np.testing.assert_allclose(own, full[np.arange(8), task],
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["damtl", "single", "mtal"])
def test_batch_without_a_task_trains(method, aux, batch):
    """Mini-batches may hold no sample of a task. TensorFlow's oneDNN conv
    returns a wrong shape for the empty part (models guard it with
    damtl_base.nonempty_batch); the task's gradient must then be zero."""
    x, task, y = batch
    keep = task == 1
    m = _damtl(hyperparameters={"lambda1": 0.0}) if method == "damtl" \
        else _baseline(method)
    m.load_auxiliary(aux)
    m.compile(keras.optimizers.SGD(0.05))
    logs = m.train_on_batch({"x": x[keep], "task": task[keep]}, y[keep],
                            return_dict=True)
    assert np.isfinite(logs["loss"])
    out = np.asarray(m.forward(x[:0], task=task[:0])[0])
    assert out.shape == (0, 4)
    if method == "damtl":  # task 0's masks: no gradient (λ₁ = 0)
        before = [np.asarray(c.mask()) for c in m.task_convs[0]]
        m.train_on_batch({"x": x[keep], "task": task[keep]}, y[keep])
        for a, c in zip(before, m.task_convs[0]):
            np.testing.assert_array_equal(a, np.asarray(c.mask()))


@pytest.mark.parametrize("make", [
    lambda: _damtl(mask_granularity="filter", mask_parameterization="abs"),
    lambda: _damtl(align_layers="none", hyperparameters={"lambda2": 0.0},
                   ce_reduction="mean"),
    lambda: _baseline("single"), lambda: _baseline("multi"),
    lambda: _baseline("cross_stitch", cross_stitch_granularity="layer"),
    lambda: _baseline("nddr"),
    lambda: _baseline("nddr", nddr_batch_norm=False),
    lambda: _baseline("mtal", mtal_threshold=0.5),
], ids=["damtl", "damtl_fa", "single", "multi", "cross_stitch", "nddr",
        "nddr_no_bn", "mtal"])
@pytest.mark.large
def test_one_step_and_keras_round_trip(make, aux, batch, tmp_path):
    x, task, y = batch
    keras.utils.set_random_seed(1)
    m = make()
    m.load_auxiliary(aux)
    m.compile(keras.optimizers.SGD(0.05, momentum=0.9))
    before = [np.asarray(w).copy() for w in m.trainable_weights]
    hist = m.fit({"x": x, "task": task}, y, batch_size=8, epochs=2,
                 verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    assert {"objective_0", "ce_1"} <= set(hist.history)
    assert any(not np.allclose(a, np.asarray(b))
               for a, b in zip(before, m.trainable_weights))
    if isinstance(m, DAMTL):
        assert {"l1_0", "cmmd_1"} <= set(hist.history)
        assert min(float(np.min(p)) for p in m.masks(0)) >= 0.0
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)),
                               rtol=1e-5, atol=1e-5)
    assert loaded.get_config() == m.get_config()
    assert type(loaded) is type(m)
    ev = loaded.evaluate({"x": x, "task": task}, y, verbose=0,
                         return_dict=True)
    assert np.isfinite(ev["loss"])


@pytest.mark.parametrize("make", [
    lambda: _damtl(), lambda: _baseline("nddr")], ids=["damtl", "nddr"])
@pytest.mark.large
def test_saved_model_export(make, aux, batch, tmp_path):
    import tensorflow as tf

    x = batch[0]
    m = make()
    m.load_auxiliary(aux)
    path = m.export_saved_model(str(tmp_path / "export"))
    reloaded = tf.saved_model.load(path)
    probs = reloaded.serve(tf.constant(x)).numpy()
    expected = tf.nn.softmax(m(x), axis=-1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    assert probs.shape == (8, 2, 4) and np.all(probs[:, 0, 3] == 0)


def test_mtal_aggregation_matches_numpy():
    rng = np.random.default_rng(4)
    k0 = rng.normal(size=(3, 3, 2, 4))
    k1 = k0 + 0.05 * rng.normal(size=k0.shape)  # similar pairs across tasks
    k1[..., 3] = rng.normal(size=(3, 3, 2))      # one dissimilar filter
    out = aggregate_similar_kernels([k0, k1], 0.9, "across")
    f = np.concatenate([k.reshape(-1, 4).T for k in (k0, k1)])
    u = f / np.linalg.norm(f, axis=1, keepdims=True)
    s = u @ u.T
    allowed = (1 - np.kron(np.eye(2), np.ones((4, 4))))
    w = np.where(s > 0.9, s, 0) * allowed + np.eye(8)
    mixed = (w / w.sum(1, keepdims=True)) @ f
    for t, kt in enumerate(out):
        np.testing.assert_allclose(np.asarray(kt),
                                   mixed[4 * t:4 * t + 4].T.reshape(k0.shape),
                                   rtol=1e-10)
    # the dissimilar filter is left alone; a similar pair is averaged
    np.testing.assert_allclose(np.asarray(out[1])[..., 3], k1[..., 3])
    assert np.abs(np.asarray(out[0])[..., 0]
                  - np.asarray(out[1])[..., 0]).max() < 0.05 * np.abs(
        k0[..., 0] - k1[..., 0]).max() + 1e-12 or s[0, 4] <= 0.9
    with pytest.raises(ValueError, match="pairs='some'"):
        aggregate_similar_kernels([k0, k1], 0.9, "some")


@pytest.mark.parametrize("make,match", [
    (lambda: DAMTL([3], SHAPE, 6, [[0, 1]]), "class_map"),
    (lambda: DAMTL([3], SHAPE, 6, [[0, 1, 9]]), "class_map"),
    (lambda: DAMTL([3], SHAPE, 6, [[0, 0, 1]]), "class_map"),
    (lambda: DAMTL([3], SHAPE, 0, [[0, 1, 2]]), "aux_num_classes=0"),
    (lambda: _damtl(align_layers="first"), "align_layers='first'"),
    (lambda: _damtl(head_init="zeros"), "head_init='zeros'"),
    (lambda: _damtl(cmmd_kernel="rbf"), "cmmd_kernel='rbf'"),
    (lambda: _damtl(mask_init_range=(1, 0)), "mask_init_range"),
    (lambda: _damtl(hyperparameters={"beta": 1}), "beta"),
    (lambda: _damtl(hyperparameters={"lambda1": -1}), "lambda1=-1"),
    (lambda: _baseline("mtl"), "method='mtl'"),
    (lambda: _baseline("mtal", mtal_threshold=0), "mtal_threshold=0"),
    (lambda: _baseline("nddr", sharing_positions="pool"),
     "sharing_positions='pool'"),
    (lambda: DAMTLBaseline([2], SHAPE, method="cross_stitch"), ">= 2 tasks"),
    (lambda: DAMTLBaseline([0, 2], SHAPE), "num_classes"),
    (lambda: DAMTLBaseline([2, 2], (8, 8)), "input_shape"),
    (lambda: DAMTLBaseline([2], SHAPE, conv_blocks=[[]]), "conv_blocks"),
    (lambda: _baseline("single", ce_reduction="max"), "ce_reduction='max'"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    m = _baseline("single")
    with pytest.raises(ValueError, match=r"x.shape=\(2, 8, 8, 3\)"):
        m(np.zeros((2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="loss"):
        m.compile("sgd", loss="mse")


@pytest.mark.parametrize("method", ["single", "cross_stitch"])
def test_layer_regulariser_reaches_the_objective(aux, batch, method):
    """``self.losses`` (here a kernel regulariser put on a trained
    variable) is part of the loss the steps minimise and report."""
    x, task, y = batch
    m = _baseline(method)
    m.load_auxiliary(aux)
    m.compile(keras.optimizers.SGD(0.0))
    data = ({"x": x, "task": task}, y)
    plain = m.evaluate(*data, batch_size=8, verbose=0, return_dict=True)
    kernel = [v for v in m.trainable_variables if v.ndim == 4][0]
    kernel.regularizer = keras.regularizers.L2(0.5)
    m.compile(keras.optimizers.SGD(0.0))  # retrace the steps
    penalty = 0.5 * float(np.sum(np.square(np.asarray(kernel))))
    with_reg = m.evaluate(*data, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(with_reg["loss"] - plain["loss"], penalty,
                               rtol=1e-4)
    # the training step minimises it too: with lr > 0 the kernel shrinks
    m.compile(keras.optimizers.SGD(0.1))
    before = float(np.sum(np.square(np.asarray(kernel))))
    m.set_hyperparameters(alpha=0.0)   # only the regulariser has a gradient
    m.fit(*data, batch_size=8, epochs=1, verbose=0)
    after = float(np.sum(np.square(np.asarray(kernel))))
    np.testing.assert_allclose(after, before * (1 - 0.1 * 2 * 0.5) ** 2,
                               rtol=1e-5)


def test_nddr_units_without_batch_norm():
    """nddr_batch_norm=False: the units keep the 1x1 fusion and ReLU and
    hold no batch-norm weights (a backbone without batch normalisation);
    the default keeps the original's batch norm."""
    plain = _baseline("nddr", nddr_batch_norm=False)
    normed = _baseline("nddr")
    assert all(not u.use_batch_norm for u in plain.units)
    assert all(u.use_batch_norm for u in normed.units)
    names = [w.path for u in plain.units for w in u.weights]
    assert names and not any("moving_mean" in n for n in names)
    assert plain.get_config()["nddr_batch_norm"] is False


def test_fingerprint_keeps_nddr_batch_norm_only_when_off():
    """Records made before the option existed (batch norm on) keep their
    fingerprint; a run with it off gets another."""
    import dataclasses as dcs

    from amtfl_tf.experiments.damtl import omniglot as do
    s = do.settings_for("faithful")
    assert "nddr_batch_norm" not in dc.fingerprint_settings(s)["train"]
    off = dcs.replace(s, train=dcs.replace(s.train, nddr_batch_norm=False))
    assert dc.fingerprint_settings(off)["train"]["nddr_batch_norm"] is False
