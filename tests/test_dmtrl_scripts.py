"""Smoke-profile runs of the DMTRL reproduction scripts (MNIST Fig. 2,
Appendix Tables 1-2, Omniglot Fig. 4), with resume."""

import json
import sys

import pytest

from test_scripts import _run


def _results(folder):
    return json.loads((folder / "results.json").read_text())


@pytest.mark.data
@pytest.mark.large
# 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
@pytest.mark.slow
def test_fig2_mnist_smoke_and_resume(tmp_path, data_dir):
    cmd = [sys.executable, "reproductions/dmtrl_fig2_mnist.py",
           "--profile=smoke", f"--workdir={tmp_path}",
           f"--data_dir={data_dir}", "--stl_init=independent"]
    first = _run(cmd)
    assert first.returncode == 0, first.stderr[-3000:]
    res = _results(tmp_path)
    assert res["experiment"] == "dmtrl_fig2_mnist"
    methods = {r["method"] for r in res["rows"]}
    assert methods == {"STL", "UD-MTL", "DMTRL-LAF", "DMTRL-Tucker",
                       "DMTRL-TT"}
    assert {r["metric"] for r in res["rows"]} == {
        "binary_error_pct@0.002", "balanced_error_pct@0.002",
        "multiclass_error_pct@0.002"}
    assert res["claims"] and all(
        c["verdict"] in ("holds", "contradicted", "inconclusive")
        and c["holds"] == (c["verdict"] == "holds") and c["source"]
        for c in res["claims"])
    # one run per fraction: no CI, so no claim can be decided
    assert {c["verdict"] for c in res["claims"]} == {"inconclusive"}
    assert (tmp_path / "dmtrl_fig2_mnist.png").stat().st_size > 1000
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["settings"]["train"]["stl_init"] == \
        "independent"
    again = _run(cmd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already recorded" in again.stderr
    # tools/partial_claims.py reads the same records and trains nothing
    out = tmp_path / "partial"
    partial = _run([sys.executable, "tools/partial_claims.py",
                    "dmtrl_fig2_mnist", "--profile=smoke",
                    f"--source={tmp_path}", f"--out={out}",
                    f"--data_dir={data_dir}"])
    assert partial.returncode == 0, partial.stderr[-3000:]
    assert ("claims over the 1 record(s) made so far, at the fractions "
            "[0.002]" in partial.stdout)
    assert partial.stdout.count("- inconclusive: ") == len(res["claims"])
    assert [c["evidence"] for c in _results(out)["claims"]] == [
        c["evidence"] for c in res["claims"]]


@pytest.mark.data
@pytest.mark.large
# 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
@pytest.mark.slow
def test_tables_a1_a2_smoke(tmp_path, data_dir):
    a1 = tmp_path / "a1"
    r = _run([sys.executable, "reproductions/dmtrl_table_a1.py",
              "--profile=smoke", f"--workdir={a1}",
              f"--data_dir={data_dir}"])
    assert r.returncode == 0, r.stderr[-3000:]
    res = _results(a1)
    rows = {(r["method"], r["dataset"]): r for r in res["rows"]}
    assert rows[("Argyriou et al. (2008)", "mnist/PCA feature")][
        "paper"] == 15.64
    assert rows[("DMTRL-TT", "mnist/CNN feature")]["paper"] == 7.31
    assert [c["id"] for c in res["claims"]] == [
        "dmtrl.a1.classic_improve_on_stl", "dmtrl.a1.cnn_features_better",
        "dmtrl.a1.dmtrl_beats_classic_cnn",
        "dmtrl.a1.dmtrl_beats_shallow_pca"]
    r = _run([sys.executable, "reproductions/dmtrl_table_a2.py",
              "--profile=smoke", f"--workdir={tmp_path / 'a2'}",
              f"--source_workdir={a1}", f"--data_dir={data_dir}"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "already recorded" in r.stderr  # reused the Appendix A run
    res = _results(tmp_path / "a2")
    params = {r["method"]: r for r in res["rows"]
              if r["metric"] == "num_params_k"}
    assert params["STL"]["paper"] == 4351
    assert params["STL"]["mean"] == pytest.approx(5589.77)
    assert set(params) == {"STL", "DMTRL-LAF", "DMTRL-Tucker", "DMTRL-TT",
                           "UD-MTL", "UD-MTL-Large"}
    ids = [c["id"].split(".")[-1] for c in res["claims"]]
    # stl_init='shared' (default): 'fewer parameters than STL' is removed
    assert ids == ["dmtrl_more_params_than_udmtl", "ud_large_not_better",
                   "dmtrl_beats_ud_large"]
    assert any(n.startswith("Claim removed") for n in res["notes"])


@pytest.mark.data
@pytest.mark.large
# 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
@pytest.mark.slow
def test_fig4_omniglot_smoke(tmp_path, data_dir):
    # the faithful profile's training rules, at smoke size
    faithful = ["--stl_init=independent", "--stopping=holdout",
                "--patience=1", "--rank_rule=interpolative"]
    r = _run([sys.executable, "reproductions/dmtrl_fig4_omniglot.py",
              "--profile=smoke", f"--workdir={tmp_path}",
              f"--data_dir={data_dir}", "--deterministic", *faithful])
    assert r.returncode == 0, r.stderr[-3000:]
    res = _results(tmp_path)
    metrics = {r["metric"] for r in res["rows"]}
    assert "error_pct@0.1" in metrics
    for measure in ("kernel_cosine", "kernel_spectrum"):
        assert f"{measure}_conv1" in metrics and f"{measure}_fc1" in metrics
    record = json.loads((tmp_path / "splits" / "frac0.1_rep1.json"
                         ).read_text())["record"]
    assert record["n_holdout"] > 0 and record["stl"]["best_epoch"] >= 1
    for norm in ("softmax", "l1"):
        for layer in ("conv1", "conv2", "conv3", "fc1"):
            assert f"rho_{norm}_{layer}" in metrics
    for norm in ("softmax", "l1"):
        assert f"rho_random_{norm}_fc1" in metrics
    ids = [c["id"].split(".")[-1] for c in res["claims"]]
    # the rho claim is removed (artefacts, see the notes)
    assert ids == ["dmtrl_beats_stl", "udmtl_poor_at_smallest",
                   "udmtl_helps_above_half", "more_sharing_at_conv"]
    assert res["claims"][2]["test"].startswith("not tested")
    assert any(n.startswith("Claim removed") for n in res["notes"])
    pairs = res["extra"]["pairs"]
    assert len(pairs["most_related"]) == 2
    for png in ("dmtrl_fig4_omniglot.png", "dmtrl_fig4_alphabet_pairs.png"):
        assert (tmp_path / png).stat().st_size > 1000
    # UD-MTL's cross-validation is seeded: recomputed on resume, it gives
    # the same errors (it once drew its networks from an unseeded RNG)
    cv = tmp_path / "splits" / "ud_cv.json"
    first = json.loads(cv.read_text())["record"]
    cv.unlink()
    r = _run([sys.executable, "reproductions/dmtrl_fig4_omniglot.py",
              "--profile=smoke", f"--workdir={tmp_path}",
              f"--data_dir={data_dir}", "--deterministic", *faithful])
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(cv.read_text())["record"] == first


@pytest.mark.large
def test_dmtrl_script_rejects_bad_flag(tmp_path):
    r = _run([sys.executable, "reproductions/dmtrl_fig4_omniglot.py",
              "--profile=smoke", f"--workdir={tmp_path}",
              "--image_size=8"])
    assert r.returncode != 0
    assert "image_size=8" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.data
@pytest.mark.large
@pytest.mark.slow  # about 55 s: the default tier stays well under 10 min
def test_rank_rules_tool_smoke(tmp_path, data_dir):
    """tools/dmtrl_rank_rules.py: one record per subset with both rules at
    every ε, the table with Appendix B's ratio at ε = 0.1; a second call
    trains nothing, one with other ε is refused; bad arguments are one
    line."""
    cmd = [sys.executable, "tools/dmtrl_rank_rules.py", "--profile=smoke",
           "--subsets=1", "--eps", "0.1", "0.5", f"--out={tmp_path}",
           f"--data_dir={data_dir}"]
    r = _run(cmd)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[1/1] fold1" in r.stdout
    rec = json.loads((tmp_path / "splits" / "fold1.json").read_text())[
        "record"]
    assert set(rec["rules"]) == {"frobenius", "interpolative"}
    assert set(rec["rules"]["interpolative"]) == {"0.1", "0.5"}
    for rule in rec["rules"].values():
        for row in rule.values():
            for got in row.values():
                assert 0 < got["ratio"] == got["params"] / rec["stl"]["params"]
    res = json.loads((tmp_path / "results.json").read_text())
    assert len(res["rows"]) == 2 * 2 * 3
    table = (tmp_path / "table.md").read_text()
    assert "| interpolative | 0.1 | DMTRL-TT |" in table
    assert "| 0.50 |" in table   # Appendix B's TT ratio beside ours
    again = _run(cmd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "fold1: already recorded" in again.stdout
    assert "done in" not in again.stdout
    other = _run(cmd[:4] + ["--eps", "0.1"] + cmd[-2:])
    assert other.returncode == 1
    assert "ResumeMismatchError" in other.stderr
    assert "eps: [0.1, 0.5] -> [0.1]" in other.stderr
    bad = _run(cmd[:2] + ["--eps", "1.5"])
    assert bad.returncode == 2 and "--eps must be in [0, 1)" in bad.stderr


def test_partial_claims_reports_every_record_made_so_far():
    """A run makes every fraction's first repeat before any second: the
    tool reports on each recorded key, whatever its repeat, in run
    order, and on nothing else."""
    sys.path.insert(0, "tools")
    try:
        from partial_claims import recorded_keys
    finally:
        sys.path.pop(0)
    names = ["_fingerprint.json", "_partial", "frac0.005_rep1.json",
             "frac0.005_rep2.json", "frac0.01_rep2.json",
             "frac0.2_rep1.json", "frac0.2_rep2.json", "frac1_rep1.json",
             "frac0.5_rep3.json", "ud_cv_N1_fold1.json"]
    fractions = (0.005, 0.01, 0.02, 0.2, 0.5, 1.0)
    assert recorded_keys(names, fractions, 2) == [
        "frac0.005_rep1", "frac0.2_rep1", "frac1_rep1",
        "frac0.005_rep2", "frac0.01_rep2", "frac0.2_rep2"]
    assert recorded_keys(names, fractions, 1) == [
        "frac0.005_rep1", "frac0.2_rep1", "frac1_rep1"]
    assert recorded_keys([], fractions, 1) == []


def test_partial_claims_reuses_the_runs_flags(tmp_path):
    sys.path.insert(0, "tools")
    try:
        from partial_claims import run_flags
    finally:
        sys.path.pop(0)
    assert run_flags(str(tmp_path), "faithful") == []   # no config.json
    (tmp_path / "config.json").write_text(json.dumps({"machine": {"argv": [
        "reproductions/dmtrl_fig2_mnist.py", "--profile=smoke",
        "--workdir", "somewhere", "--stl_init=independent", "--overwrite",
        "--data_dir=/data", "--fractions=0.002"]}}))
    assert run_flags(str(tmp_path), "smoke") == ["--stl_init=independent"]
    with pytest.raises(ValueError, match="made at --profile=smoke; pass "
                       "--profile=smoke. Received: --profile=faithful"):
        run_flags(str(tmp_path), "faithful")


def test_partial_claims_stops_a_script_that_would_train(tmp_path):
    """The tool runs the item's script with ``keras.Model.fit`` replaced:
    a script that reaches a fit exits with the tool's message."""
    sys.path.insert(0, "tools")
    try:
        from partial_claims import _NO_FIT
    finally:
        sys.path.pop(0)
    script = tmp_path / "trains.py"
    script.write_text(
        "import numpy as np, keras\n"
        "m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])\n"
        "m.compile('sgd', 'mse')\n"
        "m.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)\n"
        "print('trained')\n")
    r = _run([sys.executable, "-c", _NO_FIT, str(script)])
    assert r.returncode == 1
    assert "partial_claims: the script tried to train" in r.stderr
    assert "trained" not in r.stdout


def test_partial_claims_without_records_is_one_line(tmp_path):
    r = _run([sys.executable, "tools/partial_claims.py", "dmtrl_fig4_omniglot",
              f"--source={tmp_path}"])
    assert r.returncode == 2
    assert f"no split records in '{tmp_path / 'splits'}'" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "splits").mkdir()
    # a cross-validation fold and a fraction the profile does not have
    for name in ("ud_cv_N1_fold1.json", "frac0.06_rep1.json"):
        (tmp_path / "splits" / name).write_text("{}")
    r = _run([sys.executable, "tools/partial_claims.py", "dmtrl_fig4_omniglot",
              f"--source={tmp_path}"])
    assert r.returncode == 2
    assert "no record of the fractions" in r.stderr
    (tmp_path / "splits" / "frac0.05_rep1.json").write_text("{}")
    r = _run([sys.executable, "tools/partial_claims.py", "dmtrl_fig4_omniglot",
              f"--source={tmp_path}", f"--out={tmp_path}"])
    assert r.returncode == 2
    assert "--out must not be the run's own folder" in r.stderr
    assert (tmp_path / "splits" / "frac0.05_rep1.json").exists()
