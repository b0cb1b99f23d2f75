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
from amtfl_tf.experiments.damtl import tables as dt

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
        assert len(set(chars[0]) & set(chars[1])) == shared
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
def test_omniglot_smoke_and_resume(data_dir, tmp_path, capsys):
    cfg = _cfg(tmp_path, data_dir)
    res = do.run(cfg, ("po",))["po"]
    out = tmp_path / "w" / "po"
    saved = json.loads((out / "results.json").read_text())
    assert saved["profile"] == "smoke" and saved["extra"]["proxy"] is True
    assert len(saved["claims"]) == 5
    assert all(r["paper"] is None for r in saved["rows"])  # a proxy
    methods = {r["method"] for r in saved["rows"]}
    assert methods == set(dc.PAPER_NAMES.values())
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
