"""tf.data options of the experiments' training pipelines.

:func:`untuned` turns tf.data's autotuning off. The training pipelines
here are in-memory tensors sliced, shuffled and batched, with no parallel
``map`` whose parallelism autotuning could choose, yet its background
thread still runs. On the project's 2-core CPU it competes with the
training step: a Keras ``fit`` of the Table 2 LeNet then lands on about
23 ms per step in most calls instead of 14–17 ms (the bimodal step
times of docs/performance.md). With autotuning off the slow mode is gone
(``benchmarks/levers.py --only data_autotune``). The elements, their order
and so every result are unchanged: autotuning only sizes buffers and
parallelism.
"""

from __future__ import annotations

from typing import Any


def untuned(dataset: Any) -> Any:
    """``dataset`` with tf.data's autotuning switched off (see the module
    doc)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
