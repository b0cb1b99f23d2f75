"""Deep-AMTFL's synthetic regression data (Sec. 4.1, Figs. 4 and 5).

As the paper states: six 30-d true bases l_1..l_6; 12 tasks; every easy
task linearly combines two of {l_1..l_4} (the C(4,2) = 6 pairs), every hard
task two of {l_3..l_6}; task parameters get noise ε ~ N(0, σ) with σ = 1
(easy) and σ = 2 (hard); train/val/test = 50/50/100 samples per easy task
and 25/25/100 per hard task; five random splits.

What the paper leaves open, chosen here (each one an argument):

- bases: i.i.d. N(0, 1) entries (``basis_scale`` multiplies them);
- combination coefficients: N(0, ``coef_scale``²) for the task's two bases
  (``coef_scale=2`` makes the shared part dominate easy tasks' noise);
- σ is a standard deviation. Default ``noise_on="parameters"``, the text's
  wording ("we generate parameters for 12 tasks from them with noise
  ε ~ N(0, σ)"): w_t = L* s_t + ε_t with N(0, σ²) on every coordinate of
  w_t, and no noise on the targets (y = x·w_t). The noise (‖ε‖ ≈ σ√30) is
  a task-specific part of the parameters, so W* has rank min(T, d).
  ``noise_on="parameters_norm"`` scales ε to ‖ε‖ ≈ σ (N(0, σ²/d) per
  coordinate). ``noise_on="outputs"`` puts the group's σ on the targets
  instead, y = x·w_t + N(0, σ²), and W* = L* S* is exactly rank 6 (the
  default before issue 18; docs/deep_amtfl.md compares the readings);
- inputs x ~ N(0, I_30); ``output_noise`` (default 0) adds N(0,
  ``output_noise``²) to every task's targets on top;
- task order: all easy tasks, then all hard ones; for T > 12 the pairs
  repeat in the same order with fresh coefficients and noise;
- splits: the same true parameters in every split; each split draws new
  samples (seeded by ``seed`` and the split number).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Sequence

import numpy as np
from amtfl_tf.datasets.registry import compact_repr

NOISE_ON = ("parameters", "parameters_norm", "outputs")


@compact_repr
@dataclasses.dataclass(frozen=True)
class TaskSplit:
    """One random train/val/test split of task-partitioned data."""

    x_train: np.ndarray
    y_train: np.ndarray
    task_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task_test: np.ndarray


@compact_repr
@dataclasses.dataclass(frozen=True)
class SyntheticAMTFL:
    """The generated problem.

    Attributes:
      bases: (d, 6) true bases L* (columns l_1..l_6).
      coefficients: (6, T) true combination S* (two non-zeros per column).
      parameters: (d, T) true task parameters W* = L* S* (+ ε unless
        ``noise_on="outputs"``).
      hard: (T,) bool, True for hard tasks.
      splits: the random splits.
    """

    bases: np.ndarray
    coefficients: np.ndarray
    parameters: np.ndarray
    hard: np.ndarray
    splits: tuple[TaskSplit, ...]

    @property
    def num_tasks(self) -> int:
        return self.parameters.shape[1]

    @property
    def task_sizes(self) -> np.ndarray:
        """Training samples per task."""
        return np.bincount(self.splits[0].task_train,
                           minlength=self.num_tasks)


def _check(name, value, low, integer=True):
    bad = (not isinstance(value, (int, np.integer)) or isinstance(
        value, bool)) if integer else not isinstance(value, (int, float))
    if bad or value < low:
        kind = "an int" if integer else "a number"
        raise ValueError(
            f"{name} must be {kind} >= {low}. Received: {name}={value!r}")


def make_synthetic_amtfl(data_dir: str | None = None, seed: int = 0,
                         num_tasks: int = 12, dim: int = 30,
                         num_splits: int = 5,
                         easy_sizes: Sequence[int] = (50, 50, 100),
                         hard_sizes: Sequence[int] = (25, 25, 100),
                         noise_easy: float = 1.0, noise_hard: float = 2.0,
                         noise_on: str = "parameters",
                         output_noise: float = 0.0, basis_scale: float = 1.0,
                         coef_scale: float = 2.0) -> SyntheticAMTFL:
    """Generate the synthetic problem (``data_dir`` is unused).

    ``num_tasks`` must be even: half easy, half hard.
    """
    del data_dir
    _check("num_tasks", num_tasks, 2)
    if num_tasks % 2:
        raise ValueError(
            f"num_tasks must be even (half easy, half hard). Received: "
            f"num_tasks={num_tasks}")
    _check("dim", dim, 1)
    _check("num_splits", num_splits, 1)
    for name, v in (("noise_easy", noise_easy), ("noise_hard", noise_hard),
                    ("output_noise", output_noise),
                    ("basis_scale", basis_scale), ("coef_scale", coef_scale)):
        _check(name, v, 0, integer=False)
    for name, sizes in (("easy_sizes", easy_sizes),
                        ("hard_sizes", hard_sizes)):
        if len(sizes) != 3 or any(not isinstance(s, (int, np.integer))
                                  or s < 1 for s in sizes):
            raise ValueError(
                f"{name} must be three positive ints (train, val, test). "
                f"Received: {name}={sizes!r}")
    if noise_on not in NOISE_ON:
        raise ValueError(
            f"noise_on must be one of {NOISE_ON}. Received: "
            f"noise_on={noise_on!r}")
    rng = np.random.default_rng([seed, 0])
    bases = basis_scale * rng.normal(size=(dim, 6))
    easy_pairs = list(itertools.combinations(range(0, 4), 2))
    hard_pairs = list(itertools.combinations(range(2, 6), 2))
    half = num_tasks // 2
    hard = np.array([False] * half + [True] * half)
    coefficients = np.zeros((6, num_tasks))
    for t in range(num_tasks):
        pairs = hard_pairs if hard[t] else easy_pairs
        i, j = pairs[(t % half) % len(pairs)]
        coefficients[[i, j], t] = coef_scale * rng.normal(size=2)
    parameters = bases @ coefficients
    sigma = np.where(hard, noise_hard, noise_easy)
    if noise_on == "parameters":
        parameters = parameters + rng.normal(size=parameters.shape) * sigma
    elif noise_on == "parameters_norm":
        parameters = parameters + rng.normal(
            size=parameters.shape) * sigma / np.sqrt(dim)
    splits = []
    for s in range(num_splits):
        srng = np.random.default_rng([seed, 1, s])
        parts = {k: ([], [], []) for k in ("train", "val", "test")}
        for t in range(num_tasks):
            sizes = hard_sizes if hard[t] else easy_sizes
            for part, n in zip(("train", "val", "test"), sizes):
                x = srng.normal(size=(n, dim))
                y = x @ parameters[:, t] + output_noise * srng.normal(size=n)
                if noise_on == "outputs":
                    y = y + sigma[t] * srng.normal(size=n)
                parts[part][0].append(x)
                parts[part][1].append(y)
                parts[part][2].append(np.full(n, t))
        arrays = {}
        for part, (xs, ys, ts) in parts.items():
            arrays[f"x_{part}"] = np.concatenate(xs).astype(np.float32)
            arrays[f"y_{part}"] = np.concatenate(ys).astype(np.float32)
            arrays[f"task_{part}"] = np.concatenate(ts).astype(np.int64)
        splits.append(TaskSplit(**arrays))
    return SyntheticAMTFL(bases=bases, coefficients=coefficients,
                          parameters=parameters, hard=hard,
                          splits=tuple(splits))
