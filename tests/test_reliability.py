"""Faults and bad input (issue 10): one table of bad arguments across the
public layers, models, objectives, loaders and settings, each expected to
fail with a message naming the argument and the value received; non-finite
losses; determinism."""

import json
import sys

import keras
import numpy as np
import pytest

from amtfl_tf import datasets
from amtfl_tf import layers
from amtfl_tf import models
from amtfl_tf import objectives
from amtfl_tf.callbacks import StopOnNonFinite
from amtfl_tf.experiments.dmtrl import common as dc
from amtfl_tf.experiments import runner
from amtfl_tf.models import dmtrl as dm
from amtfl_tf.results import atomic_write_json
from test_scripts import _run


def _call(layer, shape):
    return lambda: layer(np.zeros(shape, "float32"))


def _fit_task(model, task):
    model.compile("adam")
    return lambda: model.fit({"x": np.ones((len(task), 4), "float32"),
                              "task": np.array(task)},
                             np.ones(len(task), "float32"), verbose=0)


def _fit(model, x, y, **kw):
    model.compile("adam")
    return lambda: model.fit(x, y, verbose=0, **kw)


def _f32(shape, value=0.0, at=None, bad=None):
    arr = np.full(shape, value, "float32")
    if at is not None:
        arr[at] = bad
    return arr


def _corrupt_keras_file():
    import tempfile

    from amtfl_tf import export
    with tempfile.TemporaryDirectory() as folder:
        path = folder + "/model.keras"
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 not a zip archive")
        return export.load_model(path)


def _workdir_through_a_file():
    import tempfile

    from amtfl_tf.results import RunDir
    with tempfile.TemporaryDirectory() as folder:
        path = folder + "/a_file"
        open(path, "w").close()
        return RunDir(path + "/run")


def _damtl_fit(task, y):
    m = models.DAMTLBaseline([3, 4], (8, 8, 1), method="single",
                             conv_blocks=[[4]], fc_units=[5])
    x = _f32((len(y), 8, 8, 1))
    return _fit(m, x if task is None else {"x": x, "task": np.array(task)},
                np.array(y))


NAN_KERNELS = np.ones((4, 3, 2))
NAN_KERNELS[1, 2, 0] = np.nan

# (case, callable, exception, a fragment naming the argument and value)
CASES = [
    # -- layers: wrong ranks, bad sizes, wrong input rank, task mismatch
    ("tucker ranks length", lambda: layers.TuckerDense(4, 3, (2, 2)),
     ValueError, "ranks"),
    ("tucker rank too big",
     _call(layers.TuckerDense(4, 3, (9, 4, 3)), (2, 3, 5)), ValueError,
     "K_1 = 9"),
    ("tt rank too big", _call(layers.TTDense(4, 3, (9, 3)), (2, 3, 5)),
     ValueError, "K_1 = 9"),
    ("laf rank zero", lambda: layers.LAFDense(4, 3, 0), ValueError,
     "ranks=0"),
    ("task layer with ranks", lambda: layers.TaskDense(4, 3, ranks=2),
     ValueError, "ranks=2"),
    ("conv kernel size", lambda: layers.TuckerConv2D(4, 0, 3,
                                                     (1, 1, 1, 1, 1)),
     ValueError, "kernel_size=0"),
    ("conv padding", lambda: layers.TaskConv2D(4, 3, 2, padding="full"),
     ValueError, "padding='full'"),
    ("task axis mismatch", _call(layers.TaskDense(4, 3), (2, 5, 6)),
     ValueError, "num_tasks=3"),
    ("wrong input rank", _call(layers.TaskDense(4, 3), (2, 3, 4, 5)),
     ValueError, "input_shape=(2, 3, 4, 5)"),
    ("conv input smaller than kernel",
     _call(layers.TaskConv2D(4, 5, 2), (1, 2, 3, 3, 1)), ValueError,
     "kernel_size=(5, 5)"),
    ("num_tasks zero", lambda: layers.TaskDense(4, 0), ValueError,
     "num_tasks=0"),
    ("feedback negative gamma",
     lambda: layers.AsymmetricFeedback(4, gamma=-1.0), ValueError,
     "gamma=-1.0"),
    ("feedback batch sizes differ", lambda: layers.AsymmetricFeedback(3)(
        [_f32((4, 8)), _f32((1, 3))]), ValueError,
     "Received: z.shape=(4, 8), task_outputs.shape=(1, 3)"),
    ("from_stacked_kernels on NaN kernels",
     lambda: layers.TuckerDense.from_stacked_kernels(NAN_KERNELS),
     ValueError, "kernels[1, 2, 0]=nan"),
    ("soft mask granularity",
     lambda: layers.SoftMaskConv2D(4, 3, mask_granularity="pixel"),
     ValueError, "mask_granularity='pixel'"),
    ("cross-stitch granularity",
     lambda: layers.CrossStitch(granularity="cell"), ValueError,
     "granularity='cell'"),
    # -- models
    ("model num_tasks", lambda: models.STL(0, 4), ValueError,
     "num_tasks=0"),
    ("model input_dim", lambda: models.STL(2, -1), ValueError,
     "input_dim=-1"),
    ("model loss", lambda: models.STL(2, 4, loss="huber"), ValueError,
     "loss='huber'"),
    ("negative delta", lambda: models.STL(2, 4, delta=-1.0), ValueError,
     "delta=-1.0"),
    ("task_sizes count", lambda: models.STL(
        2, 4, delta=1.0, task_sizes=[3, 4, 5]), ValueError,
     "num_tasks=2"),
    ("negative hyper-parameter", lambda: models.STL(
        2, 4, hyperparameters={"lam": -0.1}), ValueError, "lam=-0.1"),
    ("unknown hyper-parameter", lambda: models.STL(
        2, 4, hyperparameters={"gamma": 0.1}), ValueError, "['gamma']"),
    ("wrong input width", lambda: models.STL(2, 4)(
        np.zeros((3, 5), "float32")), ValueError, "x.shape=(3, 5)"),
    ("task id out of range", _fit_task(models.STL(3, 4), [0, 1, 2, 7]),
     ValueError, "with num_tasks=3. Received: task[3]=7"),
    ("negative task id", _fit_task(models.STL(3, 4), [0, -1]),
     ValueError, "Received: task[1]=-1"),
    # -- data given to fit/evaluate/predict (issue 21): checked once, before
    # training (a NaN in x used to turn every weight into NaN)
    ("NaN in x", _fit(models.STL(2, 3), _f32((8, 3), 1, (5, 1), np.nan),
                      _f32((8, 2))), ValueError, "x[5, 1]=nan"),
    ("Inf in y", _fit(models.STL(2, 3), _f32((8, 3)),
                      _f32((8, 2), 0, (2, 0), np.inf)), ValueError,
     "y[2, 0]=inf"),
    ("NaN in validation data", _fit(
        models.STL(2, 3), _f32((8, 3)), _f32((8, 2)),
        validation_data=(_f32((4, 3), 0, (0, 0), np.nan), _f32((4, 2)))),
     ValueError, "validation_data x[0, 0]=nan"),
    ("NaN in evaluate", lambda: models.STL(2, 3).evaluate(
        _f32((4, 3), 0, (3, 2), np.nan), _f32((4, 2)), verbose=0),
     ValueError, "x[3, 2]=nan"),
    ("float task ids", _fit_task(models.STL(3, 4), [0.0, 1.5, 2.0]),
     ValueError, "task[1]=1.5"),
    ("string x", _fit(models.STL(2, 3), np.array([["a", "b", "c"]] * 4),
                      _f32((4, 2))), ValueError, "x with dtype <U1"),
    ("string x in predict", lambda: models.STL(2, 3).predict(
        np.array([["a", "b", "c"]]), verbose=0), ValueError,
     "x with dtype <U1"),
    ("shared y of the wrong width", _fit(models.STL(3, 4), _f32((4, 4)),
                                         _f32((4, 2))),
     ValueError, "(batch, 3) for shared inputs"),
    ("task-partitioned y of shape (B, T)", _fit(
        models.STL(3, 4), {"x": _f32((4, 4)), "task": np.array([0, 1, 2, 0])},
        _f32((4, 3))), ValueError, "y must have shape (batch,)"),
    ("damtl without task ids", lambda: _damtl_fit(None, [0, 1])(),
     ValueError, "x without task ids"),
    ("damtl label out of its task's range",
     lambda: _damtl_fit([0, 1, 0], [1, 3, 3])(), ValueError,
     "y[2]=3 for task 0 (num_classes[0]=3"),
    ("dmtrl class id out of range", lambda: _fit(dm.DMTRLNetwork(
        2, (28, 28, 1), "mnist_lenet", num_classes=[2, 3],
        loss="softmax_ce"), _f32((2, 28, 28, 1)),
        np.array([[0, 2], [2, 0]]))(),
     ValueError, "y[:, 0][1]=2 ("),
    ("dmtrl sharing length", lambda: dm.DMTRLNetwork(
        3, (28, 28, 1), "mnist_lenet", sharing=["task"]), ValueError,
     "sharing=['task']"),
    ("dmtrl num_classes count", lambda: dm.DMTRLNetwork(
        3, (28, 28, 1), "mnist_lenet", num_classes=[2, 2],
        loss="softmax_ce"), ValueError, "num_classes=[2, 2]"),
    ("dmtrl architecture", lambda: dm.DMTRLNetwork(3, (28, 28, 1), "vgg"),
     ValueError, "architecture='vgg'"),
    ("dmtrl image too small", lambda: dm.DMTRLNetwork(
        3, (8, 8, 1), "mnist_lenet"), ValueError, "input_shape=(8, 8, 1)"),
    ("dmtrl method", lambda: dm.method_sharing("dmtrl-cp", "mnist_lenet"),
     ValueError, "method='dmtrl-cp'"),
    # -- objectives
    ("unknown loss", lambda: objectives.elementwise_loss(
        "huber", np.zeros(2), np.zeros(2)), ValueError, "loss='huber'"),
    ("negative delta (objective)",
     lambda: objectives.imbalance_term(-1.0, [3]), ValueError,
     "delta=-1.0"),
    ("cmmd kernel", lambda: objectives.cmmd(
        np.zeros((2, 3)), np.zeros((2, 3)), np.array([0, 1]), 2,
        kernel="cosine"), ValueError, "kernel='cosine'"),
    ("cmmd label >= num_classes", lambda: objectives.cmmd(
        np.zeros((3, 3)), np.zeros((3, 3)), np.array([0, 5, 1]), 2),
     ValueError, "with num_classes=2. Received: source_labels[1]=5"),
    ("cmmd widths differ", lambda: objectives.cmmd(
        np.zeros((2, 3)), np.zeros((2, 4)), np.array([0, 1]), 2),
     ValueError, "source.shape=(2, 3), target.shape=(2, 4)"),
    ("cmmd label count", lambda: objectives.cmmd(
        np.zeros((3, 3)), np.zeros((3, 3)), np.array([0, 1]), 2),
     ValueError, "source_labels must hold one label per sample (3)"),
    ("corrupt .keras file", _corrupt_keras_file, ValueError,
     "not a zip archive"),
    ("unwritable workdir", _workdir_through_a_file, ValueError,
     "/a_file/run' cannot be written (NotADirectoryError"),
    # -- loaders, settings, results
    ("unknown dataset", lambda: datasets.load("mnsit"), ValueError,
     "name='mnsit'"),
    ("train settings epochs", lambda: dc.TrainSettings(epochs=0),
     ValueError, "epochs=0"),
    ("train settings eps", lambda: dc.TrainSettings(eps=2.0), ValueError,
     "eps=2.0"),
    ("negative seed", lambda: runner.seed_everything(-1), ValueError,
     "seed=-1"),
    ("NaN into results", lambda: atomic_write_json(
        "/tmp/never-written.json", {"x": float("nan")}), ValueError, "x"),
]


@pytest.mark.parametrize("case, fn, exc, fragment", CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(case, fn, exc, fragment):
    with pytest.raises(exc) as info:
        fn()
    assert fragment in str(info.value), str(info.value)


def test_bad_input_table_size():
    # the issue asks for the cases to be counted: keep the table growing
    assert len(CASES) >= 55


def test_numpy_ints_and_integral_floats_are_accepted():
    """Counts read from arrays are numpy ints; whole-number float task ids
    are ids (only fractional ones are refused)."""
    layer = layers.AsymmetricFeedback(np.int64(10), gamma=np.float32(0.5))
    assert layer.num_tasks == 10 and type(layer.num_tasks) is int
    assert float(objectives.cmmd(np.ones((2, 3)), np.ones((2, 3)),
                                 np.array([0, 1]), np.int64(2))) == 0.0
    m = models.STL(3, 4)
    m.compile("adam")
    m.fit({"x": _f32((4, 4), 1.0), "task": np.array([0.0, 1.0, 2.0, 0.0])},
          _f32((4,)), verbose=0)


def test_missing_and_corrupt_data_files(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError, match="mnist"):
        datasets.load("mnist", data_dir=str(tmp_path), download=False)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(b"not mnist")
    with pytest.raises(datasets.ChecksumError,
                       match="train-images-idx3-ubyte.gz"):
        datasets.load("mnist", data_dir=str(tmp_path), download=False)


def test_non_finite_loss_stops_with_the_step_and_the_terms():
    m = models.STL(2, 3, loss="squared")
    m.compile(keras.optimizers.SGD(1.0))
    x = np.full((8, 3), 1e30, dtype="float32")
    y = np.ones((8, 2), dtype="float32")
    with pytest.raises(FloatingPointError,
                       match=r"epoch 1, step \d+ .*loss=.*task_loss_0=.*"
                             r"non-finite: .*lower the lr"):
        m.fit(x, y, epochs=2, batch_size=4, verbose=0,
              callbacks=[StopOnNonFinite("lower the lr")])
    # the experiments' fits carry the callback (a NaN target makes the
    # loss NaN whatever the weights do; fed through a PyDataset, which fit
    # does not check up front as it does numpy arrays)
    net = dm.build_network("stl", 2, (28, 28, 1), "mnist_lenet")
    s = dc.TrainSettings(epochs=1, lr=1e-3, batch_size=4)
    net.compile(dc.make_optimizer(s))

    class NaNTargets(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (np.zeros((4, 28, 28, 1), dtype="float32"),
                    np.full((4, 2), np.nan, dtype="float32"))

    with pytest.raises(FloatingPointError, match="lower --lr"):
        dc.train(net, NaNTargets(), s, epochs=3)


@pytest.mark.large
@pytest.mark.slow  # 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
def test_deterministic_runs_give_identical_results(tmp_path):
    """--deterministic (TF op determinism): two runs, one seed, equal
    numbers in results.json."""
    out = []
    for run in ("a", "b"):
        r = _run([sys.executable, "reproductions/fig4_synthetic_bases.py",
                  "--profile=smoke", "--deterministic", "--seed=3",
                  f"--workdir={tmp_path / run}"])
        assert r.returncode == 0, r.stderr[-2000:]
        res = json.loads((tmp_path / run / "results.json").read_text())
        cfg = json.loads((tmp_path / run / "config.json").read_text())
        assert cfg["config"]["deterministic"] is True
        out.append([(row["method"], row["metric"], row["per_split"])
                    for row in res["rows"]])
    assert out[0] == out[1]


def _event_tags(folder):
    import tensorflow as tf
    tags = set()
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.add(value.tag)
    return tags


def test_tensorboard_logs_losses_terms_and_transfer_images(tmp_path):
    from amtfl_tf.callbacks import MultiTaskTensorBoard
    m = models.AMTFL(3, 4, hidden_units=2)
    m.compile("adam")
    x = np.random.default_rng(0).normal(size=(12, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(12, 3)).astype("float32")
    m.fit(x, y, epochs=2, batch_size=6, verbose=0,
          callbacks=[MultiTaskTensorBoard(str(tmp_path))])
    tags = _event_tags(tmp_path)
    assert {"loss", "task_loss_0", "task_loss_2", "penalty",
            "forward_loss", "transfer_matrix"} <= tags
    with pytest.raises(ValueError, match="image_every=0"):
        MultiTaskTensorBoard(str(tmp_path), image_every=0)


def test_tensorboard_flag_reaches_every_fit(tmp_path):
    from absl import flags

    from amtfl_tf import cli
    fv = flags.FlagValues()
    cli.define_common_flags(fv)
    fv(["prog", f"--workdir={tmp_path}", "--tensorboard"])
    cfg = cli.common_config(fv, "x")
    assert cfg.tensorboard is True
    with cfg.activate():
        net = dm.build_network("dmtrl-tt", 2, (28, 28, 1), "mnist_lenet")
        s = dc.TrainSettings(epochs=1, batch_size=4)
        net.compile(dc.make_optimizer(s))
        xs = np.zeros((4, 28, 28, 1), "float32")
        dc.train(net, (xs, np.ones((4, 2), "float32")), s)
        dc.train(net, (xs, np.ones((4, 2), "float32")), s)
    runs = sorted(p.name for p in (tmp_path / "tensorboard").iterdir())
    assert len(runs) == 2 and runs[1] == runs[0] + "_2"
    tags = _event_tags(tmp_path / "tensorboard")
    assert {"loss", "task_loss_1", "rho_l1/conv1", "rho_l1/fc2"} <= tags


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.large
def test_sigkilled_run_resumes_to_the_uninterrupted_results(tmp_path,
                                                            data_dir):
    """A run killed with SIGKILL after its first record resumes on rerun
    and ends with the same numbers as an uninterrupted run (same seed,
    --deterministic)."""
    import os
    import signal
    import subprocess
    import time

    from conftest import REPO_ROOT

    def cmd(workdir):
        return [sys.executable, "reproductions/dmtrl_fig2_mnist.py",
                "--profile=smoke", "--deterministic", "--seed=5",
                "--fractions=0.002,0.003,0.004", f"--workdir={workdir}",
                f"--data_dir={data_dir}"]

    full = _run(cmd(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen(cmd(tmp_path / "killed"), cwd=REPO_ROOT,
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    splits = tmp_path / "killed" / "splits"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if splits.exists() and len(list(splits.glob("frac*.json"))) >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(splits.glob("frac*.json")))
    assert 1 <= done < 3
    assert not list(splits.glob(".tmp*"))   # atomic records only
    again = _run(cmd(tmp_path / "killed"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("already recorded") == done

    def numbers(folder):
        res = json.loads((folder / "results.json").read_text())
        return [(r["method"], r["metric"], r["per_split"])
                for r in res["rows"]]

    assert numbers(tmp_path / "full") == numbers(tmp_path / "killed")


def test_checkpoints_resume_an_interrupted_fit(tmp_path):
    """--checkpoint: a fit interrupted after epoch 2 resumes at epoch 3
    (model, optimizer and epoch restored), and the checkpoint is deleted
    when the fit ends."""
    from amtfl_tf import callbacks as cb

    class Boom(keras.callbacks.Callback):
        def __init__(self, at=None):
            super().__init__()
            self.at, self.seen = at, []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append(epoch)
            if epoch == self.at:
                raise KeyboardInterrupt("killed")

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")

    def fit(boom):
        m = models.STL(2, 4)
        m.compile(keras.optimizers.Adam(0.01))
        m.fit(x, y, epochs=5, batch_size=8, verbose=0,
              callbacks=cb.training_callbacks("m", "hint") + [boom])
        return m

    from amtfl_tf import runtime
    rt = runtime.Runtime(checkpoint_root=str(tmp_path))
    with runtime.activate(rt):
        rt.begin_split("split1")
        first = Boom(at=2)
        with pytest.raises(KeyboardInterrupt):
            fit(first)
        assert first.seen == [0, 1, 2]
        assert (tmp_path / "split1" / "fit1").exists()
        rt.begin_split("split1")   # the rerun starts the split again
        second = Boom()
        fit(second)
        assert second.seen == [2, 3, 4]
        assert not (tmp_path / "split1" / "fit1").exists()


def test_fit_progress_prints_for_long_fits_only(monkeypatch):
    """A line when at least every_seconds have passed since the last one
    (epoch, loss, elapsed, bound on the time left); none for short fits."""
    from amtfl_tf import callbacks as cb
    clock = iter([0.0, 10.0, 70.0, 80.0, 150.0])
    monkeypatch.setattr(cb.time, "monotonic", lambda: next(clock))
    lines = []
    p = cb.FitProgress("stl", every_seconds=60, print_fn=lines.append)
    p.set_params({"epochs": 4})
    p.on_train_begin()
    for epoch in range(4):
        p.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0})
    assert lines == [
        "[fit stl] epoch 2/4: loss 0.5, val_loss 2 (elapsed 1m10s, at most "
        "1m10s left)",
        "[fit stl] epoch 4/4: loss 0.25, val_loss 2 (elapsed 2m30s, at most "
        "0s left)"]
    with pytest.raises(ValueError, match="every_seconds=0"):
        cb.FitProgress("x", every_seconds=0)
