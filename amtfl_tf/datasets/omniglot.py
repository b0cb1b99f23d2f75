"""Omniglot (Lake et al., 2015): 50 alphabets, 1,623 characters, 20 drawings
each, 105×105 binary images.

On disk (``<data_dir>/omniglot/``): ``images_background.npz`` and
``images_evaluation.npz`` (``images`` bool ``(chars, 20, 105, 105)`` with
True = white background, as in the original PNGs; ``labels`` int64) and
``alphabets.csv`` (alphabet name, subset, character-id range, npz index
range). When they are absent, the official zips of brendenlake/omniglot are
downloaded (checksums from TensorFlow Datasets' registry) and converted once
into that layout by :func:`convert_official_zips`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import zipfile

import numpy as np

from amtfl_tf.datasets import files as _files
from amtfl_tf.datasets.registry import compact_repr

_URL = "https://github.com/brendenlake/omniglot/raw/master/python/"

FILES = _files.DatasetFiles(
    dataset="omniglot",
    subdir="omniglot",
    source=("B. M. Lake et al., github.com/brendenlake/omniglot "
            "python/images_{background,evaluation}.zip, converted to npz "
            "(background/evaluation) plus alphabets.csv"),
    files=(
        _files.FileSpec(
            "images_background.npz",
            "8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199",
            3340794),
        _files.FileSpec(
            "images_evaluation.npz",
            "0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276",
            2415269),
        _files.FileSpec(
            "alphabets.csv",
            "0c025c93c884bdf4c51c9751f9eabe64ce6e2fddaf5e80dc156bdd0ef1e56ef6",
            3424),
    ),
)

# The official zips (sha256 and size as registered by TensorFlow Datasets).
ZIPS = {
    "background": _files.FileSpec(
        "images_background.zip",
        "ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640",
        9464212, _URL + "images_background.zip"),
    "evaluation": _files.FileSpec(
        "images_evaluation.zip",
        "1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee",
        6462886, _URL + "images_evaluation.zip"),
}

SUBSETS = ("all", "background", "evaluation")
NUM_DRAWERS = 20
IMAGE_SIZE = 105
_CSV_FIELDS = ("alphabet", "subset", "n_characters", "first_char_id",
               "last_char_id", "npz_file", "npz_first_index",
               "npz_last_index")


@compact_repr
@dataclasses.dataclass(frozen=True)
class Alphabet:
    """One alphabet: its official folder name and character-id range."""

    name: str
    subset: str           # "background" or "evaluation"
    num_characters: int
    first_char_id: int    # Omniglot's global 1-based character id


@compact_repr
@dataclasses.dataclass(frozen=True)
class Omniglot:
    """Omniglot as flat numpy arrays, one row per drawing.

    Rows are ordered by global character id, then drawer.

    Attributes:
      images: uint8 ``(N, 105, 105)``, ink = 1, background = 0.
      character: int64 ``(N,)`` global character index 0..1622 (Omniglot's
        character id minus 1; the same 1623-way label as tfds).
      alphabet: int64 ``(N,)`` index into ``alphabets`` (0..49 for "all").
      label: int64 ``(N,)`` the character's index inside its alphabet, i.e.
        the task-local class label when alphabets are tasks.
      drawer: int64 ``(N,)`` drawing index 0..19.
      alphabets: the :class:`Alphabet` records, ordered by character id
        (30 background alphabets, then 20 evaluation ones).
    """

    images: np.ndarray
    character: np.ndarray
    alphabet: np.ndarray
    label: np.ndarray
    drawer: np.ndarray
    alphabets: tuple[Alphabet, ...]

    @property
    def num_tasks(self) -> int:
        return len(self.alphabets)

    @property
    def alphabet_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.alphabets)


def read_alphabets(path: str) -> tuple[Alphabet, ...]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or tuple(rows[0].keys()) != _CSV_FIELDS:
        raise _files.DatasetError(
            f"omniglot: {path} does not have the columns {_CSV_FIELDS}.")
    return tuple(
        Alphabet(r["alphabet"], r["subset"], int(r["n_characters"]),
                 int(r["first_char_id"]))
        for r in sorted(rows, key=lambda r: int(r["first_char_id"])))


def load_omniglot(data_dir: str | None = None, seed: int = 0,
                  subset: str = "all", download: bool = True) -> Omniglot:
    """Load Omniglot, checksum-verified.

    Args:
      data_dir: folder holding ``omniglot/``; see ``resolve_data_dir``.
      seed: unused (the data are fixed); registry contract.
      subset: ``"all"`` (50 alphabets, 32,460 images), ``"background"`` (30)
        or ``"evaluation"`` (20).
      download: fetch and convert the official zips if files are missing.
    """
    del seed
    if subset not in SUBSETS:
        raise ValueError(
            f"subset must be one of {SUBSETS}. Received: subset={subset!r}")
    folder = _files.ensure_files(FILES, data_dir, download_missing=download,
                                 fetch=_download_and_convert)
    alphabets = read_alphabets(os.path.join(folder, "alphabets.csv"))
    wanted = ("background", "evaluation") if subset == "all" else (subset,)
    alphabets = tuple(a for a in alphabets if a.subset in wanted)
    images, character = [], []
    for part in wanted:
        with np.load(os.path.join(folder, f"images_{part}.npz"),
                     allow_pickle=False) as z:
            arr = z["images"]
        if arr.dtype != np.bool_ or arr.shape[1:] != (
                NUM_DRAWERS, IMAGE_SIZE, IMAGE_SIZE):
            raise _files.DatasetError(
                f"omniglot: images_{part}.npz holds {arr.dtype} "
                f"{arr.shape}, expected bool (chars, 20, 105, 105).")
        offset = min(a.first_char_id for a in alphabets
                     if a.subset == part) - 1
        # ink = 1: invert the PNG polarity (True = white background).
        images.append(np.logical_not(arr).view(np.uint8).reshape(
            -1, IMAGE_SIZE, IMAGE_SIZE))
        character.append(np.repeat(offset + np.arange(arr.shape[0]),
                                   NUM_DRAWERS))
    character = np.concatenate(character).astype(np.int64)
    first = np.array([a.first_char_id - 1 for a in alphabets])
    alphabet = np.searchsorted(first, character, side="right") - 1
    label = character - first[alphabet]
    drawer = np.tile(np.arange(NUM_DRAWERS), len(character) // NUM_DRAWERS)
    return Omniglot(
        images=np.concatenate(images), character=character,
        alphabet=alphabet.astype(np.int64), label=label.astype(np.int64),
        drawer=drawer.astype(np.int64), alphabets=alphabets)


_PNG = re.compile(r"^images_(background|evaluation)/([^/]+)/character(\d+)/"
                  r"(\d{4})_(\d{2})\.png$")


def convert_official_zips(background_zip: str, evaluation_zip: str,
                          out_folder: str) -> None:
    """Convert the official Omniglot zips into the npz + csv layout.

    Each PNG ``<subset>/<Alphabet>/characterNN/XXXX_YY.png`` is stored
    unchanged (True = white) at ``images[XXXX - offset - 1, YY - 1]``, where
    ``offset`` is the subset's first character id minus one; alphabets.csv
    lists every alphabet's id range. Files are written atomically.
    """
    from PIL import Image  # pillow ships with matplotlib

    os.makedirs(out_folder, exist_ok=True)
    table = []
    for part, path in (("background", background_zip),
                       ("evaluation", evaluation_zip)):
        entries = {}
        names: dict[str, set[int]] = {}
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                m = _PNG.match(info.filename)
                if not m or m.group(1) != part:
                    continue
                cid, drawer = int(m.group(4)), int(m.group(5))
                with Image.open(io.BytesIO(zf.read(info))) as im:
                    entries[(cid, drawer)] = np.asarray(im.convert("1"),
                                                        dtype=bool)
                names.setdefault(m.group(2), set()).add(cid)
        if not entries:
            raise _files.DatasetError(
                f"omniglot: {path} holds no images_{part}/ PNGs.")
        ids = sorted({c for c, _ in entries})
        lo, hi = ids[0], ids[-1]
        if ids != list(range(lo, hi + 1)):
            raise _files.DatasetError(
                f"omniglot: {path}: character ids are not contiguous.")
        images = np.ones((hi - lo + 1, NUM_DRAWERS, IMAGE_SIZE, IMAGE_SIZE),
                         dtype=bool)
        for (cid, drawer), im in entries.items():
            images[cid - lo, drawer - 1] = im
        labels = np.repeat(np.arange(hi - lo + 1)[:, None], NUM_DRAWERS, 1)
        npz = f"images_{part}.npz"
        tmp = os.path.join(out_folder, npz + ".tmp.npz")
        np.savez_compressed(tmp, images=images, labels=labels)
        os.replace(tmp, os.path.join(out_folder, npz))
        for name, cids in names.items():
            table.append((name, part, len(cids), min(cids), max(cids), npz,
                          min(cids) - lo, max(cids) - lo))
    table.sort(key=lambda r: r[3])
    tmp = os.path.join(out_folder, "alphabets.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(_CSV_FIELDS)
        writer.writerows(table)
    os.replace(tmp, os.path.join(out_folder, "alphabets.csv"))


def _download_and_convert(folder: str) -> None:
    downloads = os.path.join(folder, "downloads")
    paths = {}
    for part, spec in ZIPS.items():
        path = os.path.join(downloads, spec.name)
        if not os.path.exists(path):
            print(f"[omniglot] downloading {spec.url}", flush=True)
            _files.download(spec.url, path, spec.sha256)
        _files.verify_file(path, spec, "omniglot")
        paths[part] = path
    print("[omniglot] converting the zips to npz (once)", flush=True)
    convert_official_zips(paths["background"], paths["evaluation"], folder)
    _files.write_converted_manifest(folder, [f.name for f in FILES.files])
