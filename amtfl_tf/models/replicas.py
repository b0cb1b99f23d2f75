"""In-step helpers for ``tf.distribute``: the replica count, the
cross-replica sum and the cross-replica gather the model objectives use so
that a distributed step equals the one-device step on the global batch.
All are identities outside a multi-replica step and on other backends.
"""

from __future__ import annotations

from typing import Any, Callable

import keras


def _tf_strategy():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf
    return tf.distribute.get_strategy()


def distribution() -> tuple[int, Callable[[Any], Any]]:
    """(number of replicas, all-reduce-sum function) of the current
    ``tf.distribute`` replica context; ``(1, identity)`` outside one."""
    strategy = _tf_strategy()
    if strategy is None:
        return 1, lambda v: v
    import tensorflow as tf
    n = strategy.num_replicas_in_sync
    ctx = tf.distribute.get_replica_context()
    if n == 1 or ctx is None:
        return n, lambda v: v
    return n, lambda v: ctx.all_reduce(tf.distribute.ReduceOp.SUM, v)


def all_gather(*values: Any) -> tuple[Any, ...]:
    """Every replica's ``values`` concatenated along axis 0, in replica
    order (the same on every replica; differentiable: each replica's
    gradient reaches the replica that owns the slice). Replicas may hold
    different numbers of rows. Outside a multi-replica step: ``values``."""
    strategy = _tf_strategy()
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return values
    import tensorflow as tf
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return values
    return tuple(ctx.all_gather(v, axis=0) for v in values)
