"""DMTRL's networks: the per-task layers, DMTRLNetwork (sharing modes,
layouts, heterogeneous outputs, losses, serialisation), the initialisation
from STL, the training helpers, and the experiment building blocks."""

import json
import shutil

import keras
import numpy as np
import pytest

from amtfl_tf.experiments.dmtrl import common as dc
from amtfl_tf.experiments.dmtrl import appendix as dma
from amtfl_tf.experiments.dmtrl import mnist as dmn
from amtfl_tf.experiments.dmtrl import fig4_omniglot as dmo
from amtfl_tf.experiments.dmtrl import omniglot_tasks as dmot
from amtfl_tf.layers import TaskConv2D
from amtfl_tf.layers import TaskDense
from amtfl_tf.models import dmtrl as dm
from amtfl_tf.tensor import decompositions as dec

RNG = np.random.default_rng(0)
SMALL = (12, 12, 1)


def _small_arch():
    if "test_tiny" not in dm.ARCHITECTURES:
        dm.ARCHITECTURES["test_tiny"] = {
            "activation": "relu", "shareable": 3, "ud_options": (1, 2),
            "ud_paper": 2,
            "layers": (("conv", 4, 3), ("pool", 2), ("flatten",),
                       ("dense", 6), ("output",)),
            "names": ("conv1", "fc1", "fc2")}
    return "test_tiny"


# -- per-task layers ---------------------------------------------------------


def test_task_dense_equals_per_task_dense():
    layer = TaskDense(5, num_tasks=3)
    x = RNG.normal(size=(4, 3, 7)).astype("float32")
    y = np.asarray(layer(x))
    k = np.asarray(layer._factor_vars["kernel"])
    b = np.asarray(layer.bias)
    for t in range(3):
        np.testing.assert_allclose(y[:, t], x[:, t] @ k[t] + b[t],
                                   rtol=1e-5, atol=1e-5)
    shared = np.asarray(layer(x[:, 0]))
    np.testing.assert_allclose(shared[:, 1], x[:, 0] @ k[1] + b[1],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(layer.task_factor()), np.eye(3))
    assert layer.recompose().shape == (7, 5, 3)


@pytest.mark.large
def test_task_conv_equals_per_task_conv_and_round_trips(tmp_path):
    layer = TaskConv2D(4, 3, num_tasks=2, padding="same", activation="relu")
    x = RNG.normal(size=(2, 2, 6, 6, 3)).astype("float32")
    y = np.asarray(layer(x))
    k = np.asarray(layer._factor_vars["kernel"])
    for t in range(2):
        conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
        conv.build((None, 6, 6, 3))
        conv.set_weights([k[t], np.asarray(layer.bias)[t]])
        np.testing.assert_allclose(y[:, t], np.asarray(conv(x[:, t])),
                                   rtol=1e-5, atol=1e-5)
    clone = TaskConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    inp = keras.Input((2, 6, 6, 3))
    model = keras.Model(inp, layer(inp))
    model.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(back(x)), y, rtol=1e-6)


def test_task_layers_reject_ranks():
    with pytest.raises(ValueError, match="ranks=3"):
        TaskDense(4, num_tasks=2, ranks=3)


# -- DMTRLNetwork -------------------------------------------------------------


def test_method_sharing_and_param_counts():
    assert dm.method_sharing("stl", "mnist_lenet") == ["task"] * 4
    assert dm.method_sharing("ud-mtl", "mnist_lenet") == [
        "shared"] * 3 + ["task"]
    assert dm.method_sharing("ud-mtl", "omniglot_cnn", 2) == [
        "shared", "shared", "task", "task", "task"]
    assert dm.method_sharing("dmtrl-tt", "omniglot_cnn") == ["tt"] * 4 + [
        "task"]
    with pytest.raises(ValueError, match="ud_shared_layers=4"):
        dm.method_sharing("ud-mtl", "mnist_lenet", 4)
    with pytest.raises(ValueError, match="method='nope'"):
        dm.method_sharing("nope", "mnist_lenet")
    shapes = dm.stacked_shapes("mnist_lenet", (28, 28, 1), 10)
    assert shapes == [(5, 5, 1, 32, 10), (4, 4, 32, 64, 10),
                      (1024, 512, 10), (512, 1, 10)]
    stl = dm.build_network("stl", 10, (28, 28, 1), "mnist_lenet")
    per_network = 832 + 32832 + 1024 * 512 + 512 + 513
    assert stl.effective_param_count() == 10 * per_network
    ud = dm.build_network("ud-mtl", 10, (28, 28, 1), "mnist_lenet")
    assert ud.effective_param_count() == per_network - 513 + 10 * 513


def _tiny(method="stl", **kw):
    return dm.build_network(method, 3, SMALL, _small_arch(), **kw)


def test_blocked_layout_runs_each_task_on_its_own_samples():
    net = _tiny("dmtrl-tucker", task_layout="blocked",
                num_classes=[2, 3, 4], loss="softmax_ce")
    shared = dm.DMTRLNetwork(3, SMALL, _small_arch(), sharing=net.sharing,
                             ranks=net.ranks, num_classes=[2, 3, 4],
                             loss="softmax_ce")
    shared.build_weights()
    shared.set_weights(net.get_weights())
    x = RNG.normal(size=(5, 3) + SMALL).astype("float32")
    blocked = np.asarray(net(x))
    assert blocked.shape == (5, 3, 4)
    for t in range(3):
        every = np.asarray(shared(x[:, t]))  # (5, 3, 4): all tasks
        np.testing.assert_allclose(blocked[:, t], every[:, t], rtol=1e-4,
                                   atol=1e-5)
    # classes a task does not have are masked out
    assert np.all(blocked[:, 0, 2:] < -1e8)
    assert np.all(blocked[:, 1, 3:] < -1e8)
    assert np.all(np.abs(blocked[:, 2]) < 1e8)


def test_softmax_loss_vector_matches_numpy_and_padded_params():
    net = _tiny(task_layout="blocked", num_classes=[2, 3, 4],
                loss="softmax_ce", task_reduction="sum")
    x = RNG.normal(size=(4, 3) + SMALL).astype("float32")
    y = np.array([[0, 2, 3], [1, 0, 1], [1, 1, 0], [0, 2, 2]])
    logits = np.asarray(net(x)).astype(np.float64)
    sums, counts = net.task_loss_vector(x, y, net(x))
    want = []
    for t, c in enumerate([2, 3, 4]):
        z = logits[:, t, :c]
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        want.append(-logp[np.arange(4), y[:, t]].sum())
    np.testing.assert_allclose(np.asarray(sums), want, rtol=1e-4)
    np.testing.assert_array_equal(np.asarray(counts), [4, 4, 4])
    # output layer padded to 4 units: the count excludes the 2 + 1 fakes
    fc = 6
    full = sum(int(np.prod(v.shape)) for v in net.trainable_weights)
    assert net.effective_param_count() == full - 3 * (fc + 1)


@pytest.mark.large
def test_hinge_network_trains_and_round_trips(tmp_path):
    net = _tiny("dmtrl-laf", loss="hinge")
    net.compile(keras.optimizers.Adam(1e-2))
    x = RNG.normal(size=(32,) + SMALL).astype("float32")
    y = np.where(RNG.normal(size=(32, 3)) > 0, 1.0, -1.0).astype("float32")
    before = net.evaluate(x, y, verbose=0)
    net.fit(x, y, epochs=15, batch_size=32, verbose=0)
    after = net.evaluate(x, y, verbose=0)
    assert after < before
    net.save(tmp_path / "n.keras")
    back = keras.saving.load_model(tmp_path / "n.keras")
    assert isinstance(back, dm.DMTRLNetwork)
    assert back.sharing == net.sharing and back.ranks == net.ranks
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(net(x)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sharing=["task", "task"]), "sharing must list"),
    (dict(sharing=["task", "task", "shared"]), "cannot be 'shared'"),
    (dict(sharing=["task", "bogus", "task"]), "sharing must list"),
    (dict(ranks=[[1], None, None]), "ranks are for factorised"),
    (dict(num_classes=[2, 3]), "num_classes"),
    (dict(num_classes=3), "loss='hinge' scores one output"),
    (dict(loss="softmax_ce"), "num_classes >= 2"),
    (dict(task_layout="stacked"), "task_layout='stacked'"),
    (dict(task_reduction="max"), "task_reduction='max'"),
    (dict(architecture="vgg"), "architecture='vgg'"),
    (dict(input_shape=(12, 12)), "input_shape"),
    (dict(input_shape=(3, 3, 1)), "too small"),
])
def test_network_rejects_bad_arguments(kwargs, match):
    args = dict(num_tasks=3, input_shape=SMALL, architecture=_small_arch())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dm.DMTRLNetwork(**args)


def test_sharing_strengths_of_stl_and_ud():
    stl = _tiny("stl")
    assert stl.sharing_strengths("l1") == {"conv1": 0.0, "fc1": 0.0,
                                           "fc2": 0.0}
    ud = _tiny("ud-mtl")
    rho = ud.sharing_strengths("l1")
    assert rho["conv1"] == rho["fc1"] == 1.0 and rho["fc2"] == 0.0
    sim = ud.task_similarity("conv1")
    np.testing.assert_array_equal(sim, np.ones((3, 3)))
    with pytest.raises(ValueError, match="layer='conv9'"):
        ud.task_similarity("conv9")


def test_kernel_sharing_of_stl_ud_and_a_factorised_copy():
    """Kernel-based sharing: 1 for tied STL kernels and hard-shared layers,
    and the same for a DMTRL network decomposed exactly from the STL one
    (same weights, another parametrisation)."""
    stl = _tiny("stl")
    free = stl.kernel_sharing("cosine")
    assert all(abs(v) < 0.5 for v in free.values())
    ud = _tiny("ud-mtl")
    assert ud.kernel_sharing()["conv1"] == 1.0
    for method in ("dmtrl-tucker", "dmtrl-tt"):
        d = dm.dmtrl_from_stl(stl, method, eps=1e-6)
        for measure in ("cosine", "spectrum"):
            got, want = d.kernel_sharing(measure), stl.kernel_sharing(measure)
            for name in want:
                assert got[name] == pytest.approx(want[name], abs=1e-4)
    dc.tie_initial_kernels(stl)
    tied = stl.kernel_sharing("spectrum")
    assert tied["conv1"] == pytest.approx(1.0) and tied["fc1"] == \
        pytest.approx(1.0)
    assert set(dc.describe(stl)) >= {"kernel_cosine", "kernel_spectrum"}


@pytest.mark.parametrize("method", ["dmtrl-laf", "dmtrl-tucker",
                                    "dmtrl-tt"])
def test_dmtrl_from_stl_reproduces_the_stl_networks(method):
    stl = _tiny("stl")
    x = RNG.normal(size=(6,) + SMALL).astype("float32")
    d = dm.dmtrl_from_stl(stl, method, eps=1e-6)
    assert d.sharing == dm.method_sharing(method, _small_arch())
    np.testing.assert_allclose(np.asarray(d(x)), np.asarray(stl(x)),
                               rtol=1e-3, atol=1e-4)
    coarse = dm.dmtrl_from_stl(stl, method, eps=0.5)
    assert coarse.effective_param_count() < d.effective_param_count()


def test_dmtrl_from_stl_compresses_correlated_tasks():
    stl = _tiny("stl")
    dc.tie_initial_kernels(stl)  # identical tasks: the task rank is 1
    d = dm.dmtrl_from_stl(stl, "dmtrl-laf")
    assert d.ranks[:3] == [[1], [1], [1]]
    np.testing.assert_allclose(list(d.sharing_strengths("l1").values()),
                               1.0, atol=1e-6)


@pytest.mark.parametrize("method", ["dmtrl-laf", "dmtrl-tucker",
                                    "dmtrl-tt"])
def test_dmtrl_from_stl_interpolative_rank_rule(method):
    """rank_rule='interpolative' gives each layer the ranks of the tensor
    module's interpolative rule on the stacked STL kernels."""
    stl = _tiny("stl")
    d = dm.dmtrl_from_stl(stl, method, eps=0.1, rank_rule="interpolative")
    mode = method.split("-")[1]
    for layer, found, m in zip(stl.param_layers, d.ranks, d.sharing):
        if m != mode:
            continue
        stacked = np.asarray(layer.recompose(), dtype=np.float64)
        want = dec.initial_factors(mode, stacked, eps=0.1,
                                   rank_rule="interpolative")[0]
        assert found == [int(v) for v in np.atleast_1d(want)]
    with pytest.raises(ValueError, match="rank_rule='qr'"):
        dm.dmtrl_from_stl(stl, method, rank_rule="qr")


def test_dmtrl_from_stl_rejects_bad_input():
    ud = _tiny("ud-mtl")
    with pytest.raises(ValueError, match="every layer 'task'"):
        dm.dmtrl_from_stl(ud, "dmtrl-tt")
    with pytest.raises(ValueError, match="method='stl'"):
        dm.dmtrl_from_stl(_tiny("stl"), "stl")
    with pytest.raises(ValueError, match="init_unshared='x'"):
        dm.dmtrl_from_stl(_tiny("stl"), "dmtrl-tt", init_unshared="x")


def test_tt_ranks_from_truncating_tt_svd_are_accepted():
    assert dec.validate_tt_rank((5, 5, 1, 32, 10), (5, 22, 21, 1)) == (
        5, 22, 21, 1)


# -- training helpers and experiment blocks ------------------------------------


def test_train_settings_validate():
    with pytest.raises(ValueError, match="epochs"):
        dc.TrainSettings(epochs=0)
    with pytest.raises(ValueError, match="stl_init='same'"):
        dc.TrainSettings(stl_init="same")
    with pytest.raises(ValueError, match="eps=1.5"):
        dc.TrainSettings(eps=1.5)


def test_kfold_and_ud_choice():
    folds = dc.kfold_indices(10, 5, np.random.default_rng(0))
    assert len(folds) == 5
    assert sorted(np.concatenate([va for _, va in folds])) == list(range(10))
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == 10
    ((tr, va),) = dc.kfold_indices(10, 1, np.random.default_rng(0))
    assert len(va) == 2
    best, scores = dc.choose_ud_layers((1, 2, 3), {1: 5.0, 2: 3.0,
                                                   3: 3.0}.get)
    assert best == 2 and scores == {1: 5.0, 2: 3.0, 3: 3.0}



def test_ud_cross_validation_records_folds_and_resumes(tmp_path):
    """A CV stopped part-way resumes at the first fold not recorded, and the
    folds it has left see the same seeds as in an uninterrupted CV."""
    from amtfl_tf.results import RunDir
    folds = dc.kfold_indices(10, 3, np.random.default_rng(0))
    calls = []

    def fold_error(n, tr, va, stop_after=None):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append((n, len(tr)))
        # depends on the global seed, as a network's initialisation does
        return float(n) + float(np.random.uniform())

    whole = dc.ud_cross_validation((1, 2), folds, fold_error, log=lambda m: 0,
                                   run_dir=RunDir(str(tmp_path / "a")),
                                   seed=3)
    assert len(calls) == 6
    calls.clear()
    run = RunDir(str(tmp_path / "b"))
    with pytest.raises(KeyboardInterrupt):
        dc.ud_cross_validation(
            (1, 2), folds, lambda n, tr, va: fold_error(n, tr, va, 4),
            log=lambda m: 0, run_dir=run, seed=3)
    assert sorted(run.completed()) == [
        "ud_cv_N1_fold1", "ud_cv_N1_fold2", "ud_cv_N1_fold3",
        "ud_cv_N2_fold1"]
    calls.clear()
    resumed = dc.ud_cross_validation((1, 2), folds, fold_error,
                                     log=lambda m: 0, run_dir=run, seed=3)
    assert len(calls) == 2  # N = 2, folds 2 and 3
    assert resumed == whole

def test_task_blocked_batches_and_blocked_prediction():
    n = 20
    images = RNG.normal(size=(n,) + SMALL).astype("float32")
    task = np.repeat([0, 1, 2], [4, 7, 9])
    labels = np.arange(n) % 2
    b = dc.TaskBlockedBatches(images, labels, task, 3, per_task=2, seed=1)
    assert len(b) == 5  # ceil(9 / 2)
    x, y = b[0]
    assert x.shape == (2, 3) + SMALL and y.shape == (2, 3)
    for t in range(3):
        for i in range(2):
            row = [r for r in np.flatnonzero(task == t)
                   if np.array_equal(images[r], x[i, t])]
            assert row and labels[row[0]] == y[i, t]
    x2, _ = b[0]
    np.testing.assert_array_equal(x, x2)  # a function of (seed, epoch, step)
    net = _tiny("stl", task_layout="blocked", num_classes=2,
                loss="softmax_ce")
    out = dc.predict_blocked(net, images, task, rows=3)
    shared = dm.DMTRLNetwork(3, SMALL, _small_arch(), num_classes=2,
                             loss="softmax_ce")
    shared.build_weights()
    shared.set_weights(net.get_weights())
    every = np.asarray(shared(images))
    np.testing.assert_allclose(out, every[np.arange(n), task], rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="tasks \\[2\\]"):
        dc.TaskBlockedBatches(images, labels, np.minimum(task, 1), 3)


def test_task_blocked_batches_rows_equal_a_copied_subset():
    """``rows`` draws the same batches as the copied subset did, without
    copying the images (a copy per fit leaked under Keras 3.15)."""
    n = 30
    images = RNG.normal(size=(n,) + SMALL).astype("float32")
    task = np.tile([0, 1, 2], 10)
    labels = np.arange(n) % 4
    rows = np.array([0, 1, 2, 4, 5, 9, 13, 17, 20, 28, 29])
    copied = dc.TaskBlockedBatches(images[rows], labels[rows], task[rows],
                                   3, per_task=2, seed=3)
    shared = dc.TaskBlockedBatches(images, labels, task, 3, per_task=2,
                                   seed=3, rows=rows)
    assert shared.images is images and len(shared) == len(copied)
    for step in range(len(copied)):
        for a, b in zip(copied[step], shared[step]):
            np.testing.assert_array_equal(a, b)
    copied.on_epoch_end()
    shared.on_epoch_end()
    for a, b in zip(copied[0], shared[0]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="tasks \\[1\\]"):
        dc.TaskBlockedBatches(images, labels, task, 3, rows=[0, 2, 3])


def test_mnist_blocks():
    a = dmn.training_subset(60000, 0.01, 0, "frac0.01_rep1")
    b = dmn.training_subset(60000, 0.01, 0, "frac0.01_rep1")
    c = dmn.training_subset(60000, 0.01, 0, "frac0.01_rep2")
    assert len(a) == 600 and np.array_equal(a, b) and not np.array_equal(
        a, c)
    labels = np.array([0, 1, 2, 1])
    outputs = -np.ones((4, 10))
    outputs[[0, 1, 2, 3], [0, 1, 2, 2]] = 1.0
    e = dmn.errors(outputs, labels)
    # the last sample: task 1 says no (wrong), task 2 says yes (wrong)
    assert e["binary_error"] == pytest.approx(100 * 2 / 40)
    assert e["multiclass_error"] == pytest.approx(25.0)
    # balanced: task 1 misses one of its 2 positives (50%), task 2 has one
    # false positive among its 3 negatives (33.3%); the others are exact
    assert e["balanced_error_per_task"][1] == pytest.approx(25.0)
    assert e["balanced_error_per_task"][2] == pytest.approx(50 / 3)
    assert e["balanced_error"] == pytest.approx((25.0 + 50 / 3) / 10)
    # always "no": 10% binary error on balanced classes, 50% balanced
    digits = np.repeat(np.arange(10), 3)
    never = dmn.errors(-np.ones((30, 10)), digits)
    assert never["binary_error"] == pytest.approx(10.0)
    assert never["balanced_error"] == pytest.approx(50.0)
    s = dmn.settings_for("quick", epochs=3, fractions=(0.01,))
    assert s.train.epochs == 3 and s.fractions == (0.01,)
    with pytest.raises(ValueError, match="profile must be"):
        dmn.settings_for("huge")
    with pytest.raises(ValueError, match="fractions"):
        dmn.settings_for("quick", fractions=(0.0,))
    assert dma.ud_large_width(1644e3) > 512


def test_omniglot_split_keeps_every_character():
    class D:
        character = np.repeat(np.arange(4), 20)
    train, test = dmot.split_drawings(D, 0.05, 0, "k")
    assert len(train) == 4 and len(test) == 76
    assert set(D.character[train]) == set(range(4))
    train, test = dmot.split_drawings(D, 0.9, 0, "k")
    assert len(train) == 72 and not set(train) & set(test)
    with pytest.raises(ValueError, match="image_size"):
        dmo.settings_for("quick", image_size=10)


def test_features_below_a_layer():
    ud = _tiny("ud-mtl")  # conv1 and fc1 shared
    x = RNG.normal(size=(4,) + SMALL).astype("float32")
    f = np.asarray(ud.features(x, "fc2"))
    assert f.shape == (4, 6)
    out = ud.param_layers[-1]
    np.testing.assert_allclose(np.asarray(out(f))[..., 0], np.asarray(ud(x)),
                               rtol=1e-5, atol=1e-6)
    stl = _tiny("stl")
    assert np.asarray(stl.features(x, "fc1")).shape == (4, 3, 5 * 5 * 4)
    with pytest.raises(ValueError, match="layer='fc9'"):
        stl.features(x, "fc9")


def test_levi_hassner_sizes_follow_caffe_rounding():
    shapes = dm.stacked_shapes("levi_hassner", (227, 227, 3), 2, 8)
    assert shapes[3] == (7 * 7 * 384, 512, 2)


def test_hosvd_gram_path_for_wide_unfoldings():
    w = RNG.normal(size=(3, 40, 2))   # mode-0 unfolding is 3 x 80 (wide)
    core, factors = dec.hosvd(w, eps=0.0)
    np.testing.assert_allclose(dec.tucker_to_tensor(core, factors), w,
                               atol=1e-10)
    u = dec.truncated_svd(dec.unfold(w, 0), rank=2)[0]
    _, (u0, _, _) = dec.hosvd(w, ranks=(2, 6, 2))
    np.testing.assert_allclose(np.abs(u0.T @ u), np.eye(2), atol=1e-8)


def test_omniglot_character_folds():
    class D:
        character = np.repeat(np.arange(3), 20)
    rows = np.arange(60)
    folds = dmot.character_folds(D, rows, 5, 0)
    val = np.concatenate([va for _, va in folds])
    assert sorted(val) == list(range(60))
    for tr, va in folds:
        assert not set(tr) & set(va)
        assert np.bincount(D.character[va]).tolist() == [4, 4, 4]
    ((tr, va),) = dmot.character_folds(D, rows, 1, 0)
    assert np.bincount(D.character[va]).tolist() == [4, 4, 4]



def test_holdout_stopping_keeps_the_best_epoch_on_the_same_samples(
        monkeypatch):
    """stopping='holdout': every method of train_methods stops on the same
    held-out data, keeps its best epoch and records it; without held-out
    data it refuses clearly."""
    s = dc.TrainSettings(epochs=6, batch_size=16, lr=0.05, patience=1,
                         stopping="holdout", stl_init="independent")
    x = RNG.random((48,) + SMALL).astype("float32")
    y = np.where(RNG.random((48, 3)) > 0.5, 1.0, -1.0).astype("float32")
    validation = (x[:16], -y[:16])  # labels the training data contradicts
    calls = []
    train = dc.train

    def recording_train(*args, **kwargs):
        calls.append(kwargs.get("validation"))
        return train(*args, **kwargs)

    monkeypatch.setattr(dc, "train", recording_train)

    def new(method, n):
        net = dm.build_network(method, 3, SMALL, _small_arch(),
                               ud_shared_layers=n)
        net.compile(dc.make_optimizer(s))
        return net

    seen = []
    for method, m, secs in dc.train_methods(
            new, lambda finetune: (x[16:], y[16:]), s, lambda: 1,
            validation):
        rec = dc.stopping_record(m)
        seen.append(method)
        losses = m.history.history[dc.STOP_MONITOR]
        # the watched value is the held-out loss, which training moves (a
        # constant, e.g. a term the network does not have, would stop every
        # fit after patience + 1 epochs at epoch 1's weights)
        assert len(set(np.round(losses, 6))) == len(losses) > 1
        assert 1 <= rec["best_epoch"] <= rec["epochs_run"] <= 6
        # patience 1: at most one epoch after the best one
        assert rec["epochs_run"] <= rec["best_epoch"] + 1
        best = m.evaluate(x[:16], -y[:16], verbose=0, return_dict=True)
        assert best["loss"] == pytest.approx(rec["best_holdout_loss"],
                                             rel=1e-4)
    assert seen == list(dm.METHODS)
    # every fit got the same held-out samples
    assert len(calls) == len(seen) and all(c is validation for c in calls)
    assert dc.stopping_record(new("stl", None)) == {}
    with pytest.raises(ValueError, match="needs held-out data"):
        next(dc.train_methods(new, lambda f: (x, y), s, lambda: 1))
    fixed = dc.TrainSettings().to_dict()
    assert "stopping" not in fixed and "patience" not in fixed
    assert s.to_dict()["stopping"] == "holdout"


def test_holdout_images_and_drawings_are_disjoint_from_train_and_test():
    idx = dmn.training_subset(60000, 0.01, 0, "frac0.01_rep1")
    fit, held = dmn.holdout_images(60000, idx, 0, "frac0.01_rep1")
    assert np.array_equal(fit, idx) and len(held) == 120
    assert not np.intersect1d(held, idx).size
    everything = np.arange(60000)
    fit, held = dmn.holdout_images(60000, everything, 0, "frac1_rep1")
    assert len(held) == 12000 and len(fit) == 48000
    assert not np.intersect1d(fit, held).size
    data = dmot.OmniglotTasks(
        images=np.zeros((60, 4, 4, 1), "float32"),
        label=np.tile(np.repeat(np.arange(3), 20), 1) % 3,
        task=np.zeros(60, int), character=np.repeat(np.arange(3), 20),
        num_classes=[3], names=("a",), raw=None)
    train, test = dmot.split_drawings(data, 0.9, 0, "k")
    held, test2 = dmot.holdout_drawings(data, test, 0, "k")
    assert len(held) == 3 and len(test2) == 3  # 2 test drawings per char
    assert not np.intersect1d(held, test2).size
    assert not np.intersect1d(held, train).size
    train, test = dmot.split_drawings(data, 0.05, 0, "k")
    held, test2 = dmot.holdout_drawings(data, test, 0, "k")
    assert len(held) == 27 and len(test2) == 30


@pytest.mark.parametrize("method, n", [("stl", None), ("ud-mtl", 1),
                                       ("dmtrl-tucker", None),
                                       ("dmtrl-tt", None)])
def test_task_folded_convolutions_equal_the_transposed_path(
        method, n, monkeypatch):
    """DMTRLNetwork keeps the activations task-folded through its task
    convolutions and pools (a third of an Omniglot step was transposes):
    outputs, features and gradients equal the per-layer path bit for bit,
    and the folded path is the one taken."""
    import tensorflow as tf

    from amtfl_tf.layers.factorised import FactorisedConv2D
    from amtfl_tf.layers.grouped_conv import grouped_conv_supported
    if not grouped_conv_supported("float32"):
        pytest.skip("grouped convolutions do not differentiate here "
                    "(TF_ENABLE_ONEDNN_OPTS=0): nothing is folded")
    keras.utils.set_random_seed(3)
    net = dm.build_network(method, 3, (28, 28, 1), "omniglot_cnn",
                           task_layout="blocked", num_classes=[4, 6, 5],
                           loss="softmax_ce", ud_shared_layers=n)
    x = RNG.random((2, 3, 28, 28, 1)).astype("float32")
    net(x[:1])
    used = []
    call_folded = FactorisedConv2D.call_folded

    def spy(self, h):
        used.append(self.name)
        return call_folded(self, h)

    def outputs():
        with tf.GradientTape() as tape:
            out = net(x, training=True)
            loss = tf.reduce_sum(tf.where(out > -1e8, out, 0.0) ** 2)
        grads = tape.gradient(loss, net.trainable_variables)
        # features entering a convolution reached while folded too
        return ([out.numpy(), net.features(x, "fc1").numpy(),
                 net.features(x, "conv3").numpy()]
                + [g.numpy() for g in grads])

    monkeypatch.setattr(FactorisedConv2D, "call_folded", spy)
    folded = outputs()
    expected = ["conv2", "conv3"] if method == "ud-mtl" else [
        "conv1", "conv2", "conv3"]
    assert used[:len(expected)] == expected
    monkeypatch.setattr(FactorisedConv2D, "can_fold", lambda self: False)
    transposed = outputs()
    for a, b in zip(folded, transposed):
        np.testing.assert_array_equal(a, b)


@pytest.mark.data
def test_fig4_ud_cv_fits_stop_on_drawings_they_are_not_scored_on(
        data_dir, monkeypatch):
    """With the stopping rule, every CV fit of UD-MTL's N stops on held-out
    drawings of its validation fold and is scored on the others: no
    drawing is trained on, stopped on and scored twice over."""
    from amtfl_tf.experiments.config import CommonConfig
    s = dmo.settings_for("smoke", stopping="holdout", ud_folds=3)
    cfg = CommonConfig(experiment="dmtrl_fig4_omniglot", profile="smoke",
                       data_dir=data_dir, workdir="/nonexistent", seed=0,
                       overwrite=False, jit_compile="auto", download=False)
    data = dmo.load_tasks(cfg, s)
    fits = []
    def train(m, batches, t, validation=None):
        fits.append((np.concatenate(batches.groups), validation))
        return 0.0
    monkeypatch.setattr(dc, "train", train)

    def scored(model, d, rows):
        fits[-1] += (rows,)
        return np.zeros(model.num_tasks)
    monkeypatch.setattr(dmo, "task_errors", scored)
    dmo.choose_ud_layers(data, s, lambda m: None)
    assert len(fits) == 3 * len(s.train.ud_options)
    for tr, validation, va in fits:
        held = np.concatenate(validation.groups)
        assert len(held) and len(va)
        assert not (set(tr) & set(held) or set(tr) & set(va)
                    or set(held) & set(va))
        # every character of the fold keeps drawings to score
        assert set(data.character[held]) <= set(data.character[va])
    # one 80/20 split of a 20% draw leaves a character one validation
    # drawing: nothing to stop on, said before anything trains
    fits.clear()
    thin = dmo.settings_for("smoke", stopping="holdout", ud_folds=1,
                            ud_cv_fraction=0.2)
    with pytest.raises(ValueError, match=r"ud_cv_fraction=0\.2, ud_folds=1"):
        dmo.choose_ud_layers(data, thin, lambda m: None)
    assert not fits


@pytest.mark.data
def test_fig2_ud_chosen_once_stops_on_images_outside_its_folds(
        data_dir, monkeypatch, tmp_path):
    """``ud_select="once"`` (the paper chose N once): the CV runs on one
    subset of ``ud_cv_fraction``, every fold's fit stops on held-out images
    outside that subset, each fold's error is recorded and a rerun resumes
    without training; the choice does not touch the appendix records'
    fingerprint."""
    from amtfl_tf.experiments.config import CommonConfig
    from amtfl_tf.results import RunDir
    s = dmn.settings_for("smoke", stopping="holdout", ud_folds=2,
                         ud_options=(2, 3), ud_select="once",
                         ud_cv_fraction=0.005)
    assert s.appendix_fingerprint() == dmn.settings_for(
        "smoke", stopping="holdout", ud_folds=2,
        ud_options=(2, 3)).appendix_fingerprint()
    # the first protocol (per-subset CV, smoke's) keeps its old fingerprint
    assert "ud_select" not in dmn.settings_for("smoke").to_dict()
    assert dmn.settings_for("quick").ud_select == "once"
    assert dmn.settings_for("faithful").ud_select == "once"
    with pytest.raises(ValueError, match="ud_select must be one of"):
        dmn.settings_for("smoke", ud_select="each")
    cfg = CommonConfig(experiment="dmtrl_fig2_mnist", profile="smoke",
                       data_dir=data_dir, workdir=str(tmp_path), seed=0,
                       overwrite=False, jit_compile="auto", download=False)
    data = dmn.load_tasks(cfg, s)
    subset = dmn.training_subset(60000, 0.005, 0, "ud_cv")
    fits = []

    def train(m, xy, t, validation=None):
        fits.append((xy[0], validation[0]))
        return 0.0
    monkeypatch.setattr(dc, "train", train)
    monkeypatch.setattr(dmn, "predict", lambda m, x: np.zeros((len(x), 10)))
    run = RunDir(str(tmp_path), fingerprint={"k": 1})
    out = dmn.choose_ud_layers(data, s, lambda m: None, run_dir=run)
    assert out["n_cv"] == len(subset) and len(fits) == 4
    assert out["ud_shared_layers"] in (2, 3) and set(out["cv_error"]) == {
        "2", "3"}
    cv_images = {x.tobytes() for x in data.x_train[subset]}
    for x, held in fits:
        assert len(x) and len(held)
        assert {i.tobytes() for i in x} <= cv_images
        assert not {i.tobytes() for i in held} & cv_images
    assert sorted(run.completed()) == [
        "ud_cv_N2_fold1", "ud_cv_N2_fold2", "ud_cv_N3_fold1",
        "ud_cv_N3_fold2"]
    monkeypatch.setattr(dc, "train", lambda *a, **k: pytest.fail("trained"))
    assert dmn.choose_ud_layers(data, s, lambda m: None,
                                run_dir=run) == out


@pytest.mark.data
@pytest.mark.parametrize("stopping", [
    pytest.param("fixed", marks=pytest.mark.slow), "holdout"])
def test_a_stopped_record_resumes_at_its_first_unfinished_method(
        data_dir, tmp_path, monkeypatch, stopping):
    """MNIST record with MethodCheckpoints: stopped after DMTRL-LAF, then
    resumed, it gives the record an uninterrupted run gives (every fit
    seeded from (seed, key, method); STL's weights reloaded for the
    DMTRL decompositions) and trains only the methods it had left. A
    clone (no weights, which git ignores) trains STL again (with a
    stopping rule, only to the recorded best epoch) and goes on when the
    weights have the recorded SHA-256; when they have not, it fits STL
    with the stopping rule and makes STL's part and the variants' again,
    keeping UD-MTL's."""
    from amtfl_tf.experiments.config import CommonConfig
    from amtfl_tf.results import RunDir
    holdout = stopping == "holdout"
    s = dmn.settings_for("smoke", stl_init="independent", stopping=stopping,
                         **({"epochs": 3, "patience": 1} if holdout else {}))
    cfg = CommonConfig(experiment="dmtrl_fig2_mnist", profile="smoke",
                       data_dir=data_dir, workdir=str(tmp_path), seed=0,
                       overwrite=False, jit_compile="auto", download=False)
    data = dmn.load_tasks(cfg, s)
    key = "frac0.002_rep1"
    idx, held = dmn.stopping_split(
        data, dmn.training_subset(60000, 0.002, 0, key), s, key)
    logs, trained, fits = [], [], []

    def record(folder):
        run = RunDir(str(folder), fingerprint={"k": 1})
        return dmn.fit_deep(data, idx, s, 0, lambda m: None, ud_layers=3,
                            validation=held,
                            checkpoints=dc.MethodCheckpoints(
                                run, key, 0, logs.append))

    whole = record(tmp_path / "a")
    real, train = dc.dmtrl_network, dc.train

    def counted(method, stl, t):
        if method == "dmtrl-tucker" and stopping:
            raise KeyboardInterrupt
        trained.append(method)
        return real(method, stl, t)
    monkeypatch.setattr(dc, "dmtrl_network", counted)
    monkeypatch.setattr(dc, "train", lambda m, *a, **k: fits.append(
        (k.get("epochs"), k.get("validation") is None)) or train(m, *a, **k))
    stopping = True
    with pytest.raises(KeyboardInterrupt):
        record(tmp_path / "b")
    stopping = False
    partial = tmp_path / "b" / "splits" / "_partial" / key
    assert {p.name for p in partial.iterdir()} == {
        "_fingerprint.json", "stl.json", "ud-mtl.json", "dmtrl-laf.json",
        "stl.weights.h5", "stl.weights.sha256.json"}
    # the digest names the CPU that made it (a clone's may differ)
    assert "cpu_model" in json.loads(
        (partial / "stl.weights.sha256.json").read_text())["machine"]
    # what a clone holds, with the recorded SHA-256 and with another
    for name, digest in (("clone", None), ("other", "0" * 64)):
        shutil.copytree(tmp_path / "b", tmp_path / name)
        folder = tmp_path / name / "splits" / "_partial" / key
        (folder / "stl.weights.h5").unlink()
        if digest is not None:
            (folder / "stl.weights.sha256.json").write_text(
                json.dumps({"sha256": digest}))

    def resumed_as_whole(folder, methods, n_fits):
        trained.clear(), fits.clear()
        resumed = record(tmp_path / folder)
        assert trained == methods and len(fits) == n_fits
        assert list(resumed) == list(whole)
        for m in dm.METHODS:
            for metric in ("binary_error", "balanced_error",
                           "multiclass_error"):
                assert resumed[m][metric] == pytest.approx(
                    whole[m][metric], abs=1e-9), (m, metric)

    logs.clear()
    resumed_as_whole("b", list(dm.METHODS[3:]), 2)
    assert not logs
    # with a stopping rule, STL again only to its recorded best epoch,
    # without the held-out checks
    stl_again = (whole["stl"]["best_epoch"] if holdout else None, True)
    resumed_as_whole("clone", list(dm.METHODS[3:]), 3)
    assert fits[0] == stl_again
    assert len(logs) == 1 and "same weights as recorded" in logs[0]
    resumed_as_whole("other", list(dm.METHODS[2:]), 5 if holdout else 4)
    assert fits[0] == stl_again
    if holdout:  # then the stopping rule's own fit
        assert fits[1] == (None, False)
    assert logs[1].startswith("WARNING: STL trained again from its seed "
                              "differs") and logs[2].endswith(": DMTRL-LAF")
    assert "recorded 000000000000 on CPU 'not recorded'" in logs[1]
    # another seed (or run fingerprint) discards the partial record
    run = RunDir(str(tmp_path / "b"), fingerprint={"k": 1})
    assert dc.MethodCheckpoints(run, key, 1).get("stl") is None


def test_record_fingerprints_ignore_how_many_records_a_run_makes():
    """Fractions, repeats and appendix subsets choose a run's keys, not
    what is in a record: a run with fewer of them reports on, and a run
    with more resumes from, the same records."""
    a = dmn.settings_for("faithful")
    b = dmn.settings_for("faithful", repeats=1, fractions=(0.01,),
                         appendix_folds=1)
    for fp in (lambda s: dc.record_fingerprint("x", s.to_dict()),
               lambda s: dc.record_fingerprint("x", s.appendix_fingerprint())):
        assert fp(a) == fp(b) and "repeats" not in fp(a)
    assert dc.record_fingerprint("x", a.to_dict()) != dc.record_fingerprint(
        "x", dmn.settings_for("faithful", epochs=10).to_dict())
    o = dmo.settings_for("faithful")
    assert dc.record_fingerprint("x", o.to_dict()) == dc.record_fingerprint(
        "x", dmo.settings_for("faithful", repeats=1).to_dict())


def test_record_keys_reach_every_fraction_before_a_second_repeat():
    """A faithful run stopped part-way has a record at each fraction it
    reached; the subsets themselves depend on the key alone."""
    assert dc.record_keys((0.01, 0.5, 1.0), 2) == [
        "frac0.01_rep1", "frac0.5_rep1", "frac1_rep1",
        "frac0.01_rep2", "frac0.5_rep2", "frac1_rep2"]
    assert dc.record_keys((0.05,), 1) == ["frac0.05_rep1"]
    first = dmn.training_subset(60000, 0.01, 0, "frac0.01_rep2")
    dmn.training_subset(60000, 0.5, 0, "frac0.5_rep1")
    np.testing.assert_array_equal(
        first, dmn.training_subset(60000, 0.01, 0, "frac0.01_rep2"))


def test_stl_weights_made_on_another_cpu_are_known_before_a_refit(
        tmp_path, monkeypatch):
    """The STL digest names the CPU that made it; a clone on another CPU
    (model, features or oneDNN setting) knows a refit cannot give the same
    bits, and one whose digest names no CPU (older records) tries."""
    from amtfl_tf.results import RunDir
    here = {"cpu_model": "AMD EPYC", "cpu_features": ["avx2", "fma"],
            "tf_enable_onednn_opts": "1"}
    monkeypatch.setattr(dc, "split_machine", lambda: dict(here))
    ck = dc.MethodCheckpoints(RunDir(str(tmp_path)), "frac0.5_rep1", 0)
    digest = (tmp_path / "splits" / "_partial" / "frac0.5_rep1"
              / "stl.weights.sha256.json")
    assert not ck.made_elsewhere()      # nothing recorded
    for machine, elsewhere in (
            (None, False), ({}, False), (here, False),
            ({**here, "cpu_model": "Intel Xeon"}, True),
            ({**here, "cpu_features": ["avx2", "fma", "avx512f"]}, True),
            ({**here, "tf_enable_onednn_opts": None}, True)):
        digest.write_text(json.dumps({"sha256": "0" * 64,
                                      "machine": machine}))
        assert ck.made_elsewhere() == elsewhere, machine
    assert ck.recorded_machine() == "AMD EPYC"
    digest.write_text("{}")
    assert ck.recorded_machine() == "not recorded"
