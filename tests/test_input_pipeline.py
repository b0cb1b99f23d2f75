"""amtfl_tf.input_pipeline: autotuning off changes no element."""

import numpy as np

from amtfl_tf import input_pipeline


def test_untuned_keeps_the_elements_and_their_order():
    import tensorflow as tf

    x = np.arange(50, dtype=np.float32).reshape(25, 2)

    def make():  # a fresh pipeline: a seeded shuffle restarts its stream
        return tf.data.Dataset.from_tensor_slices(x).shuffle(
            25, seed=3, reshuffle_each_iteration=True).batch(4).repeat(3)

    tuned, quiet = make(), input_pipeline.untuned(make())
    assert quiet.options().autotune.enabled is False
    assert tuned.options().autotune.enabled is not False
    a = [b.numpy() for b in tuned]
    b = [b.numpy() for b in quiet]
    assert len(a) == len(b) == 21
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    # the epochs are reshuffled, so the comparison is not vacuous
    assert not np.array_equal(np.concatenate(a[:7]), np.concatenate(a[7:14]))
