"""tf.distribute: one SGD step under MirroredStrategy over two logical CPU
devices equals the one-device step (Deep-AMTFL, DMTRL networks in both
layouts, DAMTL without alignment; tolerance 1e-5 on the loss and on every
updated weight). DAMTL *with* CMMD alignment is a known gap: its CMMD is
computed per replica, so it only trains (checked) without matching."""

import os
import subprocess
import sys
import textwrap

from conftest import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from amtfl_tf import models
    from amtfl_tf.models import dmtrl as dm
    rng = np.random.default_rng(0)

    def fixed(m):
        m.set_weights([np.sin(np.arange(w.size) + i).reshape(
            np.shape(w)).astype("float32") * 0.1 if np.ndim(w) else w
            for i, w in enumerate(m.get_weights())])

    def step(build, x, y, strategy, lr=0.05):
        with strategy.scope():
            m = build()
            fixed(m)
            m.compile(keras.optimizers.SGD(lr))
        ds = tf.data.Dataset.from_tensors((x, y))
        loss = m.fit(ds, epochs=1, verbose=0).history["loss"][0]
        return loss, [np.asarray(w) for w in m.trainable_weights]

    # one strategy object each for the whole process: fresh
    # MirroredStrategy objects reuse collective instance keys
    ONE = tf.distribute.OneDeviceStrategy("/cpu:0")
    TWO = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def compare(name, build, x, y, tol):
        one = step(build, x, y, ONE)
        two = step(build, x, y, TWO)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(one[1],
                                                              two[1]))
        print(name, "LOSS", one[0], two[0], "MAXDIFF", diff, flush=True)
        assert np.isfinite(two[0]), name
        if tol is not None:
            assert abs(one[0] - two[0]) <= tol * max(1.0, abs(one[0])), name
            assert diff < tol, (name, diff)

    x = rng.random((8, 28, 28, 1)).astype("float32")
    y10 = np.eye(10, dtype="float32")[rng.integers(0, 10, 8)]
    compare("deep-amtfl", lambda: models.DeepMultiTaskModel(
        10, (28, 28, 1), method="deep-amtfl", delta=0.01,
        task_sizes=[5] * 10), x, y10, 1e-5)
    ysign = np.where(rng.random((8, 3)) > 0.5, 1.0, -1.0).astype("float32")
    compare("dmtrl-tucker", lambda: dm.build_network(
        "dmtrl-tucker", 3, (28, 28, 1), "mnist_lenet"), x, ysign, 1e-5)
    xb = rng.random((4, 3, 28, 28, 1)).astype("float32")
    yb = rng.integers(0, 2, (4, 3)).astype("int32")
    compare("dmtrl-tt-blocked", lambda: dm.build_network(
        "dmtrl-tt", 3, (28, 28, 1), "omniglot_cnn", task_layout="blocked",
        num_classes=[2, 3, 2], loss="softmax_ce"), xb, yb, 1e-5)

    shape, blocks, fc = (8, 8, 1), [[4], [6]], [5]
    aux = models.build_vgg(shape, 6, blocks, fc)
    fixed(aux)
    xs = rng.random((8,) + shape).astype("float32")
    task = np.array([0, 1, 1, 0, 1, 0, 1, 1], np.int32)
    ys = np.array([0, 3, 1, 2, 0, 1, 2, 1], np.int32)

    def damtl(align):
        def build():
            m = models.DAMTL([3, 4], shape, 6, [[0, 2, 5], [2, 1, 3, 4]],
                             conv_blocks=blocks, fc_units=fc,
                             align_layers=align)
            m.load_auxiliary(aux)
            return m
        return build

    compare("damtl-fa", damtl("none"), {"x": xs, "task": task}, ys, 1e-5)
    # KNOWN GAP: the CMMD of Eq. (3) is computed on each replica's part of
    # the batch, not on the global batch (that needs an all-gather of the
    # features per class), so DAMTL with alignment is not the one-device
    # step under MirroredStrategy; only checked to train.
    compare("damtl", damtl("all"), {"x": xs, "task": task}, ys, None)
""")


def test_mirrored_step_equals_one_device_for_every_family():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    for name in ("deep-amtfl", "dmtrl-tucker", "dmtrl-tt-blocked",
                 "damtl-fa", "damtl"):
        assert f"{name} LOSS" in r.stdout


def test_strategy_flag_is_chosen_in_one_place(tmp_path):
    import pytest
    from absl import flags

    from amtfl_tf import cli
    from amtfl_tf import distribute
    with pytest.raises(ValueError, match="strategy='gpu'"):
        distribute.make_strategy("gpu")
    assert distribute.make_strategy("default") is None
    fv = flags.FlagValues()
    cli.define_common_flags(fv)
    fv(["prog", f"--workdir={tmp_path}", "--strategy=mirrored"])
    try:
        cfg = cli.common_config(fv, "x")
        assert cfg.strategy == "mirrored"
        strategy = distribute.current()
        assert type(strategy).__name__ == "MirroredStrategy"
        from amtfl_tf.experiments import dmtrl_common as dc
        net = dc.new_network("stl", 2, (28, 28, 1), "mnist_lenet",
                             dc.TrainSettings())
        assert net.trainable_weights[0].value.device  # placed by strategy
        assert strategy.extended.variable_created_in_scope(
            net.trainable_weights[0].value)
    finally:
        distribute.set_strategy("default")
    assert distribute.current() is None


WORKER = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from amtfl_tf import distribute
    from amtfl_tf.experiments import dmtrl_common as dc
    import keras
    keras.config.disable_traceback_filtering()
    distribute.set_strategy("multi_worker")
    s = dc.TrainSettings(epochs=2, batch_size=8)
    net = dc.new_network("dmtrl-tt", 2, (28, 28, 1), "mnist_lenet", s)
    rng = np.random.default_rng(0)
    x = rng.random((32, 28, 28, 1)).astype("float32")
    y = np.where(rng.random((32, 2)) > 0.5, 1.0, -1.0).astype("float32")
    import tensorflow as tf
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    h = net.fit(ds.with_options(opts), epochs=2, verbose=0)
    print("WORKER_DONE", distribute.current().num_replicas_in_sync,
          h.history["loss"][-1], flush=True)
""")


def _free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


import pytest  # noqa: E402


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "Keras 3.15's fit() fails under MultiWorkerMirroredStrategy: it reduces "
    "the first distributed batch ('Attempt to convert a value (PerReplica"
    "...)', keras-team/keras#20585, open) and, past that, its per-replica "
    "log reduction. strict: this test fails loudly once Keras fixes it."))
def test_multi_worker_mirrored_two_local_workers():
    """Two worker processes on loopback (TF_CONFIG) train a DMTRL network
    a few steps together under MultiWorkerMirroredStrategy."""
    import json
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker",
                                          "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err[-3000:]
        assert "WORKER_DONE 2" in out
