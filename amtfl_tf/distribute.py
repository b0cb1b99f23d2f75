"""The one place a ``tf.distribute`` strategy is chosen (the scripts'
``--strategy`` flag) and entered (:func:`scope`, used wherever the
experiments build and compile models).

Strategies: ``default`` (no distribution), ``mirrored`` (every local GPU,
or the CPU), ``multi_worker`` (``MultiWorkerMirroredStrategy``; the
cluster comes from ``TF_CONFIG``) and ``tpu`` (``TPUStrategy`` on the
resolver's TPU). The models divide each task's loss by the task's *global*
sample count and the replica-independent terms by the number of replicas,
so a distributed step equals the one-device step on the global batch
(tested for Deep-AMTFL, DMTRL and DAMTL without alignment).
"""

from __future__ import annotations

import contextlib

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")

_STRATEGY = None


def make_strategy(name: str):
    """A new ``tf.distribute.Strategy`` for ``name`` (None for default)."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: "
                         f"strategy={name!r}")
    if name == "default":
        return None
    import tensorflow as tf
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def set_strategy(name: str) -> None:
    """Choose the process-wide strategy (the scripts call this once)."""
    global _STRATEGY
    _STRATEGY = make_strategy(name)


def current():
    """The chosen strategy, or None."""
    return _STRATEGY


def scope():
    """``strategy.scope()`` of the chosen strategy, else a no-op context:
    build and compile models inside it."""
    return _STRATEGY.scope() if _STRATEGY is not None else \
        contextlib.nullcontext()
