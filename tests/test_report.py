"""figures/REPORT.md from results.json files."""

import json
import sys

import pytest

from amtfl_tf import report
from test_scripts import _run


def _write(folder, name, obj):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj))


def _results(experiment, rows, claims, figures=(), profile="quick",
             **extra):
    return {"experiment": experiment, "profile": profile, "rows": rows,
            "claims": claims, "figures": list(figures),
            "wall_seconds": 5.0, **extra}


def _claim(cid, text, verdict, evidence=""):
    return {"id": cid, "text": text, "source": "Deep-AMTFL §5.1, Table 1",
            "statement": "...", "statistic": "d", "n": 5, "effect": 0.1,
            "effect_ci95": [0.0, 0.2], "test": "paired t",
            "verdict": verdict, "holds": verdict == "holds",
            "evidence": evidence, "note": ""}


ROW_PAPER = {"method": "AMTFL", "metric": "rmse", "mean": 10.4, "ci95": 0.1,
             "per_split": [10.3, 10.5], "paper": 9.89, "paper_ci95": 0.09,
             "dataset": "school"}
ROW_OURS = {"method": "STL", "metric": "rmse", "mean": 10.5, "ci95": None,
            "per_split": [10.5], "paper": None, "dataset": "school"}


@pytest.fixture
def figures(tmp_path):
    _write(tmp_path / "table1" / "school", "results.json", _results(
        "table1", [ROW_PAPER, ROW_OURS],
        [_claim("a", "GO-MTL is best", "contradicted", "NN is"),
         _claim("b", "all within 3.4%", "holds")],
        notes=["the grid caps mu"]))
    _write(tmp_path / "table1" / "school", "config.json", {
        "machine": {"cpu_count": 2, "platform": "Linux-x"},
        "versions": {"tensorflow": "2.21.0"}})
    _write(tmp_path / "dmtrl_fig4_omniglot", "results.json", _results(
        "dmtrl_fig4_omniglot", [ROW_OURS],
        [_claim("c", "conv shares more", "inconclusive")],
        figures=["fig.png", "fig.pdf"]))
    _write(tmp_path, "run_all.json", {
        "profile": "quick", "total_seconds": 3725,
        "scripts": {"table1": {"status": "ok", "seconds": 125}},
        "failed": []})
    return tmp_path


def test_report_lists_every_item_with_numbers_and_claims(figures):
    text = report.build_report(str(figures))
    for item in report.ITEMS:
        assert f"### {item.title}" in text
    # summary: Deep-AMTFL ran 1 item, 1 claim holds and 1 is contradicted
    assert ("| Deep-AMTFL (Lee, Yang, Hwang, ICML 2018) | 1 of 11 | quick | "
            "1 | 1 | 0 | 0 |") in text
    assert ("| DMTRL (Yang & Hospedales, ICLR 2017) | 1 of 5 | quick | 0 | 0 "
            "| 1 | 0 |") in text
    assert "| AMTFL | school | rmse | 10.40 ± 0.100 | 9.89 ± 0.090 | 2 |" \
        in text
    assert "| STL |" not in text   # rows without a paper value: table.md
    assert ("- **contradicted**: GO-MTL is best [Deep-AMTFL §5.1, Table 1] "
            "— NN is") in text
    assert "- the grid caps mu" in text
    assert "[fig.png](dmtrl_fig4_omniglot/fig.png)" in text
    assert "fig.pdf" not in text
    assert "Not run: needs AdienceFaces" in text
    assert "total wall time, quick profile: 1h02m" in text
    assert "Wall time 2m05s (the script's total" in text  # from run_all
    assert "2 CPU core(s)" in text and "tensorflow 2.21.0" in text


@pytest.mark.large
def test_write_report_and_script(figures):
    path = report.write_report(str(figures))
    assert path.endswith("REPORT.md")
    first = (figures / "REPORT.md").read_text()
    r = _run([sys.executable, "reproductions/make_report.py",
              f"--figures_dir={figures}"])
    assert r.returncode == 0, r.stderr
    assert (figures / "REPORT.md").read_text() == first  # deterministic


def test_report_rejects_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="figures_dir="):
        report.build_report(str(tmp_path / "nope"))


def test_report_shows_the_most_faithful_profile(tmp_path):
    """figures/<profile>/<script>/: an item shows paper, then faithful, then
    quick; the summary counts verdicts per paper and per profile; smoke
    outputs are never mixed in."""
    for profile, verdict in (("quick", "holds"), ("faithful", "inconclusive"),
                             ("smoke", "contradicted")):
        _write(tmp_path / profile / "table2" / "mnist_imbalanced",
               "results.json", _results(
                   "table2", [ROW_PAPER], [_claim("t", "AMTFL beats CNN",
                                                  verdict)],
                   profile=profile, profile_changes=[] if profile ==
                   "faithful" else [{"setting": "epochs", "ours": 300,
                                     "paper": 1000}]))
    _write(tmp_path / "quick" / "fig6_transfer", "results.json", _results(
        "fig6_transfer", [], [_claim("f", "gains", "holds")]))
    text = report.build_report(str(tmp_path))
    section = text.split("### Table 2: MNIST-Imbalanced")[1].split("###")[0]
    assert "profile **faithful** (the published settings)" in section
    assert "also run at: quick" in section
    assert "faithful/table2/mnist_imbalanced/table.md" in section
    assert "**inconclusive**: AMTFL beats CNN" in section
    assert ("| Deep-AMTFL (Lee, Yang, Hwang, ICML 2018) | 2 of 11 | "
            "faithful, quick | 1 | 0 | 1 | 0 |") in text
    assert ("| Deep-AMTFL (Lee, Yang, Hwang, ICML 2018) | quick | 2 | 2 | 0 "
            "| 0 | 0 |") in text
    assert ("| Deep-AMTFL (Lee, Yang, Hwang, ICML 2018) | faithful | 1 | 0 "
            "| 0 | 1 | 0 |") in text
    assert "- **contradicted**" not in text   # the smoke run is not read
    # a quick-only item says what quick changes
    quick_only = tmp_path / "quick" / "table2" / "mnist_imbalanced"
    (tmp_path / "faithful").joinpath("table2", "mnist_imbalanced",
                                     "results.json").unlink()
    text = report.build_report(str(tmp_path))
    assert ("profile **quick** — changes from the paper: epochs 300 "
            "(paper 1000)") in text
    assert quick_only.exists()


def test_schema_1_claims_are_not_counted_as_verdicts(tmp_path):
    _write(tmp_path / "table2" / "mnist_imbalanced", "results.json",
           _results("table2", [ROW_PAPER], [
               {"id": "old", "text": "AMTFL best", "holds": True}]))
    text = report.build_report(str(tmp_path))
    assert ("| Deep-AMTFL (Lee, Yang, Hwang, ICML 2018) | 1 of 11 | quick | "
            "0 | 0 | 0 | 1 |") in text
    assert ("- **not decided (schema 1; its old reading: holds)**: AMTFL "
            "best") in text


def test_report_names_a_stopped_script(figures):
    """A profile stopped part-way (a long run that resumes next session)
    says which script is stopped beside its total wall time."""
    _write(figures, "run_all.json", {
        "profile": "quick", "total_seconds": 3725,
        "scripts": {"table1": {"status": "ok", "seconds": 125},
                    "dmtrl_fig4_omniglot": {"status": "stopped",
                                            "seconds": 3600}},
        "failed": [], "stopped": ["dmtrl_fig4_omniglot"]})
    text = report.build_report(str(figures))
    assert ("total wall time, quick profile: 1h02m (stopped, resumable: "
            "dmtrl_fig4_omniglot)") in text
