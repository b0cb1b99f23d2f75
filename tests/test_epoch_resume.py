"""A fit killed mid-way resumes at its last finished epoch with its stopping
rule's state (amtfl_tf.callbacks.EpochState through the DMTRL experiments'
``train(resume=...)``): the resumed fit stops where, and keeps the weights
that, the uninterrupted one does."""

import json
import os

import keras
import numpy as np
import pytest

from amtfl_tf import callbacks as cb
from amtfl_tf.experiments.dmtrl import common as dc

# one step per epoch (8 samples, batch 64), so the shuffle order does not
# change the step; training pulls the output to 1, the held-out loss is
# least near 0.5: it falls, then rises, and the rule stops the fit
X = np.ones((8, 1), "float32")
Y, Y_HELD = np.ones((8, 1), "float32"), np.full((8, 1), 0.5, "float32")
S = dc.TrainSettings(epochs=20, lr=0.05, stopping="holdout", patience=3)


def _model(init):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        1, kernel_initializer=init, bias_initializer=init)])
    model.compile(keras.optimizers.Adam(S.lr), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


class _Kill(keras.callbacks.Callback):
    """Raises at the end of epoch ``at`` (0-based), before the epoch's
    state is kept: the process dies inside epoch ``at``."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


class _Batches(keras.utils.PyDataset):
    """The same data as one batch per epoch (the Omniglot records feed
    their fits a PyDataset)."""

    def __init__(self, y):
        super().__init__()
        self.y = y

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return X, self.y


def _train(model, folder, monkeypatch=None, kill_at=None, batches=False):
    if kill_at is not None:
        real = dc.training_callbacks
        monkeypatch.setattr(dc, "training_callbacks", lambda *a: [
            *real(*a), _Kill(kill_at)])
    data, held = (((_Batches(Y), _Batches(Y_HELD))) if batches
                  else ((X, Y), (X, Y_HELD)))
    try:
        return dc.train(model, data, S, validation=held,
                        resume=None if folder is None else str(folder))
    finally:
        if kill_at is not None:
            monkeypatch.setattr(dc, "training_callbacks", real)


@pytest.mark.parametrize("batches", [False, True],
                         ids=["arrays", "pydataset"])
def test_a_killed_fit_resumes_with_its_stopping_rule(tmp_path, monkeypatch,
                                                     batches):
    whole = _model("zeros")
    _train(whole, None, batches=batches)
    rec = dc.stopping_record(whole)
    best, run = rec["best_epoch"], rec["epochs_run"]
    # the kill falls after the best epoch and before the stop: a stopping
    # rule started afresh at the resume would train on past `run` and
    # keep another epoch's weights
    assert 2 <= best < run - 1 < S.epochs - 1, rec
    kill = best + 1  # dies in epoch kill+1 (1-based), kept `kill` epochs
    folder = tmp_path / "fit"
    with pytest.raises(KeyboardInterrupt):
        _train(_model("zeros"), folder, monkeypatch, kill_at=kill,
               batches=batches)
    state = json.loads((folder / "state.json").read_text())
    assert state["epochs_done"] == kill and not state["stopped"]
    assert sorted(os.listdir(folder)) == sorted(
        ["state.json", f"epoch{kill}.weights.h5", f"best{best}.npz"])

    resumed = _model("ones")  # another start: the kept weights replace it
    seconds = _train(resumed, folder, batches=batches)
    got = dc.stopping_record(resumed)
    assert got.pop("resumed_after_epochs") == [kill]
    assert got == pytest.approx(rec)
    np.testing.assert_allclose(
        np.concatenate([w.ravel() for w in resumed.get_weights()]),
        np.concatenate([w.ravel() for w in whole.get_weights()]), rtol=1e-6)
    assert seconds >= state["seconds"] > 0
    assert len(resumed.history.history["loss"]) == run

    # killed after the fit ended (its part not yet recorded): the kept
    # fit is taken as it is, no epoch trained again
    again = _model("ones")
    _train(again, folder, batches=batches)
    assert dc.stopping_record(again)["epochs_run"] == run
    np.testing.assert_array_equal(again.get_weights()[1],
                                  resumed.get_weights()[1])


def test_a_state_of_another_fit_is_not_resumed(tmp_path, monkeypatch):
    folder = tmp_path / "fit"
    with pytest.raises(KeyboardInterrupt):
        _train(_model("zeros"), folder, monkeypatch, kill_at=2)
    other = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2),
                              keras.layers.Dense(1)])
    other.compile(keras.optimizers.Adam(S.lr), loss="mse")
    logs = []
    state = cb.EpochState(str(folder), {"epochs": 20, "shapes": [[1, 2]]},
                          log=logs.append)
    assert state.restore(other) == 0 and not logs
    assert os.listdir(folder) == []  # the other fit's state is dropped
    fresh = _model("zeros")
    _train(fresh, folder)
    assert "resumed_after_epochs" not in dc.stopping_record(fresh)


def test_fit_progress_counts_the_epochs_of_this_process(monkeypatch):
    clock = iter([0.0, 100.0])
    monkeypatch.setattr(cb.time, "monotonic", lambda: next(clock))
    lines = []
    p = cb.FitProgress("stl", every_seconds=60, print_fn=lines.append)
    p.set_params({"epochs": 10})
    p.on_train_begin()
    p.on_epoch_begin(5)  # resumed after 5 epochs: 100 s is one epoch
    p.on_epoch_end(5, {"loss": 1.0})
    assert lines == ["[fit stl] epoch 6/10: loss 1 (elapsed 1m40s, at most "
                     "6m40s left)"]


def test_a_recorded_part_drops_its_fit_state(tmp_path):
    from amtfl_tf.results import RunDir
    run = RunDir(str(tmp_path), fingerprint={"k": 1})
    ckpt = dc.MethodCheckpoints(run, "frac0.1_rep1", 0, lambda m: None)
    for method in ("ud-mtl", "dmtrl-tt"):
        os.makedirs(ckpt.epochs_folder(method))
    ckpt.put("ud-mtl", {"error": 1.0})
    assert not os.path.exists(ckpt.epochs_folder("ud-mtl"))
    assert os.path.isdir(ckpt.epochs_folder("dmtrl-tt"))
