"""DAMTL experiments: the Omniglot proxy's task construction and smoke run
(with resume), class-folder loaders, the real-data tables on a generated
folder, and the one clear error without data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from amtfl_tf import datasets
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.datasets import class_folders as cf
from amtfl_tf.experiments.damtl import common as dc
from amtfl_tf.experiments.damtl import omniglot as do
from amtfl_tf.experiments.damtl import reporting as rep
from amtfl_tf.experiments.damtl import tables as dt
from amtfl_tf.models.backbones import vgg_architecture

from conftest import REPO_ROOT


def _cfg(tmp_path, data_dir, experiment="damtl_omniglot", overwrite=False):
    return CommonConfig(experiment, "smoke", data_dir, str(tmp_path / "w"),
                        0, overwrite, "auto", False)


def test_settings_validation(tmp_path):
    s = do.settings_for("quick", 3, epochs=7, draws=2)
    assert (s.seed, s.train.epochs, s.draws) == (3, 7, 2)
    assert do.settings_for("paper").aux_characters == 1623
    with pytest.raises(ValueError, match="profile='huge'"):
        do.settings_for("huge")
    with pytest.raises(ValueError, match="Unknown setting"):
        do.settings_for("smoke", epochz=3)
    with pytest.raises(ValueError, match="aux_drawers"):
        do.settings_for("smoke", aux_drawers=10)
    with pytest.raises(ValueError, match="overlap=10"):
        do.settings_for("smoke", overlap=10)
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        do.settings_for("smoke", optimizer="rmsprop")
    with pytest.raises(ValueError, match="group='po4'"):
        dt.run(_cfg(tmp_path, None), "po4")


@pytest.mark.data
def test_proxy_tasks_follow_the_protocol(data_dir, tmp_path):
    s = do.settings_for("smoke")
    data = do.load_proxy_data(_cfg(tmp_path, data_dir), s)
    assert data.images.shape == (40, 20, 16, 16, 1)
    assert set(data.aux_drawers).isdisjoint(data.task_drawers)
    x, y, xh, yh = do.auxiliary_arrays(data)
    assert x.shape[0] == 40 * 6 and xh.shape[0] == 40 * 14
    for setting, shared in (("po", 3), ("no", 0)):
        p = do.make_problem(data, s, setting, 1)
        chars = p.info["task_characters"]
        # PO: the two label sets share `overlap` classes, NO: none; the
        # auxiliary task's classes cover both in either setting (Sec. 3.1)
        assert len(set(chars[0]) & set(chars[1])) == shared
        assert p.info["shared_characters"] == sorted(
            set(chars[0]) & set(chars[1]))
        assert set(chars[0]) | set(chars[1]) <= set(
            data.characters[np.unique(y)].tolist())
        d0, d1 = p.info["task_drawers"]
        assert set(d0).isdisjoint(d1) and len(d0) == len(d1) == 7
        assert set(d0 + d1) <= set(data.task_drawers.tolist())
        # 7 images per class and task: 5 train / 2 test (70/30)
        assert p.info["train_per_task"] == [50, 50]
        assert p.info["test_per_task"] == [20, 20]
        for t in range(2):
            counts = np.bincount(p.y_train[p.task_train == t], minlength=10)
            assert counts.tolist() == [5] * 10
            # the class map points at the task's characters in the pool
            assert data.characters[p.class_map[t]].tolist() == chars[t]
        assert p.x_train.dtype == np.float32 and p.x_train.max() <= 1.0
    again = do.make_problem(data, s, "po", 1)
    np.testing.assert_array_equal(again.x_test, do.make_problem(
        data, s, "po", 1).x_test)
    assert do.make_problem(data, s, "po", 2).info != again.info


@pytest.mark.data
def test_proxy_free_test_images_never_seen_in_training(data_dir, tmp_path):
    """test_images="free": every drawer of a task's character that no one
    trained on (neither the auxiliary network nor a task, for that
    character), so 9 per class, 4 for a character both PO tasks train on;
    the training set is the "own" rule's, unchanged."""
    s_own = do.settings_for("smoke")
    s = do.settings_for("smoke", test_images="free")
    data = do.load_proxy_data(_cfg(tmp_path, data_dir), s)
    for setting in ("po", "no"):
        own = do.make_problem(data, s_own, setting, 3)
        p = do.make_problem(data, s, setting, 3)
        np.testing.assert_array_equal(p.x_train, own.x_train)
        np.testing.assert_array_equal(p.y_train, own.y_train)
        shared = set(p.info["shared_characters"])
        # which (character, drawer) images trained any task
        seen = set()
        for t in range(2):
            chars = np.asarray(p.class_map[t])
            rows = np.flatnonzero(p.task_train == t)
            for i in rows:
                char = int(chars[p.y_train[i]])
                d = [d for d in data.task_drawers
                     if np.array_equal(data.images[char, d], p.x_train[i])]
                assert len(d) == 1
                seen.add((char, int(d[0])))
        for t in range(2):
            chars = np.asarray(p.class_map[t])
            counts = np.bincount(p.y_test[p.task_test == t], minlength=10)
            want = [4 if int(data.characters[c]) in shared else 9
                    for c in chars]
            assert counts.tolist() == want
            for i in np.flatnonzero(p.task_test == t):
                char = int(chars[p.y_test[i]])
                hits = [int(d) for d in range(20) if np.array_equal(
                    data.images[char, d], p.x_test[i])]
                assert hits and not set(hits) & set(
                    data.aux_drawers.tolist())
                assert all((char, d) not in seen for d in hits)
        assert sum(p.info["test_per_task"]) > 2 * sum(
            own.info["test_per_task"])
    with pytest.raises(ValueError, match="test_images='all'"):
        do.settings_for("smoke", test_images="all")


@pytest.mark.data
def test_omniglot_smoke_and_resume(data_dir, tmp_path, capsys):
    cfg = _cfg(tmp_path, data_dir)
    res = do.run(cfg, ("po",))["po"]
    out = tmp_path / "w" / "po"
    saved = json.loads((out / "results.json").read_text())
    assert saved["profile"] == "smoke" and saved["extra"]["proxy"] is True
    claims = {c["id"].rsplit(".", 1)[1]: c for c in saved["claims"]}
    assert set(claims) == {
        "damtl_beats_single", "damtl_beats_multi",
        "damtl_random_head_beats_single", "damtl_random_head_beats_multi",
        "alignment_helps", "damtl_best", "single_fastest", "nddr_slowest"}
    for c in claims.values():
        assert c["verdict"] in ("holds", "contradicted", "inconclusive")
        assert c["source"].startswith("DAMTL §4") and c["statement"]
        assert c["n"] == 1 or c["id"].endswith(("fastest", "slowest"))
    # one draw: no CI; the committed benchmark ran at the quick shapes
    assert claims["damtl_best"]["verdict"] == "inconclusive"
    assert "other shapes" in claims["single_fastest"]["note"]
    assert any("No claim rests on the soft masks" in n and "conv1 " in n
               for n in saved["notes"])
    assert rec_has_masks(out)
    assert all(r["paper"] is None for r in saved["rows"])  # a proxy
    methods = {r["method"] for r in saved["rows"]}
    assert methods == {dc.PAPER_NAMES[m] for m in dc.METHODS}
    table = (out / "table.md").read_text()
    assert "Shaped like the paper's Table 4" in table
    assert "0.800 ± 0.050" in table  # paper's DAMTL PO-1/Caltech-101
    assert "PROXY EXPERIMENT" in table
    for fig in ("fig4_accuracy.png", "fig5_time.png",
                "fig6_convergence.png"):
        assert (out / fig).stat().st_size > 5000
    assert (out / "splits" / "draw1.json").exists()
    assert json.loads((out / "config.json").read_text())["config"][
        "setting"] == "po"
    rec = json.loads((out / "splits" / "draw1.json").read_text())["record"]
    assert len(rec["methods"]["damtl"]["objective"][0]) == 3  # iterations
    capsys.readouterr()
    again = do.run(cfg, ("po",))["po"]
    err = capsys.readouterr()
    assert "already recorded" in err.err and "reusing" in err.out
    assert [r.per_split for r in again.rows] == [r.per_split
                                                 for r in res.rows]


def rec_has_masks(out):
    rec = json.loads((out / "splits" / "draw1.json").read_text())["record"]
    m = rec["methods"]["damtl"]["masks"]
    return 0.0 <= m["zero_fraction"] <= 1.0 and m["entries"] > 0


def _records(shift, draws=6, seed=0, methods=dc.METHODS):
    """Hand-made draws: every method near one per-draw base accuracy,
    ``shift[m]`` added to method m in every draw."""
    rng = np.random.default_rng(seed)
    records = {}
    for d in range(draws):
        base = 0.6 + 0.2 * rng.random()
        records[f"draw{d + 1}"] = {
            "problem": {"test_per_task": [20, 20]},
            "methods": {m: {"accuracy": (base + shift.get(m, 0.0) + 0.01
                                         * rng.random(2)).tolist(),
                            "train_seconds": 1.0, "loss": [1.0]}
                        for m in methods}}
    return records, list(records)


def _verdicts(claims):
    return {c.id.rsplit(".", 1)[1]: c.verdict for c in claims}


def test_claims_hold_when_damtl_wins_every_draw():
    records, keys = _records({"damtl": 0.1, "damtl_rh": 0.1,
                              "damtl_fa": 0.05})
    claims = rep.claims_for(records, keys, "p", "L")
    v = _verdicts(claims)
    for cid in ("damtl_beats_single", "damtl_beats_multi",
                "damtl_random_head_beats_single",
                "damtl_random_head_beats_multi", "alignment_helps",
                "damtl_best"):
        assert v[cid] == "holds", cid
    best = next(c for c in claims if c.id == "p.damtl_best")
    assert best.test.startswith("intersection-union of 5")
    assert best.n == 6 and best.effect_ci95[0] > 0
    assert "6 draws" in best.evidence
    single = next(c for c in claims if c.id == "p.damtl_beats_single")
    assert "higher in 6, tied in 0, lower in 0" in single.evidence
    assert "Advantage by design" in single.note
    assert "20 test images" in single.evidence and "0.050" in single.evidence
    # no timing given: the time claims are there and inconclusive
    assert v["single_fastest"] == v["nddr_slowest"] == "inconclusive"


def test_claims_contradicted_when_damtl_loses_every_draw():
    records, keys = _records({"damtl": -0.1, "damtl_rh": -0.1,
                              "damtl_fa": 0.05})
    v = _verdicts(rep.claims_for(records, keys, "p", "L", overlap=False))
    for cid in ("damtl_beats_single", "damtl_beats_multi",
                "damtl_random_head_beats_single",
                "damtl_random_head_beats_multi", "alignment_helps",
                "damtl_best"):
        assert v[cid] == "contradicted", cid
    assert "mtal_second_fastest" in v and "nddr_slowest" not in v


def test_controlled_claims_and_the_papers_setting_beside():
    """baseline_head_init="aux": the headline claims compare DAMTL with
    the baselines at equal (auxiliary) heads; the paper's setting (random
    baseline heads) is judged beside it under paper_setting ids, and the
    tables keep the two apart."""
    t = dc.TrainSettings(baseline_head_init="aux")
    methods = dc.methods_for(t)
    assert methods == dc.TABLE_METHODS + ("damtl_fa",) + \
        dc.PAPER_SETTING_METHODS
    assert dc.methods_for(dc.TrainSettings()) == dc.METHODS
    # DAMTL ties the controlled baselines, beats the random-head ones
    records, keys = _records(
        {m: -0.1 for m in dc.PAPER_SETTING_METHODS}, methods=methods)
    assert rep.controlled(records, keys)
    claims = rep.claims_for(records, keys, "p", "L")
    v = {c.id: c.verdict for c in claims}
    assert v["p.damtl_beats_single"] == "inconclusive"
    assert v["p.damtl_best"] == "inconclusive"
    assert v["p.paper_setting.damtl_beats_single"] == "holds"
    assert v["p.paper_setting.damtl_beats_multi"] == "holds"
    assert v["p.paper_setting.damtl_best"] == "holds"
    assert not any("random_head" in c for c in v)
    single = next(c for c in claims if c.id == "p.damtl_beats_single")
    assert "controlled comparison" in single.note
    assert "Advantage by design" not in single.note
    summ = rep.summary(records, keys)
    md = rep.proxy_tables_markdown(summ, ["A", "B"], "L", "table4",
                                   "table6", "h")
    assert "controlled comparison" in md and "paper's setting" in md
    assert "Single-Task (random head)" in md
    rows = rep.rows_for(records, keys, "L", ["A", "B"])
    assert {r.method for r in rows} == {dc.PAPER_NAMES[m] for m in methods}


def test_damtl_best_is_decided_by_its_weakest_comparison():
    # DAMTL beats four methods clearly, ties MTAL in expectation
    records, keys = _records({"damtl": 0.1, "mtal": 0.1})
    best = next(c for c in rep.claims_for(records, keys, "p", "L")
                if c.id == "p.damtl_best")
    assert best.verdict == "inconclusive" and "MTAL" in best.statistic


def _timing_json(path, ms, shapes=None, repeats=8, seed=0):
    rng = np.random.default_rng(seed)
    data = {"shapes": shapes or {"image_size": 32},
            "steps_per_repeat": 5, "note": "shared machine",
            "step_seconds": {m: (1e-3 * (v + rng.random(repeats))).tolist()
                             for m, v in ms.items()}}
    path.write_text(json.dumps(data))
    return str(path)


def test_time_claims_read_the_benchmark(tmp_path):
    records, keys = _records({})
    ms = {"single": 10, "multi": 30, "cross_stitch": 40, "nddr": 80,
          "mtal": 20, "damtl": 50, "damtl_fa": 45, "damtl_rh": 50}
    path = _timing_json(tmp_path / "t.json", ms)
    timing = rep.load_timing(path, {"image_size": 32})
    po = _verdicts(rep.claims_for(records, keys, "p", "L", timing=timing))
    no = _verdicts(rep.claims_for(records, keys, "p", "L", overlap=False,
                                  timing=timing))
    assert po["single_fastest"] == po["nddr_slowest"] == "holds"
    assert no["single_fastest"] == no["mtal_second_fastest"] == "holds"
    # Single-Task slowest: contradicted
    slow = _timing_json(tmp_path / "s.json", {**ms, "single": 100})
    v = _verdicts(rep.claims_for(records, keys, "p", "L",
                                 timing=rep.load_timing(slow)))
    assert v["single_fastest"] == "contradicted"
    # other shapes, or no file: inconclusive, saying what to run
    for t in (rep.load_timing(path, {"image_size": 64}),
              rep.load_timing(str(tmp_path / "none.json"))):
        c = next(c for c in rep.claims_for(records, keys, "p", "L",
                                           timing=t)
                 if c.id == "p.single_fastest")
        assert c.verdict == "inconclusive" and c.effect_ci95 is None
        assert "benchmarks/damtl_time.py" in c.note


def test_timing_per_profile_and_fig5_from_the_benchmark(tmp_path,
                                                        monkeypatch):
    default = tmp_path / "damtl_time.json"
    monkeypatch.setattr(rep, "TIME_JSON", str(default))
    assert rep.timing_path("faithful") == str(default)
    own = tmp_path / "damtl_time_faithful.json"
    own.write_text("{}")
    assert rep.timing_path("faithful") == str(own)
    assert rep.timing_path("quick") == str(default)
    records, keys = _records({}, draws=3)
    for k in keys:  # Fig. 6 reads DAMTL's per-task objective
        records[k]["methods"]["damtl"]["objective"] = [[2.0, 1.0]] * 2
    ms = {m: 10 + i for i, m in enumerate(dc.METHODS)}
    timing = rep.load_timing(_timing_json(tmp_path / "t.json", ms))
    files = rep.figures_for(records, keys, str(tmp_path / "figs"), "L",
                            ["A", "B"], timing=timing)
    assert any(f.endswith("fig5_time.png") for f in files)
    # without a benchmark the bars are the single fits, labelled so
    files = rep.figures_for(records, keys, str(tmp_path / "figs2"), "L",
                            ["A", "B"])
    assert (tmp_path / "figs2" / "fig5_time.png").stat().st_size > 5000


@pytest.mark.data
def test_mask_sweep_tool_smoke(data_dir, tmp_path):
    """tools/damtl_mask_sweep.py: a record per (reading, λ₁, draw), the
    table and the figure; a second call only rebuilds them, one with
    another setting is refused."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, os.path.join(root, "tools",
                                        "damtl_mask_sweep.py"),
           "--profile=smoke", "--draws=1", "--lambdas", "0", "30",
           "--readings", "filter/sum", f"--out={tmp_path}",
           f"--data_dir={data_dir}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert "[2/2]" in out.stdout
    res = json.loads((tmp_path / "results.json").read_text())
    assert [r["lambda1"] for r in res["rows"]] == [0.0, 30.0]
    assert all(len(r["pruned_per_layer"]) == 2 for r in res["rows"])
    assert (tmp_path / "mask_sweep.png").stat().st_size > 5000
    assert "| filter/sum | 30 |" in (tmp_path / "table.md").read_text()
    rec = json.loads((tmp_path / "splits" / "filter_sum_l30_draw1.json")
                     .read_text())
    assert rec["key"] == "filter_sum_l30_draw1"
    assert rec["record"]["lambda1"] == 30.0
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert again.stdout.count("already recorded") == 2
    assert "done in" not in again.stdout
    other = subprocess.run(cmd + ["--setting=no"], capture_output=True,
                           text=True)
    assert other.returncode == 1
    assert "ResumeMismatchError" in other.stderr
    assert "setting: 'po' -> 'no'" in other.stderr
    assert "use another --out." in other.stderr  # the tool's own flag
    bad = subprocess.run(cmd[:2] + ["--draws=0"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "--draws must be >= 1" in bad.stderr


def test_mask_bound_and_statistics():
    # the first protocol: a mask per weight, ‖Ψ‖₁ averaged per entry
    s = do.settings_for("quick", mask_granularity="weight",
                        l1_reduction="mean")
    conv_blocks, _ = vgg_architecture(s.architecture)
    # η α λ₁ / N_min · epochs / (1 − μ), N_min = 3·3·1·16 entries
    assert dc.l1_max_shift(s.train, conv_blocks, 1) == pytest.approx(
        0.01 * 0.01 * 0.9 / 144 * 100 / 0.1)
    before = [np.ones(4), np.ones(2)]
    after = [np.array([0.0, 1.0, 1.2, 1.0]), np.array([1.0, 0.5])]
    st = dc.mask_statistics(before, after)
    assert st == {"entries": 6, "zero_fraction": pytest.approx(1 / 6),
                  "pruned_fraction": pytest.approx(1 / 6),
                  "threshold": dc.PRUNE_THRESHOLD,
                  "min": 0.0, "max_change": 1.0}
    # two tasks x two layers, task-major: layer 0 = after[0], after[2]
    before = [np.ones(4), np.ones(2), np.ones(4), np.ones(2)]
    after = [np.array([0.0, 1.0, 0.005, 1.0]), np.array([1.0, 0.5]),
             np.array([1.0, 1.0, 1.0, 0.02]), np.array([0.0, 0.0])]
    st = dc.mask_statistics(before, after, layers=2)
    assert st["pruned_per_layer"] == pytest.approx([2 / 8, 2 / 4])
    assert st["mean_per_layer"] == pytest.approx([5.025 / 8, 1.5 / 4])
    assert st["pruned_fraction"] == pytest.approx(4 / 12)
    assert st["zero_fraction"] == pytest.approx(3 / 12)


def test_faithful_profiles_keep_the_paper_runs():
    for mod in (do, dt):
        paper, faithful = mod.settings_for("paper"), mod.settings_for(
            "faithful")
        assert faithful.train == paper.train
        assert faithful.draws <= paper.draws
        assert {k: v for k, v in faithful.to_dict().items()
                if k not in ("profile", "draws")} == {
            k: v for k, v in paper.to_dict().items()
            if k not in ("profile", "draws")}
        t = faithful.train
        assert (t.learning_rate, t.alpha, t.lambda1, t.lambda2) == (
            0.01, 0.01, 0.9, 0.9)  # DAMTL §4.3
    f = do.settings_for("faithful")
    # issue 20: enough draws to decide, the controlled comparison, every
    # free drawer as test images
    assert f.draws >= 20 and f.test_images == "free"
    assert f.train.baseline_head_init == "aux"
    assert dt.settings_for("faithful").image_size == 224
    assert dt.settings_for("faithful").architecture == "vgg16"


def _fake_images(folder, n, size=12, seed=0, ext="jpg"):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = (rng.random((size, size, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(folder, f"img{i:03d}.{ext}"))


@pytest.fixture
def caltech(tmp_path):
    root = tmp_path / "data"
    for i, c in enumerate(("airplanes", "ant", "bass", "camera", "chair",
                           "BACKGROUND_Google")):
        _fake_images(root / "caltech101" / "101_ObjectCategories" / c, 6,
                     seed=i)
    for i, c in enumerate(("001.ak47", "002.american-flag",
                           "251.airplanes-101", "039.camera", "045.cup",
                           "257.clutter")):
        _fake_images(root / "caltech256" / "256_ObjectCategories" / c, 5,
                     seed=10 + i, ext="png")
    return str(root)


def test_class_folders(caltech):
    assert cf.list_classes("caltech101", caltech) == (
        "airplanes", "ant", "bass", "camera", "chair")
    assert "257.clutter" not in cf.list_classes("caltech256", caltech)
    assert cf.normalize_name("251.airplanes-101") == "airplanes"
    assert cf.normalize_name("Desk_Lamp") == cf.normalize_name("desk lamp")
    d = datasets.load("caltech256", data_dir=caltech, seed=1,
                      classes=["039.camera", "045.cup"], image_size=8,
                      max_per_class=3)
    assert d.images.shape == (6, 8, 8, 3) and d.images.dtype == np.uint8
    assert d.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert d.classes == ("039.camera", "045.cup")
    with pytest.raises(ValueError, match="unknown class folder"):
        datasets.load("caltech101", data_dir=caltech, classes=["zebra"])
    with pytest.raises(ValueError, match="domain='paint'"):
        datasets.load("office_home", data_dir=caltech, domain="paint")
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load("office31", data_dir=caltech, domain="webcam")
    msg = str(e.value)
    assert "'office31' (domain 'webcam')" in msg
    assert "<data_dir>/office31/<domain>/images/<class>/*.jpg" in msg
    assert "--data_dir=<dir> or AMTFL_TF_DATA_DIR=<dir>" in msg


def test_tables_smoke_on_generated_folders(caltech, tmp_path):
    cfg = CommonConfig("damtl_tables", "smoke", caltech,
                       str(tmp_path / "out"), 0, False, "auto", False)
    res = dt.run(cfg, "po1")
    assert res.dataset == "po1"
    papers = {(r.method, r.dataset): r.paper for r in res.rows}
    assert papers[("DAMTL", "PO-1/Caltech-101")] == 0.80
    assert papers[("DAMTL_Fa", "PO-1/Caltech-256")] == 0.50  # Table 6
    rec = json.loads((tmp_path / "out" / "po1" / "splits" /
                      "draw1.json").read_text())["record"]
    assert rec["problem"]["shared"] in (["airplanes"], ["camera"])
    assert (tmp_path / "out" / "po1" / "table.md").exists()
    assert res.extra["auxiliary"]["num_classes"] == 8  # merged union


def test_tables_without_data_fail_at_once(tmp_path):
    cfg = CommonConfig("damtl_tables", "smoke", str(tmp_path / "empty"),
                       str(tmp_path / "out"), 0, False, "auto", False)
    with pytest.raises(datasets.DatasetNotFoundError, match="caltech101"):
        dt.run(cfg, "no2")
    assert not (tmp_path / "out").exists()


@pytest.mark.large
def test_tables_script_missing_data_is_one_clear_error(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, "reproductions/damtl_tables.py", "--setting=no1",
         "--profile=smoke", f"--workdir={tmp_path / 'w'}",
         f"--data_dir={tmp_path / 'empty'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "DatasetNotFoundError: Dataset 'office_home' (domain 'Art')" \
        in r.stderr
    assert "--data_dir=<dir> or AMTFL_TF_DATA_DIR=<dir>" in r.stderr
    assert "Traceback" not in r.stderr


def test_tables_imagenet_auxiliary_needs_its_weights(caltech, tmp_path):
    cfg = CommonConfig("damtl_tables", "smoke", caltech,
                       str(tmp_path / "out"), 0, False, "auto", False)
    with pytest.raises(ValueError, match="architecture='vgg16'"):
        dt.run(cfg, "po1", aux="imagenet")
    with pytest.raises(datasets.DatasetNotFoundError,
                       match="--aux_weights=<file>"):
        dt.run(cfg, "po1", aux="imagenet", architecture="vgg16",
               image_size=224, aux_weights=str(tmp_path / "none.h5"))


@pytest.mark.data
@pytest.mark.slow
def test_nddr_batch_norm_tool_smoke(data_dir, tmp_path):
    """tools/damtl_nddr_bn.py: NDDR-CNN retrained without batch norm on
    the experiment's draws, a record per (setting, draw) and the table
    beside the experiment's records; a second call trains nothing."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    exp = tmp_path / "experiment"
    subprocess.run([sys.executable, os.path.join(
        root, "reproductions", "damtl_omniglot.py"), "--profile=smoke",
        f"--workdir={exp}", f"--data_dir={data_dir}"], check=True,
        capture_output=True, env=env)
    cmd = [sys.executable, os.path.join(root, "tools", "damtl_nddr_bn.py"),
           "--profile=smoke", f"--experiment_dir={exp}",
           f"--out={tmp_path / 'out'}", f"--data_dir={data_dir}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=env)
    assert "[2/2] no_draw1 done in" in out.stdout
    rec = json.loads((tmp_path / "out" / "splits" / "no_draw1.json")
                     .read_text())["record"]
    assert (rec["setting"], rec["draw"]) == ("no", 1)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["setting"], r["head"]) for r in res["rows"]] == [
        ("po", "auxiliary"), ("no", "auxiliary")]
    recorded = json.loads((exp / "po" / "splits" / "draw1.json").read_text())
    row = res["rows"][0]
    assert row["with_bn"]["mean"] == pytest.approx(np.mean(
        recorded["record"]["methods"]["nddr"]["accuracy"]))
    again = subprocess.run(cmd, capture_output=True, text=True, check=True,
                           env=env)
    assert again.stdout.count("already recorded") == 2
    assert "done in" not in again.stdout
