"""Run folders, results.json/table.md, resume, and summary statistics."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

from amtfl_tf import metrics
from amtfl_tf import published
from amtfl_tf.experiments import Progress
from amtfl_tf.experiments import run_splits
from amtfl_tf import verdicts
from amtfl_tf.results import Claim
from amtfl_tf.results import Results
from amtfl_tf.results import ResumeMismatchError
from amtfl_tf.results import Row
from amtfl_tf.results import RunDir
from amtfl_tf.results import atomic_write_json
from amtfl_tf.results import markdown_table


def test_mean_ci95_t_by_hand():
    v = [9.8, 10.0, 9.9, 10.1, 9.7]
    mean, ci = metrics.mean_ci95(v)
    assert mean == pytest.approx(9.9)
    sd = math.sqrt(sum((x - 9.9) ** 2 for x in v) / 4)
    # t_{0.975, 4} = 2.7764451051977987
    assert ci == pytest.approx(2.7764451051977987 * sd / math.sqrt(5))
    assert metrics.mean_ci95(v, "normal")[1] == pytest.approx(
        1.96 * sd / math.sqrt(5))
    assert metrics.mean_ci95(v, "sem")[1] == pytest.approx(sd / math.sqrt(5))
    assert metrics.mean_ci95([3.0]) == (3.0, None)


@pytest.mark.parametrize("values,method,match", [
    ([], "t", "empty"),
    ([1.0, float("nan")], "t", "finite"),
    ([1.0, 2.0], "bootstrap", "method='bootstrap'"),
])
def test_mean_ci95_bad_input(values, method, match):
    with pytest.raises(ValueError, match=match):
        metrics.mean_ci95(values, method)


def test_metrics():
    assert metrics.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(
        math.sqrt(4 / 3))
    assert metrics.error_rate([0, 1, 2, 3], [0, 1, 0, 0]) == 50.0
    assert metrics.error_rate([0, 1], [0, 0], percent=False) == 0.5
    # class 0: 1/3 wrong, class 1: 0/1 wrong -> mean 1/6
    assert metrics.mean_per_class_error([0, 0, 0, 1], [0, 0, 1, 1]) == \
        pytest.approx(100 / 6)
    with pytest.raises(ValueError, match=r"y_pred.shape=\(3,\)"):
        metrics.rmse([1, 2], [1, 2, 3])


def _results(**kw):
    paper = published.get("deep_amtfl", "table1", "GO-MTL", "School")
    rows = [Row.from_splits("GO-MTL", "rmse", [9.9, 10.0, 9.8], paper,
                            dataset="school", chosen={"mu": 0.1})]
    base = dict(experiment="table1", profile="quick", dataset="school",
                rows=rows, claims=[Claim.of(
                    "x.y", "GO-MTL is best",
                    verdicts.paired([10.0, 10.15, 9.9], [9.9, 10.0, 9.8],
                                    "NN − GO-MTL RMSE"),
                    source="Deep-AMTFL §5.1, Table 1",
                    statement="GO-MTL works best on School",
                    detail="9.90 vs 10.0")],
                wall_seconds=1.5)
    base.update(kw)
    return Results(**base)


def test_results_json_schema(tmp_path):
    run = RunDir(str(tmp_path))
    run.write_results(_results())
    data = json.loads((tmp_path / "results.json").read_text())
    for key in ("experiment", "profile", "dataset", "rows", "claims",
                "wall_seconds"):
        assert key in data
    row = data["rows"][0]
    for key in ("method", "metric", "mean", "ci95", "per_split", "paper",
                "paper_ci95"):
        assert key in row
    assert row["paper"] == 9.87 and row["paper_ci95"] == 0.06
    assert row["mean"] == pytest.approx(9.9)
    assert row["extra"] == {"chosen": {"mu": 0.1}}
    claim = data["claims"][0]
    assert claim["id"] == "x.y" and claim["text"] == "GO-MTL is best"
    assert claim["source"] == "Deep-AMTFL §5.1, Table 1"
    assert claim["n"] == 3 and claim["effect"] == pytest.approx(0.35 / 3)
    assert claim["effect_ci95"][0] > 0
    assert claim["verdict"] == "holds" and claim["holds"] is True
    assert claim["test"] == "paired t"
    assert claim["evidence"].startswith("9.90 vs 10.0; effect 0.117")
    assert data["schema_version"] == 2
    assert data["profile_changes"] is None
    table = (tmp_path / "table.md").read_text()
    assert "| GO-MTL | school | rmse | 9.90 ± 0.25 | 9.87 ± 0.06 | 3 |" in table
    assert "Claims (1 hold, 0 contradicted, 0 inconclusive of 1)" in table
    assert "[Deep-AMTFL §5.1, Table 1]" in table


def test_claim_verdict_follows_from_the_interval():
    kw = dict(id="a", text="b", source="s", statement="t", statistic="d",
              n=3, effect=1.0, test="paired t")
    with pytest.raises(ValueError, match="be 'inconclusive'.*"
                       "Received: verdict='holds'"):
        Claim(effect_ci95=[-0.5, 2.5], verdict="holds", **kw)
    assert Claim(effect_ci95=[0.5, 1.5], verdict="holds", **kw).holds
    c = Claim(effect_ci95=[-2.0, -0.5], verdict="contradicted", **kw)
    assert c.holds is False
    assert Claim(effect_ci95=None, verdict="inconclusive", **kw).n == 3
    with pytest.raises(ValueError, match="Claim.source must be"):
        Claim(**{**kw, "source": ""}, effect_ci95=None,
              verdict="inconclusive")
    again = Claim.from_dict(dataclasses.asdict(c))
    assert again == c


def test_profile_changes_in_table(tmp_path):
    run = RunDir(str(tmp_path))
    run.write_results(_results(profile_changes=[
        {"setting": "epochs", "ours": 300, "paper": 1000}]))
    table = (tmp_path / "table.md").read_text()
    assert "Changes from the paper: epochs 300 (paper 1000)." in table


def test_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match=r"rows\[0\].mean"):
        atomic_write_json(str(tmp_path / "r.json"),
                          {"rows": [{"mean": float("nan")}]})
    assert not (tmp_path / "r.json").exists()
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_markdown_counts_and_missing_paper():
    r = _results(rows=[Row.from_splits("n", "count", [60000])],
                 claims=[], dataset=None)
    md = markdown_table(r)
    assert "| n | count | 60000 | – | 1 |" in md


def test_config_json_has_provenance(tmp_path):
    run = RunDir(str(tmp_path))
    payload = run.write_config({"profile": "quick", "seed": 3})
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["config"] == {"profile": "quick", "seed": 3}
    assert data["versions"]["numpy"] == np.__version__
    assert data["versions"]["python"]
    assert "commit" in data["git"] and "cpu_count" in data["machine"]
    assert payload["config"]["seed"] == 3


def test_resume_skips_recorded_splits(tmp_path):
    calls = []

    def compute(key):
        calls.append(key)
        if key == "s3" and len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed during split 3
        return {"value": int(key[1:])}

    run = RunDir(str(tmp_path), fingerprint={"profile": "quick"})
    with pytest.raises(KeyboardInterrupt):
        run_splits(run, ["s1", "s2", "s3"], compute)
    assert sorted(run.completed()) == ["s1", "s2"]
    # rerun: only s3 is computed, the records of s1 and s2 are reused
    run = RunDir(str(tmp_path), fingerprint={"profile": "quick"})
    out = run_splits(run, ["s1", "s2", "s3"], compute)
    assert calls == ["s1", "s2", "s3", "s3"]
    assert out == {"s1": {"value": 1}, "s2": {"value": 2}, "s3": {"value": 3}}
    # overwrite recomputes everything
    run = RunDir(str(tmp_path), overwrite=True,
                 fingerprint={"profile": "quick"})
    assert run.completed() == {}
    run_splits(run, ["s1"], compute)
    assert calls[-1] == "s1"


def test_resume_refuses_other_settings(tmp_path):
    run = RunDir(str(tmp_path), fingerprint={"profile": "smoke"})
    run.save_split("s1", {"v": 1})
    with pytest.raises(ResumeMismatchError,
                       match="profile: 'smoke' -> 'quick'.*--overwrite"):
        RunDir(str(tmp_path), fingerprint={"profile": "quick"})
    with pytest.raises(ResumeMismatchError, match="use another --out\\."):
        RunDir(str(tmp_path), fingerprint={"profile": "quick"},
               folder_flag="--out")
    run = RunDir(str(tmp_path), overwrite=True,
                 fingerprint={"profile": "quick"})
    assert run.completed() == {}


@pytest.mark.parametrize("text,match", [
    ('{"key": "s1"}',
     "has no 'key' and 'record' fields.*Received: \\['key'\\]"),
    ("[1, 2]", "has no 'key' and 'record' fields.*Received: list"),
    ('{"key": "s1", "rec', "is not valid JSON")])
def test_foreign_split_record_is_named(tmp_path, text, match):
    run = RunDir(str(tmp_path), fingerprint={"profile": "smoke"})
    run.save_split("s1", {"v": 1})
    (tmp_path / "splits" / "s1.json").write_text(text)
    for read in (lambda: run.load_split("s1"), run.completed):
        with pytest.raises(ValueError, match=match) as e:
            read()
        assert str(tmp_path / "splits" / "s1.json") in str(e.value)
        assert "--overwrite" in str(e.value)


@pytest.mark.parametrize("key", ["", "a/b", "../x", "a b"])
def test_bad_split_key(tmp_path, key):
    with pytest.raises(ValueError, match="split key"):
        RunDir(str(tmp_path)).save_split(key, {})


def test_run_splits_rejects_duplicate_keys(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        run_splits(RunDir(str(tmp_path)), ["a", "a"], lambda k: {})


def test_progress_lines():
    import io
    t = iter([0.0, 0.0, 10.0, 30.0])
    out = io.StringIO()
    p = Progress(3, "exp", stream=out, clock=lambda: next(t))
    p.skip("s1")
    p.step("s2")
    p.step("s3")
    lines = out.getvalue().splitlines()
    assert lines[0] == "[exp] [1/3] s1: already recorded"
    assert lines[1] == ("[exp] [2/3] s2 done in 10.0s (elapsed 10s, "
                        "eta 10s)")
    assert lines[2].startswith("[exp] [3/3] s3 done in 20.0s")
    with pytest.raises(ValueError, match="total=-1"):
        Progress(-1)


def test_overwrite_removes_the_old_results_at_once(tmp_path):
    """An --overwrite run that is interrupted must not leave the previous
    results.json and table.md beside its new config.json."""
    from amtfl_tf.results import RunDir
    run = RunDir(str(tmp_path))
    run.save_split("split1", {"x": 1})
    for name in ("results.json", "table.md", "plot.png"):
        (tmp_path / name).write_text("old")
    RunDir(str(tmp_path))  # resuming keeps them
    assert (tmp_path / "results.json").exists()
    again = RunDir(str(tmp_path), overwrite=True)
    assert not (tmp_path / "results.json").exists()
    assert not (tmp_path / "table.md").exists()
    assert (tmp_path / "plot.png").exists()  # rewritten when the run ends
    assert not again.has_split("split1")


def test_adopt_copies_records_of_the_same_fingerprint_only(tmp_path):
    a = RunDir(str(tmp_path / "paper" / "x"), fingerprint={"lr": 1})
    a.save_split("run1", {"err": 1.0})
    a.save_split("run2", {"err": 2.0})
    a.save_split("run3", {"err": 3.0})
    b = RunDir(str(tmp_path / "faithful" / "x"), fingerprint={"lr": 1})
    b.save_split("run2", {"err": 9.0})           # kept: never overwritten
    assert b.adopt(a.workdir, ["run1", "run2"]) == ["run1"]
    assert b.load_split("run1") == {"err": 1.0}
    assert b.load_split("run2") == {"err": 9.0} and not b.has_split("run3")
    other = RunDir(str(tmp_path / "other"), fingerprint={"lr": 2})
    assert other.adopt(a.workdir) == []
    assert other.adopt(str(tmp_path / "absent")) == []
    assert a.adopt(a.workdir) == []


def test_resumed_run_says_its_wall_time_is_one_invocations(tmp_path):
    """A run that read split records made earlier labels its wall time as
    this invocation's (a fully resumed run once showed "Wall time: 5.9 s"
    for an hour of draws); a run that computed every split does not."""
    first = RunDir(str(tmp_path))
    run_splits(first, ["a", "b"], lambda k: {"v": 1.0})
    first.write_results(_results())
    assert (tmp_path / "table.md").read_text().rstrip().endswith(
        "Wall time: 1.5 s.")
    again = RunDir(str(tmp_path))
    run_splits(again, ["a", "b", "c"], lambda k: {"v": 2.0})
    res = _results()
    again.write_results(res)
    table = (tmp_path / "table.md").read_text()
    assert ("Wall time: 1.5 s (this invocation; 2 of 3 split records were "
            "computed by earlier invocations") in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["extra"]["splits_read"] == 2
    assert saved["extra"]["splits_total"] == 3


def test_hms_formats_seconds_minutes_and_hours():
    from amtfl_tf.durations import hms
    assert [hms(44.6), hms(185), hms(7620)] == ["45s", "3m05s", "2h07m"]


def test_machine_info_names_the_cpu_and_the_onednn_setting(monkeypatch):
    """config.json says which CPU made a run (its speed and its bits depend
    on it) and whether TensorFlow's oneDNN kernels were forced."""
    from amtfl_tf.results import CPU_FEATURES
    from amtfl_tf.results import machine_info
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    info = machine_info()
    assert info["tf_enable_onednn_opts"] == "1"
    if os.path.exists("/proc/cpuinfo"):
        assert info["cpu_model"]
        assert set(info["cpu_features"]) <= set(CPU_FEATURES)
    else:
        assert info["cpu_model"] is None


def test_a_split_record_names_the_machine_that_finished_it(
        tmp_path, monkeypatch):
    """A run resumed across sessions can span CPUs: each record says
    which one made it, and loading a record is unchanged."""
    from amtfl_tf.results import cpu_info, read_json
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    run = RunDir(str(tmp_path))
    run.save_split("s1", {"v": 1})
    saved = read_json(str(tmp_path / "splits" / "s1.json"))
    assert saved["machine"] == {**cpu_info(), "tf_enable_onednn_opts": "0"}
    assert run.load_split("s1") == {"v": 1}
    assert run.completed() == {"s1": {"v": 1}}
