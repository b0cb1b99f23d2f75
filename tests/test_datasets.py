"""Dataset registry and loaders on the real offline data."""

import dataclasses
import io
import os
import shutil
import zipfile

import numpy as np
import pytest

from amtfl_tf import datasets
from amtfl_tf.datasets import files as _files
from amtfl_tf.datasets import mnist as mnist_mod
from amtfl_tf.datasets import omniglot as omniglot_mod
from amtfl_tf.datasets import school as school_mod

pytestmark = pytest.mark.data

# From ../shared/data/mnist/SOURCE.md (verified against the tfds checksums).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                      5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(data_dir):
    return datasets.load("mnist", data_dir=data_dir)


@pytest.fixture(scope="module")
def omniglot(data_dir):
    return datasets.load("omniglot", data_dir=data_dir)


@pytest.fixture(scope="module")
def school(data_dir):
    return datasets.load("school", data_dir=data_dir)


def test_registry_names():
    assert datasets.names() == (
        "adience", "caltech101", "caltech256", "mnist", "mnist_imbalanced",
        "office31", "office_caltech10", "office_home", "omniglot", "school",
        "synthetic_amtfl", "tiny_imagenet")


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError,
                       match=r"name='mnsit'.*mnist, mnist_imbalanced"):
        datasets.load("mnsit")


def test_unknown_option_is_a_clear_error(data_dir):
    with pytest.raises(ValueError, match=r"\['colour'\].*backend"):
        datasets.load("mnist", data_dir=data_dir, colour=True)


def test_bad_seed_type():
    with pytest.raises(TypeError, match="seed=1.5"):
        datasets.load("school", seed=1.5)


def test_mnist(mnist):
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert mnist.train_labels.dtype == np.uint8
    assert np.bincount(mnist.train_labels).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.test_labels).tolist() == MNIST_TEST_COUNTS
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert round(mnist.train_images.mean() / 255, 4) == 0.1307
    assert mnist.backend == "idx"


def test_mnist_bad_backend(data_dir):
    with pytest.raises(ValueError, match="backend='torch'"):
        datasets.load("mnist", data_dir=data_dir, backend="torch")


def test_omniglot(omniglot):
    assert omniglot.images.shape == (32460, 105, 105)
    assert omniglot.images.dtype == np.uint8
    assert set(np.unique(omniglot.images)) == {0, 1}
    # ink = 1: strokes are a small minority of pixels (~8%)
    assert 0.05 < omniglot.images.mean() < 0.12
    assert omniglot.num_tasks == 50
    assert len(np.unique(omniglot.character)) == 1623
    assert np.all(np.bincount(omniglot.character) == 20)
    sizes = np.bincount(omniglot.alphabet) // 20
    assert sizes.sum() == 1623 and sizes.min() == 14 and sizes.max() == 55
    assert [a.subset for a in omniglot.alphabets].count("background") == 30
    # labels are task-local, 0..n_characters-1 in every alphabet
    for a in range(50):
        lab = omniglot.label[omniglot.alphabet == a]
        assert lab.min() == 0 and lab.max() == sizes[a] - 1
    assert omniglot.alphabet_names[0] == "Arcadian"
    assert omniglot.alphabet_names[-1] == "ULOG"
    assert omniglot.drawer[:21].tolist() == list(range(20)) + [0]


def test_omniglot_subset(data_dir):
    ev = datasets.load("omniglot", data_dir=data_dir, subset="evaluation")
    assert ev.images.shape == (13180, 105, 105)
    assert ev.num_tasks == 20
    assert ev.character.min() == 964 and ev.alphabet.max() == 19
    with pytest.raises(ValueError, match="subset='train'"):
        datasets.load("omniglot", data_dir=data_dir, subset="train")


def test_school(school):
    assert school.x.shape == (15362, 28)
    assert school.x.dtype == np.float64 and school.y.dtype == np.float64
    assert np.all(school.x[:, 27] == 1.0)  # bias column
    assert school.y.min() == 1 and school.y.max() == 70
    assert round(school.y.mean(), 2) == 20.60
    assert len(np.unique(school.task)) == 139
    assert np.bincount(school.task).min() == 22
    assert np.bincount(school.task).max() == 251
    assert len(school.splits) == 10
    for s in school.splits:
        assert len(s.train) == 11472 and len(s.test) == 3890
        both = np.concatenate([s.train, s.test])
        assert np.array_equal(np.sort(both), np.arange(15362))
        # grouped by school in task order, as in the files
        assert np.all(np.diff(school.task[s.train]) >= 0)
    assert school.split(1) is school.splits[0]
    with pytest.raises(ValueError, match="number=11"):
        school.split(11)


# --------------------------------------------------------------------------
# Missing and corrupt files


def _copy(data_dir, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(os.path.join(data_dir, name), dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    return tmp_path


def test_missing_dataset_names_everything(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load("school", data_dir=str(tmp_path), download=False)
    msg = str(e.value)
    assert "'school'" in msg
    assert "school_b.mat" in msg and "school_10_indexes.mat" in msg
    assert "Argyriou" in msg and "raw.githubusercontent.com" in msg
    assert "--data_dir" in msg and "AMTFL_TF_DATA_DIR" in msg
    assert str(tmp_path / "school") in msg


def test_missing_file_failed_download_reports_reason(tmp_path, monkeypatch,
                                                     data_dir):
    _copy(data_dir, tmp_path, "mnist")
    os.remove(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz")
    bad = tuple(dataclasses.replace(f, url=(tmp_path / "nowhere").as_uri())
                for f in mnist_mod.FILES.files)
    monkeypatch.setattr(mnist_mod, "FILES",
                        dataclasses.replace(mnist_mod.FILES, files=bad))
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load("mnist", data_dir=str(tmp_path))
    msg = str(e.value)
    assert "missing t10k-labels-idx1-ubyte.gz" in msg
    assert "Automatic download failed" in msg


def test_download_path_fetches_and_verifies(tmp_path, monkeypatch, data_dir):
    """A missing file is downloaded (here from a file:// URL), verified and
    moved into place; a download with the wrong content is refused."""
    src = os.path.join(data_dir, "mnist")
    local = tuple(dataclasses.replace(
        f, url="file://" + os.path.join(src, f.name))
        for f in mnist_mod.FILES.files)
    monkeypatch.setattr(mnist_mod, "FILES",
                        dataclasses.replace(mnist_mod.FILES, files=local))
    d = datasets.load("mnist", data_dir=str(tmp_path))
    assert d.test_labels.shape == (10000,)
    assert sorted(os.listdir(tmp_path / "mnist")) == sorted(
        f.name for f in local)
    # wrong bytes behind the URL: nothing is kept under the final name
    os.remove(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz")
    wrong = tuple(dataclasses.replace(
        f, url="file://" + os.path.join(src, "train-labels-idx1-ubyte.gz"))
        if f.name == "t10k-labels-idx1-ubyte.gz" else f for f in local)
    monkeypatch.setattr(mnist_mod, "FILES",
                        dataclasses.replace(mnist_mod.FILES, files=wrong))
    with pytest.raises(datasets.DatasetNotFoundError, match="sha256"):
        datasets.load("mnist", data_dir=str(tmp_path))
    assert not (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [n for n in os.listdir(tmp_path / "mnist")
                if n.startswith(".download")]


@pytest.mark.parametrize("name,victim", [
    ("mnist", "t10k-labels-idx1-ubyte.gz"),
    ("omniglot", "images_evaluation.npz"),
    ("omniglot", "alphabets.csv"),
    ("school", "school_3_indexes.mat"),
])
def test_corrupt_file_is_a_checksum_error(tmp_path, data_dir, name, victim):
    _copy(data_dir, tmp_path, name)
    path = tmp_path / name / victim
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(datasets.ChecksumError) as e:
        datasets.load(name, data_dir=str(tmp_path), download=False)
    assert victim in str(e.value) and "sha256" in str(e.value)


def test_truncated_file_is_a_checksum_error(tmp_path, data_dir):
    _copy(data_dir, tmp_path, "school")
    path = tmp_path / "school" / "school_b.mat"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(datasets.ChecksumError, match="Its size is 1000"):
        datasets.load("school", data_dir=str(tmp_path), download=False)


def test_data_dir_from_environment(monkeypatch, data_dir):
    monkeypatch.setenv("AMTFL_TF_DATA_DIR", data_dir)
    assert datasets.resolve_data_dir() == data_dir
    assert datasets.load("school").x.shape == (15362, 28)


def test_data_dir_type_error():
    with pytest.raises(TypeError, match="data_dir=3"):
        datasets.resolve_data_dir(3)


# --------------------------------------------------------------------------
# Omniglot conversion from the official zip layout


def _official_zip(path, part, data, alphabets, chars_per_alphabet=None):
    """Write an official-layout zip for some alphabets of ``data``."""
    from PIL import Image

    with zipfile.ZipFile(path, "w") as zf:
        for a in alphabets:
            info = data.alphabets[a]
            n = chars_per_alphabet or info.num_characters
            for k in range(n):
                cid = info.first_char_id + k
                rows = np.flatnonzero(data.character == cid - 1)
                for drawer, row in enumerate(rows):
                    white = data.images[row] == 0  # PNG polarity
                    buf = io.BytesIO()
                    Image.fromarray(white).save(buf, format="PNG")
                    zf.writestr(f"images_{part}/{info.name}/"
                                f"character{k + 1:02d}/"
                                f"{cid:04d}_{drawer + 1:02d}.png",
                                buf.getvalue())


def test_omniglot_conversion_small(tmp_path, omniglot):
    """Converting official-layout zips reproduces the images, ids and the
    alphabet table (two background alphabets, one evaluation alphabet)."""
    bg, ev = tmp_path / "bg.zip", tmp_path / "ev.zip"
    _official_zip(bg, "background", omniglot, [0, 1])
    _official_zip(ev, "evaluation", omniglot, [30])
    out = tmp_path / "out"
    omniglot_mod.convert_official_zips(str(bg), str(ev), str(out))
    table = omniglot_mod.read_alphabets(str(out / "alphabets.csv"))
    assert [a.name for a in table] == [omniglot.alphabets[i].name
                                       for i in (0, 1, 30)]
    assert [a.first_char_id for a in table] == [1, 27, 965]
    with np.load(out / "images_background.npz") as z:
        imgs, labels = z["images"], z["labels"]
    assert imgs.shape == (67, 20, 105, 105) and imgs.dtype == np.bool_
    assert labels[5, 3] == 5
    want = omniglot.images[omniglot.alphabet <= 1].reshape(67, 20, 105, 105)
    assert np.array_equal(~imgs, want.astype(bool))
    with np.load(out / "images_evaluation.npz") as z:
        ev_imgs = z["images"]
    first_ev = omniglot.images[omniglot.alphabet == 30][:20]
    assert np.array_equal(~ev_imgs[0], first_ev.astype(bool))


def test_omniglot_fetch_without_network_is_a_clear_error(tmp_path,
                                                         monkeypatch):
    zips = {k: dataclasses.replace(v, url=(tmp_path / "none.zip").as_uri())
            for k, v in omniglot_mod.ZIPS.items()}
    monkeypatch.setattr(omniglot_mod, "ZIPS", zips)
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load("omniglot", data_dir=str(tmp_path))
    msg = str(e.value)
    assert "images_background.npz" in msg and "brendenlake" in msg
    assert "Automatic download failed" in msg


@pytest.mark.slow
def test_omniglot_full_conversion_matches_published_copy(tmp_path, omniglot,
                                                         data_dir):
    """All 50 alphabets through the converter give the same arrays and a
    byte-identical alphabets.csv."""
    bg, ev = tmp_path / "bg.zip", tmp_path / "ev.zip"
    _official_zip(bg, "background", omniglot, range(30))
    _official_zip(ev, "evaluation", omniglot, range(30, 50))
    out = tmp_path / "out"
    omniglot_mod.convert_official_zips(str(bg), str(ev), str(out))
    assert (out / "alphabets.csv").read_bytes() == open(
        os.path.join(data_dir, "omniglot", "alphabets.csv"), "rb").read()
    for part in ("background", "evaluation"):
        with np.load(out / f"images_{part}.npz") as a, np.load(os.path.join(
                data_dir, "omniglot", f"images_{part}.npz")) as b:
            assert np.array_equal(a["images"], b["images"])
            assert np.array_equal(a["labels"], b["labels"])


def test_converted_manifest_accepts_own_conversion(tmp_path, data_dir):
    """Files this package converted (recorded in CONVERTED.sha256) load
    even when their bytes differ from the published copy."""
    _copy(data_dir, tmp_path, "omniglot")
    folder = tmp_path / "omniglot"
    with np.load(folder / "images_evaluation.npz") as z:
        arrays = dict(z)
    np.savez(folder / "images_evaluation.npz", **arrays)  # other bytes
    with pytest.raises(datasets.ChecksumError):
        datasets.load("omniglot", data_dir=str(tmp_path), download=False)
    _files.write_converted_manifest(str(folder), ["images_evaluation.npz"])
    d = datasets.load("omniglot", data_dir=str(tmp_path), download=False)
    assert d.images.shape == (32460, 105, 105)


@pytest.mark.slow
def test_mnist_tfds_backend_matches_idx(tmp_path, data_dir, mnist):
    """tfds builds MNIST offline from the same files (its own order)."""
    _copy(data_dir, tmp_path, "mnist")
    d = datasets.load("mnist", data_dir=str(tmp_path), backend="tfds")
    assert d.backend == "tfds"
    assert d.train_images.shape == (60000, 28, 28)
    assert np.bincount(d.test_labels).tolist() == MNIST_TEST_COUNTS
    # same multiset of images: compare per-class pixel sums
    for c in range(10):
        assert d.train_images[d.train_labels == c].sum(dtype=np.int64) == \
            mnist.train_images[mnist.train_labels == c].sum(dtype=np.int64)


def test_school_files_listed():
    assert len(school_mod.FILES.files) == 11


def test_printing_a_dataset_shows_shapes_not_arrays():
    """repr of a loaded dataset names each field with arrays as shape and
    dtype (printing used to dump every array)."""
    import numpy as np

    from amtfl_tf.datasets.synthetic import TaskSplit

    split = TaskSplit(*[np.zeros((500, 30)) if f.name.startswith("x") else
                        np.zeros(500) for f in dataclasses.fields(TaskSplit)])
    text = repr(split)
    assert text.startswith("TaskSplit(") and "shape=(500, 30)" in text
    assert len(text) < 1000 and "0., 0." not in text


def test_failed_download_leaves_no_empty_folder(tmp_path):
    dest = tmp_path / "data" / "school" / "school_b.mat"
    with pytest.raises(Exception):
        _files.download((tmp_path / "nowhere.mat").as_uri(), str(dest),
                        progress=False)
    assert not (tmp_path / "data").exists()
    # a folder that was there before stays
    (tmp_path / "kept").mkdir()
    with pytest.raises(Exception):
        _files.download((tmp_path / "nowhere.mat").as_uri(),
                        str(tmp_path / "kept" / "x.mat"), progress=False)
    assert (tmp_path / "kept").is_dir()
