"""``tf.distribute`` strategies: made by :func:`make_strategy` from the
scripts' ``--strategy`` name, carried by the run's
:class:`~amtfl_tf.runtime.Runtime` (no module global) and entered with
:func:`scope` wherever the experiments build and compile models.

Strategies: ``default`` (no distribution), ``mirrored`` (every local GPU,
or the CPU), ``multi_worker`` (``MultiWorkerMirroredStrategy``; the
cluster comes from ``TF_CONFIG``) and ``tpu`` (``TPUStrategy`` on the
resolver's TPU). The models divide each task's loss by the task's *global*
sample count and the replica-independent terms by the number of replicas,
and DAMTL's CMMD gathers the task's samples from every replica, so a
distributed step equals the one-device step on the global batch (tested
for Deep-AMTFL, DMTRL and DAMTL, under MirroredStrategy and with two
workers; the in-step helpers are in
:mod:`amtfl_tf.models.replicas`).

Keras 3.15's ``fit`` fails under ``MultiWorkerMirroredStrategy`` with two
or more workers (keras-team/keras#20585), for every model;
:func:`repair_keras_multi_worker` patches the two faults and
``make_strategy("multi_worker")`` applies it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from amtfl_tf import runtime

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str) -> Any:
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
        repair_keras_multi_worker()
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def current() -> Any:
    """The active run's strategy (:func:`amtfl_tf.runtime.active`), or
    None."""
    return runtime.active().strategy


def scope() -> contextlib.AbstractContextManager[Any]:
    """``strategy.scope()`` of the active run's strategy, else a no-op
    context: build and compile models inside it."""
    strategy = current()
    return strategy.scope() if strategy is not None else \
        contextlib.nullcontext()


def steps_per_execution(steps: int) -> int:
    """``steps`` for ``compile(steps_per_execution=...)``, or 1 under a
    multi-worker strategy: Keras runs several steps per call in a
    ``tf.while_loop`` whose condition holds a collective, which TensorFlow
    cannot run across workers ("You must feed a value for placeholder
    tensor 'while/cond/Placeholder...'")."""
    strategy = current()
    if strategy is not None and _multi_worker(strategy):
        return 1
    return steps


def _multi_worker(strategy) -> bool:
    """Keras' own test for the reductions it does differently."""
    import tensorflow as tf
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) \
        and strategy.extended._in_multi_worker_mode()


def repair_keras_multi_worker() -> None:
    """Patch Keras' TensorFlow trainer so ``fit``/``evaluate`` run under a
    multi-worker ``MultiWorkerMirroredStrategy`` (idempotent; a no-op for
    every other strategy). Keras 3.15 fails there twice
    (keras-team/keras#20585):

    1. before the first step, ``_maybe_symbolic_build`` calls
       ``strategy.reduce("MEAN", batch)`` on the whole ``(x, y)``
       structure, which the collective strategy cannot convert ("Attempt
       to convert a value (PerReplica ...) to a Tensor"). The symbolic
       build needs only shapes and dtypes: the patch builds from the first
       local replica's part of the batch (no communication).
    2. after every step, the logs are reduced with ``strategy.reduce(
       "MEAN", v, axis=0)``, which fails on scalar logs ("Invalid reduction
       dimension 0 for input with 0 dimensions"): the patch reduces scalar
       logs with ``axis=None`` (the mean over replicas).

    Call it before ``fit`` when you make the strategy yourself; remove it
    once Keras fixes the issue (``tests/test_distribute.py`` trains with
    two workers on loopback).
    """
    global _REPAIRED
    if _REPAIRED:
        return
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    cls = tf_trainer.TensorFlowTrainer
    build, reduce = cls._maybe_symbolic_build, tf_trainer.reduce_per_replica

    def first_local(strategy, value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or not _multi_worker(strategy):
            return build(self, iterator=iterator, data_batch=data_batch)
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: first_local(strategy, v), next(it))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if not (_multi_worker(strategy) and reduction in ("auto", "mean")):
            return reduce(values, strategy, reduction)

        def one(v):
            if first_local(strategy, v).shape.rank == 0:
                return strategy.reduce("MEAN", v, axis=None)
            return reduce(v, strategy, reduction)
        return tf.nest.map_structure(one, values)

    cls._maybe_symbolic_build = maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _REPAIRED = True


_REPAIRED = False
