"""figures/REPORT.md from results.json files."""

import json
import sys

import pytest

from amtfl_tf import report
from test_scripts import _run


def _write(folder, name, obj):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj))


def _results(experiment, rows, claims, figures=()):
    return {"experiment": experiment, "profile": "quick", "rows": rows,
            "claims": claims, "figures": list(figures),
            "wall_seconds": 5.0}


ROW_PAPER = {"method": "AMTFL", "metric": "rmse", "mean": 10.4, "ci95": 0.1,
             "per_split": [10.3, 10.5], "paper": 9.89, "paper_ci95": 0.09,
             "dataset": "school"}
ROW_OURS = {"method": "STL", "metric": "rmse", "mean": 10.5, "ci95": None,
            "per_split": [10.5], "paper": None, "dataset": "school"}


@pytest.fixture
def figures(tmp_path):
    _write(tmp_path / "table1" / "school", "results.json", _results(
        "table1", [ROW_PAPER, ROW_OURS],
        [{"id": "a", "text": "GO-MTL is best", "holds": False,
          "evidence": "NN is"},
         {"id": "b", "text": "all within 3.4%", "holds": True}]))
    _write(tmp_path / "table1" / "school", "config.json", {
        "machine": {"cpu_count": 2, "platform": "Linux-x"},
        "versions": {"tensorflow": "2.21.0"}})
    _write(tmp_path / "dmtrl_fig4_omniglot", "results.json", _results(
        "dmtrl_fig4_omniglot", [ROW_OURS],
        [{"id": "c", "text": "conv shares more", "holds": True}],
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
    # summary: Deep-AMTFL ran 1 item with 1 of 2 claims; DMTRL 1 of 1
    assert "| Deep-AMTFL (Lee, Yang, Hwang, ICML 2018) | 1 of 11 | 1 of 2 |" \
        in text
    assert "| DMTRL (Yang & Hospedales, ICLR 2017) | 1 of 5 | 1 of 1 |" in text
    assert "| AMTFL | school | rmse | 10.40 ± 0.100 | 9.89 ± 0.090 | 2 |" \
        in text
    assert "| STL |" not in text   # rows without a paper value: table.md
    assert "- **does not hold**: GO-MTL is best — NN is" in text
    assert "[fig.png](dmtrl_fig4_omniglot/fig.png)" in text
    assert "fig.pdf" not in text
    assert "Not run: needs AdienceFaces" in text
    assert "total wall time: 62m05s" in text
    assert "wall time 2m05s (the script's total" in text  # from run_all
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
