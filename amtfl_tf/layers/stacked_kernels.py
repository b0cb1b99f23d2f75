"""Stacked per-task kernels: random draws (DMTRL's random initialisation)
and the kernels given to ``from_stacked_kernels``."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import keras
import numpy as np
from numpy.typing import ArrayLike

from amtfl_tf.validation import check_finite_array
from amtfl_tf.validation import check_int


def per_task_initializers(initializer: Any, num_tasks: int) -> list[Any]:
    """T initializers; one with an integer seed s is re-created with seeds
    s, s + 1, …, s + T − 1 (Keras 3 initializers repeat their values)."""
    seed = getattr(initializer, "seed", None)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        config = initializer.get_config()
        return [initializer.__class__.from_config(
            {**config, "seed": int(seed) + t}) for t in range(num_tasks)]
    return [initializer] * num_tasks


def random_stacked_kernels(kernel_shape: Sequence[int], num_tasks: int,
                           initializer: Any = "glorot_uniform",
                           seed: int | None = None) -> np.ndarray:
    """T independent per-task kernels stacked along a new last axis.

    DMTRL's recommended random initialisation (Sec. 4) draws the full weight
    tensor "by a suitable random weight distribution first, then do[es]
    decomposition". Each task's kernel is drawn from ``initializer`` with
    the per-task shape, so fan-in/fan-out are those of one task's kernel.
    Keras 3 initializers return the same values on every call (seeded or
    not), which would give T identical kernels and a rank-1 task mode
    (pitfall 5), so an initializer with an integer seed s is re-created
    with seeds s, s + 1, …, s + T − 1.

    Args:
      kernel_shape: one task's kernel shape, e.g. ``(D_in, D_out)`` or
        ``(H, W, C, M)``.
      num_tasks: T.
      initializer: a Keras initializer (name, config or instance).
      seed: optional int seed (replaces the initializer's own seed).

    Returns:
      float64 array ``kernel_shape + (T,)``.
    """
    num_tasks = check_int("num_tasks", num_tasks)
    init = keras.initializers.get(initializer)
    if seed is not None:
        seed = check_int("seed", seed, low=0)
        config = init.get_config()
        if "seed" in config:
            init = init.__class__.from_config({**config, "seed": seed})
    kernel_shape = tuple(int(d) for d in kernel_shape)
    draws = [np.asarray(i(kernel_shape, dtype="float64"), dtype=np.float64)
             for i in per_task_initializers(init, num_tasks)]
    return np.stack(draws, axis=-1)


def stack_kernels(kernels: ArrayLike, order: int, name: str) -> np.ndarray:
    """``kernels`` (the stacked tensor with ``order`` dims, or a list of T
    per-task kernels) as a float64 array, task axis last; every entry
    finite."""
    if isinstance(kernels, (list, tuple)):
        arrays = [np.asarray(k, dtype=np.float64) for k in kernels]
        if not arrays or any(a.ndim != order - 1 or a.shape != arrays[0].shape
                             for a in arrays):
            raise ValueError(
                f"{name} as a list must hold T >= 1 per-task kernels of one "
                f"shape with {order - 1} dims. Received: shapes "
                f"{[a.shape for a in arrays]}")
        arr = np.stack(arrays, axis=-1)
    else:
        arr = np.asarray(kernels, dtype=np.float64)
        if arr.ndim != order:
            raise ValueError(
                f"{name} must be the stacked tensor with {order} dims (task "
                f"axis last) or a list of per-task kernels. Received: {name} "
                f"with shape {arr.shape}")
    # a NaN would reach the SVDs and fail there as a LinAlgError
    check_finite_array(name, arr)
    return arr
