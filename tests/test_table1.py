"""Deep-AMTFL Table 1: problems, user-supplied feature files, claims and
the script's smoke profile."""

import json
import subprocess
import sys

import numpy as np
import pytest

from amtfl_tf import datasets
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.amtfl import table1
from amtfl_tf.results import Row

from conftest import REPO_ROOT


def _cfg(tmp_path, data_dir, profile="smoke"):
    return CommonConfig(experiment="table1", profile=profile,
                        data_dir=data_dir, workdir=str(tmp_path), seed=0,
                        overwrite=False, jit_compile="auto", download=False)


@pytest.mark.data
def test_school_problem(data_dir):
    s = table1.settings_for("quick")
    school = datasets.load("school", data_dir=data_dir)
    p = table1.school_problem(school, 1, s)
    sizes = {k: len(v) for k, v in p.y.items()}
    assert sizes["train"] + sizes["val"] == 11472 and sizes["test"] == 3890
    assert 0.18 < sizes["val"] / 11472 < 0.22
    # every school keeps training and validation students
    assert len(np.unique(p.task["train"])) == 139
    assert len(np.unique(p.task["val"])) == 139
    assert abs(p.y["train"].mean()) < 1e-5
    assert abs(p.y["train"].std() - 1) < 1e-4
    np.testing.assert_allclose(p.x["train"][:, 27], 1.0)
    # the score is the RMSE on the original scale: predicting the
    # training mean gives about the score std (~12.7)
    zero = np.zeros((sizes["test"], 139), np.float32)
    assert 11.0 < p.score(zero, p.y["test"], p.task["test"]) < 14.0


@pytest.mark.data
def test_mnist_problem(data_dir):
    s = table1.settings_for("quick")
    mnist = datasets.load("mnist", data_dir=data_dir)
    p = table1.mnist_problem(mnist, 2, s)
    assert p.x["train"].shape == (1000, 64)
    assert p.x["val"].shape == (500, 64) and p.x["test"].shape == (500, 64)
    np.testing.assert_array_equal(p.y["train"].sum(axis=0), [100] * 10)
    np.testing.assert_array_equal(p.y["test"].sum(axis=0), [50] * 10)
    assert p.loss == "logistic" and p.task["train"] is None
    # splits differ
    q = table1.mnist_problem(mnist, 3, s)
    assert not np.allclose(p.x["train"][:5], q.x["train"][:5])


def _write_features(folder, name, rng):
    n, d = 120, 12
    x = rng.normal(size=(n, d)).astype(np.float32)
    if name == "awa_a":
        y = (x[:, :4] > 0).astype(np.int8)
    else:
        y = np.argmax(x[:, :3], axis=1)
    split = np.stack([rng.permutation(np.repeat([0, 1, 2], n // 3))
                      for _ in range(2)]).astype(np.int8)
    (folder / name).mkdir(parents=True)
    np.savez(folder / name / "features.npz", x=x, y=y, split=split)


@pytest.mark.parametrize("name", ["awa_a", "room"])
def test_user_supplied_features(tmp_path, name):
    _write_features(tmp_path / "data", name, np.random.default_rng(0))
    cfg = _cfg(tmp_path / "out", str(tmp_path / "data"))
    res = table1.run_dataset(cfg, name, num_splits=2, steps=60)
    assert [r.method for r in res.rows] == list(table1.METHODS)
    assert all(len(r.per_split) == 2 for r in res.rows)
    assert res.rows[0].paper is not None  # beside the published column
    out = json.loads((tmp_path / "out" / name / "results.json").read_text())
    assert out["dataset"] == name and len(out["claims"]) == 2
    assert all(c["verdict"] in ("holds", "contradicted", "inconclusive")
               and c["n"] == 2 for c in out["claims"])
    # a learnable problem: STL is far better than chance (50% / 67%)
    assert res.rows[0].mean < 35.0


def test_missing_features_message(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        table1.load_features("room", str(tmp_path))
    msg = str(e.value)
    assert str(tmp_path / "room" / "features.npz") in msg
    assert "split: (S, N) int8" in msg and "AMTFL_TF_DATA_DIR" in msg


def test_malformed_features(tmp_path):
    (tmp_path / "awa_a").mkdir()
    np.savez(tmp_path / "awa_a" / "features.npz", x=np.zeros((4, 3)),
             y=np.full((4, 2), 3), split=np.zeros((1, 5)))
    with pytest.raises(datasets.DatasetError) as e:
        table1.load_features("awa_a", str(tmp_path))
    assert "split has shape (1, 5)" in str(e.value)
    assert "0/1 values" in str(e.value)


def _rows(means):
    jitter = np.array([0.004, -0.002, 0.0])
    return {m: Row.from_splits(m, "rmse", list(v + jitter * (i + 1)))
            for i, (m, v) in enumerate(means.items())}


def test_claims_are_computed():
    school = dict(zip(table1.METHODS, [10.2, 9.80, 10.1, 9.95, 9.97, 9.92]))
    c = {x.id: x.verdict for x in table1.claims_for("school", _rows(school))}
    assert c == {"amtfl.table1.school.narrow_band": "holds",
                 "amtfl.table1.school.gomtl_best": "holds"}
    school["GO-MTL"] = 11.0
    c = {x.id: x.verdict for x in table1.claims_for("school", _rows(school))}
    assert c == {"amtfl.table1.school.narrow_band": "contradicted",
                 "amtfl.table1.school.gomtl_best": "contradicted"}
    mnist = dict(zip(table1.METHODS, [15.0, 14.0, 13.0, 9.0, 8.9, 8.5]))
    claims = table1.claims_for("mnist", _rows(mnist))
    assert all(x.verdict == "holds" and x.n == 3 and
               x.test.startswith("intersection-union") for x in claims)
    mnist["NN"] = 13.5
    mnist["AMTFL"] = 9.0
    c = {x.id: x.verdict for x in table1.claims_for("mnist", _rows(mnist))}
    assert c == {"amtfl.table1.mnist.amtfl_lowest": "contradicted",
                 "amtfl.table1.mnist.neural_beat_linear": "contradicted"}


@pytest.mark.data
@pytest.mark.large
@pytest.mark.slow  # 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
def test_script_smoke(tmp_path, data_dir):
    r = subprocess.run(
        [sys.executable, "reproductions/table1.py", "--profile=smoke",
         f"--workdir={tmp_path}", f"--data_dir={data_dir}",
         "--dataset=all"], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("school", "mnist"):
        res = json.loads((tmp_path / name / "results.json").read_text())
        assert [row["method"] for row in res["rows"]] == list(
            table1.METHODS)
        assert all(row["paper"] is not None for row in res["rows"])
        table = (tmp_path / name / "table.md").read_text()
        assert "| AMTFL |" in table
    assert "skipping awa_a" in r.stdout


def test_published_profiles_tie_mu_to_lambda_over_a_wide_grid():
    s = table1.settings_for("faithful")
    assert s.tie_mu_lam and s.grid == (1.0, 0.1, 1e-2, 1e-3, 1e-4)
    grid = table1.grid_of("AMTFL", s)
    assert set(grid) == {"alpha", "gamma", "lam"}   # μ follows λ
    assert grid["alpha"] == s.grid and max(grid["lam"]) == 100.0
    assert min(grid["lam"]) == 1e-6
    # quick keeps its small grid for every hyper-parameter
    q = table1.settings_for("quick")
    assert table1.grid_of("GO-MTL", q) == {"mu": q.grid, "lam": q.grid}


def test_at_edge_flags_the_ends_of_each_grid():
    grid = {"alpha": (1.0, 0.1, 0.01), "lam": (10.0, 1.0, 0.1),
            "gamma": (0.5,)}
    chosen = {"alpha": 0.1, "lam": 10.0, "gamma": 0.5}
    assert table1.at_edge(chosen, grid) == ["lam"]
    assert table1.at_edge({**chosen, "alpha": 0.01}, grid) == [
        "alpha", "lam"]


def test_delta_on_the_authors_scale():
    sizes = np.array([100.0, 25.0, 400.0])
    s = table1.settings_for("faithful")
    delta = table1._delta(sizes, "logistic", s)
    # δ/√N_t = 0.001·√(N̄/N_t), the authors' 0.001/count
    np.testing.assert_allclose(delta / np.sqrt(sizes),
                               0.001 * np.sqrt(sizes.mean() / sizes))
    q = table1.settings_for("quick")
    assert table1._delta(sizes, "logistic", q) == pytest.approx(
        10.0 * np.log(2.0))
