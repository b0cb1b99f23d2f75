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


def _split_per_character(data: OmniglotTasks, rows: np.ndarray, count,
                         rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per character (in id order), ``count(n)`` of its ``n`` drawings
    among ``rows`` drawn at random, and the rest: ``(taken, rest)``, each
    sorted."""
    chars = data.character[rows]
    order = np.argsort(chars, kind="stable")
    bounds = np.flatnonzero(np.diff(chars[order])) + 1
    taken, rest = [], []
    for group in np.split(rows[order], bounds):
        perm = rng.permutation(group)
        k = count(len(group))
        taken.append(perm[:k])
        rest.append(perm[k:])
    return np.sort(np.concatenate(taken)), np.sort(np.concatenate(rest))


def split_drawings(data: OmniglotTasks, fraction: float, seed: int,
                   key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per character, ``max(1, round(fraction · 20))`` random drawings
    train and the rest test. Returns (train, test) row indices."""
    return _split_per_character(
        data, np.arange(len(data.character)),
        lambda n: min(n - 1, max(1, int(round(fraction * n)))),
        np.random.default_rng([seed, *map(ord, key)]))


def holdout_drawings(data: OmniglotTasks, test: np.ndarray, seed: int,
                     key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(held_out, test)``: per character, half of its test drawings
    (rounded down, none when it has one) become held-out drawings for the
    stopping rule, neither trained on nor tested."""
    return _split_per_character(
        data, np.asarray(test), lambda n: n // 2,
        np.random.default_rng([seed, 41, *map(ord, key)]))


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
