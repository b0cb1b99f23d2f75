"""Deep-AMTFL claims (Table 1, Table 2, Figs. 4-6) decided by paired tests
on hand-made per-split values, the Fig. 5(c) time claim from the benchmark
JSON, and the faithful profiles."""

import json

import numpy as np
import pytest

from amtfl_tf import verdicts
from amtfl_tf.experiments.amtfl import fig4_bases
from amtfl_tf.experiments.amtfl import fig5_synthetic
from amtfl_tf.experiments.amtfl import fig6_transfer
from amtfl_tf.experiments.amtfl import synthetic as syn
from amtfl_tf.experiments.amtfl import table1
from amtfl_tf.experiments.amtfl import table2
from amtfl_tf.results import Row

NOISE = np.array([0.03, -0.02, 0.01, -0.01, 0.0])  # per-split jitter


def _rows(means, metric="error_pct", noise=NOISE):
    return {m: Row.from_splits(m, metric, list(v + noise * (i + 1)))
            for i, (m, v) in enumerate(means.items())}


def _verdicts(claims):
    for c in claims:   # every claim carries a consistent verdict
        assert c.verdict in verdicts.VERDICTS
        assert c.holds == (c.verdict == verdicts.HOLDS)
        assert c.source.startswith("Deep-AMTFL §") and c.statement
        if c.effect_ci95 is not None:
            assert c.verdict == verdicts.verdict_of(c.effect_ci95)
    return {c.id: c.verdict for c in claims}


def test_table1_claims_paired_by_split():
    mnist = dict(zip(table1.METHODS, [15.0, 14.0, 13.0, 9.0, 8.9, 8.5]))
    v = _verdicts(table1.claims_for("mnist", _rows(mnist)))
    assert v == {"amtfl.table1.mnist.amtfl_lowest": "holds",
                 "amtfl.table1.mnist.neural_beat_linear": "holds"}
    # reversed: AMTFL worst, linear models best
    rev = dict(zip(table1.METHODS, [8.0, 8.1, 8.2, 14.0, 14.5, 15.0]))
    v = _verdicts(table1.claims_for("mnist", _rows(rev)))
    assert set(v.values()) == {"contradicted"}
    # one split: no CI, inconclusive
    one = {m: Row.from_splits(m, "error_pct", [x]) for m, x in mnist.items()}
    v = _verdicts(table1.claims_for("mnist", one))
    assert set(v.values()) == {"inconclusive"}


def test_table1_school_claims_and_grid_note():
    school = dict(zip(table1.METHODS, [10.2, 9.80, 10.1, 9.95, 9.97, 9.92]))
    claims = table1.claims_for("school", _rows(school, "rmse"))
    v = _verdicts(claims)
    assert v == {"amtfl.table1.school.narrow_band": "holds",
                 "amtfl.table1.school.gomtl_best": "holds"}
    assert "grid" in claims[1].note        # the quick grid caps μ and λ
    wide = dict(school, **{"GO-MTL": 12.0})
    v = _verdicts(table1.claims_for("school", _rows(wide, "rmse"),
                                    grid=(1.0, 1e-4)))
    assert v == {"amtfl.table1.school.narrow_band": "contradicted",
                 "amtfl.table1.school.gomtl_best": "contradicted"}


def _deep_rows(means, n=3):
    noise = NOISE[:n]
    return {m: Row.from_splits(table2.PAPER_NAMES[m], "error_pct_per_class",
                               list(v + noise * (i + 1)))
            for i, (m, v) in enumerate(means.items())}


@pytest.mark.parametrize("dataset", ["mnist_imbalanced", "awa_c"])
def test_table2_claims_paired_by_run(dataset):
    s = table2.settings_for("faithful")
    good = dict(zip(table2.METHODS, [8.1, 8.7, 8.5, 5.8]))
    claims = table2.claims_for(dataset, _deep_rows(good), s)
    assert set(_verdicts(claims).values()) == {"holds"}
    assert ("fine-tuned" in claims[0].note) == (dataset == "awa_c")
    bad = dict(zip(table2.METHODS, [5.8, 8.7, 8.5, 8.1]))
    v = _verdicts(table2.claims_for(dataset, _deep_rows(bad), s))
    assert set(v.values()) == {"contradicted"}


def test_fig6_claims_paired_by_run():
    rng = np.random.default_rng(0)
    runs, T = 3, 10
    cnn = 0.9 + 0.01 * rng.random((runs, T))
    gain = np.linspace(0.01, 0.02, T)
    gain[9] = 0.06
    good = {"cnn": cnn, "deep-amtfl": cnn + gain + 0.002 * rng.random(
        (runs, T))}
    upper = np.triu(np.ones((T, T)), 1)
    transfer = [upper + 0.1 * r * np.eye(T) + 0.01 * r * upper.T
                for r in range(runs)]
    v = _verdicts(fig6_transfer.claims_for(good, transfer))
    assert set(v.values()) == {"holds"}
    bad = {"cnn": good["deep-amtfl"], "deep-amtfl": cnn}
    v = _verdicts(fig6_transfer.claims_for(
        bad, [m.T for m in transfer]))
    assert set(v.values()) == {"contradicted"}
    # two runs: a t interval on one degree of freedom, stated in the note
    two = fig6_transfer.claims_for({k: a[:2] for k, a in good.items()},
                                   transfer[:2])
    assert all(c.n == 2 and "n = 2" in c.note for c in two)


def _synthetic_rows(amtfl_better=True):
    base = {("GO-MTL", "basis_cosine"): 0.80, ("AMTFL", "basis_cosine"): 0.95,
            ("STL", "w_relative_error"): 0.5,
            ("GO-MTL", "w_relative_error"): 0.3,
            ("AMTL", "w_relative_error"): 0.4,
            ("AMTFL", "w_relative_error"): 0.2}
    if not amtfl_better:
        base[("AMTFL", "basis_cosine")] = 0.6
        base[("AMTFL", "w_relative_error")] = 0.6
    return {k: Row.from_splits(k[0], k[1], list(v + NOISE * (i + 1) / 10))
            for i, (k, v) in enumerate(base.items())}


def test_fig4_claims_paired_by_split():
    v = _verdicts(fig4_bases.claims_for(_synthetic_rows()))
    assert set(v.values()) == {"holds"}
    v = _verdicts(fig4_bases.claims_for(_synthetic_rows(False)))
    assert set(v.values()) == {"contradicted"}
    # a tie (0.0005 apart, split noise larger) is inconclusive, not false
    rows = _synthetic_rows()
    for m, d in (("GO-MTL", 0.0005), ("AMTL", 0.0005)):
        rows[(m, "w_relative_error")] = Row.from_splits(
            m, "w_relative_error",
            list(0.2 + d + np.array([0.01, -0.01, 0.0, 0.005, -0.005])))
    c = fig4_bases.claims_for(rows)[1]
    assert c.verdict == "inconclusive"


def _bench(path, amtl_slopes, amtfl_slopes):
    path.write_text(json.dumps({
        "tasks": [12, 24, 48], "steps": 300, "repeats": len(amtl_slopes),
        "loglog_slope": {"AMTL": float(np.mean(amtl_slopes)),
                         "AMTFL": float(np.mean(amtfl_slopes))},
        "ratio_amtl_over_amtfl": [1.0, 1.1, 1.3],
        "repeat_loglog_slope": {"AMTL": amtl_slopes,
                                "AMTFL": amtfl_slopes},
        "note": "test"}))
    return str(path)


def test_fig5_time_claim_reads_the_benchmark(tmp_path):
    c = fig5_synthetic.time_claim(_bench(tmp_path / "a.json",
                                         [0.9, 1.0, 0.95], [0.4, 0.5, 0.42]))
    assert c.verdict == "holds" and c.n == 3 and c.test == "paired t"
    c = fig5_synthetic.time_claim(_bench(tmp_path / "b.json",
                                         [0.4, 0.5, 0.42], [0.9, 1.0, 0.95]))
    assert c.verdict == "contradicted"
    c = fig5_synthetic.time_claim(str(tmp_path / "missing.json"))
    assert c.verdict == "inconclusive" and "amtl_scaling.py" in c.note


def _fig5_inputs(amtfl_better=True):
    rng = np.random.default_rng(1)
    hard = np.array([False] * 6 + [True] * 6)
    offsets = {"STL": 1.0, "GO-MTL": 0.7, "AMTL": 0.8, "AMTFL": 0.5}
    if not amtfl_better:
        offsets["AMTFL"] = 1.3
    per_task = {m: (o + 0.01 * rng.random((5, 12))).tolist()
                for m, o in offsets.items()}
    records = {f"split{k + 1}": {m: {"test_rmse": per_task[m][k],
                                     "hyperparameters": {}}
                                 for m in offsets} for k in range(5)}
    _, table = fig5_synthetic._rmse_rows(records, list(records), hard)
    counts = [12, 24, 48, 96]
    trend = -0.1 if amtfl_better else 0.1
    scaling = {f"T{t}": {"AMTL": {"all": 0.8 + 0.01 * i},
                         "AMTFL": {"all": offsets["AMTFL"] + trend * i
                                   + 0.001 * (-1) ** i}}
               for i, t in enumerate(counts)}
    return table, per_task, counts, scaling


def test_fig5_claims_and_removed_negative_transfer(tmp_path):
    json_path = _bench(tmp_path / "a.json", [0.9, 1.0, 0.95],
                       [0.4, 0.5, 0.42])
    table, per_task, counts, scaling = _fig5_inputs()
    claims = fig5_synthetic._claims(table, per_task, counts, scaling,
                                    "outputs", json_path)
    v = _verdicts(claims)
    # false by construction with output noise: not claimed
    assert "amtfl.fig5.gomtl_negative_transfer_hard" not in v
    assert set(v.values()) == {"holds"} and len(v) == 7
    notes = fig5_synthetic._notes(syn.settings_for("smoke",
                                                   noise_on="outputs"))
    assert any("Claim removed" in n for n in notes)
    notes = fig5_synthetic._notes(syn.settings_for("smoke"))
    assert not any("Claim removed" in n for n in notes)
    assert any("k = rank of the true W*" in n for n in notes)
    v = _verdicts(fig5_synthetic._claims(table, per_task, counts, scaling,
                                         "parameters", json_path))
    # GO-MTL (0.7) beats STL (1.0) on hard tasks here: contradicted
    assert v["amtfl.fig5.gomtl_negative_transfer_hard"] == "contradicted"
    table, per_task, counts, scaling = _fig5_inputs(False)
    v = _verdicts(fig5_synthetic._claims(table, per_task, counts, scaling,
                                         "outputs", json_path))
    v.pop("amtfl.fig5.amtl_time_grows_faster")
    assert set(v.values()) == {"contradicted"}


def test_faithful_profiles_follow_the_paper():
    # Table 2: the published 1,000 epochs and schedule, fewer runs
    f, p = table2.settings_for("faithful"), table2.settings_for("paper")
    assert f.epochs == p.epochs == 1000 and f.runs < p.runs == 5
    assert (f.batch_size, f.learning_rate, f.lr_drop, f.image_size) == (
        p.batch_size, p.learning_rate, p.lr_drop, p.image_size)
    # Table 1: the published grid and the paper profile's steps
    f, p = table1.settings_for("faithful"), table1.settings_for("paper")
    assert f.grid == p.grid == (1.0, 0.1, 1e-2, 1e-3, 1e-4)
    assert f.steps == p.steps and f.num_splits < p.num_splits == 5
    assert f.mnist_per_class == p.mnist_per_class == (100, 50, 50)
    assert f.search == "coordinate" and p.search == "grid"
    # synthetic: every split as published, all five (a split is cheap);
    # only the exhaustive grid is cut
    f, p = syn.settings_for("faithful"), syn.settings_for("paper")
    assert f.train == p.train and f.grid == p.grid
    assert f.task_counts == p.task_counts
    assert f.num_splits == p.num_splits == 5
    assert f.search == "coordinate" and p.search == "grid"
