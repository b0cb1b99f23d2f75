"""The performance levers of the faithful profile, each against today's path.

Every lever is timed side by side with the path it replaces, in this one
process, alternating between the two, with repeats; the ratio of the
medians (old / new: > 1 means the lever is faster) and every repeat's times
go to benchmarks/results/levers.json.

- ``feedback_order``: AMTFL's reconstruction σ((Z S) A) against the
  previous σ(Z (S A)), one full-batch Trainer fit of Table 1 MNIST's shape
  (1,000 samples, 64 inputs, 500 hidden units, 10 tasks).
- ``train_loop``: the shallow Trainer's in-graph loop (``loop="graph"``)
  against Keras ``fit`` with 250 steps per execution, for AMTFL on Table 1
  School's shape (139 tasks, 28 inputs, 10 hidden units, 12,000 samples)
  and MNIST's.
- ``tt_gram``: TT-SVD at ε = 0.1 of a wide (1024, 512, 10) tensor (rank 3
  plus noise) through the Gram matrix of wide step matrices against the
  plain SVD; HOSVD of the same tensor for reference.
- ``precision``: the Table 2 LeNet Deep-AMTFL training step (batch 100) at
  float32 and at Keras' ``mixed_bfloat16`` policy, with the step's GFLOP/s
  and its fraction of this machine's matmul peak in each precision
  (a 2048² matmul measured in the same run). The GFLOP count is the
  forward multiply-adds of the conv and dense layers ×2 (FLOP) ×3 (forward,
  input gradient, weight gradient).
- ``authors_tf1``: the authors' own MNIST-Imbalanced graph
  (``amtfl_tf.experiments.amtfl.authors_tf1``: ``tf.compat.v1``, one
  ``sess.run`` per batch of 100, as their run.py) against our Deep-AMTFL
  ``fit`` (11 steps per execution) at float32 and at ``mixed_bfloat16``,
  the three interleaved, the same 11 batches per call; the target is ours
  ≤ 0.8 × theirs (a ratio ≥ 1.25). Whether bfloat16 gives Table 2's
  result is measured by ``reproductions/table2_variants.py
  --variants=authors,bfloat16``, not here.
- ``omniglot_fold``: a DMTRL Fig. 4 training step at the faithful shape
  (50 alphabets × 4 drawings of 105 × 105, the paper's tanh CNN) with the
  activations kept task-folded through the convolutions
  (``FactorisedConv2D.call_folded``, what ``DMTRLNetwork`` does) against
  the previous path, which transposed every activation into and out of
  every convolution; STL and DMTRL-Tucker (full rank), ``train_on_batch``.
  The two give the same numbers (tested bit for bit).
- ``dense_route``: a DMTRL-Tucker / DMTRL-TT training step at full rank
  (what independent STL networks decompose to at ε = 0.1) with the dense
  layers applying their factors to the input where that is cheaper
  (``FactorisedDense._apply_tasked``, "auto") against synthesising the T
  kernels every step ("kernel", the previous path): Fig. 4's Omniglot
  network (50 tasks × 4 images of 105 × 105; FC1 1936 → 64) and
  Appendix A's MNIST LeNet (10 tasks, batch 64; FC1 1024 → 512).
- ``epoch_boundaries``: the Table 2 LeNet Deep-AMTFL ``fit`` of 20 epochs
  of 11 steps (one execution each, the experiment's callbacks) against
  one ``fit`` epoch of the same 220 steps: what Keras' per-epoch work
  (callbacks, logs, iterator bookkeeping) costs at Table 2's 1,000 short
  epochs per fit.
- ``concurrent_runs``: two long training runs beside each other on this
  2-core CPU, as the faithful DMTRL Fig. 2 and Fig. 4 runs are made: a
  Fig. 2 STL step (10 MNIST LeNets, batch 64) in one process and a Fig. 4
  STL step (50 alphabets × 4 drawings of 105 × 105) in another, each
  timed over the same window. Old: each process at TensorFlow's default
  thread pools (as many threads as cores, so four compute threads on two
  cores). New: each process with one intra-op and one inter-op thread
  (``TF_NUM_INTRAOP_THREADS=1``, ``TF_NUM_INTEROP_THREADS=1``), pinned to
  a core of its own (``taskset``). Also each workload alone at the
  default, for what sharing costs. Every process is a fresh interpreter.
  Measured 1.05×, but not adopted: the faithful runs' epochs were not
  faster with it (docs/performance.md, "Two runs on two cores").
- ``onednn_opts``: TensorFlow's oneDNN kernels on
  (``TF_ENABLE_ONEDNN_OPTS=1``, what the scripts set unless the
  environment says otherwise) against TensorFlow's own kernels
  (``=0``), for a Fig. 2 STL step, a Fig. 4 STL step and a Table 2
  Deep-AMTFL batch, each in a fresh process of its own (the variable is
  read when TensorFlow is imported), the two settings alternating with
  repeats. TensorFlow turns oneDNN on by itself only on CPUs with
  AVX-512 VNNI, BF16 or AMX, so there the two paths differ only where
  ``=0`` is forced; on other CPUs (AMD, AVX2-only Intel) the scripts'
  default is the lever. The two paths give the same numbers up to
  float32 rounding (tests/test_onednn_opts.py).
- ``data_autotune``: the Table 2 LeNet ``fit`` on its tf.data pipeline
  with tf.data's autotuning on (the default) and off
  (``amtfl_tf.input_pipeline.untuned``, what the experiments use).

  python benchmarks/levers.py [--only feedback_order tt_gram ...]
                              [--repeats 7] [--quick]

Run on a quiet machine: a long run beside it is measured too.
"""

import argparse
import contextlib
import json
import os
import statistics
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LEVERS = ("feedback_order", "train_loop", "tt_gram", "precision",
          "authors_tf1", "data_autotune", "omniglot_fold", "dense_route",
          "epoch_boundaries", "concurrent_runs", "onednn_opts")


def _interleaved(fns, repeats):
    """Every function once per repeat, in turn; seconds per call."""
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def _summary(times, old, new, per=1):
    med = {k: statistics.median(v) / per for k, v in times.items()}
    ratios = [a / b for a, b in zip(times[old], times[new])]
    q = np.quantile(ratios, [0.25, 0.75]).tolist()
    return {"median_seconds": med, "ratio_old_over_new": med[old] / med[new],
            "paired_ratio_quartiles": q,
            "seconds": {k: list(v) for k, v in times.items()}}


def comparisons(levers):
    """``(label, comparison)`` for every old-vs-new comparison in the
    ``levers`` dict of levers.json; a lever holds one comparison or several
    by setting (``train_loop/school``)."""
    for name, res in levers.items():
        if "ratio_old_over_new" in res:
            yield name, res
            continue
        for key, sub in res.items():
            if isinstance(sub, dict) and "ratio_old_over_new" in sub:
                yield f"{name}/{key}", sub


def _shallow_data(n, d, tasks, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    task = rng.integers(0, tasks, n).astype("int32")
    y = rng.normal(size=n).astype("float32")
    return x, task, y


@contextlib.contextmanager
def _patched(owner, name, value):
    """``owner.name = value`` for the block (e.g. while a fit traces the
    path it will time)."""
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def _order(order):
    """Force AsymmetricFeedback's association order while a fit traces."""
    from amtfl_tf.layers import asymmetric_feedback as af
    return _patched(af, "feedback_order", lambda b, k, t: order)


def feedback_order(repeats, quick):
    from amtfl_tf.experiments import search as sh
    steps = 50 if quick else 200
    x, task, y = _shallow_data(1000, 64, 10)
    fns = {}
    for order in ("transfer_first", "outputs_first"):
        m = sh.build_model("AMTFL", 10, 64, hidden_units=500, seed=0)
        tr = sh.Trainer(m, x, y, task, config=sh.TrainConfig(
            steps=steps, steps_per_execution=steps))
        with _order(order):
            tr.fit()  # traces with this order
        fns[order] = tr.fit
    out = _summary(_interleaved(fns, repeats), "transfer_first",
                   "outputs_first", per=steps)
    out.update(setting="AMTFL, 1000 samples, 64 inputs, 500 hidden, 10 "
               f"tasks, full-batch Adam, {steps} steps per fit",
               old="Z (S A)", new="(Z S) A")
    return out


def train_loop(repeats, quick):
    from amtfl_tf.experiments import search as sh
    steps = 100 if quick else 500
    out = {}
    for name, (n, d, tasks, hidden) in {
            "school": (12000, 28, 139, 10),
            "mnist": (1000, 64, 10, 500)}.items():
        x, task, y = _shallow_data(n, d, tasks)
        fns = {}
        for loop in ("fit", "graph"):
            m = sh.build_model("AMTFL", tasks, d, hidden_units=hidden,
                               seed=0)
            tr = sh.Trainer(m, x, y, task, config=sh.TrainConfig(
                steps=steps, steps_per_execution=min(steps, 250), loop=loop))
            tr.fit()
            fns[loop] = tr.fit
        res = _summary(_interleaved(fns, repeats), "fit", "graph",
                       per=steps)
        res.update(setting=f"AMTFL, {n} samples, {d} inputs, {hidden} "
                   f"hidden, {tasks} tasks, {steps} steps per fit",
                   old="keras fit, 250 steps per execution",
                   new="one tf.function, in-graph loop")
        out[name] = res
    return out


def tt_gram(repeats, quick):
    from amtfl_tf.tensor import svd as svd_mod
    from amtfl_tf.tensor.tensor_train import tt_svd
    from amtfl_tf.tensor.tucker import hosvd

    shape = (256, 128, 10) if quick else (1024, 512, 10)
    rng = np.random.default_rng(0)
    low = np.einsum("ir,jr,kr->ijk", *(rng.normal(size=(s, 3))
                                       for s in shape))
    w = low + 0.05 * np.linalg.norm(low) / np.sqrt(low.size) * \
        rng.normal(size=shape)
    ranks = {}

    def gram():
        ranks["gram"] = [c.shape[2] for c in tt_svd(w, eps=0.1)[:-1]]

    def plain():
        saved = svd_mod.is_wide
        svd_mod.is_wide = lambda a: False
        try:
            ranks["svd"] = [c.shape[2] for c in tt_svd(w, eps=0.1)[:-1]]
        finally:
            svd_mod.is_wide = saved

    res = _summary(_interleaved({"svd": plain, "gram": gram}, repeats),
                   "svd", "gram")
    t0 = time.perf_counter()
    hosvd(w, eps=0.1)
    res.update(setting=f"TT-SVD at eps 0.1 of a {shape} tensor (rank 3 + "
               "5% noise)", old="np.linalg.svd of each step matrix",
               new="Gram route for wide step matrices", ranks=ranks,
               hosvd_seconds=time.perf_counter() - t0)
    return res


def _lenet_problem():
    """Table 2's LeNet input shapes: 1,100 random images, one-hot labels
    of 10 tasks, and the experiments' pipeline over them in batches of 100
    (autotuning off, the data_autotune lever)."""
    import tensorflow as tf

    from amtfl_tf import input_pipeline

    rng = np.random.default_rng(0)
    x = rng.random((1100, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 1100)]
    ds = input_pipeline.untuned(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(100).repeat())
    return x, y, ds


def _warm_deep_amtfl(ds, policy="float32", epsilon=1e-7, **kwargs):
    """A Deep-AMTFL LeNet (Table 2's) at ``policy``, compiled with 11
    steps per execution and traced by one fit of 11 steps on ``ds``."""
    import keras

    from amtfl_tf import precision as prec
    from amtfl_tf.models import DeepMultiTaskModel

    keras.utils.set_random_seed(0)
    with prec.policy(policy):
        m = DeepMultiTaskModel(10, (28, 28, 1), method="deep-amtfl",
                               backbone="lenet_conv", delta=0.01,
                               task_sizes=[110] * 10, **kwargs)
    m.compile(keras.optimizers.Adam(1e-4, epsilon=epsilon),
              steps_per_execution=11)
    m.fit(ds, epochs=1, steps_per_epoch=11, verbose=0)
    return m


def _lenet_flops(model):
    """Forward multiply-adds ×2 of the conv and dense layers, per sample."""
    import keras
    total = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2 * h * w * c * kh * kw * layer.kernel.shape[2]
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return total


def _matmul_peak(dtype, n, repeats):
    import tensorflow as tf
    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    mm = tf.function(lambda: tf.reduce_sum(tf.cast(
        tf.linalg.matmul(a, b)[:1, :1], tf.float32)))
    mm()
    best = min(_interleaved({"mm": mm}, repeats)["mm"])
    return 2 * n ** 3 / best / 1e9


def precision(repeats, quick):
    import tensorflow as tf

    from amtfl_tf import precision as prec

    steps = 11 if quick else 55
    _, _, ds = _lenet_problem()
    fns, flops = {}, None
    for policy in prec.PRECISIONS:
        m = _warm_deep_amtfl(ds, policy)
        flops = flops or _lenet_flops(m.backbone) + 2 * 500 * 10 * 2
        fns[policy] = (lambda m=m: m.fit(ds, epochs=1, steps_per_epoch=steps,
                                         verbose=0))
    res = _summary(_interleaved(fns, repeats), "float32", "mixed_bfloat16",
                   per=steps)
    step_gflop = 3 * flops * 100 / 1e9
    n = 1024 if quick else 2048
    peaks = {"float32": _matmul_peak(tf.float32, n, repeats),
             "mixed_bfloat16": _matmul_peak(tf.bfloat16, n, repeats)}
    res.update(
        setting=f"Table 2 LeNet Deep-AMTFL, batch 100, fit of {steps} steps"
        " (11 per execution)", old="float32", new="mixed_bfloat16",
        step_gflop=step_gflop,
        gflops={k: step_gflop / v for k, v in res["median_seconds"].items()},
        matmul_peak_gflops=peaks, matmul_size=n)
    res["fraction_of_peak"] = {k: res["gflops"][k] / peaks[k] for k in peaks}
    return res


def authors_tf1(repeats, quick):
    import tensorflow as tf

    from amtfl_tf import precision as prec
    from amtfl_tf.experiments.amtfl import authors_tf1 as ref

    epochs = 1 if quick else 5
    x, y, ds = _lenet_problem()
    sizes = [110] * 10
    ours = {policy: _warm_deep_amtfl(ds, policy, epsilon=1e-8,
                                     loss="logistic_clipped")
            for policy in prec.PRECISIONS}
    graph = tf.Graph()
    with graph.as_default():
        xp, yp, _, loss = ref._graph(tf, 0.1, 0.01, 1e-4, 1e-4, sizes, 0)
        train = tf.compat.v1.train.AdamOptimizer(1e-4).minimize(loss)
        init = tf.compat.v1.global_variables_initializer()
    sess = tf.compat.v1.Session(graph=graph, config=ref.session_config())
    sess.run(init)

    def theirs():
        for _ in range(epochs):
            for j in range(11):
                sess.run(train, {xp: x[j * 100:(j + 1) * 100],
                                 yp: y[j * 100:(j + 1) * 100]})

    theirs()
    fns = {"authors_tf1": theirs}
    for policy, m in ours.items():
        fns[f"ours_fit_{policy}"] = (
            lambda m=m: m.fit(ds, epochs=1, steps_per_epoch=11 * epochs,
                              verbose=0))
    try:
        times = _interleaved(fns, repeats)
    finally:
        sess.close()
    out = {}
    for policy in prec.PRECISIONS:
        key = f"ours_fit_{policy}"
        res = _summary({k: times[k] for k in ("authors_tf1", key)},
                       "authors_tf1", key, per=11 * epochs)
        res.update(setting=f"Table 2 LeNet Deep-AMTFL, batch 100, "
                   f"{11 * epochs} steps per call", old="authors' TF1 "
                   "graph (sess.run per step, float32)", new=f"ours (fit, "
                   f"11 steps per execution, {policy})", target_ratio=1.25,
                   meets_target=res["ratio_old_over_new"] >= 1.25)
        out[policy] = res
    return out


def data_autotune(repeats, quick):
    import tensorflow as tf

    from amtfl_tf import input_pipeline

    steps = 11 if quick else 55
    x, y, _ = _lenet_problem()
    base = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        1100, seed=0, reshuffle_each_iteration=True).batch(100).repeat()
    fns = {}
    for name, ds in (("autotuned", base),
                     ("untuned", input_pipeline.untuned(base))):
        m = _warm_deep_amtfl(ds)
        fns[name] = (lambda m=m, ds=ds: m.fit(ds, epochs=1,
                                              steps_per_epoch=steps,
                                              verbose=0))
    res = _summary(_interleaved(fns, repeats), "autotuned", "untuned",
                   per=steps)
    res.update(setting=f"Table 2 LeNet Deep-AMTFL, batch 100, fit of {steps}"
               " steps (11 per execution), float32",
               old="tf.data autotuning on (the default)",
               new="autotuning off (input_pipeline.untuned)")
    return res


def _unfolded():
    """The path before the folded one: every task convolution through its
    ``__call__`` (transposes in and out of each layer)."""
    from amtfl_tf.layers.factorised import FactorisedConv2D
    return _patched(FactorisedConv2D, "can_fold", lambda self: False)


def _omniglot_problem(rng):
    """Fig. 4's faithful batch: 50 alphabets of 14–55 characters, 4
    drawings of 105 × 105 each; ``(class sizes, x, y)``."""
    sizes = [int(v) for v in rng.integers(14, 56, 50)]
    x = rng.random((4, 50, 105, 105, 1)).astype("float32")
    y = np.stack([rng.integers(0, n, 4) for n in sizes], 1).astype("int32")
    return sizes, x, y


def _stepper(m, x, y, steps, tracing):
    """Compile ``m``, trace its train function inside ``tracing`` (a
    context that selects the path it will be timed on) and return a
    function running ``steps`` ``train_on_batch`` calls."""
    import keras

    m.compile(keras.optimizers.Adam(1e-3))
    m(x[:1])
    with tracing:
        m.train_on_batch(x, y)

    def step():
        for _ in range(steps):
            m.train_on_batch(x, y)
    return step


def omniglot_fold(repeats, quick):
    import keras

    from amtfl_tf.models import dmtrl as dm

    steps = 3 if quick else 8
    sizes, x, y = _omniglot_problem(np.random.default_rng(0))
    out = {}
    for method in ("stl", "dmtrl-tucker"):
        fns = {}
        for name in ("transposed", "folded"):
            keras.utils.set_random_seed(0)
            m = dm.build_network(method, 50, (105, 105, 1), "omniglot_cnn",
                                 task_layout="blocked", num_classes=sizes,
                                 loss="softmax_ce")
            fns[name] = _stepper(m, x, y, steps, _unfolded()
                                 if name == "transposed"
                                 else contextlib.nullcontext())
        res = _summary(_interleaved(fns, repeats), "transposed", "folded",
                       per=steps)
        res.update(setting=f"DMTRL Fig. 4 {dm.PAPER_NAMES[method]} training "
                   "step, 50 tasks × 4 images of 105 × 105, float32, "
                   f"{steps} train_on_batch calls per repeat",
                   old="activations transposed around every task conv",
                   new="activations kept task-folded (call_folded)")
        out[method] = res
    return out


def dense_route(repeats, quick):
    import keras

    from amtfl_tf.layers.factorised import FactorisedDense
    from amtfl_tf.models import dmtrl as dm

    steps = 2 if quick else 5
    rng = np.random.default_rng(0)
    sizes, ox, oy = _omniglot_problem(rng)
    problems = {
        "omniglot": (dict(num_tasks=50, image_shape=(105, 105, 1),
                          architecture="omniglot_cnn",
                          task_layout="blocked", num_classes=sizes,
                          loss="softmax_ce"), ox, oy),
        "mnist": (dict(num_tasks=10, image_shape=(28, 28, 1),
                       architecture="mnist_lenet"),
                  rng.random((64, 28, 28, 1)).astype("float32"),
                  np.sign(rng.normal(size=(64, 10))).astype("float32"))}
    out = {}
    for problem, (kw, x, y) in problems.items():
        for method in ("dmtrl-tucker", "dmtrl-tt"):
            fns = {}
            for route in ("kernel", "auto"):
                keras.utils.set_random_seed(0)
                m = dm.build_network(method, kw["num_tasks"],
                                     kw["image_shape"], kw["architecture"],
                                     **{k: v for k, v in kw.items() if k
                                        not in ("num_tasks", "image_shape",
                                                "architecture")})
                fns[route] = _stepper(m, x, y, steps, _patched(
                    FactorisedDense, "_dense_route", route))
            res = _summary(_interleaved(fns, repeats), "kernel", "auto",
                           per=steps)
            res.update(setting=f"{problem} {dm.PAPER_NAMES[method]} "
                       f"training step at full rank, {steps} "
                       "train_on_batch calls per repeat, float32",
                       old="T kernels synthesised every step",
                       new="factors applied to the input where cheaper")
            out[f"{problem}_{method[6:]}"] = res
    return out


def epoch_boundaries(repeats, quick):
    from amtfl_tf.callbacks import training_callbacks

    epochs = 5 if quick else 20
    _, _, ds = _lenet_problem()
    fns = {}
    for name, (e, steps) in (("per_epoch", (epochs, 11)),
                             ("one_epoch", (1, 11 * epochs))):
        m = _warm_deep_amtfl(ds)
        fns[name] = (lambda m=m, e=e, steps=steps: m.fit(
            ds, epochs=e, steps_per_epoch=steps, verbose=0,
            callbacks=training_callbacks("bench", "hint")))
    res = _summary(_interleaved(fns, repeats), "per_epoch", "one_epoch",
                   per=11 * epochs)
    res.update(setting=f"Table 2 LeNet Deep-AMTFL, batch 100, {epochs} "
               "epochs of 11 steps (11 per execution) with the experiments'"
               " callbacks, float32",
               old=f"{epochs} epochs of 11 steps",
               new=f"one epoch of {11 * epochs} steps")
    return res


#: the workloads of ``concurrent_runs``: a training step of each faithful
#: DMTRL run made beside the other
WORKLOADS = ("fig2_stl", "fig4_stl")
#: every workload a worker process can time (``onednn_opts`` adds Table 2's
#: Deep-AMTFL LeNet, timed per batch of one 11-batch ``fit`` execution)
WORKER_LOADS = (*WORKLOADS, "table2_deep_amtfl")


def _workload(name):
    """``(model, x, y)`` of one training step of ``name``."""
    from amtfl_tf.models import dmtrl as dm

    rng = np.random.default_rng(0)
    if name == "fig2_stl":
        x = rng.random((64, 28, 28, 1)).astype("float32")
        y = np.sign(rng.normal(size=(64, 10))).astype("float32")
        return dm.build_network("stl", 10, (28, 28, 1), "mnist_lenet"), x, y
    sizes, x, y = _omniglot_problem(rng)
    return dm.build_network("stl", 50, (105, 105, 1), "omniglot_cnn",
                            task_layout="blocked", num_classes=sizes,
                            loss="softmax_ce"), x, y


def _worker(args):
    """One process of ``concurrent_runs``: warm up, wait at the barrier
    until every process of the repeat is ready, then step for
    ``--window`` seconds; writes ``{"steps", "seconds"}`` to ``--result``.
    Thread settings come from the environment and the core from the
    launcher (``taskset``), before TensorFlow starts."""
    import keras

    keras.utils.set_random_seed(0)
    if args.worker == "table2_deep_amtfl":
        _, _, ds = _lenet_problem()
        m, batches = _warm_deep_amtfl(ds), 11

        def step():
            m.fit(ds, epochs=1, steps_per_epoch=batches, verbose=0)
    else:
        m, x, y = _workload(args.worker)
        step, batches = _stepper(m, x, y, 1, contextlib.nullcontext()), 1
    for _ in range(2):
        step()
    open(args.result + ".ready", "w").close()
    deadline = time.monotonic() + 600
    while len([f for f in os.listdir(os.path.dirname(args.result))
               if f.endswith(".ready")]) < args.barrier:
        if time.monotonic() > deadline:
            raise SystemExit("concurrent_runs: the other process never "
                             "became ready")
        time.sleep(0.05)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.window:
        step()
        n += batches
    with open(args.result, "w") as f:
        json.dump({"steps": n, "seconds": time.perf_counter() - t0}, f)


#: ``concurrent_runs``' settings: {name: (threads per process, pin to a
#: core of its own, workloads run together)}
CONCURRENT = {
    "default": (None, False, WORKLOADS),
    "one_thread_pinned": (1, True, WORKLOADS),
    "one_thread": (1, False, WORKLOADS),
    **{f"alone_{w}": (None, False, (w,)) for w in WORKLOADS},
}


def _launch(setting, window, env_extra=None):
    """Run ``setting``'s processes together (a :data:`CONCURRENT` name or
    its ``(threads, pin, workloads)``), with ``env_extra`` added to their
    environment; seconds per step of each."""
    import subprocess
    import sys
    import tempfile

    threads, pin, workloads = (CONCURRENT[setting]
                               if isinstance(setting, str) else setting)
    with tempfile.TemporaryDirectory() as d:
        procs = []
        for core, w in enumerate(workloads):
            env = {k: v for k, v in os.environ.items()
                   if k not in ("TF_NUM_INTRAOP_THREADS",
                                "TF_NUM_INTEROP_THREADS")}
            env["TF_CPP_MIN_LOG_LEVEL"] = "3"
            if threads:
                env.update(TF_NUM_INTRAOP_THREADS=str(threads),
                           TF_NUM_INTEROP_THREADS=str(threads))
            env.update(env_extra or {})
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", w,
                   "--result", os.path.join(d, f"{w}.json"),
                   "--barrier", str(len(workloads)),
                   "--window", str(window)]
            if pin:
                cmd = ["taskset", "-c", str(core % os.cpu_count())] + cmd
            procs.append(subprocess.Popen(cmd, env=env))
        for p in procs:
            if p.wait():
                raise RuntimeError(f"concurrent_runs: {setting} worker "
                                   f"failed with status {p.returncode}")
        out = {}
        for w in workloads:
            with open(os.path.join(d, f"{w}.json")) as f:
                r = json.load(f)
            out[w] = r["seconds"] / r["steps"]
        return out


def concurrent_runs(repeats, quick):
    window = 8.0 if quick else 25.0
    per_step = {k: {w: [] for w in v[2]} for k, v in CONCURRENT.items()}
    for _ in range(repeats):
        for setting in CONCURRENT:
            for w, sec in _launch(setting, window).items():
                per_step[setting][w].append(sec)
            print(f"  {setting}: " + ", ".join(
                f"{w} {v[-1] * 1e3:.0f} ms/step"
                for w, v in per_step[setting].items()), flush=True)
    out = {}
    for new in ("one_thread_pinned", "one_thread"):
        for w in WORKLOADS:
            res = _summary({"default": per_step["default"][w],
                            new: per_step[new][w]}, "default", new)
            res.update(setting=f"{w} training step while the other "
                       f"workload trains in a second process, {window:g} s "
                       "window per repeat, float32",
                       old="both processes at the default thread pools",
                       new=("one thread per process, each pinned to its own "
                            "core" if new == "one_thread_pinned"
                            else "one thread per process, not pinned"),
                       alone_median_seconds=statistics.median(
                           per_step[f"alone_{w}"][w]))
            out[f"{new}_{w}"] = res
    return out


#: ``onednn_opts``' two settings: TF_ENABLE_ONEDNN_OPTS of the workers
ONEDNN = {"tensorflow_kernels": "0", "onednn": "1"}


def onednn_opts(repeats, quick):
    window = 8.0 if quick else 20.0
    per_step = {k: {w: [] for w in WORKER_LOADS} for k in ONEDNN}
    for _ in range(repeats):
        for w in WORKER_LOADS:
            for setting, value in ONEDNN.items():
                sec = _launch((None, False, (w,)), window,
                              {"TF_ENABLE_ONEDNN_OPTS": value})[w]
                per_step[setting][w].append(sec)
        print("  " + "; ".join(
            f"{w} {per_step['tensorflow_kernels'][w][-1] * 1e3:.0f} -> "
            f"{per_step['onednn'][w][-1] * 1e3:.0f} ms/step"
            for w in WORKER_LOADS), flush=True)
    out = {}
    for w in WORKER_LOADS:
        res = _summary({k: per_step[k][w] for k in ONEDNN},
                       "tensorflow_kernels", "onednn")
        res.update(setting=f"{w} training step"
                   + (" (per batch of 100, 11-batch fit executions)"
                      if w == "table2_deep_amtfl" else "")
                   + f", alone, a fresh process per repeat, {window:g} s "
                   "window, float32",
                   old="TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's own kernels)",
                   new="TF_ENABLE_ONEDNN_OPTS=1 (oneDNN)")
        out[w] = res
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None,
                        help=f"levers to measure (of {list(LEVERS)})")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "levers.json"))
    # worker processes of concurrent_runs and onednn_opts (internal)
    parser.add_argument("--worker", choices=WORKER_LOADS,
                        help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--window", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args)
    names = args.only or list(LEVERS)
    unknown = sorted(set(names) - set(LEVERS))
    if unknown:
        parser.error(f"unknown lever(s) {unknown}; known: {list(LEVERS)}")
    if args.repeats < 2:
        parser.error(f"--repeats must be >= 2. Received: {args.repeats}")

    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    result = {}
    if os.path.exists(args.out):  # keep the levers not measured this time
        with open(args.out) as f:
            result = json.load(f)
    result.setdefault("levers", {})
    # each lever keeps the machine it was measured on (the top-level
    # "machine" is the latest run's)
    for r in result["levers"].values():
        r.setdefault("machine", result.get("machine"))
    for name in names:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        r = globals()[name](args.repeats, args.quick)
        r.update(repeats=args.repeats, quick=args.quick,
                 wall_seconds=time.perf_counter() - t0,
                 machine=machine_info())
        result["levers"][name] = r
        for label, sub in comparisons({name: r}):
            q = sub["paired_ratio_quartiles"]
            print(f"{label}: {sub['old']} -> {sub['new']}: "
                  f"{sub['ratio_old_over_new']:.2f}x (paired quartiles "
                  f"{q[0]:.2f}-{q[1]:.2f}); {sub['setting']}", flush=True)
    result.update(benchmark="levers", machine=machine_info(),
                  versions=package_versions())
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
