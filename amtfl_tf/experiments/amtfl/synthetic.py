"""Deep-AMTFL's synthetic experiment: Fig. 4 (learned bases and parameters)
and Fig. 5 (RMSE on easy/hard tasks, per-task gains, scaling in T).

Every model is a linear network (the paper: "we implement all base models as
neural networks", "ℓ1 on L for all models", "no ReLU at the hidden layer in
AMTFL", "for AMTL, we remove the nonnegative constraint on B"), trained by
full-batch Adam; hyper-parameters are chosen per split on the validation
data over the paper's grid {1, 0.1, 1e-2, 1e-3, 1e-4}: every combination in
the paper profile, coordinate-wise search in quick and faithful.

Profiles (docs/deep_amtfl.md says what each changes from the paper):

* ``paper`` — the published protocol (five splits, 50/50/100 and 25/25/100
  samples per easy/hard task, the grid {1, …, 1e-4}) with every grid
  combination; the paper states no optimiser or training length, so the
  4,000 full-batch Adam steps are ours.
* ``faithful`` — as ``paper`` (same five splits, data, grid values,
  training length, task counts), but coordinate search over the published
  grid instead of every combination (5^5 = 3,125 fits per split for
  AMTFL). A split costs about a minute, so the repeats are not cut.
* ``quick`` — five splits, 2,000 steps, coordinate search, T up to 192.
* ``smoke`` — 1-3 minutes: one split, a two-value grid, 100 steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from amtfl_tf.experiments import profiles
from amtfl_tf import datasets
from amtfl_tf import metrics
from amtfl_tf.experiments import search as sh

METHODS = ("STL", "GO-MTL", "AMTL", "AMTFL")
# Hyper-parameters searched per method (all start from the grid's middle).
SEARCHED = {
    "STL": ("lam", "l1"),
    "GO-MTL": ("mu", "lam", "l1"),
    "AMTL": ("alpha", "gamma", "lam", "l1"),
    "AMTFL": ("alpha", "gamma", "mu", "lam", "l1"),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything one synthetic run depends on (the run's fingerprint)."""

    profile: str
    seed: int = 0
    num_splits: int = 5
    #: Latent bases k of GO-MTL and AMTFL; None: the rank of the true
    #: parameters W* of the data at hand (:func:`latent_units`).
    num_latent: int | None = None
    delta: float = 1.0
    grid: tuple[float, ...] = sh.PAPER_GRID
    sweeps: int = 1
    search: str = "coordinate"
    train: sh.TrainConfig = sh.TrainConfig(steps=2000, learning_rate=0.05)
    task_counts: tuple[int, ...] = (12, 24, 48, 96, 192)
    noise_on: str = "parameters"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES = {
    "smoke": {"num_splits": 1, "grid": (0.1, 1e-3),
              "train": {"steps": 100, "learning_rate": 0.05,
                        "steps_per_execution": 50},
              "task_counts": (12, 24)},
    "quick": {},
    "faithful": {"train": {"steps": 4000, "learning_rate": 0.05},
                 "task_counts": (12, 24, 48, 96, 192, 384)},
    "paper": {"search": "grid",
              "train": {"steps": 4000, "learning_rate": 0.05},
              "task_counts": (12, 24, 48, 96, 192, 384)},
}


def settings_for(profile: str, seed: int = 0, **overrides) -> Settings:
    """The profile's settings: smoke (1-3 minutes), quick (minutes), faithful
    (the five published splits, coordinate search), paper."""
    s = profiles.make(Settings, PROFILES, profile, seed, nested="train",
                      **overrides)
    if s.num_latent is None and s.noise_on == "outputs":
        # W* = L*S* has rank 6 at every T: the value the runs made before
        # num_latent could be None recorded in their fingerprint.
        s = dataclasses.replace(s, num_latent=6)
    return s


def latent_units(settings: Settings, data) -> int:
    """k of GO-MTL and AMTFL: ``settings.num_latent``, or the rank of the
    true parameters W* (6 when the noise is on the outputs, min(T, d) when
    it is on the parameters), so that a shared-basis model can represent
    the truth and only the data decide whether sharing helps."""
    if settings.num_latent is not None:
        return settings.num_latent
    return int(np.linalg.matrix_rank(data.parameters))


def open_run(cfg, **overrides):
    """Settings, data, run folder (config written) and split keys of one
    synthetic experiment run."""
    from amtfl_tf.results import RunDir

    settings = settings_for(cfg.profile, cfg.seed, **overrides)
    run_dir = RunDir(cfg.workdir, overwrite=cfg.overwrite,
                     fingerprint={"experiment": cfg.experiment,
                                  **settings.to_dict()})
    run_dir.write_config({**cfg.to_dict(), "settings": settings.to_dict()})
    keys = [f"split{i + 1}" for i in range(settings.num_splits)]
    return settings, make_data(settings), run_dir, keys


def make_data(settings: Settings, num_tasks: int = 12):
    return datasets.load("synthetic_amtfl", seed=settings.seed,
                         num_tasks=num_tasks, num_splits=settings.num_splits,
                         noise_on=settings.noise_on)


def _model(method, data, settings, seed):
    return sh.build_model(
        method, data.num_tasks, data.parameters.shape[0],
        hidden_units=latent_units(settings, data), activation="linear",
        delta=settings.delta, task_sizes=data.task_sizes,
        amtl_nonnegative=False, seed=seed)


def fit_method(method: str, data, split: int, settings: Settings,
               hyperparameters: dict[str, float] | None = None
               ) -> dict[str, Any]:
    """Fit one method on one split (searching its hyper-parameters on the
    validation data unless ``hyperparameters`` are given) and evaluate it.

    Returns a JSON-ready record: chosen hyper-parameters, per-task test
    RMSE, fit seconds, learned W (and L, transfer matrix where they exist).
    """
    s = data.splits[split]
    model = _model(method, data, settings, settings.seed + split)
    trainer = sh.Trainer(model, s.x_train, s.y_train, s.task_train,
                         settings.train)

    def val_score():
        return float(np.mean(sh.per_task_rmse(
            sh.predict(model, s.x_val), s.y_val, s.task_val,
            data.num_tasks)))

    if hyperparameters is None:
        grid = {h: settings.grid for h in SEARCHED[method]}
        result = sh.search(trainer, val_score, grid, settings.search,
                           settings.sweeps,
                           progress=f"T={data.num_tasks} split{split} "
                           f"{method}")
        model.set_weights(result.weights)
        chosen, fits = result.best, len(result.tried)
    else:
        trainer.fit(**hyperparameters)
        chosen, fits = dict(hyperparameters), 1
    test = sh.per_task_rmse(sh.predict(model, s.x_test), s.y_test,
                            s.task_test, data.num_tasks)
    record = {"hyperparameters": chosen, "fits": fits,
              "test_rmse": test.tolist(),
              "fit_seconds": trainer.seconds,
              "W": model.task_parameters().tolist()}
    if hasattr(model, "latent_basis"):
        record["L"] = model.latent_basis().tolist()
    if hasattr(model, "transfer_matrix"):
        record["transfer"] = model.transfer_matrix().tolist()
    return record


def split_summary(data, record: dict[str, Any]) -> dict[str, float]:
    """Easy/hard/all average RMSE and recovery scores of one fitted method."""
    rmse = np.asarray(record["test_rmse"])
    out = {"easy": float(rmse[~data.hard].mean()),
           "hard": float(rmse[data.hard].mean()),
           "all": float(rmse.mean()),
           "w_error": metrics.relative_error(record["W"], data.parameters)}
    if "L" in record:
        out["basis_cosine"] = metrics.matched_cosine(record["L"],
                                                     data.bases)[0]
    return out


def trainer_for(method: str, data, settings: Settings, split: int = 0):
    """A :class:`~amtfl_tf.experiments.search.Trainer` of ``method`` on
    one split (the model is ``trainer.model``)."""
    s = data.splits[split]
    model = _model(method, data, settings, settings.seed + split)
    return sh.Trainer(model, s.x_train, s.y_train, s.task_train,
                      settings.train)


def timed_fits(trainer, hyperparameters: dict[str, float],
               repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` fits after the one warm-up fit that
    compiles the step (the caller did that)."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        trainer.fit(**hyperparameters)
        out.append(time.perf_counter() - t0)
    return out


def timed_fit(method: str, data, settings: Settings,
              hyperparameters: dict[str, float],
              repeats: int = 3) -> dict[str, Any]:
    """Test RMSE of one method at one T (split 0), and its steady-state
    training time: one warm-up fit compiles the step, then ``repeats``
    timed fits (``repeat_seconds``; ``seconds`` is their minimum).

    Only the figure uses these times: a claim about time comes from
    ``benchmarks/amtl_scaling.py``, which times both models side by side.
    """
    trainer = trainer_for(method, data, settings)
    trainer.fit(**hyperparameters)
    times = timed_fits(trainer, hyperparameters, repeats)
    s = data.splits[0]
    rmse = sh.per_task_rmse(sh.predict(trainer.model, s.x_test), s.y_test,
                            s.task_test, data.num_tasks)
    return {"seconds": min(times) if times else math.inf,
            "repeat_seconds": times, "all": float(rmse.mean()),
            "easy": float(rmse[~data.hard].mean()),
            "hard": float(rmse[data.hard].mean())}
