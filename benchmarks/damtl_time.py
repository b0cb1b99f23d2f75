"""DAMTL Fig. 5 (time cost): the training-step time of every method of
Tables 4–7, side by side in one process, at the Omniglot proxy's shapes.

The experiment trains every method for the same number of full-batch
steps, so the step time orders the training times. A single fit per
method inside the experiment, on a shared machine, cannot order them
(its times include graph tracing and whatever else the machine ran);
here every method is built (:func:`amtfl_tf.experiments.damtl.common.
build_method`, the experiment's own models and settings), compiled and
warmed up, then timed for ``--steps`` full-batch steps per repeat, the
methods interleaved (the order rotated every repeat: ABC, BCA, CAB, ...)
so that a slow spell of the machine hits every method alike. The
per-repeat seconds per step go to benchmarks/results/damtl_time.json
(quick) or damtl_time_<profile>.json, which the experiment's time claims
of that profile read (paired tests across repeats).

The images, labels and auxiliary network are random (a step's cost does
not depend on the weights' values); the shapes are the profile's: image
size, channels, VGG variant, classes per task, training images per task
(the full batch) and auxiliary classes.

  python benchmarks/damtl_time.py [--profile=quick] [--repeats=15]
      [--steps=5] [--note="machine shared with other jobs"]
"""

import argparse
import os
import statistics
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick",
                        help="omniglot proxy profile whose shapes to use")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=5,
                        help="full-batch steps per method and repeat")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--note", default="",
                        help="what the reader must know (e.g. a shared "
                        "machine)")
    parser.add_argument("--out", default=None,
                        help="default: results/damtl_time.json for the "
                        "quick profile, results/damtl_time_<profile>.json "
                        "for another (what the experiment reads)")
    args = parser.parse_args()
    if args.out is None:
        args.out = os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "results",
            "damtl_time.json" if args.profile == "quick"
            else f"damtl_time_{args.profile}.json")

    import keras

    from amtfl_tf.experiments.damtl import common as dc
    from amtfl_tf.experiments.damtl import omniglot as do
    from amtfl_tf.models import build_vgg
    from amtfl_tf.models.backbones import vgg_architecture
    from amtfl_tf.results import atomic_write_json
    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    methods = list(args.methods or dc.METHODS)
    unknown = sorted(set(methods) - set(dc.METHODS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {dc.METHODS}")
    s = do.settings_for(args.profile)
    shapes = do.time_shapes(s)
    conv_blocks, fc_units = vgg_architecture(s.architecture)
    rng = np.random.default_rng(0)
    k, n = shapes["classes_per_task"], shapes["train_images_per_task"]
    size, aux_classes = shapes["image_size"], shapes["aux_classes"]
    x = rng.random((2 * n, size, size, 1), dtype=np.float32)
    task = np.repeat(np.arange(2), n).astype(np.int32)
    y = np.tile(np.repeat(np.arange(k), n // k), 2).astype(np.int32)
    classes = rng.choice(aux_classes, 2 * k, replace=False)
    problem = dc.TaskProblem(
        x_train=x, task_train=task, y_train=y, x_test=x[:2],
        task_test=task[:2], y_test=y[:2], num_classes=[k, k],
        class_map=[classes[:k].tolist(), classes[k:].tolist()],
        task_names=["task A", "task B"])
    keras.utils.set_random_seed(0)
    aux = build_vgg((size, size, 1), aux_classes, conv_blocks, fc_units)
    inputs = {"x": x, "task": task}
    models = {}
    for m in methods:
        keras.utils.set_random_seed(0)
        model = dc.build_method(m, problem, aux, conv_blocks, fc_units,
                                s.train)
        model.compile(dc.make_optimizer(s.train))
        for _ in range(args.warmup):  # trace and warm up
            model.train_on_batch(inputs, y)
        models[m] = model
    times = {m: [] for m in methods}
    start = time.perf_counter()
    for r in range(args.repeats):
        order = methods[r % len(methods):] + methods[:r % len(methods)]
        for m in order:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                models[m].train_on_batch(inputs, y)
            times[m].append((time.perf_counter() - t0) / args.steps)
    wall = time.perf_counter() - start
    median = {m: statistics.median(v) for m, v in times.items()}
    result = {
        "benchmark": "damtl_time", "profile": args.profile,
        "shapes": shapes, "methods": methods,
        "repeats": args.repeats, "steps_per_repeat": args.steps,
        "warmup_steps": args.warmup,
        "order": "interleaved, rotated every repeat",
        "step_seconds": times, "median_step_seconds": median,
        "timed_seconds": wall, "note": args.note,
        "machine": machine_info(), "versions": package_versions(),
    }
    atomic_write_json(args.out, result)
    base = median.get("single")
    for m in methods:
        rel = f" ({median[m] / base:.2f} x Single-Task)" if base else ""
        print(f"{dc.PAPER_NAMES[m]:>20}: median step "
              f"{1e3 * median[m]:.1f} ms{rel}")
    print(f"{args.repeats} repeats x {args.steps} steps in {wall:.0f}s -> "
          f"{args.out}")


if __name__ == "__main__":
    main()
