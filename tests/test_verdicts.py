"""amtfl_tf.verdicts: effects, 95% CIs and the verdicts they give."""

import math

import numpy as np
import pytest
from scipy import stats

from amtfl_tf import verdicts


def _t_half(d):
    d = np.asarray(d, float)
    return stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)


def test_verdict_rule():
    assert verdicts.verdict_of((0.1, 2.0)) == "holds"
    assert verdicts.verdict_of((-2.0, -0.1)) == "contradicted"
    assert verdicts.verdict_of((-0.1, 2.0)) == "inconclusive"
    assert verdicts.verdict_of((0.0, 2.0)) == "inconclusive"  # touches 0
    assert verdicts.verdict_of(None) == "inconclusive"


def test_paired_matches_the_textbook_interval():
    baseline = [10.0, 11.0, 12.0, 10.5, 11.2]
    method = [9.0, 10.2, 11.0, 10.0, 10.1]
    ev = verdicts.paired(baseline, method, "baseline − method error")
    d = np.subtract(baseline, method)
    assert ev.n == 5 and ev.effect == pytest.approx(d.mean())
    half = _t_half(d)
    assert ev.ci95 == pytest.approx((d.mean() - half, d.mean() + half))
    assert ev.verdict == "holds" and ev.test == "paired t"
    # the same numbers the other way round contradict the claim
    assert verdicts.paired(method, baseline, "x").verdict == "contradicted"


def test_pairing_decides_where_the_unpaired_test_cannot():
    # a large split-to-split spread, a small consistent gain: the paired
    # test sees the gain, Welch's does not
    base = np.array([5.0, 9.0, 13.0, 17.0, 21.0])
    method = base - 0.3 + np.array([0.01, -0.02, 0.0, 0.02, -0.01])
    assert verdicts.paired(base, method, "d").verdict == "holds"
    welch = verdicts.welch(base, method, "d")
    assert welch.verdict == "inconclusive"
    r = stats.ttest_ind(base, method, equal_var=False)
    assert welch.ci95 == pytest.approx(tuple(r.confidence_interval()))


def test_no_spread_falls_back_to_the_sign_test():
    # two runs with the same gain (a few test images): a t interval would
    # be a point; two equal signs are not significant, six are
    two = verdicts.paired([0.55, 0.55], [0.5, 0.5], "d")
    assert two.ci95 is None and two.verdict == "inconclusive"
    six = verdicts.paired([0.55] * 6, [0.5] * 6, "d")
    assert six.ci95 == pytest.approx((0.05, 0.05)) and six.verdict == "holds"
    ties = verdicts.paired([0.5] * 6, [0.5] * 6, "d")
    assert ties.ci95 == (0.0, 0.0) and ties.verdict == "inconclusive"
    assert verdicts.against([5.0] * 3, 6.0, "d").verdict == "inconclusive"


def test_n_of_one_is_inconclusive_and_inputs_are_checked():
    ev = verdicts.paired([10.0], [9.0], "d")
    assert ev.ci95 is None and ev.verdict == "inconclusive" and ev.n == 1
    with pytest.raises(ValueError, match="2 and 3 values"):
        verdicts.paired([1, 2], [1, 2, 3], "d")
    with pytest.raises(ValueError, match="claimed_larger must be finite"):
        verdicts.paired([1, float("nan")], [1, 2], "d")
    with pytest.raises(ValueError, match="must not be empty"):
        verdicts.against([], 1.0, "d")
    with pytest.raises(ValueError, match="claim must be 'below' or 'above'"):
        verdicts.against([1.0], 1.0, "d", claim="under")


def test_against_compares_the_interval_with_the_threshold():
    errors = [5.1, 5.3, 5.0, 5.2]
    below = verdicts.against(errors, 6.0, "6 − error")
    assert below.effect == pytest.approx(6.0 - np.mean(errors))
    assert below.verdict == "holds"
    assert verdicts.against(errors, 5.15, "d").verdict == "inconclusive"
    assert verdicts.against(errors, 4.0, "d").verdict == "contradicted"
    assert verdicts.against(errors, 4.0, "d", claim="above").verdict == \
        "holds"


def test_slope_interval():
    x = np.array([12.0, 24.0, 48.0, 96.0])
    y = 0.5 * x + np.array([0.3, -0.2, 0.1, -0.1])
    ev = verdicts.slope(x, y, "dy/dx")
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, 2) * fit.stderr
    assert ev.effect == pytest.approx(fit.slope)
    assert ev.ci95 == pytest.approx((fit.slope - half, fit.slope + half))
    assert verdicts.slope(x, y, "d", sign=-1).verdict == "contradicted"
    assert verdicts.slope(x[:2], y[:2], "d").ci95 is None
    with pytest.raises(ValueError, match="two distinct values"):
        verdicts.slope([1, 1, 1], [1, 2, 3], "d")


def test_bootstrap_is_seeded_and_paired():
    a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    b = [0.5, 1.4, 2.6, 3.5, 4.4, 5.6]
    fn = lambda x, y: float(np.median(x - y))  # noqa: E731
    one = verdicts.bootstrap(fn, [a, b], "median gain")
    assert one == verdicts.bootstrap(fn, [a, b], "median gain")
    assert one.verdict == "holds" and one.effect == pytest.approx(0.5)
    with pytest.raises(ValueError, match="paired"):
        verdicts.bootstrap(fn, [a, b[:3]], "d")


def test_exact_and_all_of():
    assert verdicts.exact(2.0, "fewer parameters").verdict == "holds"
    assert verdicts.exact(0.0, "d").verdict == "inconclusive"
    win = verdicts.paired([3, 4, 5.0], [1, 2.1, 3], "vs A")
    weak = verdicts.paired([3, 4, 5.0], [2.9, 4.2, 4.8], "vs B")
    lose = verdicts.paired([1, 2, 3.0], [3, 4.1, 5], "vs C")
    assert verdicts.all_of([win, win], "best").verdict == "holds"
    both = verdicts.all_of([win, weak], "best")
    assert both.verdict == "inconclusive" and "vs B" in both.statistic
    assert both.effect == weak.effect
    worst = verdicts.all_of([win, weak, lose], "best")
    assert worst.verdict == "contradicted" and "vs C" in worst.statistic
    assert "intersection-union of 3" in worst.test
    with pytest.raises(ValueError, match="at least one part"):
        verdicts.all_of([], "best")


def test_evidence_rejects_non_finite_effect():
    with pytest.raises(ValueError, match="effect must be finite"):
        verdicts.Evidence("d", 2, float("inf"), None, "t")
    ev = verdicts.Evidence("d", 2, 1.0, (float("nan"), 2.0), "t")
    assert ev.ci95 is None and ev.verdict == "inconclusive"
    assert "no CI" in ev.describe()
