"""The Omniglot tasks of DMTRL Fig. 4
(:mod:`amtfl_tf.experiments.dmtrl.fig4_omniglot`): 50 alphabets = 50
heterogeneous tasks, each classifying its own characters; the split of each
character's drawings into training and test, and the character-stratified
folds for UD-MTL's cross-validation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class OmniglotTasks:
    images: np.ndarray    # (N, S, S, 1) float32, ink = 1
    label: np.ndarray     # task-local class ids
    task: np.ndarray      # alphabet ids
    character: np.ndarray
    num_classes: list[int]
    names: tuple[str, ...]
    raw: Any


def split_drawings(data: OmniglotTasks, fraction: float, seed: int,
                   key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per character, ``max(1, round(fraction · 20))`` random drawings
    train and the rest test. Returns (train, test) row indices."""
    rng = np.random.default_rng([seed, *map(ord, key)])
    train, test = [], []
    order = np.argsort(data.character, kind="stable")
    bounds = np.flatnonzero(np.diff(data.character[order])) + 1
    for rows in np.split(order, bounds):
        k = min(len(rows) - 1, max(1, int(round(fraction * len(rows)))))
        perm = rng.permutation(rows)
        train.append(perm[:k])
        test.append(perm[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def holdout_drawings(data: OmniglotTasks, test: np.ndarray, seed: int,
                     key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(held_out, test)``: per character, half of its test drawings
    (rounded down, none when it has one) become held-out drawings for the
    stopping rule, neither trained on nor tested."""
    rng = np.random.default_rng([seed, 41, *map(ord, key)])
    held, rest = [], []
    chars = data.character[test]
    order = np.argsort(chars, kind="stable")
    bounds = np.flatnonzero(np.diff(chars[order])) + 1
    for rows in np.split(test[order], bounds):
        perm = rng.permutation(rows)
        k = len(rows) // 2
        held.append(perm[:k])
        rest.append(perm[k:])
    return np.sort(np.concatenate(held)), np.sort(np.concatenate(rest))


def character_folds(data: OmniglotTasks, rows: np.ndarray, folds: int,
                    seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds stratified by character: every character's drawings in
    ``rows`` are dealt round-robin (shuffled) over the folds, so each fold
    validates on every character. ``folds=1``: one 80/20 split per
    character."""
    rng = np.random.default_rng([seed, 79])
    fold_of = np.empty(len(rows), dtype=int)
    k = max(folds, 5 if folds == 1 else folds)
    for c in np.unique(data.character[rows]):
        pos = np.flatnonzero(data.character[rows] == c)
        fold_of[rng.permutation(pos)] = np.arange(len(pos)) % k
    return [(rows[fold_of != i], rows[fold_of == i])
            for i in range(folds)]


__all__ = ["OmniglotTasks", "split_drawings", "character_folds"]
