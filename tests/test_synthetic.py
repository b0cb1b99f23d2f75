"""Synthetic generator, model selection helpers, recovery metrics and the
Fig. 4/5 scripts (smoke profile)."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from amtfl_tf import datasets
from amtfl_tf import metrics
from amtfl_tf.experiments import search as sh
from amtfl_tf.experiments.amtfl import synthetic as syn

from conftest import REPO_ROOT


def test_generator_follows_the_paper():
    d = datasets.load("synthetic_amtfl", seed=3, noise_on="outputs")
    assert d.bases.shape == (30, 6) and d.parameters.shape == (30, 12)
    assert d.hard.tolist() == [False] * 6 + [True] * 6
    assert len(d.splits) == 5
    # easy tasks use two of l1..l4, hard ones two of l3..l6, all 6 pairs
    support = [tuple(np.flatnonzero(d.coefficients[:, t]))
               for t in range(12)]
    assert sorted(support[:6]) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3),
                                   (2, 3)]
    assert sorted(support[6:]) == [(2, 3), (2, 4), (2, 5), (3, 4), (3, 5),
                                   (4, 5)]
    # outputs-noise default: W* = L* S* exactly (rank 6)
    np.testing.assert_allclose(d.parameters, d.bases @ d.coefficients)
    s = d.splits[0]
    for part, (easy, hard) in {"train": (50, 25), "val": (50, 25),
                               "test": (100, 100)}.items():
        counts = np.bincount(getattr(s, f"task_{part}"), minlength=12)
        assert counts.tolist() == [easy] * 6 + [hard] * 6
    np.testing.assert_array_equal(d.task_sizes, [50] * 6 + [25] * 6)
    # noise level: residual std of hard tasks ~2, easy ~1
    res = s.y_test - np.einsum("nd,dn->n", s.x_test,
                               d.parameters[:, s.task_test])
    assert 0.8 < res[s.task_test < 6].std() < 1.2
    assert 1.7 < res[s.task_test >= 6].std() < 2.3


def test_generator_is_seeded_and_literal_option():
    a = datasets.load("synthetic_amtfl", seed=1)
    b = datasets.load("synthetic_amtfl", seed=1)
    c = datasets.load("synthetic_amtfl", seed=2)
    np.testing.assert_array_equal(a.splits[4].y_val, b.splits[4].y_val)
    assert not np.allclose(a.bases, c.bases)
    # the default is the text's reading: N(0, σ²) on every coordinate of
    # w_t (σ = 1 easy, 2 hard) and noise-free targets
    lit = datasets.load("synthetic_amtfl", seed=1)
    noise = lit.parameters - lit.bases @ lit.coefficients
    assert 0.7 < noise[:, :6].std() < 1.3 and 1.5 < noise[:, 6:].std() < 2.5
    s = lit.splits[0]
    np.testing.assert_allclose(
        s.y_test, np.einsum("nd,dn->n", s.x_test,
                            lit.parameters[:, s.task_test]), atol=1e-4)
    assert np.linalg.matrix_rank(lit.parameters) == 12
    big = datasets.load("synthetic_amtfl", seed=1, num_tasks=48,
                        num_splits=1)
    assert big.hard.sum() == 24 and big.num_tasks == 48


@pytest.mark.parametrize("kwargs,match", [
    ({"num_tasks": 13}, "num_tasks=13"),
    ({"num_tasks": 0}, "num_tasks=0"),
    ({"noise_on": "inputs"}, "noise_on='inputs'"),
    ({"easy_sizes": (50, 50)}, "easy_sizes"),
    ({"noise_hard": -1.0}, "noise_hard=-1.0"),
])
def test_generator_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.make_synthetic_amtfl(**kwargs)


class _FakeTrainer:
    """Records fits; the 'model' is the last hyper-parameters."""

    def __init__(self):
        self.calls = []

        class M:
            def get_weights(inner):
                return dict(self.calls[-1])
        self.model = M()

    def fit(self, **hp):
        self.calls.append(hp)
        return 0.0


def test_coordinate_search_finds_separable_minimum():
    tr = _FakeTrainer()
    target = {"a": 1e-2, "b": 1.0}

    def score():
        hp = tr.calls[-1]
        return sum((math.log10(hp[k]) - math.log10(v)) ** 2
                   for k, v in target.items())

    res = sh.coordinate_search(tr, score, {"a": sh.PAPER_GRID,
                                           "b": sh.PAPER_GRID})
    assert res.best == target and res.score == 0.0
    assert res.weights == target
    # one sweep: the start plus at most |grid| new points per coordinate
    assert len(tr.calls) == len(res.tried) <= 1 + 2 * 5


def test_coordinate_search_all_diverged():
    tr = _FakeTrainer()
    with pytest.raises(FloatingPointError, match="diverged"):
        sh.coordinate_search(tr, lambda: float("nan"), {"a": (1.0, 0.1)})


def test_train_config_validation():
    with pytest.raises(ValueError, match="steps=0"):
        sh.TrainConfig(steps=0)
    with pytest.raises(ValueError, match="learning_rate=0"):
        sh.TrainConfig(learning_rate=0)
    with pytest.raises(ValueError, match="method='LASSO'"):
        sh.build_model("LASSO", 2, 3)


def test_matched_cosine_and_helpers():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(30, 6))
    perm = [3, 0, 5, 1, 4, 2]
    learned = true[:, perm] * np.array([1, -2, 3, -1, 1, 0.5])
    score, order, signs = metrics.matched_cosine(learned, true)
    assert score == pytest.approx(1.0)
    np.testing.assert_allclose(learned[:, order] * signs / np.abs(
        np.array([1, -2, 3, -1, 1, 0.5]))[order], true)
    noisy, _, _ = metrics.matched_cosine(rng.normal(size=(30, 6)), true)
    assert noisy < 0.6
    assert metrics.relative_error(2 * true, true) == pytest.approx(1.0)
    assert metrics.loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2)
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.matched_cosine(true, true[:5])
    with pytest.raises(ValueError, match="positive"):
        metrics.loglog_slope([1, 2], [0, 1])


def test_amtfl_learns_on_synthetic():
    """A short fit of each method beats predicting zero by far."""
    settings = syn.settings_for("smoke")
    data = syn.make_data(settings)
    rec = syn.fit_method("AMTFL", data, 0, settings,
                         hyperparameters=dict(alpha=0.01, gamma=0.01,
                                              mu=1e-3, lam=1e-3, l1=1e-3))
    s = data.splits[0]
    baseline = np.sqrt(np.mean(s.y_test ** 2))
    assert np.mean(rec["test_rmse"]) < 0.8 * baseline
    assert np.asarray(rec["transfer"]).shape == (12, 12)
    summary = syn.split_summary(data, rec)
    assert 0 < summary["basis_cosine"] <= 1


def test_latent_units_follow_the_rank_of_the_true_parameters():
    """k defaults to rank W*: 12 (then 30 = d) with the noise on the
    parameters, 6 with it on the outputs; an explicit k wins."""
    s = syn.settings_for("smoke")
    assert s.num_latent is None and s.noise_on == "parameters"
    assert syn.latent_units(s, syn.make_data(s)) == 12
    assert syn.latent_units(s, syn.make_data(s, num_tasks=48)) == 30
    out = syn.settings_for("smoke", noise_on="outputs")
    assert out.num_latent == 6  # the fingerprint of the earlier runs
    assert syn.latent_units(out, syn.make_data(out)) == 6
    assert syn.latent_units(syn.settings_for("smoke", num_latent=4),
                            syn.make_data(s)) == 4
    model = syn._model("GO-MTL", syn.make_data(s), s, 0)
    assert model.num_latent == 12


@pytest.mark.parametrize("script,claims", [
    ("fig4_synthetic_bases", 2), ("fig5_synthetic", 8)])
@pytest.mark.large
def test_script_smoke(tmp_path, script, claims):
    r = subprocess.run(
        [sys.executable, f"reproductions/{script}.py", "--profile=smoke",
         f"--workdir={tmp_path}"], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["profile"] == "smoke" and len(res["claims"]) == claims
    assert all(c["holds"] == (c["verdict"] == "holds") and c["statement"]
               for c in res["claims"])
    # smoke: one split, so every split-paired claim is inconclusive
    assert all(c["verdict"] == "inconclusive" for c in res["claims"]
               if "per split" in c["statistic"])
    assert (tmp_path / f"{script}.png").stat().st_size > 5000
    assert "claims: " in r.stdout and " inconclusive of " in r.stdout


def test_full_grid_search_tries_every_combination():
    tr = _FakeTrainer()
    res = sh.search(tr, lambda: abs(math.log10(tr.calls[-1]["a"]) + 2)
                    + tr.calls[-1]["b"], {"a": sh.PAPER_GRID,
                                          "b": (1.0, 0.0)}, method="grid")
    assert len(tr.calls) == 10
    assert res.best == {"a": 1e-2, "b": 0.0} and res.score == 0.0
    with pytest.raises(ValueError, match="search='random'"):
        sh.search(tr, lambda: 0.0, {"a": (1.0,)}, method="random")


def test_search_ties_a_hyperparameter_to_another():
    tr = _FakeTrainer()
    res = sh.search(tr, lambda: abs(math.log10(tr.calls[-1]["lam"]) + 1),
                    {"lam": sh.PAPER_GRID}, method="grid",
                    tie={"mu": "lam"})
    assert all(c["mu"] == c["lam"] for c in tr.calls)
    assert res.best == {"lam": 0.1, "mu": 0.1}
    assert all(h["mu"] == h["lam"] for h, _ in res.tried)
    with pytest.raises(ValueError, match="tie="):
        sh.search(tr, lambda: 0.0, {"lam": (1.0,)}, tie={"mu": "alpha"})
