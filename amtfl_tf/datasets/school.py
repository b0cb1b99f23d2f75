"""School (ILEA exam scores): Argyriou et al.'s data and 10 random splits.

15,362 students in 139 schools (tasks); 27 binary/percentage attributes plus
a bias column; the target is the exam score (1..70). Each split holds about
75% of every school's students for training and the rest for testing.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from amtfl_tf.datasets import files as _files
from amtfl_tf.datasets.registry import compact_repr

_COMMIT = "97dfc15be3769240f2099d036ce2b55b30a56f5f"
_URL = ("https://raw.githubusercontent.com/tjanez/PyMTL/" + _COMMIT
        + "/data/school/")

# file -> (sha256, size in bytes)
_FILES = {
    "school_b.mat": (
        "973f1ca99d0d41a838ec6ae86001a48e7b69391eb74646b9e4fc54f62866a146",
        40592),
    "school_1_indexes.mat": (
        "030c9ca0a73d6264aa1eeac49aba1d760a1b5692cd3124667e74a7a2b7751bc5",
        28567),
    "school_2_indexes.mat": (
        "63d3a076a4cdd3de81825d3cf0c030b93bdc60e912eaed4763ee224efab163f8",
        28570),
    "school_3_indexes.mat": (
        "f7f68e3adb50db8094e230c2b83d548790379cd93ad98fadb35ff2999762dbe6",
        28559),
    "school_4_indexes.mat": (
        "02643928224056a61e25dec8d4841dba5195ed9affdc76fdc697854a2506d142",
        28571),
    "school_5_indexes.mat": (
        "6ed00a453d582dce4397f6f49120cff803c22f53cfb2dd63a3826c359c24bcdf",
        28569),
    "school_6_indexes.mat": (
        "ca853babe5b7f0f5812e7f4261f8b5e5728f1b3b06711e56a76b27b7f959f379",
        28568),
    "school_7_indexes.mat": (
        "b72105509c70f94f48c7c8b0e1359c6c0ea630c7ac588337b412f946ede62283",
        28568),
    "school_8_indexes.mat": (
        "8ad60073b135220f1a6f49fdd79b4430b6a0c8ce9925a22dcc5a09141f5b1c04",
        28569),
    "school_9_indexes.mat": (
        "0de74247d93c413b690ebb65e2e7beb1c55f05b2a2d5db46469e673a552cccf2",
        28573),
    "school_10_indexes.mat": (
        "b408742eab66cd124563493057b080fd39e5075f48b4c391c53e5f6a1a4c8df1",
        28573),
}

FILES = _files.DatasetFiles(
    dataset="school",
    subdir="school",
    source=("A. Argyriou, T. Evgeniou, M. Pontil, 'Convex multi-task feature "
            "learning' (2008): school_b.mat and their 10 splits, as published "
            "in github.com/tjanez/PyMTL (commit " + _COMMIT[:7]
            + ", data/school/)"),
    files=tuple(_files.FileSpec(n, sha, size, _URL + n)
                for n, (sha, size) in _FILES.items()),
)

NUM_SPLITS = 10
NUM_TASKS = 139


@compact_repr
@dataclasses.dataclass(frozen=True)
class SchoolSplit:
    """One of Argyriou et al.'s random splits (0-based indices into x/y).

    Both index arrays are grouped by school in task order, as in the files.
    """

    train: np.ndarray  # int64 (11472,)
    test: np.ndarray   # int64 (3890,)


@compact_repr
@dataclasses.dataclass(frozen=True)
class School:
    """School as numpy arrays (task-partitioned multi-task data).

    Attributes:
      x: float64 ``(15362, 28)``; columns 0..26 are the attributes of
        README.txt (year, %FSM, %VR1, gender, VR band, ethnic group, school
        gender, school denomination), column 27 is the constant bias 1.
      y: float64 ``(15362,)`` exam score, original scale (1..70).
      task: int64 ``(15362,)`` school index 0..138.
      splits: the 10 :class:`SchoolSplit` objects, split ``i + 1`` of the
        files at position ``i``.
    """

    x: np.ndarray
    y: np.ndarray
    task: np.ndarray
    splits: tuple[SchoolSplit, ...]

    @property
    def num_tasks(self) -> int:
        return NUM_TASKS

    def split(self, number: int) -> SchoolSplit:
        """Split ``number`` in 1..10, numbered as in the file names."""
        if not 1 <= number <= len(self.splits):
            raise ValueError(
                f"number must be in 1..{len(self.splits)}. "
                f"Received: number={number!r}")
        return self.splits[number - 1]


def _loadmat(path: str) -> dict:
    from scipy import io as sio
    try:
        return sio.loadmat(path)
    except Exception as e:  # scipy raises several types for bad files
        raise _files.DatasetError(f"school: cannot read {path}: {e}") from e


def load_school(data_dir: str | None = None, seed: int = 0,
                download: bool = True) -> School:
    """Load School with its 10 splits, checksum-verified.

    Args:
      data_dir: folder holding ``school/``; see ``resolve_data_dir``.
      seed: unused (the data and splits are fixed); registry contract.
      download: fetch missing files from the public source if possible.
    """
    del seed
    folder = _files.ensure_files(FILES, data_dir, download_missing=download)
    m = _loadmat(os.path.join(folder, "school_b.mat"))
    x = m["x"].T.astype(np.float64)
    y = m["y"].reshape(-1).astype(np.float64)
    starts = m["task_indexes"].reshape(-1).astype(np.int64) - 1
    sizes = np.diff(np.append(starts, len(y)))
    task = np.repeat(np.arange(len(starts)), sizes)
    splits = []
    for i in range(1, NUM_SPLITS + 1):
        s = _loadmat(os.path.join(folder, f"school_{i}_indexes.mat"))
        splits.append(SchoolSplit(
            train=s["tr"].reshape(-1).astype(np.int64) - 1,
            test=s["tst"].reshape(-1).astype(np.int64) - 1))
    return School(x=x, y=y, task=task, splits=tuple(splits))
