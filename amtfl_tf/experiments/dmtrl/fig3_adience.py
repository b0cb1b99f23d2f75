"""DMTRL on AdienceFaces (Sec. 4.2, Fig. 3): two heterogeneous tasks,
gender (2 classes) and age group (8 classes), with the Levi & Hassner
(2015) CNN: conv 96@7×7/4, 256@5×5, 384@3×3 (each + 3×3/2 max-pool, the
first two + LRN), FC 512, FC 512 (dropout 0.5 each), FC #classes, ReLU.

Data (:mod:`amtfl_tf.datasets.adience`, not available offline): the
official folds; fold ``test_fold`` (0) is the test set and the other four
train, less a seeded random ``holdout`` (10%) of their faces, as Levi &
Hassner held out for validation. That is their ``test_fold_is_0``
protocol, whose sizes the paper quotes (gender 12,245 train / 4,007 test;
age 11,823 / 4,316); our sizes are in the results notes. Each task uses
the faces that carry its label (a face with both labels serves both).

One *record* is one random draw at one training ``fraction`` (of each
task's training faces, drawn independently per task) with every method:
STL (two networks, pre-trained first), UD-MTL, DMTRL-LAF / -Tucker / -TT
(every layer but the last FC factorised, initialised from STL at ε). The
metric is each task's test error. UD-MTL's N is chosen once, as the paper
did, by k-fold cross-validation among 1..5 on the whole training split
(folds of users, so no person is on both sides; recorded, resumable), and
used at every fraction.

Not stated in the paper (flags): the fractions (paper profile 10, 20, 30,
50, 70, 100%), repeats, the multi-class loss (softmax cross-entropy), the
optimiser and epochs (paper profile: Adam 1e-4, 30 epochs of STL and
UD-MTL, and 30 of DMTRL after its STL initialisation), the batch
composition (``per_task`` faces of each task per step; 25 + 25 = Levi &
Hassner's batch of 50), the input (the whole aligned face resized to
``image_size``, no crop or mirroring; scaled to [0, 1] less the training
faces' channel means) and the resolution (227 in ``paper``; smaller in
``quick`` and ``smoke`` for CPU time).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from amtfl_tf import datasets
from amtfl_tf import plotting
from amtfl_tf import verdicts
from amtfl_tf.experiments import profiles
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.config import uses_runtime
from amtfl_tf.datasets import adience as adience_data
from amtfl_tf.experiments.dmtrl import common as dc
from amtfl_tf.experiments.dmtrl.adience_tasks import TASKS
from amtfl_tf.experiments.dmtrl.adience_tasks import AdienceTasks
from amtfl_tf.experiments.dmtrl.adience_tasks import subsample
from amtfl_tf.experiments.runner import run_splits
from amtfl_tf.experiments.runner import seed_everything
from amtfl_tf.models import dmtrl as dm
from amtfl_tf.results import Claim
from amtfl_tf.results import Results
from amtfl_tf.results import Row
from amtfl_tf.results import RunDir

ARCH = "levi_hassner"
NUM_CLASSES = [2, len(adience_data.AGE_GROUPS)]
DEEP = dm.METHODS
DMTRL = DEEP[2:]
PAPER_FRACTIONS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
UD_CV_KEY = "ud_cv"


@dataclasses.dataclass(frozen=True)
class Settings:
    profile: str
    seed: int = 0
    fractions: tuple[float, ...] = PAPER_FRACTIONS
    repeats: int = 3
    image_size: int = 227
    per_task: int = 25
    test_fold: int = 0
    holdout: float = 0.1
    age_mapping: str = "levi_hassner"
    train: dc.TrainSettings = dc.TrainSettings(
        epochs=30, lr=1e-4, loss="softmax_ce", ud_folds=5)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["train"] = self.train.to_dict()
        return d


PROFILES = {
    "smoke": {"fractions": (1.0,), "repeats": 1, "image_size": 64,
              "per_task": 4,
              "train": {"epochs": 1, "ud_folds": 1, "ud_options": (4, 5)}},
    "quick": {"fractions": (0.1, 0.5, 1.0), "repeats": 1, "image_size": 64,
              "per_task": 16,
              "train": {"epochs": 4, "finetune_epochs": 2, "ud_folds": 1}},
    # every run as the paper profile (six fractions, 227 x 227, 30 + 30
    # epochs, 5-fold CV for UD-MTL's N); 2 draws per fraction
    "faithful": {"repeats": 2},
    "paper": {},
}


def settings_for(profile: str, seed: int = 0, **overrides) -> Settings:
    """``paper``: six fractions × 3 repeats at 227 × 227, 30 epochs, 5-fold
    CV for UD-MTL. ``quick``: fractions 10%, 50%, 100%, one repeat, 64 × 64
    faces, 4 epochs (2 of DMTRL fine-tuning), one hold-out split for
    UD-MTL's N. ``faithful``: the paper profile's runs with 2 draws per
    fraction. ``smoke``: 1-3 minutes (one fraction, 64 × 64, 1 epoch, N
    among 4 and 5)."""
    s = profiles.make(Settings, PROFILES, profile, seed, nested="train",
                      **overrides)
    if not s.fractions:
        raise ValueError("fractions must not be empty.")
    for f in s.fractions:
        if not 0 < f <= 1:
            raise ValueError(f"fractions must be in (0, 1]. Received: {f!r}")
    if not isinstance(s.repeats, int) or s.repeats < 1:
        raise ValueError(f"repeats must be an int >= 1. Received: "
                         f"repeats={s.repeats!r}")
    if not isinstance(s.per_task, int) or s.per_task < 1:
        raise ValueError(f"per_task must be an int >= 1. Received: "
                         f"per_task={s.per_task!r}")
    if s.test_fold not in range(adience_data.NUM_FOLDS):
        raise ValueError(f"test_fold must be in 0..4. Received: "
                         f"test_fold={s.test_fold!r}")
    if not 0 <= s.holdout < 1:
        raise ValueError(f"holdout must be in [0, 1). Received: "
                         f"holdout={s.holdout!r}")
    if s.age_mapping not in adience_data.AGE_MAPPINGS:
        raise ValueError(f"age_mapping must be one of "
                         f"{adience_data.AGE_MAPPINGS}. Received: "
                         f"age_mapping={s.age_mapping!r}")
    try:
        dm.stacked_shapes(ARCH, (s.image_size, s.image_size, 3), 2)
    except ValueError as e:
        raise ValueError(f"image_size must be >= 7 for the Levi & Hassner "
                         f"CNN. Received: image_size={s.image_size!r}"
                         ) from e
    return s


def load_tasks(cfg: CommonConfig, s: Settings) -> AdienceTasks:
    d = datasets.load("adience", data_dir=cfg.data_dir,
                      image_size=s.image_size, age_mapping=s.age_mapping)
    is_test = d.fold == s.test_fold
    rng = np.random.default_rng([s.seed, 4242])
    train_faces = np.flatnonzero(~is_test)
    held = rng.permutation(train_faces)[:int(len(train_faces) * s.holdout)]
    in_train = ~is_test
    in_train[held] = False
    face, label, task = [], [], []
    for t, lab in enumerate((d.gender, d.age)):
        rows = np.flatnonzero(lab >= 0)
        face.append(rows)
        label.append(lab[rows])
        task.append(np.full(len(rows), t))
    face = np.concatenate(face)
    if not in_train.any() or not is_test.any():
        raise datasets.DatasetError(
            f"adience: test fold {s.test_fold} leaves an empty training or "
            f"test split ({int(in_train.sum())} / {int(is_test.sum())} "
            "faces).")
    mean = np.zeros(3)
    train_idx = np.flatnonzero(in_train)
    for i in range(0, len(train_idx), 2048):
        mean += d.images[train_idx[i:i + 2048]].astype(np.float64).sum(
            axis=(0, 1, 2))
    mean /= len(train_idx) * s.image_size ** 2 * 255.0
    out = AdienceTasks(
        faces=d.images, mean=mean.astype(np.float32), face=face,
        label=np.concatenate(label).astype(np.int64),
        task=np.concatenate(task).astype(np.int64), user=d.user_id[face],
        train=in_train[face], test=is_test[face], raw=d)
    empty = [f"{n} {part}" for n, v in out.sizes().items()
             for part, k in v.items() if k == 0]
    if empty:
        raise datasets.DatasetError(
            f"adience: no labelled faces for {', '.join(empty)}.")
    return out


def task_errors(model, data: AdienceTasks, rows: np.ndarray) -> np.ndarray:
    """Per-task error (%) of a blocked network on ``rows`` (NaN for a task
    without rows)."""
    logits = dc.predict_blocked(model, data.images(rows), data.task[rows])
    wrong = np.argmax(logits, axis=1) != data.label[rows]
    t = data.task[rows]
    n = np.bincount(t, minlength=model.num_tasks).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * np.bincount(t, wrong, minlength=model.num_tasks) / n


def _batches(data: AdienceTasks, rows, s: Settings, seed: int):
    return dc.TaskBlockedBatches(data.images(rows), data.label[rows],
                                 data.task[rows], len(TASKS),
                                 per_task=s.per_task, seed=seed)


def _network(method, data: AdienceTasks, s: Settings, ud=None):
    return dc.new_network(method, len(TASKS), data.faces.shape[1:], ARCH,
                          s.train, num_classes=NUM_CLASSES,
                          task_layout="blocked", ud_shared_layers=ud)


def ud_cross_validation(data: AdienceTasks, s: Settings, log=print
                        ) -> dict[str, Any]:
    """UD-MTL's N by k-fold CV on the whole training split, the folds made
    of users (``ud_folds=1``: one 80/20 hold-out of users)."""
    t = s.train
    options = t.ud_options or dm.ARCHITECTURES[ARCH]["ud_options"]
    if len(options) == 1:
        return {"ud_shared_layers": int(options[0]), "cv_error": {}}
    seed_everything(s.seed)
    rows = np.flatnonzero(data.train)
    users, inverse = np.unique(data.user[rows], return_inverse=True)
    folds = [(rows[np.isin(inverse, tr_users)],
              rows[np.isin(inverse, va_users)])
             for tr_users, va_users in dc.kfold_indices(
                 len(users), t.ud_folds,
                 np.random.default_rng([s.seed, 78]))]

    def fold_error(n, tr, va):
        m = _network("ud-mtl", data, s, n)
        dc.train(m, _batches(data, tr, s, s.seed), t)
        return float(np.nanmean(task_errors(m, data, va)))

    return dc.ud_cross_validation(options, folds, fold_error, log)


def fit_record(data: AdienceTasks, fraction: float, key: str, s: Settings,
               n_ud: int, log=print) -> dict[str, Any]:
    seed_everything(s.seed)
    train_rows = subsample(data, fraction, s.seed, key)
    test_rows = np.flatnonzero(data.test)
    t = s.train
    out: dict[str, Any] = {
        "n_train": np.bincount(data.task[train_rows],
                               minlength=len(TASKS)).tolist(),
        "n_test": np.bincount(data.task[test_rows],
                              minlength=len(TASKS)).tolist()}

    def keep(method, model, secs, **more):
        err = task_errors(model, data, test_rows)
        out[method] = {"error": float(err.mean()),
                       "task_error": err.tolist(), **more,
                       "seconds": secs}
        log(f"{dm.PAPER_NAMES[method]}: gender {err[0]:.2f}%, age "
            f"{err[1]:.2f}% ({secs:.0f}s)")

    for method, m, secs in dc.train_methods(
            lambda method, n: _network(method, data, s, n),
            lambda finetune: _batches(data, train_rows, s,
                                      s.seed + int(finetune)),
            t, lambda: n_ud):
        if method in DMTRL:
            keep(method, m, secs, **dc.describe(m))
        elif method == "ud-mtl":
            keep(method, m, secs, params=m.effective_param_count(),
                 ud_shared_layers=n_ud)
        else:
            keep(method, m, secs, params=m.effective_param_count())
    return out


#: "when the training set is bigger" (Fig. 3, age): the fractions ≥ 50%.
BIG_FRACTION = 0.5


def claims_fig3(records: dict[str, dict], keys: list[str], s: Settings
                ) -> list[Claim]:
    """Fig. 3's claims, paired over the (fraction, repeat) draws (every
    method trained on the same draw, tested on the same fold)."""
    names = dm.PAPER_NAMES
    fr = np.array([dc.frac_of(k) for k in keys])
    err = {task: {m: np.array([records[k][m]["task_error"][i]
                               for k in keys]) for m in DEEP}
           for i, task in enumerate(TASKS)}
    g, a = err["gender"], err["age"]
    run = ", ".join(f"{f:g}" for f in sorted(set(fr)))
    unit = "test error (%) per (fraction, repeat) draw"
    source = "DMTRL §4.2, Fig. 3"
    budget = dc.budget_note(s.train)

    def means(tab, ms, mask=slice(None)):
        return ", ".join(f"{names[m]} {tab[m][mask].mean():.2f}%"
                         for m in ms)

    def beats(tab, task, m, baselines):
        return [verdicts.paired(tab[b], tab[m], f"{task}: {names[b]} − "
                                f"{names[m]} {unit}") for b in baselines]

    tucker = "dmtrl-tucker"
    claims = [Claim.of(
        "dmtrl.fig3.gender_tucker_beats_stl_and_udmtl",
        f"Gender: DMTRL-Tucker has a lower error than STL and than UD-MTL "
        f"over the fractions run ({run})",
        verdicts.all_of(beats(g, "gender", tucker, ("stl", "ud-mtl")),
                        "gender: DMTRL-Tucker below STL and UD-MTL"),
        source=source,
        statement="our methods, esp., DMTRL-Tucker, consistently outperform "
                  "both STL and the best user-defined MTL",
        detail=means(g, ("stl", "ud-mtl", tucker)),
        note="Pooled over the fractions run ('consistently' per fraction "
             "would need more draws per fraction). " + budget)]
    claims.append(Claim.of(
        "dmtrl.fig3.gender_dmtrl_beats_stl_and_udmtl",
        f"Gender: every DMTRL variant has a lower error than STL and than "
        f"UD-MTL over the fractions run ({run})",
        verdicts.all_of([e for m in DMTRL for e in beats(
            g, "gender", m, ("stl", "ud-mtl"))],
            "gender: every DMTRL variant below STL and UD-MTL"),
        source=source,
        statement="our methods ... consistently outperform both STL and the "
                  "best user-defined MTL",
        detail=means(g, DEEP), note=budget))
    claims.append(Claim.of(
        "dmtrl.fig3.gender_udmtl_not_consistently_better",
        "Gender: UD-MTL's error is not lower than STL's",
        verdicts.paired(g["ud-mtl"], g["stl"],
                        f"gender: UD-MTL − STL {unit}"),
        source=source,
        statement="User-defined MTL is not consistently better than STL",
        detail=means(g, ("stl", "ud-mtl")),
        note="A 'not better' claim: it holds only if UD-MTL is worse; "
             "'inconclusive' means no difference was detected, which "
             "agrees with the paper without proving it; 'contradicted' "
             "means UD-MTL is better over the fractions run."))
    claims.append(Claim.of(
        "dmtrl.fig3.age_dmtrl_improves_on_stl",
        f"Age group: every DMTRL variant has a lower error than STL over "
        f"the fractions run ({run})",
        verdicts.all_of([e for m in DMTRL for e in beats(
            a, "age", m, ("stl",))], "age: every DMTRL variant below STL"),
        source=source,
        statement="For the harder age group classification task, our "
                  "methods generally improve on STL",
        detail=means(a, ("stl",) + DMTRL), note=budget))
    big = fr >= BIG_FRACTION
    statistic = f"age: UD-MTL − STL {unit} at fractions ≥ {BIG_FRACTION:g}"
    claims.append(Claim.of(
        "dmtrl.fig3.age_udmtl_negative_transfer",
        f"Age group: UD-MTL has a higher error than STL at the bigger "
        f"training sets (fractions ≥ {BIG_FRACTION:g}): negative transfer",
        verdicts.paired(a["ud-mtl"][big], a["stl"][big], statistic)
        if big.any() else verdicts.not_tested(
            statistic, f"no fraction ≥ {BIG_FRACTION:g} in this profile "
                       f"(run: {run})"),
        source=source,
        statement="UD-MTL does not consistently improve on STL, and even "
                  "reduces performance when the training set is bigger. "
                  "This is the negative transfer phenomenon",
        detail=(means(a, ("stl", "ud-mtl"), big)
                + f" over {int(big.sum())} draw(s)") if big.any() else "",
        note="UD-MTL's N is chosen once by CV on the whole training split "
             "(as the paper did) and used at every fraction."))
    return claims


@uses_runtime
def run(cfg: CommonConfig, **overrides) -> Results:
    start = time.monotonic()
    s = settings_for(cfg.profile, cfg.seed, **overrides)
    data = load_tasks(cfg, s)  # a missing dataset fails here, at once
    run_dir = RunDir(cfg.workdir, overwrite=cfg.overwrite,
                     fingerprint={"experiment": cfg.experiment,
                                  **s.to_dict()})
    run_dir.write_config({**cfg.to_dict(), "settings": s.to_dict()})
    name = cfg.experiment

    def logger(key):
        return lambda msg: print(f"[{name}] {key} {msg}", flush=True)

    cv = run_splits(run_dir, [UD_CV_KEY], lambda key: ud_cross_validation(
        data, s, logger(key)), f"{name} UD-MTL CV")[UD_CV_KEY]
    n_ud = int(cv["ud_shared_layers"])
    fractions = sorted(set(s.fractions))
    keys = dc.record_keys(fractions, s.repeats)
    records = run_splits(run_dir, keys, lambda key: fit_record(
        data, dc.frac_of(key), key, s, n_ud, logger(key)), name)
    rows = []
    means = {task: {} for task in TASKS}
    for f in fractions:
        ks = [k for k in keys if dc.frac_of(k) == f]
        for i, task in enumerate(TASKS):
            means[task][f] = {}
            for m in DEEP:
                vals = [records[k][m]["task_error"][i] for k in ks]
                rows.append(Row.from_splits(
                    dm.PAPER_NAMES[m], f"{task}_error_pct@{f:g}", vals,
                    dataset="adience"))
                means[task][f][m] = float(np.mean(vals))
    for m in DMTRL:
        for norm in ("softmax", "l1"):
            for layer in dm.param_layer_names(ARCH)[:-1]:
                rows.append(Row.from_splits(
                    dm.PAPER_NAMES[m], f"rho_{norm}_{layer}",
                    [records[k][m][f"rho_{norm}"][layer] for k in keys],
                    dataset="adience (all fractions)"))
    sizes = data.sizes()
    paper = adience_data.PAPER_SIZES
    figures = _plot(cfg, fractions, keys, records)
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset="adience",
        profile_changes=profiles.changes(s, PROFILES, nested="train"),
        rows=rows, claims=claims_fig3(records, keys, s), figures=figures,
        wall_seconds=time.monotonic() - start,
        notes=[
            f"{s.repeats} random draw(s) per fraction; {s.image_size}x"
            f"{s.image_size} faces" + (" (the paper's CNN takes 227x227; "
                                       "smaller here for CPU time)"
                                       if s.image_size != 227 else "")
            + f"; {s.train.epochs} epochs (DMTRL fine-tuning "
            f"{s.train.finetune_epochs or s.train.epochs}).",
            "The paper shows Fig. 3 as plots only: no published numbers.",
            f"Split: fold {s.test_fold} tests, the other folds train less "
            f"a random {s.holdout:.0%} of their faces (Levi & Hassner's "
            f"validation hold-out); age mapping {s.age_mapping!r}. Sizes "
            "here vs the paper: " + "; ".join(
                f"{t} train {sizes[t]['train']:,} ({paper[t]['train']:,}), "
                f"test {sizes[t]['test']:,} ({paper[t]['test']:,})"
                for t in TASKS) + ".",
            f"UD-MTL N = {n_ud}, chosen once by {s.train.ud_folds}-fold CV "
            "over users on the whole training split (1 = one 80/20 "
            "hold-out)" + (": CV error " + ", ".join(
                f"N={k} {v:.2f}%" for k, v in cv["cv_error"].items())
                if cv["cv_error"] else " (a single option given)")
            + "; the paper found N = 5.",
        ],
        extra={"settings": s.to_dict(), "sizes": sizes, "ud_cv": cv,
               "mean_error": {t: {f"{f:g}": v for f, v in means[t].items()}
                              for t in TASKS}})
    run_dir.write_results(results)
    return results


def _plot(cfg, fractions, keys, records):
    fig, axes = plotting.new_figure(1, 2, size=(11, 4.5),
                                    layout="constrained")
    for i, (ax, task) in enumerate(zip(axes[0], TASKS)):
        dc.plot_error_curves(ax, fractions, lambda m, f, i=i: [
            records[k][m]["task_error"][i] for k in keys
            if dc.frac_of(k) == f])
        ax.set_xlabel("fraction of the training split")
        ax.set_ylabel("test error (%)")
        ax.set_title("gender (2 classes)" if task == "gender"
                     else "age group (8 classes)")
        ax.legend(fontsize=8)
    return plotting.save_figure(fig, cfg.workdir, "dmtrl_fig3_adience")
