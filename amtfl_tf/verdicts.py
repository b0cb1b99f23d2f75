"""Verdicts for the papers' claims: an effect, its 95% CI, and what the CI
decides.

Every claim of a paper that a reproduction checks is turned into one
*effect*, signed so that a positive value is what the paper claims (a
lower error of the paper's method: ``effect = error(baseline) −
error(method)``), with a 95% confidence interval computed by
:mod:`scipy.stats` (a maintained, tested implementation of the t and
bootstrap intervals; hand-written quantiles would be one more thing to
check). The verdict follows from the interval alone:

* ``holds`` — the CI excludes 0 on the claimed side (``low > 0``);
* ``contradicted`` — the CI excludes 0 on the other side (``high < 0``);
* ``inconclusive`` — the CI contains 0, or there is no CI (one run).

A threshold claim ("below 6%") is an effect against the threshold
(``effect = 6 − error``), so the same rule compares the CI with the
threshold.

The tests, one function each:

* :func:`paired` — both arms ran on the same splits / draws / seeds: a
  paired t interval on the per-unit differences (``scipy.stats``' one-sample
  t on the differences, the same interval as ``ttest_rel``). When every
  difference is equal (no spread) the t interval is a point whatever n is,
  so the exact sign test (``scipy.stats.binomtest``) decides: n equal signs
  hold only when significant at 5% (n ≥ 6).
* :func:`welch` — the arms ran on different units: Welch's unpaired t
  interval (``scipy.stats.ttest_ind(equal_var=False)``).
* :func:`against` — one arm against a fixed threshold (one-sample t,
  ``scipy.stats.ttest_1samp``).
* :func:`slope` — a trend: the least-squares slope of y on x with its t
  interval (``scipy.stats.linregress``).
* :func:`bootstrap` — any other statistic of paired samples
  (``scipy.stats.bootstrap``, resampling the units jointly).
* :func:`exact` — a deterministic quantity (a parameter count, a rank):
  no sampling error, the CI is the value itself.
* :func:`not_tested` — no unit the claim names was run (inconclusive).
* :func:`all_of` — a conjunction ("best of all", "every neural model beats
  every linear one"): an intersection–union test, which holds when every
  part holds and is contradicted when any part is; it reports the part
  with the weakest support.

Each returns an :class:`Evidence`; :meth:`amtfl_tf.results.Claim.of`
turns it into the claim recorded in ``results.json``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

HOLDS, CONTRADICTED, INCONCLUSIVE = "holds", "contradicted", "inconclusive"
VERDICTS = (HOLDS, CONTRADICTED, INCONCLUSIVE)
LEVEL = 0.95


def verdict_of(ci95: Sequence[float] | None) -> str:
    """The verdict an effect's 95% CI gives (see the module docstring)."""
    if ci95 is None:
        return INCONCLUSIVE
    low, high = ci95
    if low > 0:
        return HOLDS
    if high < 0:
        return CONTRADICTED
    return INCONCLUSIVE


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One effect with its 95% CI.

    Attributes:
      statistic: what ``effect`` is, in words, with its unit and sign
        (e.g. ``"STL error − AMTFL error (%), per split"``).
      n: the number of units (splits, draws, seeds, repeats) it rests on.
      effect: the estimate, positive in the claimed direction.
      ci95: ``(low, high)``, or ``None`` when it cannot be computed (n = 1).
      test: the procedure (``"paired t"``, ``"Welch t"``, ...).
    """

    statistic: str
    n: int
    effect: float
    ci95: tuple[float, float] | None
    test: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.effect):
            raise ValueError(f"effect must be finite. Received: "
                             f"effect={self.effect!r} ({self.statistic})")
        if self.ci95 is not None:
            low, high = (float(v) for v in self.ci95)
            if not (math.isfinite(low) and math.isfinite(high)):
                object.__setattr__(self, "ci95", None)
            else:
                object.__setattr__(self, "ci95", (low, high))
        object.__setattr__(self, "effect", float(self.effect))
        object.__setattr__(self, "n", int(self.n))

    @property
    def verdict(self) -> str:
        return verdict_of(self.ci95)

    def describe(self) -> str:
        """``effect [low, high] (test, n)`` for the evidence text."""
        ci = ("no CI" if self.ci95 is None
              else f"95% CI [{_g(self.ci95[0])}, {_g(self.ci95[1])}]")
        return f"{_g(self.effect)}, {ci} ({self.test}, n={self.n})"


def _g(x: float) -> str:
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2g}"


def _vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty. Received: {name}=[]")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite. Received: {name}="
                         f"{arr.tolist()!r}")
    return arr


def _t_interval(diffs: np.ndarray) -> tuple[float, float] | None:
    """The t interval of the mean of ``diffs`` (None for n < 2).

    When every difference is the same (no spread, common with accuracies
    counted on a few test images), the t interval degenerates to a point
    whatever n is; the exact sign test decides instead: the point is
    returned when n equal signs are significant at 5% (two-sided, n ≥ 6),
    else None (inconclusive)."""
    from scipy import stats
    if diffs.size < 2:
        return None
    if np.ptp(diffs) == 0:
        d = float(diffs[0])
        if d == 0.0 or stats.binomtest(
                diffs.size, diffs.size, 0.5).pvalue < 1 - LEVEL:
            return d, d
        return None
    res = stats.ttest_1samp(diffs, 0.0)
    ci = res.confidence_interval(LEVEL)
    return float(ci.low), float(ci.high)


def paired(claimed_larger: ArrayLike, claimed_smaller: ArrayLike,
           statistic: str, scale: float = 1.0) -> Evidence:
    """Paired t: both arms measured on the same units, in the same order.

    ``effect = mean(claimed_larger − claimed_smaller) · scale``. For "A's
    error is lower than B's" pass ``(error_B, error_A)``.
    """
    a = _vector(claimed_larger, "claimed_larger")
    b = _vector(claimed_smaller, "claimed_smaller")
    if a.shape != b.shape:
        raise ValueError(
            f"paired arms must have one value per unit each. Received: "
            f"{a.size} and {b.size} values ({statistic})")
    d = (a - b) * scale
    ci = _t_interval(d)
    return Evidence(statistic, d.size, float(d.mean()), ci, "paired t")


def welch(claimed_larger: ArrayLike, claimed_smaller: ArrayLike,
          statistic: str) -> Evidence:
    """Welch's unpaired t: the arms ran on different units."""
    from scipy import stats
    a = _vector(claimed_larger, "claimed_larger")
    b = _vector(claimed_smaller, "claimed_smaller")
    effect = float(a.mean() - b.mean())
    ci = None
    if a.size >= 2 and b.size >= 2:
        if not (np.ptp(a) == 0 and np.ptp(b) == 0):  # else no CI
            r = stats.ttest_ind(a, b, equal_var=False)
            c = r.confidence_interval(LEVEL)
            ci = (float(c.low), float(c.high))
    return Evidence(statistic, min(a.size, b.size), effect, ci,
                    f"Welch t (unpaired, n={a.size} and {b.size})")


def against(values: ArrayLike, threshold: float, statistic: str,
            claim: str = "below") -> Evidence:
    """One-sample t against a threshold: ``claim="below"`` gives
    ``effect = threshold − mean``, ``"above"`` gives ``mean − threshold``."""
    if claim not in ("below", "above"):
        raise ValueError(f"claim must be 'below' or 'above'. Received: "
                         f"claim={claim!r}")
    v = _vector(values, "values")
    sign = 1.0 if claim == "above" else -1.0
    d = sign * (v - float(threshold))
    return Evidence(statistic, d.size, float(d.mean()), _t_interval(d),
                    f"one-sample t against {threshold:g}")


def slope(x: ArrayLike, y: ArrayLike, statistic: str,
          sign: float = 1.0) -> Evidence:
    """The least-squares slope of ``y`` on ``x`` (times ``sign``, so a
    claimed decrease passes ``sign=-1``) with its t interval on n − 2
    degrees of freedom."""
    from scipy import stats
    xs, ys = _vector(x, "x"), _vector(y, "y")
    if xs.shape != ys.shape:
        raise ValueError(f"x and y must have equal lengths. Received: "
                         f"{xs.size} and {ys.size}")
    if xs.size < 2 or np.ptp(xs) == 0:
        raise ValueError(f"x must have at least two distinct values. "
                         f"Received: x={xs.tolist()!r}")
    fit = stats.linregress(xs, ys)
    effect = sign * float(fit.slope)
    ci = None
    if xs.size >= 3:
        q = float(stats.t.ppf(0.5 + LEVEL / 2, xs.size - 2))
        half = q * float(fit.stderr)
        ci = (effect - half, effect + half)
    return Evidence(statistic, xs.size, effect, ci, "OLS slope, t interval")


def bootstrap(statistic_fn: Callable[..., float],
              samples: Sequence[ArrayLike],
              statistic: str, n_resamples: int = 9999,
              seed: int = 0) -> Evidence:
    """A percentile bootstrap CI of ``statistic_fn(*samples)``, resampling
    the units of all ``samples`` jointly (they are paired by unit).

    ``statistic_fn`` takes one 1-D array per sample and returns a float,
    positive in the claimed direction.
    """
    from scipy import stats
    arrays = [_vector(s, f"samples[{i}]") for i, s in enumerate(samples)]
    n = arrays[0].size
    if any(a.size != n for a in arrays):
        raise ValueError("bootstrap samples must be paired (equal "
                         f"lengths). Received lengths "
                         f"{[a.size for a in arrays]}")
    effect = float(statistic_fn(*arrays))
    ci = None
    if n >= 2:
        res = stats.bootstrap(
            arrays, lambda *a: statistic_fn(*a), paired=True,
            vectorized=False, n_resamples=n_resamples, method="percentile",
            confidence_level=LEVEL, rng=np.random.default_rng(seed))
        ci = (float(res.confidence_interval.low),
              float(res.confidence_interval.high))
    return Evidence(statistic, n, effect, ci, "paired percentile bootstrap")


def exact(value: float, statistic: str) -> Evidence:
    """A deterministic quantity: it has no sampling error."""
    v = float(value)
    return Evidence(statistic, 1, v, (v, v), "exact (deterministic)")


def not_tested(statistic: str, reason: str) -> Evidence:
    """A claim the run cannot test (the units it names were not run, or
    the measurement is missing): no CI, so ``inconclusive``, and the test
    field says why."""
    return Evidence(statistic, 0, 0.0, None, f"not tested: {reason}")


def all_of(parts: Sequence[Evidence], statistic: str) -> Evidence:
    """Every part claimed at once (intersection–union test).

    It holds when every part holds and is contradicted when any part is;
    the effect and CI reported are those of the deciding part: the
    contradicted part with the highest upper bound when any is
    contradicted, else the part with the lowest lower bound (the weakest
    support).
    """
    parts = list(parts)
    if not parts:
        raise ValueError("all_of needs at least one part. Received: []")
    against_ = [p for p in parts if p.verdict == CONTRADICTED]
    if against_:
        pick = max(against_, key=lambda p: p.ci95[1])
    else:
        pick = min(parts, key=lambda p: (-math.inf if p.ci95 is None
                                         else p.ci95[0]))
    return Evidence(f"{statistic}; deciding part: {pick.statistic}",
                    pick.n, pick.effect, pick.ci95,
                    f"intersection-union of {len(parts)} × {pick.test}")
