"""AdienceFaces loader and the DMTRL Fig. 3 experiment, on a tiny generated
tree in the official layout (the real data are not available offline)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT

from amtfl_tf import datasets
from amtfl_tf.datasets import adience as ad

HEADER = ("user_id\toriginal_image\tface_id\tage\tgender\tx\ty\tdx\tdy\t"
          "tilt_ang\tfiducial_yaw_angle\tfiducial_score\n")
# (age, gender) of the 8 faces in every fold; the 7th has neither label.
FACES = [("(25, 32)", "m"), ("(0, 2)", "f"), ("(60, 100)", "u"),
         ("35", "f"), ("None", "m"), ("(8, 12)", ""), ("None", "u"),
         ("(38, 43)", "f")]


def make_fake_adience(root, size=24, seed=0):
    """Five folds of 2 users × 4 faces each, random JPEGs, official
    column layout; the unlabelled face gets no image file."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / "adience"
    for k in range(5):
        lines = [HEADER]
        for j, (age, gender) in enumerate(FACES):
            user = f"{1000 + 10 * k + j // 4}@N0{k}"
            original = f"{k}{j}_abcdef_o.jpg"
            lines.append("\t".join([user, original, str(j + 1), age, gender,
                                    "0", "0", "100", "100", "0", "0",
                                    "50"]) + "\n")
            if age == "None" and gender == "u":
                continue
            path = folder / ad.image_path(user, str(j + 1), original)
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (size, size + 6, 3), np.uint8)
            Image.fromarray(pixels).save(path, quality=90)
        (folder / f"fold_{k}_data.txt").write_text("".join(lines))
    return root


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_adience(tmp_path_factory.mktemp("adience_data"))


def test_age_and_gender_mappings():
    for i, name in enumerate(ad.AGE_GROUP_NAMES):
        assert ad.age_group(name) == i
        assert ad.age_group(name, "nearest") == i
    for odd in ("None", "35", "(25, 23)", "(27, 32)", "(38, 48)", "", "x"):
        assert ad.age_group(odd) == -1
    nearest = {"35": 5, "3": 1, "2": 0, "13": 2, "22": 3, "23": 4,
               "(25, 23)": 4, "(27, 32)": 4, "(38, 42)": 5, "(38, 48)": 5,
               "(8, 23)": 3, "46": 6, "55": 6, "57": 7, "None": -1}
    assert {k: ad.age_group(k, "nearest") for k in nearest} == nearest
    assert [ad.gender_label(g) for g in ("m", "f", "u", "", " f ")] == \
        [0, 1, -1, -1, 1]
    with pytest.raises(ValueError, match="age_mapping"):
        ad.age_group("(0, 2)", "fuzzy")


def test_loader_parses_the_official_layout(fake_root):
    d = datasets.load("adience", data_dir=str(fake_root), image_size=20)
    assert isinstance(d, ad.Adience)
    assert d.images.shape == (35, 20, 20, 3) and d.images.dtype == np.uint8
    assert d.images.std() > 10  # the random pixels arrived
    # Per fold: the unlabelled face is dropped; the rest keep -1 for a
    # missing label.
    assert np.bincount(d.fold).tolist() == [7] * 5
    f0 = d.fold == 0
    assert d.gender[f0].tolist() == [0, 1, -1, 1, 0, -1, 1]
    assert d.age[f0].tolist() == [4, 0, 7, -1, -1, 2, 5]
    assert d.raw_age[f0][3] == "35"
    assert d.paths[0] == os.path.join(
        "aligned", "1000@N00", "landmark_aligned_face.1.00_abcdef_o.jpg")
    train, test = d.split()
    assert set(d.fold[test]) == {0} and set(d.fold[train]) == {1, 2, 3, 4}
    assert d.counts() == {"gender": {"train": 20, "test": 5},
                          "age": {"train": 20, "test": 5}}
    assert d.counts((4,))["gender"] == {"train": 20, "test": 5}
    near = ad.load_adience(str(fake_root), image_size=20,
                           age_mapping="nearest", folds=(0,))
    assert near.age.tolist() == [4, 0, 7, 5, -1, 2, 5]
    assert np.array_equal(near.images, d.images[f0])


def test_loader_fails_clearly_without_data(tmp_path, fake_root):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load("adience", data_dir=str(tmp_path))
    msg = str(e.value)
    for part in ("Dataset 'adience' not found", "fold_0_data.txt",
                 "aligned/<user_id>/landmark_aligned_face.<face_id>."
                 "<original_image>", ad.URL, "--data_dir=<dir>",
                 "AMTFL_TF_DATA_DIR"):
        assert part in msg
    # Fold files without the images.
    folder = tmp_path / "adience"
    folder.mkdir()
    for k in range(5):
        src = fake_root / "adience" / f"fold_{k}_data.txt"
        (folder / src.name).write_text(src.read_text())
    with pytest.raises(datasets.DatasetNotFoundError, match="aligned"):
        ad.load_adience(str(tmp_path))
    (folder / "aligned").mkdir()
    with pytest.raises(datasets.DatasetNotFoundError,
                       match="35 of the 35 listed images are absent"):
        ad.load_adience(str(tmp_path))
    (folder / "fold_2_data.txt").write_text("a\tb\n")
    with pytest.raises(datasets.DatasetError, match="header"):
        ad.load_adience(str(tmp_path), folds=(2,))


def test_settings_validation():
    from amtfl_tf.experiments.dmtrl import fig3_adience as da

    s = da.settings_for("paper")
    assert (s.image_size, s.fractions, s.test_fold) == (
        227, da.PAPER_FRACTIONS, 0)
    assert s.train.loss == "softmax_ce" and s.train.ud_folds == 5
    with pytest.raises(ValueError, match="image_size must be >= 7"):
        da.settings_for("smoke", image_size=6)
    with pytest.raises(ValueError, match="fractions"):
        da.settings_for("smoke", fractions=(0.0,))
    with pytest.raises(ValueError, match="profile"):
        da.settings_for("huge")


@pytest.mark.slow  # 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
def test_smoke_end_to_end_and_resume(tmp_path, fake_root):
    from amtfl_tf.experiments.config import CommonConfig
    from amtfl_tf.experiments.dmtrl import fig3_adience as da

    cfg = CommonConfig(experiment="dmtrl_fig3_adience", profile="smoke",
                       data_dir=str(fake_root), workdir=str(tmp_path / "w"),
                       seed=0, overwrite=False, jit_compile=False,
                       download=False)
    res = da.run(cfg)
    out = json.loads((tmp_path / "w" / "results.json").read_text())
    metrics = {(r["method"], r["metric"]) for r in out["rows"]}
    for m in ("STL", "UD-MTL", "DMTRL-LAF", "DMTRL-Tucker", "DMTRL-TT"):
        for task in ("gender", "age"):
            assert (m, f"{task}_error_pct@1") in metrics
    values = [r["mean"] for r in out["rows"] if "error" in r["metric"]]
    assert all(0 <= v <= 100 for v in values)
    assert [c["id"].split(".")[-1] for c in out["claims"]] == [
        "gender_tucker_beats_stl_and_udmtl",
        "gender_dmtrl_beats_stl_and_udmtl",
        "gender_udmtl_not_consistently_better",
        "age_dmtrl_improves_on_stl", "age_udmtl_negative_transfer"]
    assert out["extra"]["ud_cv"]["ud_shared_layers"] in (4, 5)
    # Fold 0 tests (5 + 5); 26 of the 28 training faces survive the 10%
    # hold-out.
    sizes = out["extra"]["sizes"]
    assert sizes["gender"]["test"] == 5 and sizes["age"]["test"] == 5
    assert sizes["gender"]["train"] + sizes["age"]["train"] in range(36, 41)
    assert any("(12,245)" in n for n in out["notes"])
    assert (tmp_path / "w" / "dmtrl_fig3_adience.png").stat().st_size > 1000
    again = da.run(cfg)  # resumes from the recorded splits
    assert [r.mean for r in again.rows] == [r.mean for r in res.rows]


@pytest.mark.large
def test_script_without_data_is_one_clear_error(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, "reproductions/dmtrl_fig3_adience.py",
         "--profile=smoke", f"--workdir={tmp_path / 'w'}",
         f"--data_dir={tmp_path / 'empty'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "DatasetNotFoundError: Dataset 'adience' not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert ad.URL in r.stderr
    assert "--data_dir=<dir> or AMTFL_TF_DATA_DIR=<dir>" in r.stderr
    assert not (tmp_path / "w" / "results.json").exists()
