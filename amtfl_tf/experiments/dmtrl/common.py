"""Training machinery shared by the DMTRL reproductions (MNIST, Omniglot,
Adience): STL pre-training, the DMTRL initialisation from it, UD-MTL's
choice of N by cross-validation, task-blocked batches for task-partitioned
data, evaluation, and the error-vs-fraction curves of the figures.

Every choice the paper leaves open is a field of :class:`TrainSettings`
(the reproduction scripts expose them as flags and record them in
``config.json``):

- optimiser Adam, learning rate, epochs, batch size (not stated; the
  authors' demo used Adam 0.01 full-batch);
- ``stl_init``: ``"shared"`` (default) starts the T single-task networks
  from ONE random draw, so that after training they differ by what each
  task changed; ``"independent"`` draws every task's network separately.
  With independent draws the stacked kernels are full-rank and ε = 10%
  keeps every rank (papers-spec pitfall 4): a DMTRL layer then has more
  parameters than STL, against the paper's ratios of 0.38–0.50, which imply
  correlated STL weights.
- ``rank_rule``: how ε picks each rank, ``"frobenius"`` (default: the
  smallest rank whose Frobenius error is ≤ ε) or ``"interpolative"`` (the
  authors' toolbox: scipy's interpolative SVD at precision ε per
  unfolding; :func:`amtfl_tf.tensor.interpolative_rank`);
- ``stopping`` / ``patience``: ``"fixed"`` trains every fit for
  ``epochs``; ``"holdout"`` (the faithful and paper profiles) stops each
  fit on held-out samples the experiment provides and keeps its best
  epoch (:func:`train`);
- ``init``: ``"stl"`` (paper: decompose the trained STL weights at ε) or
  ``"random"`` (the recommended random initialisation: decompose a random
  draw at full rank);
- ``init_unshared``: the layers DMTRL does not share (Omniglot's output
  layer) and every bias start from the STL networks (``"stl"``) or at
  random (``"random"``, as the authors' demo re-initialised them);
- ``finetune_epochs``: epochs of DMTRL training after the STL
  initialisation (default: the same as STL).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from typing import Any, Sequence

import keras
import numpy as np

from amtfl_tf import distribute
from amtfl_tf.callbacks import EpochState
from amtfl_tf.callbacks import training_callbacks
from amtfl_tf.experiments.runner import seed_everything
from amtfl_tf.models import dmtrl as dm
from amtfl_tf.results import Row
from amtfl_tf.results import atomic_write_json
from amtfl_tf.results import split_machine
from amtfl_tf.tensor import RANK_RULES

OPTIMIZERS = ("adam", "sgd", "momentum")
STL_INITS = ("shared", "independent")
INITS = ("stl", "random")
STOPPINGS = ("fixed", "holdout")
#: what the stopping rule watches: the training objective on the held-out
#: data (the DMTRL networks add no penalty, so this is their data loss)
STOP_MONITOR = "val_loss"


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    eps: float = 0.1
    tt_eps_split: str = "per_unfolding"
    #: how ε picks each rank: "frobenius" (ours) or "interpolative" (the
    #: authors' toolbox: scipy's interpolative SVD per unfolding)
    rank_rule: str = "frobenius"
    init: str = "stl"
    init_unshared: str = "stl"
    stl_init: str = "shared"
    finetune_epochs: int | None = None
    ud_options: tuple[int, ...] | None = None  # None: the paper's options
    ud_folds: int = 5   # k of k-fold CV; 1 = one 80/20 hold-out split
    loss: str = "hinge"
    task_reduction: str = "mean"
    #: "fixed": every fit trains ``epochs``. "holdout": STL, UD-MTL and the
    #: DMTRL fine-tuning each stop once the loss on held-out samples
    #: (the experiment says which) has not improved for ``patience``
    #: epochs, at most ``epochs``, and keep their best epoch's weights
    #: (keras.callbacks.EarlyStopping).
    stopping: str = "fixed"
    patience: int = 5

    def __post_init__(self):
        for name in ("epochs", "batch_size", "ud_folds", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an int >= 1. Received: "
                                 f"{name}={v!r}")
        if self.finetune_epochs is not None and (
                not isinstance(self.finetune_epochs, int)
                or self.finetune_epochs < 0):
            raise ValueError("finetune_epochs must be None or an int >= 0. "
                             f"Received: finetune_epochs="
                             f"{self.finetune_epochs!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0. Received: lr={self.lr!r}")
        if not (isinstance(self.eps, (int, float)) and 0 < self.eps < 1):
            raise ValueError(f"eps must be in (0, 1). Received: "
                             f"eps={self.eps!r}")
        for name, allowed in (("optimizer", OPTIMIZERS),
                              ("stl_init", STL_INITS), ("init", INITS),
                              ("rank_rule", RANK_RULES),
                              ("stopping", STOPPINGS),
                              ("init_unshared", ("stl", "random")),
                              ("task_reduction", dm.TASK_REDUCTIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}. Received: "
                    f"{name}={getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ud_options"] = (None if self.ud_options is None
                           else list(self.ud_options))
        # the defaults leave the records made before these options existed
        # valid (their fingerprints have none of them)
        if self.rank_rule == "frobenius":
            del d["rank_rule"]
        if self.stopping == "fixed":
            del d["stopping"], d["patience"]
        return d


def with_overrides(settings, overrides: dict[str, Any]):
    """A profile's settings dataclass with ``overrides`` applied: the
    fields of :class:`TrainSettings` go to ``settings.train``, the others
    to ``settings`` itself."""
    train_keys = {f.name for f in dataclasses.fields(TrainSettings)}
    train = {k: v for k, v in overrides.items() if k in train_keys}
    rest = {k: v for k, v in overrides.items() if k not in train_keys}
    if train:
        settings = dataclasses.replace(
            settings, train=dataclasses.replace(settings.train, **train))
    return dataclasses.replace(settings, **rest)


def make_optimizer(s: TrainSettings):
    if s.optimizer == "adam":
        return keras.optimizers.Adam(s.lr)
    if s.optimizer == "momentum":
        return keras.optimizers.SGD(s.lr, momentum=0.9)
    return keras.optimizers.SGD(s.lr)


def tie_initial_kernels(model: dm.DMTRLNetwork) -> None:
    """Give every task the kernels of task 0 (``stl_init="shared"``)."""
    for layer, mode in zip(model.param_layers, model.sharing):
        if mode != "task":
            continue
        k = keras.ops.convert_to_numpy(layer._factor_vars["kernel"])
        layer._factor_vars["kernel"].assign(
            np.broadcast_to(k[:1], k.shape).copy())


def new_network(method: str, num_tasks: int, image_shape, architecture: str,
                s: TrainSettings, num_classes=1, task_layout="shared",
                ud_shared_layers: int | None = None) -> dm.DMTRLNetwork:
    """A compiled, randomly initialised network of ``method`` (built in the
    chosen ``tf.distribute`` strategy's scope)."""
    with distribute.scope():
        return _new_network(method, num_tasks, image_shape, architecture, s,
                            num_classes, task_layout, ud_shared_layers)


def _new_network(method, num_tasks, image_shape, architecture, s,
                 num_classes, task_layout, ud_shared_layers):
    model = dm.build_network(
        method, num_tasks, image_shape, architecture,
        ud_shared_layers=ud_shared_layers, num_classes=num_classes,
        task_layout=task_layout, loss=s.loss,
        task_reduction=s.task_reduction)
    if method == "stl" and s.stl_init == "shared":
        tie_initial_kernels(model)
    model.compile(make_optimizer(s))
    model.optimizer.build(model.trainable_variables)
    return model


def train(model, data, s: TrainSettings, epochs: int | None = None,
          verbose: int = 0, validation=None,
          resume: str | None = None) -> float:
    """Fit ``model`` on ``data`` (``(x, y)`` arrays or a
    ``keras.utils.PyDataset``); returns the seconds taken.

    ``validation`` (held-out data of the same kind): stop once the loss on
    it (:data:`STOP_MONITOR`) has not improved for ``s.patience`` epochs
    and keep the best epoch's weights; ``epochs`` is then the most it trains
    (:func:`stopping_record` reads what happened from ``model.history``).

    ``resume``: a folder keeping the fit's state after every epoch
    (:class:`amtfl_tf.callbacks.EpochState`): a fit killed mid-way goes on
    from its last finished epoch, stopping rule included, when ``train``
    is called again with the same folder, epochs and network; the seconds
    returned then include the earlier processes'.
    """
    epochs = s.epochs if epochs is None else epochs
    start = time.monotonic()
    if not epochs:
        return 0.0
    stop = training_callbacks(model.name, f"lower --lr (lr={s.lr})")
    kwargs = {}
    stopper = None
    if validation is not None:
        stopper = keras.callbacks.EarlyStopping(
            monitor=STOP_MONITOR, mode="min", patience=s.patience,
            restore_best_weights=True)
        stop.append(stopper)
        kwargs["validation_data"] = validation
    state = None
    if resume is not None:
        state = EpochState(resume, {
            "epochs": int(epochs), "holdout": validation is not None,
            "patience": s.patience if stopper is not None else None,
            "shapes": [list(w.shape) for w in model.weights]},
            stopper)
        # BackupAndRestore (--checkpoint) would set the first epoch too
        stop = [c for c in stop
                if not isinstance(c, keras.callbacks.BackupAndRestore)]
        stop.append(state)  # after the stopper: it restores its state
        kwargs["initial_epoch"] = state.restore(model)
    if isinstance(data, keras.utils.PyDataset):
        model.fit(data, epochs=epochs, verbose=verbose, callbacks=stop,
                  **kwargs)
    else:
        x, y = data
        model.fit(x, y, epochs=epochs, batch_size=s.batch_size,
                  verbose=verbose, shuffle=True, callbacks=stop, **kwargs)
    if state is None:
        return time.monotonic() - start
    state.merge_history(model.history)
    model.history.resumed_at = state.resumed_at
    return state.seconds_before + time.monotonic() - start


def stopping_record(model) -> dict[str, Any]:
    """Epochs trained and the best held-out epoch (1-based) of the last
    fit with a stopping rule, and ``resumed_after_epochs`` (the epochs
    finished before each resume) when it was stopped and resumed; empty
    for an uninterrupted fit without one."""
    history = getattr(model, "history", None)
    losses = getattr(history, "history", {}).get(STOP_MONITOR)
    out: dict[str, Any] = {}
    if losses:
        out = {"epochs_run": len(losses),
               "best_epoch": int(np.argmin(losses)) + 1,
               "best_holdout_loss": float(np.min(losses))}
    resumed = getattr(history, "resumed_at", None)
    if resumed:  # a fit stopped and resumed (train(resume=...))
        out["resumed_after_epochs"] = list(resumed)
    return out


#: Settings that choose which records a run makes (its keys), not what is
#: in a record: no record fingerprint holds them, so a run with fewer or
#: more fractions, repeats or appendix subsets resumes from, and reports
#: on, the same records.
RUN_COUNTS = ("fractions", "repeats", "appendix_folds")


def record_fingerprint(experiment: str, settings: dict[str, Any]
                       ) -> dict[str, Any]:
    """The fingerprint of a run's records: ``settings`` (a settings
    dataclass' ``to_dict()``) without :data:`RUN_COUNTS`."""
    return {"experiment": experiment,
            **{k: v for k, v in settings.items() if k not in RUN_COUNTS}}


def record_keys(fractions, repeats: int) -> list[str]:
    """The record keys ``frac<f>_rep<r>`` of a run, each fraction's first
    repeat before any fraction's second: a run stopped part-way (a faithful
    run takes several sittings, the largest fractions the longest) then has
    a record at every fraction it reached rather than every repeat of the
    small ones. The order is only the schedule: each record is seeded from
    its key, so it holds the same numbers whatever ran before it.
    """
    return [f"frac{f:g}_rep{r}" for r in range(1, repeats + 1)
            for f in fractions]


def frac_of(key: str) -> float:
    """The training fraction of a record key ``frac<f>_rep<r>``."""
    return float(key[4:].split("_")[0])


class MethodCheckpoints:
    """The finished methods of one record still in progress, so a stopped
    record resumes at its first unfinished method instead of from STL (a
    faithful MNIST record at 100% is hours of fits).

    Each method's part of the record is written as it finishes
    (``<workdir>/splits/_partial/<key>/<method>.json``), and the trained
    STL networks' weights beside them (the DMTRL variants are decomposed
    from them) with their SHA-256 (``stl.weights.sha256.json``). The folder
    is tied to the run's fingerprint (a different one discards it) and
    removed by :meth:`clear` once the record is complete. With checkpoints
    every method's fit is seeded from (seed, key, method) alone, so a
    resumed record trains what it has left as an uninterrupted one would.

    A method's fit in progress also keeps its state after every epoch
    (:meth:`epochs_folder`, removed when its part is recorded), so a killed
    fit goes on from its last finished epoch instead of from its first;
    its part then says after which epochs it was resumed
    (``resumed_after_epochs``).

    The JSON files are small and are committed with a run's records, so a
    record longer than one sitting survives a fresh clone; the weights
    (tens of MB) are git-ignored. Without them a resumed record trains STL
    again from its seed and goes on only if the new weights have the
    recorded SHA-256 (on this CPU an STL fit is bit-reproducible across
    processes, not across CPU families). With a stopping rule that fit runs
    the recorded best epoch's count of epochs without the held-out checks,
    which ends on the weights the rule kept, ``patience`` epochs sooner
    (unless the digest names another CPU: :meth:`made_elsewhere`).
    When the digest differs it logs the mismatch, fits STL again with the
    stopping rule, drops the parts made from the old STL (the DMTRL
    variants; UD-MTL does not depend on STL) and continues from the new one.
    """

    FOLDER = "_partial"
    #: the DMTRL variants, decomposed from the trained STL networks
    FROM_STL = tuple(dm.METHODS[2:])

    def __init__(self, run_dir, key: str, seed: int, log=print):
        self.key, self.seed, self.log = key, int(seed), log
        self.folder = os.path.join(run_dir.workdir, run_dir.SPLITS,
                                   self.FOLDER, key)
        fp_path = os.path.join(self.folder, "_fingerprint.json")
        fingerprint = {"run": run_dir.fingerprint, "seed": self.seed}
        if os.path.isdir(self.folder):
            try:
                with open(fp_path) as f:
                    same = json.load(f) == fingerprint
            except (OSError, ValueError):
                same = False
            if not same:
                shutil.rmtree(self.folder)
        os.makedirs(self.folder, exist_ok=True)
        atomic_write_json(fp_path, fingerprint)

    def _path(self, method: str) -> str:
        return os.path.join(self.folder, f"{method}.json")

    @property
    def stl_weights(self) -> str:
        return os.path.join(self.folder, "stl.weights.h5")

    @property
    def _stl_digest(self) -> str:
        return os.path.join(self.folder, "stl.weights.sha256.json")

    def has(self, method: str) -> bool:
        """Whether ``method``'s part is recorded (STL's with its weights
        or their SHA-256)."""
        return os.path.exists(self._path(method)) and (
            method != "stl" or os.path.exists(self.stl_weights)
            or self.recorded_digest() is not None)

    def _digest_record(self) -> dict[str, Any]:
        """``stl.weights.sha256.json`` (its ``sha256`` and ``machine``),
        or {} when it is missing or unreadable."""
        try:
            with open(self._stl_digest) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def recorded_digest(self) -> str | None:
        """The SHA-256 of the recorded STL weights, or None."""
        digest = self._digest_record().get("sha256")
        return digest if isinstance(digest, str) else None

    def save_stl(self, stl, digest: str | None = None) -> None:
        """Keep the trained STL networks' weights and their SHA-256
        (``digest``, when the caller has it)."""
        stl.save_weights(self.stl_weights)
        atomic_write_json(self._stl_digest,
                          {"sha256": digest or weights_digest(stl),
                           "machine": split_machine()})

    def _recorded_machine(self) -> dict[str, Any]:
        machine = self._digest_record().get("machine")
        return machine if isinstance(machine, dict) else {}

    def recorded_machine(self) -> str:
        """The CPU that made the recorded STL weights, in words."""
        return self._recorded_machine().get("cpu_model") or "not recorded"

    def made_elsewhere(self) -> bool:
        """Whether the recorded STL weights name a CPU (model, features or
        oneDNN setting) other than this one: a fit here will not give their
        bits (False when they name none)."""
        recorded = self._recorded_machine()
        if not recorded.get("cpu_model"):
            return False
        here = split_machine()
        return any(recorded.get(k) != here[k] for k in here)

    def load_stl(self, stl) -> bool:
        """Load the recorded STL weights into ``stl``; False if they are
        not on disk (the folder came from a clone)."""
        if not os.path.exists(self.stl_weights):
            return False
        stl.load_weights(self.stl_weights)
        return True

    def check_retrained_stl(self, stl) -> bool:
        """After STL was trained again from its seed: True (and its weights
        kept) if they are the recorded ones; otherwise False (the caller
        then keeps the new STL with :meth:`replace_stl`)."""
        digest, recorded = weights_digest(stl), self.recorded_digest()
        if digest == recorded:
            self.log(f"STL trained again from its seed: the same weights "
                     f"as recorded (sha256 {digest[:12]}); resuming")
            self.save_stl(stl, digest)
            return True
        self.log(f"WARNING: STL trained again from its seed differs from "
                 f"the recorded one (sha256 {digest[:12]}, recorded "
                 f"{(recorded or 'none')[:12]} on CPU "
                 f"{self.recorded_machine()!r}, this one "
                 f"{split_machine()['cpu_model']!r}; another CPU or library "
                 f"version?): its part is made again")
        return False

    def replace_stl(self, stl) -> None:
        """Keep a newly trained STL, dropping the parts made from any
        earlier one (the DMTRL variants'; STL's own is rewritten by the
        caller)."""
        dropped = [m for m in self.FROM_STL if self.has(m)]
        if dropped:
            self.log("dropping the partial parts made from an earlier STL: "
                     + ", ".join(dm.PAPER_NAMES[m] for m in dropped))
        for method in ("stl", *dropped):
            if os.path.exists(self._path(method)):
                os.remove(self._path(method))
        for method in self.FROM_STL:  # fits begun from the earlier STL
            shutil.rmtree(self.epochs_folder(method), ignore_errors=True)
        self.save_stl(stl)

    def get(self, method: str) -> dict[str, Any] | None:
        """The recorded part of ``method``, or None."""
        if not self.has(method):
            return None
        try:
            with open(self._path(method)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def parts(self, log=print, summary=lambda part: "") -> dict[str, Any]:
        """Every method's recorded part, by method, each logged with
        ``summary(part)``."""
        out = {}
        for method in dm.METHODS:
            part = self.get(method)
            if part is not None:
                out[method] = part
                log(f"{dm.PAPER_NAMES[method]}: from the partial record "
                    f"({summary(part)})")
        return out

    def put(self, method: str, record: dict[str, Any]) -> None:
        """Record ``method``'s part (and drop its fit's epoch state)."""
        atomic_write_json(self._path(method), record)
        shutil.rmtree(self.epochs_folder(method), ignore_errors=True)

    def epochs_folder(self, method: str) -> str:
        """Where ``method``'s fit keeps its state after every epoch
        (:func:`train`'s ``resume``; git-ignored, tens of MB), so a fit
        killed mid-way goes on from its last finished epoch."""
        return os.path.join(self.folder, f"{method}.epochs")

    def seed_for(self, method: str) -> int:
        return int(np.random.SeedSequence(
            [self.seed, *map(ord, self.key),
             dm.METHODS.index(method)]).generate_state(1)[0])

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def train_methods(new_network, data, s: TrainSettings, ud_layers,
                  validation=None,
                  checkpoints: MethodCheckpoints | None = None):
    """Train the paper's methods in order: STL, UD-MTL, then every DMTRL
    variant initialised from the trained STL networks (``dm.METHODS``).
    Yields ``(method, model, seconds)`` after each fit, so the caller
    evaluates and logs a model before the next one trains.

    Args:
      new_network: ``(method, ud_shared_layers) -> network``.
      data: ``finetune -> training data`` for :func:`train` (``finetune``
        is True for the DMTRL fine-tuning).
      s: the training settings.
      ud_layers: ``() -> N`` of UD-MTL, called after STL is yielded (MNIST
        cross-validates N on each subset there).
      validation: the held-out data every fit stops on (same kind as
        ``data``'s); required with ``s.stopping="holdout"``, unused
        otherwise.
      checkpoints: a :class:`MethodCheckpoints`: the methods it holds are
        not trained again (nor yielded: the caller takes their part of the
        record from it and ``put``s each part it makes), every fit is
        seeded from it, and each method's fit keeps its epoch state in it
        (a killed fit resumes at its last finished epoch).
    """
    held_out = None
    if s.stopping == "holdout":
        if validation is None:
            raise ValueError("stopping='holdout' needs held-out data: pass "
                             "validation= to train_methods.")
        held_out = validation

    def done(method):
        return checkpoints is not None and checkpoints.has(method)

    def seeded(method):
        if checkpoints is not None:
            seed_everything(checkpoints.seed_for(method))

    def resume(method):
        return (None if checkpoints is None
                else checkpoints.epochs_folder(method))

    seeded("stl")
    stl = new_network("stl", None)
    fresh = not done("stl")  # a new STL: its part is made (again)
    if fresh:
        secs = train(stl, data(False), s, validation=held_out,
                     resume=resume("stl"))
    elif not checkpoints.load_stl(stl):
        # recorded, its weights not on disk (a clone): train it again.
        # With a stopping rule it kept epoch `best`'s weights: the same fit
        # without the held-out checks ends on them, `patience` epochs
        # sooner (not tried for weights another CPU made: the rule's own
        # fit here is what the record will need)
        best = (checkpoints.get("stl") or {}).get("best_epoch")
        shortened = (held_out is not None and bool(best)
                     and not checkpoints.made_elsewhere())
        secs = (train(stl, data(False), s, epochs=int(best)) if shortened
                else train(stl, data(False), s, validation=held_out))
        fresh = not checkpoints.check_retrained_stl(stl)
        if fresh and shortened:  # the stopping rule's own fit on this CPU
            seeded("stl")
            stl = new_network("stl", None)
            secs = train(stl, data(False), s, validation=held_out)
    if fresh:
        if checkpoints is not None:
            checkpoints.replace_stl(stl)
        yield "stl", stl, secs
    if not done("ud-mtl"):
        n = ud_layers()
        seeded("ud-mtl")
        ud = new_network("ud-mtl", n)
        yield "ud-mtl", ud, train(ud, data(False), s, validation=held_out,
                                  resume=resume("ud-mtl"))
    for method in dm.METHODS[2:]:
        if done(method):
            continue
        seeded(method)
        model = dmtrl_network(method, stl, s)
        yield method, model, train(model, data(True), s,
                                   epochs=s.finetune_epochs,
                                   validation=held_out,
                                   resume=resume(method))


def weights_digest(model) -> str:
    """SHA-256 of a model's weights (their bytes, in order)."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def dmtrl_network(method: str, stl: dm.DMTRLNetwork,
                  s: TrainSettings) -> dm.DMTRLNetwork:
    """A compiled DMTRL network: decomposed from the trained STL networks
    (``init="stl"``) or randomly initialised at full rank."""
    with distribute.scope():
        return _dmtrl_network(method, stl, s)


def _dmtrl_network(method, stl, s):
    if s.init == "stl":
        model = dm.dmtrl_from_stl(stl, method, eps=s.eps,
                                  tt_eps_split=s.tt_eps_split,
                                  init_unshared=s.init_unshared,
                                  rank_rule=s.rank_rule)
    else:
        model = dm.build_network(
            method, stl.num_tasks, stl.image_shape, stl.architecture,
            num_classes=stl.num_classes, task_layout=stl.task_layout,
            loss=s.loss, task_reduction=s.task_reduction)
    model.compile(make_optimizer(s))
    model.optimizer.build(model.trainable_variables)
    return model


def describe(model: dm.DMTRLNetwork) -> dict[str, Any]:
    """Parameter count, ranks and sharing strengths of a network."""
    out = {"params": model.effective_param_count(),
           "ranks": model.ranks, "sharing": list(model.sharing)}
    if model.num_tasks > 1:
        out["rho_softmax"] = model.sharing_strengths("softmax")
        out["rho_l1"] = model.sharing_strengths("l1")
        # gauge-free: read from the synthesised kernels, not a factor
        out["kernel_cosine"] = model.kernel_sharing("cosine")
        out["kernel_spectrum"] = model.kernel_sharing("spectrum")
    return out


def kfold_indices(n: int, folds: int, rng: np.random.Generator
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs; ``folds=1`` is one 80/20 split."""
    if n < 2:
        raise ValueError(f"need >= 2 samples to cross-validate. Received: "
                         f"n={n}")
    perm = rng.permutation(n)
    if folds == 1:
        cut = max(1, int(round(0.2 * n)))
        return [(perm[cut:], perm[:cut])]
    parts = np.array_split(perm, folds)
    return [(np.concatenate(parts[:i] + parts[i + 1:]), parts[i])
            for i in range(folds)]


def ud_cross_validation(options: Sequence[int], folds, fold_error,
                        log=print, run_dir=None, prefix: str = "ud_cv",
                        seed: int | None = None) -> dict[str, Any]:
    """UD-MTL's N chosen by cross-validation: ``fold_error(n, train_rows,
    val_rows)`` trains a UD-MTL network with N = n on one fold and returns
    its validation error; the mean over ``folds`` (pairs of row arrays)
    scores n. Returns the record ``{"ud_shared_layers", "cv_error"}``.

    With ``run_dir`` (a :class:`~amtfl_tf.results.RunDir`) every fold's
    error is recorded as it finishes (``<prefix>_N<n>_fold<i>``), so a
    stopped CV resumes at the first fold not yet trained: at the faithful
    profile one CV is hours of fits. With ``seed`` each fold's fit is
    seeded from (seed, n, fold) alone, so a resumed CV trains the folds it
    has left as an uninterrupted one would."""
    def one_fold(n, i, tr, va):
        key = f"{prefix}_N{n}_fold{i}"
        if run_dir is not None and run_dir.has_split(key):
            return float(run_dir.load_split(key)["error"])
        t0 = time.monotonic()
        if seed is not None:
            seed_everything(int(np.random.SeedSequence(
                [seed, int(n), i]).generate_state(1)[0]))
        err = float(fold_error(n, tr, va))
        log(f"UD-MTL N={n} fold {i}/{len(folds)}: validation error "
            f"{err:.2f}% ({time.monotonic() - t0:.0f}s)")
        if run_dir is not None:
            run_dir.save_split(key, {"error": err, "ud_shared_layers": int(n),
                                     "fold": i})
        return err

    def cv_error(n):
        errs = [one_fold(n, i, tr, va)
                for i, (tr, va) in enumerate(folds, start=1)]
        log(f"UD-MTL N={n}: CV error {np.mean(errs):.2f}%")
        return float(np.mean(errs))

    best, scores = choose_ud_layers(options, cv_error)
    return {"ud_shared_layers": best,
            "cv_error": {str(k): v for k, v in scores.items()}}


def choose_ud_layers(options: Sequence[int], fit_and_score) -> tuple[
        int, dict[int, float]]:
    """UD-MTL's N: the option with the lowest mean validation error.
    ``fit_and_score(n)`` returns the CV error of N = n."""
    scores = {int(n): float(fit_and_score(int(n))) for n in options}
    best = min(scores, key=lambda n: (scores[n], n))
    return best, scores


# ---------------------------------------------------------------------------
# Task-partitioned data in task-blocked batches


class TaskBlockedBatches(keras.utils.PyDataset):
    """Batches ``(b, T, H, W, C)`` holding ``b`` random training samples of
    every task (drawn with replacement, so small tasks are revisited more
    often); labels ``(b, T)``. An epoch has ``ceil(max_t N_t / b)`` steps,
    so the largest task sees about its whole training set once.

    The arrays are held by reference and indexed per batch; ``rows``
    selects the samples to draw from without copying them. This matters
    for memory, not just time: Keras 3.15's ``fit`` keeps every
    ``PyDataset`` it was given alive until the process ends (tf.data's
    generator registry holds the adapter), so a dataset that owned a copy
    of its images leaked that copy per fit: DMTRL's faithful Omniglot
    run (105 × 105) grew by gigabytes per draw until the kernel killed it
    at 24 GB (``benchmarks/faithful_cost.py``, docs/performance.md).

    Args:
      images: ``(N, H, W, C)`` float32.
      labels: ``(N,)`` task-local class ids.
      task: ``(N,)`` task ids in ``0..T-1`` (every task present among
        ``rows``).
      num_tasks: T.
      per_task: b.
      seed: the draws are a function of (seed, epoch, step).
      rows: indices into the arrays of the samples to draw from (None:
        all of them).
    """

    def __init__(self, images, labels, task, num_tasks, per_task=4, seed=0,
                 rows=None, **kwargs):
        super().__init__(**kwargs)
        task = np.asarray(task)
        rows = (np.arange(len(task)) if rows is None
                else np.asarray(rows, dtype=np.int64))
        sub = task[rows]
        self.groups = [rows[sub == t] for t in range(num_tasks)]
        empty = [t for t, g in enumerate(self.groups) if len(g) == 0]
        if empty:
            raise ValueError(f"every task needs training samples; tasks "
                             f"{empty} have none")
        if per_task < 1:
            raise ValueError(f"per_task must be >= 1. Received: "
                             f"per_task={per_task!r}")
        self.images, self.labels = images, np.asarray(labels)
        self.per_task, self.seed, self.epoch = int(per_task), int(seed), 0
        self.steps = int(np.ceil(max(map(len, self.groups)) / per_task))

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        idx = np.stack([g[rng.integers(0, len(g), self.per_task)]
                        for g in self.groups], axis=1)  # (b, T)
        return self.images[idx], self.labels[idx].astype("int32")

    def on_epoch_end(self):
        self.epoch += 1


def predict_blocked(model: dm.DMTRLNetwork, images, task, rows: int = 32
                    ) -> np.ndarray:
    """Each sample's outputs from its own task's network: ``(N, C)``.

    Samples are laid out task-blocked (row r of task t is task t's r-th
    sample; short tasks are padded with their first sample and the padding
    is dropped), ``rows`` rows per forward pass.
    """
    task = np.asarray(task)
    groups = [np.flatnonzero(task == t) for t in range(model.num_tasks)]
    longest = max(map(len, groups))
    out = None
    rows = min(rows, longest)
    for start in range(0, longest, rows):
        # every chunk has ``rows`` rows (the last one padded), so the
        # compiled predict function is traced once. ``predict``, not
        # ``predict_on_batch``: under MultiWorkerMirroredStrategy the
        # latter returns every worker's copy of the batch.
        r = np.arange(start, start + rows)
        idx = np.stack([g[np.minimum(r, len(g) - 1)] if len(g) else
                        np.zeros(len(r), dtype=int) for g in groups], axis=1)
        pred = np.asarray(model.predict(images[idx], batch_size=rows,
                                        verbose=0))
        if out is None:
            out = np.zeros((len(task),) + pred.shape[2:], dtype=pred.dtype)
        for t, g in enumerate(groups):
            keep = r < len(g)
            out[g[r[keep]]] = pred[keep, t]
    return out


def plot_error_curves(ax, fractions, values) -> None:
    """One line per method of ``dm.METHODS`` on ``ax``: at each training
    fraction f, the mean of ``values(method, f)`` (the records' errors)
    with its 95% CI band."""
    for m in dm.METHODS:
        mu, ci = [], []
        for f in fractions:
            v = values(m, f)
            mu.append(np.mean(v))
            ci.append(Row.from_splits(m, "e", v).ci95 or 0.0)
        mu, ci = np.array(mu), np.array(ci)
        ax.plot(fractions, mu, "o-", label=dm.PAPER_NAMES[m])
        ax.fill_between(fractions, mu - ci, mu + ci, alpha=0.2)


# ---------------------------------------------------------------------------
# Claims: paired units, untestable claims, ρ's random-factor reference


def random_factor_rho(k: int, num_tasks: int, normalization: str,
                      draws: int = 32, seed: int = 0) -> float:
    """ρ (Eq. 9) of a random K × T task factor with orthonormal rows (or
    columns when K > T), the mean over ``draws``: the level ρ takes with
    no learned structure at all (e.g. 0.992 softmax / 0.64 L1 for K = T =
    50), the reference any reading of ρ's level must beat."""
    from amtfl_tf.tensor.sharing import sharing_strength
    rng = np.random.default_rng([seed, k, num_tasks])
    vals = []
    for _ in range(draws):
        if k <= num_tasks:
            q, _ = np.linalg.qr(rng.standard_normal((num_tasks, k)))
            s = q.T
        else:
            s, _ = np.linalg.qr(rng.standard_normal((k, num_tasks)))
        vals.append(sharing_strength(s, normalization))
    return float(np.mean(vals))


def budget_note(s: TrainSettings) -> str:
    """What a reader must know when DMTRL is compared with STL/UD-MTL."""
    if s.stopping == "holdout":
        return (f"Every fit stops on held-out data (patience {s.patience}, "
                f"at most {s.epochs} epochs) and keeps its best epoch; "
                + ("DMTRL starts from the trained STL networks (the "
                   "paper's initialisation), so its fine-tuning adds to "
                   "STL's epochs: an advantage by design."
                   if s.init == "stl" else
                   "DMTRL starts from a random draw (equal budget)."))
    if s.init == "stl":
        fine = s.epochs if s.finetune_epochs is None else s.finetune_epochs
        return (f"DMTRL starts from the trained STL networks (the paper's "
                f"initialisation) and trains {fine} more epochs, so it has "
                f"STL's {s.epochs} epochs plus its own: an advantage by "
                "design. The equal-budget comparison is --init=random "
                "(not run in this profile).")
    return ("init=random: DMTRL trains from a random draw for the same "
            "epochs as STL and UD-MTL (equal budget, not the paper's "
            "STL initialisation).")
