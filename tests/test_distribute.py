"""tf.distribute: one SGD step under MirroredStrategy over two logical CPU
devices equals the one-device step (Deep-AMTFL, DMTRL networks in both
layouts, DAMTL with and without its CMMD alignment; tolerance 1e-5 on the
loss and on every updated weight). Two worker processes on loopback train
under MultiWorkerMirroredStrategy (slow tier)."""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO_ROOT

# Fixed, non-symmetric weights: both sides of a comparison start equal.
FIXED = textwrap.dedent("""
    import numpy as np

    def fixed(m):
        m.set_weights([np.sin(np.arange(w.size) + i).reshape(
            np.shape(w)).astype("float32") * 0.1 if np.ndim(w) else w
            for i, w in enumerate(m.get_weights())])
""")

SCRIPT = FIXED + textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from amtfl_tf import models
    from amtfl_tf.models import dmtrl as dm
    rng = np.random.default_rng(0)

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
    # with CMMD alignment (Eq. 3): every replica gathers the task's samples
    # from all replicas, so the CMMD is the global batch's
    compare("damtl", damtl("all"), {"x": xs, "task": task}, ys, 1e-5)
    # sorted by task, the second replica holds no sample of task 0
    order = np.argsort(task, kind="stable")
    compare("damtl-task-missing-on-a-replica", damtl("all"),
            {"x": xs[order], "task": task[order]}, ys[order], 1e-5)
""")


@pytest.mark.large
@pytest.mark.slow  # 55-245 s on the 2-core CPU: the slow tier keeps the default under 10 min
def test_mirrored_step_equals_one_device_for_every_family():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    for name in ("deep-amtfl", "dmtrl-tucker", "dmtrl-tt-blocked",
                 "damtl-fa", "damtl", "damtl-task-missing-on-a-replica"):
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
    cfg = cli.common_config(fv, "x")
    assert cfg.strategy == "mirrored"
    assert distribute.current() is None  # building the config sets nothing
    with cfg.activate():
        strategy = distribute.current()
        assert type(strategy).__name__ == "MirroredStrategy"
        from amtfl_tf.experiments.dmtrl import common as dc
        net = dc.new_network("stl", 2, (28, 28, 1), "mnist_lenet",
                             dc.TrainSettings())
        assert net.trainable_weights[0].value.device  # placed by strategy
        assert strategy.extended.variable_created_in_scope(
            net.trainable_weights[0].value)
    assert distribute.current() is None


# The models of the multi-worker test, built the same way by the workers
# and by the test's one-device reference: fixed weights, SGD, one step on a
# global batch of 8, then three more steps.
CASES = FIXED + textwrap.dedent("""
    import numpy as np, keras
    from amtfl_tf import distribute, models
    from amtfl_tf.models import dmtrl as dm

    def dmtrl():
        return dm.build_network("dmtrl-tt", 2, (28, 28, 1), "mnist_lenet")

    def damtl():
        shape, blocks, fc = (8, 8, 1), [[4], [6]], [5]
        aux = models.build_vgg(shape, 6, blocks, fc)
        fixed(aux)
        m = models.DAMTL([3, 4], shape, 6, [[0, 2, 5], [2, 1, 3, 4]],
                         conv_blocks=blocks, fc_units=fc, align_layers="all")
        m.load_auxiliary(aux)
        return m

    rng = np.random.default_rng(0)
    x = rng.random((8, 28, 28, 1)).astype("float32")
    y = np.where(rng.random((8, 2)) > 0.5, 1.0, -1.0).astype("float32")
    xs = rng.random((8, 8, 8, 1)).astype("float32")
    task = np.array([0, 1, 1, 0, 1, 0, 1, 1], np.int32)
    ys = np.array([0, 3, 1, 2, 0, 1, 2, 1], np.int32)
    def deep_amtfl():
        return models.DeepMultiTaskModel(2, (28, 28, 1), method="deep-amtfl",
                                         delta=0.01, task_sizes=[5, 5])

    CASES = {"deep-amtfl": (deep_amtfl, x, (y > 0).astype("float32")),
             "dmtrl-tt": (dmtrl, x, y),
             "damtl": (damtl, {"x": xs, "task": task}, ys)}

    def first_step(name, dataset=lambda d: d):
        import tensorflow as tf
        build, x, y = CASES[name]
        with distribute.scope():
            m = build()
            fixed(m)
            m.compile(keras.optimizers.SGD(0.05))
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        loss = m.fit(dataset(ds), epochs=1, verbose=0).history["loss"][0]
        return m, ds, loss, [np.asarray(w) for w in m.trainable_weights]
""")

WORKER = textwrap.dedent("""
    from amtfl_tf import distribute
    from amtfl_tf import runtime
    # the strategy before any other TF op; the context stays entered for
    # the whole script (a reference keeps it from being closed)
    ACTIVE = runtime.activate(runtime.Runtime(
        strategy=distribute.make_strategy("multi_worker")))
    ACTIVE.__enter__()
""") + CASES + textwrap.dedent("""
    import os, sys
    import tensorflow as tf
    index = int(sys.argv[2])
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    shard = lambda d: d.with_options(opts)
    for name in CASES:
        m, ds, loss, weights = first_step(name, shard)
        more = m.fit(shard(ds.repeat(3)), epochs=1, verbose=0)
        np.savez(os.path.join(sys.argv[1], f"{name}-{index}.npz"), loss=loss,
                 more=more.history["loss"][0], *weights,
                 final=np.concatenate([np.ravel(w) for w in m.get_weights()]))
    print("WORKER_DONE", distribute.current().num_replicas_in_sync,
          flush=True)
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
@pytest.mark.large
def test_multi_worker_mirrored_two_local_workers(tmp_path):
    """Two worker processes on loopback (TF_CONFIG) train Deep-AMTFL, a
    DMTRL network and DAMTL with CMMD alignment under
    MultiWorkerMirroredStrategy: the
    first step equals the one-device step on the global batch (1e-5), and
    three more steps leave both workers with the same weights."""
    import json

    import numpy as np
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker",
                                          "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), str(index)],
            env=env, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err[-3000:]
        assert "WORKER_DONE 2" in out
    ns = {}
    exec(CASES, ns)
    for name in ns["CASES"]:
        _, _, loss, weights = ns["first_step"](name)
        runs = [np.load(tmp_path / f"{name}-{i}.npz") for i in range(2)]
        for r in runs:
            assert abs(float(r["loss"]) - loss) <= 1e-5 * max(1.0, loss), \
                (name, float(r["loss"]), loss)
            for i, w in enumerate(weights):
                np.testing.assert_allclose(r[f"arr_{i}"], w, atol=1e-5,
                                           err_msg=name)
            assert np.isfinite(float(r["more"]))
        np.testing.assert_allclose(runs[0]["final"], runs[1]["final"],
                                   atol=1e-6, err_msg=name)


def test_keras_multi_worker_repair_is_idempotent_and_inert_elsewhere():
    """The patch is applied once, and without a multi-worker strategy the
    patched trainer behaves as Keras' own (a plain fit still trains)."""
    import keras
    import numpy as np
    from keras.src.backend.tensorflow import trainer as tf_trainer

    from amtfl_tf import distribute
    distribute.repair_keras_multi_worker()
    patched = tf_trainer.reduce_per_replica
    distribute.repair_keras_multi_worker()
    assert tf_trainer.reduce_per_replica is patched
    assert patched.__module__ == "amtfl_tf.distribute"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((4, 3), "float32")
    hist = model.fit(x, np.zeros((4, 1), "float32"), epochs=2, verbose=0)
    assert hist.history["loss"][1] < hist.history["loss"][0]
