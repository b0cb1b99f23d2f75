"""The AdienceFaces tasks of DMTRL Fig. 3
(:mod:`amtfl_tf.experiments.dmtrl.fig3_adience`): gender and age group,
one task row per (face, task) pair with that task's label, the faces'
float32 inputs made on indexing, and the random training subsets.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

TASKS = ("gender", "age")


class FaceImages:
    """Float32 inputs of task rows, made on indexing from the uint8 faces
    (which are stored once however many tasks use them): ``x / 255 -
    mean``. Indexable like an array by an int array of any shape."""

    def __init__(self, faces: np.ndarray, face_index: np.ndarray,
                 mean: np.ndarray):
        self.faces, self.face_index = faces, np.asarray(face_index)
        self.mean = np.asarray(mean, np.float32)

    def __len__(self):
        return len(self.face_index)

    @property
    def shape(self):
        return (len(self.face_index),) + self.faces.shape[1:]

    def __getitem__(self, idx):
        x = self.faces[self.face_index[idx]].astype(np.float32)
        x *= np.float32(1 / 255)
        x -= self.mean
        return x


@dataclasses.dataclass
class AdienceTasks:
    """Task rows: one per (face, task) pair with that task's label."""

    faces: np.ndarray     # (N, S, S, 3) uint8
    mean: np.ndarray      # (3,) channel means of the training faces, [0, 1]
    face: np.ndarray      # (R,) face of each task row
    label: np.ndarray     # (R,) task-local class
    task: np.ndarray      # (R,) 0 = gender, 1 = age
    user: np.ndarray      # (R,) Flickr user of the face
    train: np.ndarray     # (R,) bool: training split (after the hold-out)
    test: np.ndarray      # (R,) bool: the test fold
    raw: Any

    def images(self, rows: np.ndarray) -> FaceImages:
        return FaceImages(self.faces, self.face[rows], self.mean)

    def sizes(self) -> dict[str, dict[str, int]]:
        return {name: {"train": int(np.sum(self.train & (self.task == t))),
                       "test": int(np.sum(self.test & (self.task == t)))}
                for t, name in enumerate(TASKS)}


def subsample(data: AdienceTasks, fraction: float, seed: int, key: str
              ) -> np.ndarray:
    """``round(fraction · n_t)`` (at least 2) random training rows of each
    task t, drawn independently per task; sorted row indices."""
    rng = np.random.default_rng([seed, *map(ord, key)])
    out = []
    for t in range(len(TASKS)):
        rows = np.flatnonzero(data.train & (data.task == t))
        k = min(len(rows), max(2, int(round(fraction * len(rows)))))
        out.append(rng.choice(rows, k, replace=False))
    return np.sort(np.concatenate(out))


__all__ = ["TASKS", "FaceImages", "AdienceTasks", "subsample"]
