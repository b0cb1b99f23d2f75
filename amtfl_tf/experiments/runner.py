"""The resumable split loop every reproduction uses."""

from __future__ import annotations

import random
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from amtfl_tf import runtime
from amtfl_tf.experiments.progress import Progress
from amtfl_tf.results import RunDir


def seed_everything(seed: int, tensorflow: bool = True) -> None:
    """Seed Python, NumPy and (optionally) TensorFlow/Keras."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0. Received: seed={seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow:
        import keras
        keras.utils.set_random_seed(seed)


def enable_determinism() -> None:
    """TensorFlow op determinism: every op picks a deterministic kernel
    (or raises if it has none), so one seed gives identical numbers run to
    run. Process-wide; turn it on before building models."""
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()


def run_splits(run: RunDir, keys: Iterable[str],
               compute: Callable[[str], Mapping[str, Any]],
               name: str = "", progress: Progress | None = None
               ) -> dict[str, dict[str, Any]]:
    """Compute ``compute(key)`` for every key not yet recorded in ``run``.

    Each result is saved atomically as soon as it is computed, so an
    interrupted run resumes at the first unfinished key. Returns every
    key's record (recorded earlier or now), in the order of ``keys``.
    """
    keys = list(keys)
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys must be unique. Received: keys={keys!r}")
    progress = progress or Progress(len(keys), name)
    out = {}
    for key in keys:
        if run.has_split(key):
            out[key] = run.load_split(key)
            progress.skip(key)
            continue
        runtime.active().begin_split(key)
        record = dict(compute(key))
        run.save_split(key, record)
        progress.step(key)
        out[key] = record
    return out
