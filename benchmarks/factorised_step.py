"""DMTRL factorised layers vs batched and looped STL: training-step time.

Network: DMTRL's MNIST "modified LeNet" (Yang & Hospedales, ICLR 2017,
arXiv:1605.06391, Sec. 4.1): conv 32@5×5 → 2×2 max-pool → conv 64@4×4 →
2×2 max-pool → FC 512 → FC 1, ReLU after both convs and FC1, valid padding
(558,977 parameters per task network), hinge loss, T one-vs-all tasks, the
input image shared by every task and the task axis carried through the
activations ``(B, T, …)``. Variants, all compiled the same way (Adam,
``train_on_batch``) and stepped on the same batch, alternating between
them:

- ``batched_stl``: T independent full kernels held as ``(T, …)`` tensors
  and run with the SAME batched ops as the factorised layers (one matmul /
  grouped convolution for all tasks);
- ``loop``: T plain Keras LeNets called one after the other in Python;
- ``tucker`` / ``tt`` / ``laf`` at two rank settings: ``eps`` (ranks chosen
  by ε = 0.1 on T independent Glorot draws, i.e. the default random
  initialisation, which keeps nearly full ranks) and ``fraction`` (every
  rank at ``--rank_fraction`` of its largest valid value).

The median step time of each variant and the ratios to ``batched_stl`` and
``loop`` are printed and written to benchmarks/results/factorised_step.json
(target: factorised ≤ 1.5 × batched STL). It also counts the parameters of
the T = 10 network under each factorisation at ε = 0.1 (1) from T
independent Glorot draws and (2) from "trained STL" weights: the batched-STL
network trained for ``--stl_steps`` Adam steps on MNIST one-vs-all with the
hinge loss; its T weight sets are disjoint and the loss is the sum of the
per-task losses, so this is exactly T separate STL trainings on the same
minibatches.

  python benchmarks/factorised_step.py [--tasks 10 50] [--steps 10]
      [--batch 64] [--stl_steps 300] [--data_dir /work/shared/data]
"""

import argparse
import json
import math
import os
import statistics
import time

import numpy as np

METHODS = ("tucker", "tt", "laf")
IMAGE = (28, 28, 1)
# name -> (kind, width, kernel size); valid padding
LENET = (("conv1", "conv", 32, 5), ("conv2", "conv", 64, 4),
         ("fc1", "dense", 512, None), ("fc2", "dense", 1, None))


def lenet_kernel_shapes():
    """Per-task kernel shapes of the LeNet (valid padding)."""
    shapes, channels, size = {}, IMAGE[-1], IMAGE[0]
    for name, kind, width, k in LENET:
        if kind == "conv":
            shapes[name] = (k, k, channels, width)
            size = (size - k + 1) // 2
            channels = width
        else:
            fan_in = size * size * channels if name == "fc1" else \
                shapes["fc1"][1]
            shapes[name] = (fan_in, width)
    return shapes


def fraction_ranks(method, shape, fraction):
    from amtfl_tf import tensor as tn
    if method == "laf":
        return max(1, round(fraction * min(math.prod(shape[:-1]),
                                           shape[-1])))
    if method == "tucker":
        return tuple(max(1, round(fraction * b))
                     for b in tn.tucker_rank_bounds(shape))
    ranks = [max(1, round(fraction * b)) for b in tn.tt_rank_bounds(shape)]
    full = [1] + ranks + [1]
    for k in range(1, len(full) - 1):  # neighbour consistency
        full[k] = min(full[k], full[k - 1] * shape[k - 1])
    for k in range(len(full) - 2, 0, -1):
        full[k] = min(full[k], shape[k] * full[k + 1])
    return tuple(full[1:-1])


def build_network(kind, num_tasks, kernels=None, ranks=None, eps=0.1):
    """The DMTRL LeNet with the task axis carried through.

    kind: "batched_stl" or a DMTRL method; ``kernels`` (name -> stacked)
    initialise by decomposition at ``eps`` (or at ``ranks[name]``).
    """
    import keras
    from keras import ops

    from amtfl_tf.layers import factorised as fz
    from amtfl_tf.layers.laf_conv2d import LAFConv2D
    from amtfl_tf.layers.laf_dense import LAFDense
    from amtfl_tf.layers.tt_conv2d import TTConv2D
    from amtfl_tf.layers.tt_dense import TTDense
    from amtfl_tf.layers.tucker_conv2d import TuckerConv2D
    from amtfl_tf.layers.tucker_dense import TuckerDense

    class BatchedSTLDense(fz.FactorisedDense):
        _method = "full"

        def __init__(self, units, num_tasks, ranks=None, **kwargs):
            super().__init__(units, num_tasks, ranks, families={}, **kwargs)

    class BatchedSTLConv2D(fz.FactorisedConv2D):
        _method = "full"

        def __init__(self, filters, kernel_size, num_tasks, ranks=None,
                     **kwargs):
            super().__init__(filters, kernel_size, num_tasks, ranks,
                             families={}, **kwargs)

    classes = {"tucker": (TuckerConv2D, TuckerDense),
               "tt": (TTConv2D, TTDense), "laf": (LAFConv2D, LAFDense),
               "batched_stl": (BatchedSTLConv2D, BatchedSTLDense)}[kind]

    def task_pool(h):
        s = ops.shape(h)
        y = ops.reshape(h, (-1, s[2], s[3], s[4]))
        y = ops.max_pool(y, 2, 2, "valid")
        return ops.reshape(y, (s[0], num_tasks, s[2] // 2, s[3] // 2,
                               s[4]))

    x = keras.Input(IMAGE)
    h = x
    shapes = lenet_kernel_shapes()
    for name, layer_kind, width, _ in LENET:
        conv = layer_kind == "conv"
        cls = classes[0] if conv else classes[1]
        act = None if name == "fc2" else "relu"
        stacked = kernels[name]
        layer = cls.from_stacked_kernels(
            stacked, eps=eps, activation=act, name=name,
            ranks=None if ranks is None else ranks[name])
        if name == "fc1":
            h = keras.layers.Reshape((num_tasks, shapes["fc1"][0]))(h)
        h = layer(h)
        if conv:
            h = keras.layers.Lambda(task_pool)(h)
    out = keras.layers.Reshape((num_tasks,))(h)
    return keras.Model(x, out, name=kind)


def build_loop(num_tasks):
    import keras

    class Loop(keras.Model):
        def __init__(self):
            super().__init__()
            self.nets = [keras.Sequential([
                keras.layers.Conv2D(32, 5, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(64, 4, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(),
                keras.layers.Dense(512, activation="relu"),
                keras.layers.Dense(1)]) for _ in range(num_tasks)]

        def call(self, x):
            return keras.ops.concatenate([n(x) for n in self.nets], axis=-1)

    model = Loop()
    model(np.zeros((1,) + IMAGE, "float32"))
    return model


def random_kernels(num_tasks, seed):
    from amtfl_tf.layers import random_stacked_kernels
    return {name: random_stacked_kernels(shape, num_tasks, seed=seed + i)
            for i, (name, shape) in enumerate(lenet_kernel_shapes().items())}


def time_steps(models, x, y, steps):
    for m in models.values():
        for _ in range(3):  # compile and warm up
            m.train_on_batch(x, y)
    times = {k: [] for k in models}
    for _ in range(steps):
        for k, m in models.items():
            t0 = time.perf_counter()
            m.train_on_batch(x, y)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def train_stl(num_tasks, steps, batch, data_dir, seed):
    """T one-vs-all STL LeNets trained together as one batched-STL network
    (disjoint weights, summed per-task hinge losses)."""
    import keras

    from amtfl_tf import datasets

    d = datasets.load("mnist", data_dir=data_dir)
    x = (d.train_images[..., None] / 255.0).astype("float32")
    y = np.where(d.train_labels[:, None] == np.arange(num_tasks), 1.0, -1.0)
    xt = (d.test_images[..., None] / 255.0).astype("float32")
    model = build_network("batched_stl", num_tasks,
                          random_kernels(num_tasks, seed))
    model.compile(keras.optimizers.Adam(1e-3),
                  loss=lambda yt, yp: keras.ops.sum(keras.ops.mean(
                      keras.ops.relu(1.0 - yt * yp), axis=0)))
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = rng.integers(0, len(x), batch)
        model.train_on_batch(x[idx], y[idx].astype("float32"))
    seconds = time.perf_counter() - t0
    scores = model.predict(xt, batch_size=500, verbose=0)
    yt = np.where(d.test_labels[:, None] == np.arange(num_tasks), 1, -1)
    binary_error = float(np.mean(np.sign(scores) != yt))
    multi_error = float(np.mean(np.argmax(scores, 1) != d.test_labels))
    kernels = {name: np.asarray(model.get_layer(name).recompose(),
                                np.float64)
               for name, *_ in LENET}
    return kernels, {"steps": steps, "batch": batch, "optimizer":
                     "Adam(1e-3)", "seconds": seconds,
                     "test_binary_error": binary_error,
                     "test_multiclass_error": multi_error}


def param_table(stacked, eps):
    from amtfl_tf import tensor as tn
    counts = tn.network_param_counts(stacked, eps=eps)
    counts["tt_oseledets"] = tn.network_param_counts(
        stacked, eps=eps, methods=("tt",), tt_eps_split="oseledets")["tt"]
    return counts


def _print_counts(title, counts):
    stl = counts["stl"]
    print(f"{title}: STL {stl['total']:,} ({stl['per_network']:,} per "
          "network)")
    for method in (*METHODS, "tt_oseledets"):
        c = counts[method]
        ranks = {k: v["ranks"] for k, v in c["layers"].items()}
        print(f"  {method:13s} {c['total']:>11,}  ratio {c['ratio']:.3f}  "
              f"ranks {ranks}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--rank_fraction", type=float, default=0.25)
    parser.add_argument("--stl_steps", type=int, default=300,
                        help="Adam steps of the 'trained STL' networks "
                        "(0: skip that parameter count)")
    parser.add_argument("--stl_batch", type=int, default=64)
    parser.add_argument("--data_dir", default=os.environ.get(
        "AMTFL_TF_DATA_DIR", "/work/shared/data"))
    parser.add_argument("--skip_timing", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "factorised_step.json"))
    args = parser.parse_args()

    import keras

    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    keras.utils.set_random_seed(args.seed)
    result = {"benchmark": "factorised_step", "network": "DMTRL MNIST LeNet"
              " (conv32@5x5, pool, conv64@4x4, pool, FC512, FC1), valid "
              "padding", "args": vars(args), "target_ratio": 1.5,
              "timing": {}, "params": {}}

    # parameter counts, T = 10
    t10 = 10
    counts = param_table(random_kernels(t10, args.seed), args.eps)
    result["params"]["random_glorot"] = counts
    _print_counts(f"params at eps={args.eps}, T={t10}, independent Glorot "
                  "draws", counts)
    if args.stl_steps > 0:
        kernels, info = train_stl(t10, args.stl_steps, args.stl_batch,
                                  args.data_dir, args.seed)
        counts = param_table(kernels, args.eps)
        result["params"]["trained_stl"] = {"training": info, **counts}
        print(f"trained STL: {info}")
        _print_counts(f"params at eps={args.eps}, T={t10}, trained STL",
                      counts)

    for num_tasks in ([] if args.skip_timing else args.tasks):
        rng = np.random.default_rng(args.seed)
        x = rng.random((args.batch,) + IMAGE, dtype=np.float32)
        y = np.where(rng.random((args.batch, num_tasks)) < 0.5, 1.0,
                     -1.0).astype("float32")
        kernels = random_kernels(num_tasks, args.seed)
        models, ranks = {}, {}
        models["batched_stl"] = build_network("batched_stl", num_tasks,
                                              kernels)
        models["loop"] = build_loop(num_tasks)
        for method in METHODS:
            m = build_network(method, num_tasks, kernels, eps=args.eps)
            models[f"{method}_eps"] = m
            ranks[f"{method}_eps"] = {n: m.get_layer(n).ranks
                                      for n, *_ in LENET}
            fr = {n: fraction_ranks(method, kernels[n].shape,
                                    args.rank_fraction) for n in kernels}
            models[f"{method}_fraction"] = build_network(
                method, num_tasks, kernels, ranks=fr)
            ranks[f"{method}_fraction"] = fr
        for m in models.values():
            m.compile(keras.optimizers.Adam(1e-3), loss="hinge")
        median = time_steps(models, x, y, args.steps)
        base, loop = median["batched_stl"], median["loop"]
        entry = {"batch": args.batch, "steps": args.steps,
                 "median_step_seconds": median,
                 "ratio_to_batched_stl": {k: v / base
                                          for k, v in median.items()},
                 "ratio_to_loop": {k: v / loop for k, v in median.items()},
                 "ranks": ranks,
                 "params": {k: int(m.count_params())
                            for k, m in models.items()}}
        entry["meets_target"] = {
            k: entry["ratio_to_batched_stl"][k] <= 1.5
            for k in models if k not in ("batched_stl", "loop")}
        result["timing"][f"T={num_tasks}"] = entry
        print(f"T={num_tasks}, batch {args.batch}: median step (ms), ratio "
              "to batched STL, ratio to loop")
        for k, v in median.items():
            print(f"  {k:16s} {1e3 * v:9.1f}  {v / base:6.2f}  "
                  f"{v / loop:6.2f}  params {entry['params'][k]:,}")
        del models

    result["machine"] = machine_info()
    result["versions"] = package_versions()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=_jsonable)
    print(f"-> {args.out}")


def _jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(type(obj))


if __name__ == "__main__":
    main()
