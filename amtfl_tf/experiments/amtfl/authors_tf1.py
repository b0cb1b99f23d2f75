"""The Deep-AMTFL authors' MNIST-Imbalanced training graph, rebuilt in
``tf.compat.v1`` as a reference to compare our Keras models with.

Written from the authors' repository (haebeom-lee/amtfl: ``amtfl.py``,
``layers.py``, ``run.py``), step for step:

- LeNet-Conv: conv 20@5×5 → ReLU → max-pool 2 → conv 50@5×5 → ReLU →
  max-pool 2 → flatten → dense 500 → ReLU (``tf.layers`` defaults:
  Glorot-uniform kernels, zero biases); channels_last, because TF's CPU
  kernels have no channels_first convolution (only the flatten order
  differs);
- task layer ``o = h S + b`` and feedback ``ĥ = relu(o A + a)``, S and A
  drawn N(0, 0.01²), biases 0;
- per-task mean cross-entropy ``-y log(1e-20 + σ(o)) - (1 - y) log(1e-20 +
  1 - σ(o))``, weighted by ``1 + α Σ|A[t]|`` with the constant
  ``0.001 / √(N_t / N̄)`` added; ``γ · mean_batch Σ (h - ĥ)²``; ``μ Σ|S|``;
  ``λ · ½ Σ v²`` (``tf.nn.l2_loss``) over every LeNet variable;
- ``tf.train.AdamOptimizer`` (ε = 1e-8), learning rate 1e-4 dropped to
  1e-5 after half the steps (``tf.train.piecewise_constant``), one
  ``sess.run`` per batch of 100, the training set reshuffled every epoch.

α = γ = 0 gives the authors' MT-CNN (the feedback has no gradient). Under
TF 2.21 grappler's arithmetic optimiser rewrites ``log(1e-20 + (1 - σ))``
into ``log(1 - σ)``, which turns the loss NaN once a logit saturates, so
the session runs with constant folding and the arithmetic optimiser off.
"""

from __future__ import annotations

import time

import numpy as np

from amtfl_tf import metrics


def _graph(tf, alpha, gamma, mu, lam, counts, seed):
    v1 = tf.compat.v1
    v1.set_random_seed(seed)
    x = v1.placeholder(tf.float32, [None, 28, 28, 1])
    y = v1.placeholder(tf.float32, [None, 10])
    glorot = v1.glorot_uniform_initializer()
    small = v1.random_normal_initializer(stddev=0.01)

    def var(name, shape, init):
        return v1.get_variable(name, shape, initializer=init)

    with v1.variable_scope("lenet"):
        k1 = var("conv1/kernel", [5, 5, 1, 20], glorot)
        b1 = var("conv1/bias", [20], v1.zeros_initializer())
        k2 = var("conv2/kernel", [5, 5, 20, 50], glorot)
        b2 = var("conv2/bias", [50], v1.zeros_initializer())
        k3 = var("dense1/kernel", [800, 500], glorot)
        b3 = var("dense1/bias", [500], v1.zeros_initializer())
        s_w = var("fc_last/SW", [500, 10], small)
        s_b = var("fc_last/Sb", [10], v1.zeros_initializer())
        a_w = var("recon/AW", [10, 500], small)
        a_b = var("recon/Ab", [500], v1.zeros_initializer())

    def pool(t):
        return tf.nn.max_pool2d(t, 2, 2, "VALID")

    t = pool(tf.nn.relu(tf.nn.conv2d(x, k1, 1, "VALID") + b1))
    t = pool(tf.nn.relu(tf.nn.conv2d(t, k2, 1, "VALID") + b2))
    h = tf.nn.relu(tf.matmul(tf.reshape(t, [-1, 800]), k3) + b3)
    o = tf.matmul(h, s_w) + s_b
    p = tf.sigmoid(o)
    cent = tf.reduce_mean(-y * tf.math.log(1e-20 + p)
                          - (1 - y) * tf.math.log(1e-20 + (1 - p)), 0)
    h_hat = tf.nn.relu(tf.matmul(o, a_w) + a_b)
    counts = np.asarray(counts, np.float64)
    proxy = tf.constant(0.001 / np.sqrt(counts / counts.mean()), tf.float32)
    aterm = 1 + alpha * tf.reduce_sum(tf.abs(a_w), 1)
    loss = (tf.reduce_sum(aterm * (cent + proxy))
            + gamma * tf.reduce_mean(tf.reduce_sum((h - h_hat) ** 2, 1))
            + mu * tf.reduce_sum(tf.abs(s_w))
            + lam * tf.add_n([tf.nn.l2_loss(v)
                              for v in (k1, b1, k2, b2, k3, b3)]))
    return x, y, o, loss


def session_config():
    """A ``ConfigProto`` with grappler's constant folding and arithmetic
    optimiser off (see the module doc)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import rewriter_config_pb2

    config = tf.compat.v1.ConfigProto()
    off = rewriter_config_pb2.RewriterConfig.OFF
    config.graph_options.rewrite_options.constant_folding = off
    config.graph_options.rewrite_options.arithmetic_optimization = off
    return config


def train_and_evaluate(problem, alpha: float = 0.1, gamma: float = 0.01,
                       epochs: int = 1000, seed: int = 1,
                       batch_size: int = 100, mu: float = 1e-4,
                       lam: float = 1e-4, progress=None) -> dict:
    """Train the authors' graph on ``problem`` (an ImageProblem of
    :mod:`.table2`) and return the per-class and overall test errors, the
    per-class accuracies and the training seconds.

    ``progress``: a callable given a line (epoch, elapsed, time left) about
    every 5% of the epochs; a 1,000-epoch fit takes a quarter of an hour on
    two cores.
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    counts = np.bincount(problem.y_train, minlength=10)
    with graph.as_default():
        x, y, o, loss = _graph(tf, alpha, gamma, mu, lam, counts, seed)
        n = len(problem.y_train)
        batches = n // batch_size
        step = v1.train.get_or_create_global_step()
        lr = v1.train.piecewise_constant(
            tf.cast(step, tf.int32), [batches * epochs // 2], [1e-4, 1e-5])
        train_op = v1.train.AdamOptimizer(lr).minimize(loss,
                                                       global_step=step)
        init = v1.global_variables_initializer()
    onehot = np.eye(10, dtype=np.float32)[problem.y_train]
    rng = np.random.default_rng(seed)
    with v1.Session(graph=graph, config=session_config()) as sess:
        sess.run(init)
        start = time.perf_counter()
        every = max(1, epochs // 20)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            for j in range(batches):
                idx = order[j * batch_size:(j + 1) * batch_size]
                sess.run(train_op, {x: problem.x_train[idx],
                                    y: onehot[idx]})
            if progress and (epoch % every == 0 or epoch == epochs):
                elapsed = time.perf_counter() - start
                progress(f"epoch {epoch}/{epochs} ({elapsed:.0f}s, about "
                         f"{elapsed * (epochs - epoch) / epoch:.0f}s left)")
        seconds = time.perf_counter() - start
        logits = np.concatenate([
            sess.run(o, {x: problem.x_test[i:i + 500]})
            for i in range(0, len(problem.y_test), 500)])
    pred = logits.argmax(axis=1)
    yt = problem.y_test
    return {
        "error_per_class": metrics.mean_per_class_error(yt, pred),
        "error_overall": metrics.error_rate(yt, pred),
        "accuracy_overall": float(np.mean(pred == yt)),
        "per_class_accuracy": [float(np.mean(pred[yt == c] == c))
                               for c in range(10)],
        "train_seconds": seconds,
    }
