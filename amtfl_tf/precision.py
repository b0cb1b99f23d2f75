"""Numeric precision of a fit: Keras' dtype policies, entered for the
building of one model and left afterwards.

``mixed_bfloat16`` computes the layers in bfloat16 and keeps the weights
(and the optimiser's state) in float32. On an x86 CPU with AVX512-BF16 or
AMX, oneDNN runs bfloat16 matmuls and convolutions at up to twice the
float32 rate (``benchmarks/levers.py --only precision``); on a CPU without
them it emulates bfloat16 and is several times slower. Whether a fit's
*result* matches float32 is an experimental question, not a property of
the policy: :mod:`amtfl_tf.experiments.amtfl.table2_variants` measures it
at the published length, paired by run.

    with policy("mixed_bfloat16"):
        model = DeepMultiTaskModel(...)   # layers get the policy
    model.fit(...)                        # trains in bfloat16
"""

from __future__ import annotations

import contextlib
from typing import Iterator

PRECISIONS = ("float32", "mixed_bfloat16")


def check(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else ValueError
    naming the value."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}. Received: "
                         f"precision={precision!r}")
    return precision


@contextlib.contextmanager
def policy(precision: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``precision`` inside the block and
    restored afterwards (also when the block raises). Layers take the
    policy when they are created, so build the model inside the block."""
    check(precision)
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

