"""AdienceFaces (Eidinger, Enbar & Hassner 2014): unfiltered Flickr faces
with gender and age-group labels, in the five subject-exclusive folds of
the official benchmark.

There is no automatic download: the data are behind a registration form at
https://talhassner.github.io/home/projects/Adience/Adience-data.html. From
there, get ``aligned.tar.gz`` and ``fold_0_data.txt`` … ``fold_4_data.txt``
and arrange them as (:data:`LAYOUT`)::

    <data_dir>/adience/fold_0_data.txt … fold_4_data.txt
    <data_dir>/adience/aligned/<user_id>/
        landmark_aligned_face.<face_id>.<original_image>

(``tar xzf aligned.tar.gz -C <data_dir>/adience`` makes ``aligned/``; the
images are 816 × 816 JPEGs.) Each fold file is tab-separated with a header
row and the columns ``user_id, original_image, face_id, age, gender, x, y,
dx, dy, tilt_ang, fiducial_yaw_angle, fiducial_score``; only the first
five are read. The fold files list 4,496 / 3,745 / 3,953 / 3,459 /
3,834 faces (19,487 in all; counted on the copy in GilLevi/
AgeGenderDeepLearning, Folds/original_txt_files, whose labels our
mapping reproduces: Levi & Hassner's fold-0 test lists match row by
row).

Labels:

- gender: ``"m"`` → 0, ``"f"`` → 1 (Levi & Hassner's order); ``"u"`` and
  empty → -1 (no gender label; 1,884 faces).
- age: the 8 groups of Levi & Hassner (2015), :data:`AGE_GROUPS`, index
  0..7. ``age_mapping="levi_hassner"`` (default) keeps exactly the 8
  group strings, as Levi & Hassner's own list-making script
  (GilLevi/AgeGenderDeepLearning, DataPreparationCode/
  create_train_val_txt_files.py) does: everything else → -1, i.e.
  ``"None"`` (753 faces), single ages (``"35"``, ``"13"``, … 1,104) and
  off-grid ranges (``"(25, 23)"`` 72 — a typo of (25, 32) their script
  meant to fix but, missing the comma, did not —, ``"(27, 32)"`` 77,
  ``"(38, 42)"`` 50, ``"(38, 48)"`` 6, ``"(8, 23)"`` 1). With this rule
  fold 0 has exactly the DMTRL paper's test sizes (see below).
  ``age_mapping="nearest"`` maps every numeric age (a range by its
  midpoint, ``"(25, 23)"`` read as (25, 32)) to the group whose interval
  contains it, else to the nearest interval, a tie going to the older
  group (35 → (38, 43), 3 → (4, 6)); only ``"None"`` → -1.

Faces with neither label are dropped (no image is read for them); a face
with one label keeps -1 for the other task, which the experiment leaves
out of that task.

Split: the DMTRL paper (Sec. 4.2) reports 12,245 gender / 11,823 age
training images and 4,007 / 4,316 test images. These are Levi & Hassner's
``test_fold_is_0`` lists (gender_train 12,256, age_train 11,823,
gender_test 4,007, age_test 4,316): fold 0 is the test set and folds 1–4,
less a random 10% Levi & Hassner held out for validation, train. Hence
:meth:`Adience.split`'s default ``test_folds=(0,)`` (folds 1–4 train:
13,596 gender / 13,108 age faces before that 10% hold-out). Fold 4 as the
test set would give only 3,463 / 3,693.

Images are decoded with Pillow (JPEG draft mode, then an area-style
``reduce``/bicubic resize) to ``image_size`` × ``image_size`` RGB uint8,
the whole aligned face (Levi & Hassner resize to 256 and crop 227; no crop
here).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from typing import Sequence

import numpy as np

from amtfl_tf.datasets import files as _files
from amtfl_tf.datasets.registry import compact_repr

NAME = "adience"
URL = "https://talhassner.github.io/home/projects/Adience/Adience-data.html"
NUM_FOLDS = 5
FOLD_FILE = "fold_{}_data.txt"
COLUMNS = ("user_id", "original_image", "face_id", "age", "gender", "x",
           "y", "dx", "dy", "tilt_ang", "fiducial_yaw_angle",
           "fiducial_score")
AGE_GROUPS = ((0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43),
              (48, 53), (60, 100))
AGE_GROUP_NAMES = tuple(f"({a}, {b})" for a, b in AGE_GROUPS)
GENDERS = ("m", "f")
AGE_MAPPINGS = ("levi_hassner", "nearest")
# DMTRL Sec. 4.2 (= Levi & Hassner's test_fold_is_0 lists but for gender
# train, 12,256 there).
PAPER_SIZES = {"gender": {"train": 12245, "test": 4007},
               "age": {"train": 11823, "test": 4316}}
LAYOUT = (
    "<data_dir>/adience/fold_0_data.txt ... fold_4_data.txt (tab-separated, "
    "header row: " + ", ".join(COLUMNS) + ") and "
    "<data_dir>/adience/aligned/<user_id>/landmark_aligned_face.<face_id>."
    "<original_image> (the official aligned.tar.gz unpacked into "
    "<data_dir>/adience/)")


@compact_repr
@dataclasses.dataclass(frozen=True)
class Adience:
    """AdienceFaces as flat arrays, one row per face, in fold-file order.

    Attributes:
      images: uint8 ``(N, S, S, 3)``.
      gender: int64 ``(N,)``: 0 = male, 1 = female, -1 = unknown.
      age: int64 ``(N,)``: index into :data:`AGE_GROUPS`, -1 = unknown.
      fold: int64 ``(N,)``: the official fold 0..4.
      user_id: ``(N,)`` str: the Flickr user (folds are user-exclusive).
      paths: the image file of each row, relative to ``<data_dir>/adience``.
      raw_age: ``(N,)`` str: the age column as written.
      age_mapping: the rule that made ``age``.
    """

    images: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    fold: np.ndarray
    user_id: np.ndarray
    paths: tuple[str, ...]
    raw_age: np.ndarray
    age_mapping: str

    def split(self, test_folds: Sequence[int] = (0,)
              ) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) row indices: rows of ``test_folds`` test, the
        rest train."""
        test = np.isin(self.fold, np.asarray(list(test_folds), dtype=int))
        return np.flatnonzero(~test), np.flatnonzero(test)

    def counts(self, test_folds: Sequence[int] = (0,)
               ) -> dict[str, dict[str, int]]:
        """Labelled faces per task in the train and test folds."""
        train, test = self.split(test_folds)
        return {task: {"train": int(np.sum(lab[train] >= 0)),
                       "test": int(np.sum(lab[test] >= 0))}
                for task, lab in (("gender", self.gender),
                                  ("age", self.age))}


def age_group(age: str, mapping: str = "levi_hassner") -> int:
    """The age-group index (0..7) of one ``age`` cell, or -1.

    ``"levi_hassner"``: only the 8 group strings, e.g. ``"(25, 32)"``.
    ``"nearest"``: any number or ``"(a, b)"`` range (by its midpoint) goes
    to the group that contains it, else the nearest one (a tie to the
    older); ``"(25, 23)"`` is read as ``"(25, 32)"``.
    """
    if mapping not in AGE_MAPPINGS:
        raise ValueError(f"age_mapping must be one of {AGE_MAPPINGS}. "
                         f"Received: age_mapping={mapping!r}")
    s = age.strip()
    if s in AGE_GROUP_NAMES:
        return AGE_GROUP_NAMES.index(s)
    if mapping == "levi_hassner":
        return -1
    if s == "(25, 23)":
        return AGE_GROUP_NAMES.index("(25, 32)")
    try:
        if s.startswith("(") and s.endswith(")"):
            lo, hi = (float(v) for v in s[1:-1].split(","))
            value = (lo + hi) / 2
        else:
            value = float(s)
    except ValueError:
        return -1
    if not np.isfinite(value):
        return -1
    dist = [max(lo - value, 0.0, value - hi) for lo, hi in AGE_GROUPS]
    best = min(dist)
    return max(i for i, d in enumerate(dist) if d == best)


def gender_label(gender: str) -> int:
    """0 for ``"m"``, 1 for ``"f"``, -1 otherwise (``"u"``, empty)."""
    g = gender.strip()
    return GENDERS.index(g) if g in GENDERS else -1


def image_path(user_id: str, face_id: str, original_image: str) -> str:
    """A face's file relative to ``<data_dir>/adience``."""
    return os.path.join("aligned", user_id,
                        f"landmark_aligned_face.{face_id}.{original_image}")


def _not_found(folder: str, what: str) -> _files.DatasetNotFoundError:
    return _files.DatasetNotFoundError(
        f"Dataset {NAME!r} not found: {what}.\n"
        f"Expected layout: {LAYOUT}.\n"
        f"AdienceFaces cannot be downloaded automatically (the official "
        f"site asks for a registration form): get aligned.tar.gz and "
        f"fold_0_data.txt ... fold_4_data.txt from {URL}.\n"
        f"Put them in {folder}, or point the loader at a folder that has "
        f"them with --data_dir=<dir> or {_files.DATA_DIR_ENV}=<dir> (the "
        f"dataset goes in <dir>/{NAME}/).")


def read_fold_file(path: str) -> list[dict[str, str]]:
    """The rows of one ``fold_<k>_data.txt`` as dicts of the first five
    columns (``user_id`` … ``gender``)."""
    with open(path, encoding="utf-8") as f:
        lines = [ln.rstrip("\r\n") for ln in f]
    header = lines[0].split("\t") if lines else []
    if tuple(h.strip() for h in header[:5]) != COLUMNS[:5]:
        raise _files.DatasetError(
            f"{NAME}: {path} does not start with the header columns "
            f"{', '.join(COLUMNS[:5])} (tab-separated); found "
            f"{header[:5]!r}.")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 5:
            raise _files.DatasetError(
                f"{NAME}: {path} line {n} has {len(cells)} tab-separated "
                f"columns, expected {len(COLUMNS)}.")
        rows.append(dict(zip(COLUMNS[:5], (c.strip() for c in cells[:5]))))
    return rows


def _read_image(path: str, size: int) -> np.ndarray:
    from PIL import Image  # pillow ships with matplotlib

    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
        im = im.convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BICUBIC,
                           reducing_gap=2.0)
        return np.asarray(im, dtype=np.uint8)


def load_adience(data_dir: str | None = None, seed: int = 0,
                 image_size: int = 227,
                 folds: Sequence[int] = tuple(range(NUM_FOLDS)),
                 age_mapping: str = "levi_hassner",
                 workers: int | None = None) -> Adience:
    """Load AdienceFaces from the official files (module docstring).

    Args:
      data_dir: folder holding ``adience/``; see ``resolve_data_dir``.
      seed: unused (the data are fixed); registry contract.
      image_size: side S of the returned ``(S, S, 3)`` images (the Levi &
        Hassner CNN takes 227; it runs from 63 up).
      folds: which official folds to read.
      age_mapping: ``"levi_hassner"`` or ``"nearest"`` (module docstring).
      workers: image-decoding threads (default: the CPU count, at most 8).

    Raises:
      DatasetNotFoundError: a fold file, ``aligned/`` or listed images are
        absent (the message gives the layout and the official URL).
      DatasetError: a fold file does not have the official columns.
    """
    del seed
    if age_mapping not in AGE_MAPPINGS:
        raise ValueError(f"age_mapping must be one of {AGE_MAPPINGS}. "
                         f"Received: age_mapping={age_mapping!r}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8. Received: "
                         f"image_size={image_size!r}")
    folds = sorted({int(k) for k in folds})
    if not folds or folds[0] < 0 or folds[-1] >= NUM_FOLDS:
        raise ValueError(f"folds must be among 0..{NUM_FOLDS - 1}. "
                         f"Received: folds={folds!r}")
    folder = os.path.join(_files.resolve_data_dir(data_dir), NAME)
    missing = [FOLD_FILE.format(k) for k in folds
               if not os.path.isfile(os.path.join(folder,
                                                  FOLD_FILE.format(k)))]
    if missing:
        raise _not_found(folder, f"missing {', '.join(missing)} in "
                                 f"{folder}")
    if not os.path.isdir(os.path.join(folder, "aligned")):
        raise _not_found(folder, f"missing the image folder "
                                 f"{os.path.join(folder, 'aligned')}")
    gender, age, fold, users, paths, raw = [], [], [], [], [], []
    for k in folds:
        for r in read_fold_file(os.path.join(folder, FOLD_FILE.format(k))):
            g, a = gender_label(r["gender"]), age_group(r["age"],
                                                        age_mapping)
            if g < 0 and a < 0:
                continue
            gender.append(g)
            age.append(a)
            fold.append(k)
            users.append(r["user_id"])
            raw.append(r["age"])
            paths.append(image_path(r["user_id"], r["face_id"],
                                    r["original_image"]))
    absent = [p for p in paths if not os.path.isfile(os.path.join(folder,
                                                                  p))]
    if absent:
        raise _not_found(folder, f"{len(absent)} of the {len(paths)} "
                                 f"listed images are absent, e.g. "
                                 f"{os.path.join(folder, absent[0])}")
    workers = workers or min(8, os.cpu_count() or 1)
    images = np.zeros((len(paths), image_size, image_size, 3), np.uint8)

    def read(i):
        images[i] = _read_image(os.path.join(folder, paths[i]), image_size)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(read, range(len(paths))))
    return Adience(
        images=images, gender=np.asarray(gender, np.int64),
        age=np.asarray(age, np.int64), fold=np.asarray(fold, np.int64),
        user_id=np.asarray(users, dtype=str), paths=tuple(paths),
        raw_age=np.asarray(raw, dtype=str), age_mapping=age_mapping)
