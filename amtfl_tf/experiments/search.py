"""Training and model selection for the shallow multi-task models.

:class:`Trainer` trains one compiled model again and again from the same
initial weights with different hyper-parameters (they are variables of the
model, so nothing is retraced); :func:`coordinate_search` picks the
hyper-parameters on validation data.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from typing import Callable, Mapping, Sequence

import numpy as np

from amtfl_tf import distribute
from amtfl_tf import input_pipeline

PAPER_GRID = (1.0, 0.1, 1e-2, 1e-3, 1e-4)
LOOPS = ("auto", "fit", "graph")

# Hyper-parameters to search for the classic baselines of DMTRL's
# Appendix A (over the same log grid as the others, e.g. PAPER_GRID).
CLASSIC_SEARCHED = {
    "Evgeniou-Pontil": ("lam_task", "lam_shared"),
    "MTFL": ("gamma",),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper states none for the shallow runs).

    Full-batch Adam by default: the shallow problems have a few thousand
    samples at most.
    """

    steps: int = 2000
    learning_rate: float = 0.01
    steps_per_execution: int = 250
    batch_size: int | None = None  # None: full batch
    jit_compile: bool | str = "auto"
    #: "fit": Keras ``fit`` (``steps_per_execution`` steps per call);
    #: "graph": every step of a fit in one ``tf.function`` call (an in-graph
    #: loop over ``train_step`` on the full batch, no dataset iterator or
    #: callbacks; the same steps and the same loss); "auto": "graph" where
    #: it applies (full batch, the default strategy), else "fit".
    loop: str = "auto"

    def __post_init__(self):
        if self.loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS}. Received: "
                             f"loop={self.loop!r}")
        for name in ("steps", "steps_per_execution"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1. Received: "
                                 f"{name}={v!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0. Received: "
                             f"learning_rate={self.learning_rate!r}")


def build_model(method: str, num_tasks: int, input_dim: int, *,
                loss: str = "squared", hidden_units: int = 10,
                activation: str = "relu", delta: float = 0.0,
                task_sizes=None, amtl_nonnegative: bool = True,
                mtfl_epsilon: float = 1e-4, mtfl_d_step_every: int = 25,
                seed: int = 0):
    """One of ``models.METHODS`` with the settings that apply to it.

    MTFL is built with its D-step inside the train step every
    ``mtfl_d_step_every`` optimiser steps (:class:`Trainer` passes no
    callbacks), i.e. its alternating algorithm with inexact W-steps.
    """
    import keras

    from amtfl_tf import models

    if method not in models.METHODS:
        raise ValueError(f"method must be one of {sorted(models.METHODS)}. "
                         f"Received: method={method!r}")
    keras.utils.set_random_seed(seed)
    cls = models.METHODS[method]
    kwargs = dict(loss=loss, delta=delta, task_sizes=task_sizes)
    if method in ("NN", "MT-NN", "AMTFL"):
        kwargs.update(hidden_units=hidden_units, activation=activation)
    elif method == "GO-MTL":
        kwargs.update(num_latent=hidden_units)
    elif method == "AMTL":
        kwargs.update(nonnegative=amtl_nonnegative)
    elif method == "MTFL":
        kwargs.update(epsilon=mtfl_epsilon, d_step_every=mtfl_d_step_every)
    with distribute.scope():
        return cls(num_tasks, input_dim, **kwargs)


def pca_features(train, others, dim):
    """PCA fitted on ``train`` (numpy SVD), applied to all; scaled so the
    training projections have unit average variance. Returns the
    projections of ``train`` and of every array in ``others``."""
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    comp = vt[:dim].T
    proj = [(a - mean) @ comp for a in (train, *others)]
    scale = proj[0].std(axis=0).mean() or 1.0
    return [(p / scale).astype(np.float32) for p in proj]


def inputs_of(x, task=None):
    """Model inputs: ``{"x", "task"}`` for task-partitioned data."""
    return x if task is None else {"x": x, "task": task}


class Trainer:
    """Fits ``model`` repeatedly from its initial weights.

    Args:
      model: a compiled-anew :class:`MultiTaskModel`.
      x, y, task: training data (``task`` None for shared-input data).
      config: :class:`TrainConfig`.
    """

    def __init__(self, model, x, y, task=None,
                 config: TrainConfig = TrainConfig()):
        import keras
        import tensorflow as tf

        self.model = model
        self.config = config
        with distribute.scope():
            model.compile(
                optimizer=keras.optimizers.Adam(config.learning_rate),
                steps_per_execution=distribute.steps_per_execution(
                    config.steps_per_execution),
                jit_compile=config.jit_compile)
        data = (inputs_of(x, task), y)
        n = len(y)
        full_batch = config.batch_size is None or config.batch_size >= n
        if config.loop == "graph" and not full_batch:
            raise ValueError(
                "loop='graph' trains on the full batch; use loop='fit' with "
                f"batch_size. Received: batch_size={config.batch_size!r} for "
                f"{n} samples")
        self.loop = config.loop
        if self.loop == "auto":
            self.loop = "graph" if full_batch and distribute.current() \
                is None else "fit"
        # the graph loop steps on the tensors themselves; only fit needs a
        # tf.data pipeline
        self.dataset = None
        if self.loop == "fit":
            ds = (tf.data.Dataset.from_tensors(data).repeat() if full_batch
                  else tf.data.Dataset.from_tensor_slices(data).shuffle(
                      n, seed=0, reshuffle_each_iteration=True).repeat()
                  .batch(config.batch_size, drop_remainder=True))
            self.dataset = input_pipeline.untuned(ds)
        self._data = data
        self._graph_fit = None
        self.initial = model.get_weights()
        self.seconds = 0.0  # time spent in the last fit

    def _reset_optimizer(self):
        opt = self.model.optimizer
        if not opt.built:
            return
        for v in opt.variables:
            if "learning_rate" not in v.path:
                v.assign(np.zeros(v.shape, v.dtype))

    def _make_graph_fit(self):
        """One ``tf.function`` running ``steps`` train steps of the model on
        the full batch; Keras ``fit`` runs the same ``train_step`` through
        its epoch iterator and callbacks."""
        import tensorflow as tf

        m = self.model
        steps = self.config.steps
        data = tf.nest.map_structure(tf.convert_to_tensor, self._data)
        if not m.optimizer.built:
            m.optimizer.build(m.trainable_variables)

        @tf.function(jit_compile=self.config.jit_compile is True)
        def run():
            for _ in tf.range(steps):
                m.train_step(data)
        return run

    def fit(self, **hyperparameters: float) -> float:
        """Train from the initial weights with these hyper-parameters;
        returns the final training loss (NaN if training diverged): the
        mean of the step losses over the fit, as Keras' ``fit`` reports."""
        m = self.model
        m.set_weights(self.initial)
        m.set_hyperparameters(**hyperparameters)
        self._reset_optimizer()
        start = time.perf_counter()
        if self.loop == "graph":
            if self._graph_fit is None:
                self._graph_fit = self._make_graph_fit()
            for metric in m.metrics:
                metric.reset_state()
            self._graph_fit()
            loss = float(m._loss_tracker.result())
        else:
            hist = m.fit(self.dataset, epochs=1,
                         steps_per_epoch=self.config.steps, verbose=0,
                         shuffle=False)
            loss = float(hist.history["loss"][-1])
        self.seconds = time.perf_counter() - start
        return loss


def predict(model, x, task=None) -> np.ndarray:
    """``(N, T)`` outputs, computed in one call."""
    from keras import ops
    return np.asarray(ops.convert_to_numpy(
        model(inputs_of(x, task), training=False)))


def per_task_rmse(outputs, y, task, num_tasks) -> np.ndarray:
    """RMSE of each task on its own samples (task-partitioned data)."""
    pred = outputs[np.arange(len(y)), task]
    sq = np.bincount(task, (pred - y) ** 2, minlength=num_tasks)
    n = np.bincount(task, minlength=num_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(sq / n)


@dataclasses.dataclass
class SearchResult:
    best: dict[str, float]
    score: float
    tried: list[tuple[dict[str, float], float]]
    weights: list


def _fit_and_score(trainer: Trainer, score: Callable[[], float],
                   hp: Mapping[str, float]) -> float:
    """Train with ``hp`` and score; a diverged fit (non-finite loss or
    score) counts as +inf."""
    loss = trainer.fit(**hp)
    s = score() if math.isfinite(loss) else math.inf
    return s if math.isfinite(s) else math.inf


def _all_diverged(names, count) -> FloatingPointError:
    return FloatingPointError(
        "every hyper-parameter setting diverged (non-finite loss); lower "
        f"the learning rate. Tried {count} settings of {list(names)}")


def coordinate_search(trainer: Trainer, score: Callable[[], float],
                      grid: Mapping[str, Sequence[float]],
                      start: Mapping[str, float] | None = None,
                      sweeps: int = 1,
                      on_fit: Callable[[dict, float], None] | None = None
                      ) -> SearchResult:
    """Pick hyper-parameters by coordinate-wise search on ``score`` (lower
    is better, e.g. validation RMSE).

    Starting from ``start`` (default: the grid's middle values), each sweep
    tries every grid value of one hyper-parameter at a time with the others
    held at their current best. With one hyper-parameter, or ``sweeps``
    large enough, it is the full grid search; for several it costs
    ``sweeps × Σ_h |grid_h|`` fits instead of ``Π_h |grid_h|``. Diverged
    fits (non-finite loss or score) count as +inf. ``on_fit(hp, score)`` is
    called after every fit.
    """
    names = list(grid)
    if not names:
        trainer.fit()
        return SearchResult({}, score(), [], trainer.model.get_weights())
    current = {n: (start or {}).get(n, grid[n][len(grid[n]) // 2])
               for n in names}
    cache: dict[tuple, float] = {}
    best_score, best_weights = math.inf, None

    def evaluate(hp):
        nonlocal best_score, best_weights
        key = tuple(hp[n] for n in names)
        if key in cache:
            return cache[key]
        s = _fit_and_score(trainer, score, hp)
        cache[key] = s
        if s < best_score:
            best_score, best_weights = s, trainer.model.get_weights()
        if on_fit:
            on_fit(hp, s)
        return s

    evaluate(current)
    for _ in range(sweeps):
        changed = False
        for n in names:
            for v in grid[n]:
                trial = {**current, n: v}
                if evaluate(trial) < cache[tuple(current[m] for m in names)]:
                    current, changed = trial, True
        if not changed:
            break
    if best_weights is None:
        raise _all_diverged(names, len(cache))
    tried = [(dict(zip(names, k)), s) for k, s in cache.items()]
    return SearchResult(dict(current), cache[tuple(current[n]
                                                   for n in names)],
                        tried, best_weights)


def full_grid(grid: Mapping[str, Sequence[float]]):
    """Every combination of a grid, as dicts."""
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        yield dict(zip(names, values))


SEARCHES = ("coordinate", "grid")


def max_fits(grid: Mapping[str, Sequence[float]], method: str = "coordinate",
             sweeps: int = 1) -> int:
    """The most fits :func:`search` makes: ``1 + sweeps × Σ_h |grid_h|``
    for the coordinate search (repeated points are not refitted, so it
    usually makes fewer), ``Π_h |grid_h|`` for the full grid."""
    sizes = [len(v) for v in grid.values()]
    if not sizes:
        return 1
    if method == "coordinate":
        return 1 + sweeps * sum(sizes)
    return math.prod(sizes)


def _format_hp(hp: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in hp.items())


class _Tied:
    """A trainer whose fits set every tied hyper-parameter to the value of
    the one it is tied to (``tie = {"mu": "lam"}``: μ = λ)."""

    def __init__(self, trainer, tie: Mapping[str, str]):
        self.trainer, self.tie, self.model = trainer, dict(tie), trainer.model

    def expand(self, hp: Mapping[str, float]) -> dict[str, float]:
        return {**hp, **{a: hp[b] for a, b in self.tie.items()}}

    def fit(self, **hp: float) -> float:
        return self.trainer.fit(**self.expand(hp))


def search(trainer: Trainer, score: Callable[[], float],
           grid: Mapping[str, Sequence[float]], method: str = "coordinate",
           sweeps: int = 1, progress: str | None = None,
           tie: Mapping[str, str] | None = None) -> SearchResult:
    """Hyper-parameter selection: ``"coordinate"`` (see
    :func:`coordinate_search`) or ``"grid"``: every combination of the
    grid (Π_h |grid_h| fits; the paper profile's choice).

    ``tie``: hyper-parameters not searched but set equal to a searched one
    in every fit, e.g. ``{"mu": "lam"}`` for the paper's μ = λ; the result
    lists them with their values.

    ``progress``: a name (e.g. ``"table1 school split1 AMTFL"``) to print a
    line per fit to stderr: the grid point, its validation score, the fit's
    seconds, the elapsed time and an estimate of the time left (an upper
    bound for the coordinate search, see :func:`max_fits`).
    """
    if method not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}. Received: "
                         f"search={method!r}")
    if tie:
        bad = {a: b for a, b in tie.items() if b not in grid or a in grid}
        if bad:
            raise ValueError(
                "tie must map hyper-parameters outside the grid to ones in "
                f"it ({sorted(grid)}). Received: tie={dict(tie)!r}")
        tied = _Tied(trainer, tie)
        res = search(tied, score, grid, method, sweeps, progress)
        return SearchResult(tied.expand(res.best), res.score,
                            [(tied.expand(h), v) for h, v in res.tried],
                            res.weights)
    on_fit = None
    if progress is not None:
        from amtfl_tf.experiments.progress import Progress
        bar = Progress(max_fits(grid, method, sweeps), progress)

        def on_fit(hp, s):
            bar.step(_format_hp(hp) or "fit", f"val {s:.4g}")
    if method == "coordinate":
        return coordinate_search(trainer, score, grid, sweeps=sweeps,
                                 on_fit=on_fit)
    names = list(grid)
    tried, best, best_score, best_weights = [], None, math.inf, None
    for hp in full_grid(grid):
        s = _fit_and_score(trainer, score, hp)
        tried.append((hp, s))
        if on_fit:
            on_fit(hp, s)
        if s < best_score or best is None:
            best, best_score = hp, s
            best_weights = trainer.model.get_weights()
    if not math.isfinite(best_score):
        raise _all_diverged(names, len(tried))
    return SearchResult(dict(best), best_score, tried, best_weights)
