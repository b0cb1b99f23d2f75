"""Deep-AMTFL vs CNN: training-step time on the same batch and backbone.

Both models (LeNet-Conv, 10 one-vs-all tasks, batch 100, the Table 2
settings) are compiled the same way and stepped on the same batch,
alternating between them; the median step time of each, and their ratio,
are printed and written to benchmarks/results/deep_amtfl_step.json.
Target: Deep-AMTFL ≤ 1.3 × CNN (the feedback layer adds a 10 × 500 matrix).

  python benchmarks/deep_amtfl_step.py [--steps=200] [--backbone=lenet_conv]
"""

import argparse
import json
import os
import statistics
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--backbone", default="lenet_conv")
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "deep_amtfl_step.json"))
    args = parser.parse_args()

    import keras

    from amtfl_tf.models import DeepMultiTaskModel
    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    keras.utils.set_random_seed(0)
    shape = (28, 28, 1) if args.backbone == "lenet_conv" else (64, 64, 3)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, *shape), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)]
    models = {}
    for method in ("cnn", "deep-amtfl"):
        m = DeepMultiTaskModel(10, shape, method=method,
                               backbone=args.backbone, delta=0.01,
                               task_sizes=[110] * 10)
        m.compile(keras.optimizers.Adam(1e-4))
        for _ in range(5):  # compile and warm up
            m.train_on_batch(x, y)
        models[method] = m
    times = {k: [] for k in models}
    for _ in range(args.steps):
        for k, m in models.items():
            t0 = time.perf_counter()
            m.train_on_batch(x, y)
            times[k].append(time.perf_counter() - t0)
    median = {k: statistics.median(v) for k, v in times.items()}
    ratio = median["deep-amtfl"] / median["cnn"]
    result = {
        "benchmark": "deep_amtfl_step", "backbone": args.backbone,
        "batch": args.batch, "steps": args.steps,
        "median_step_seconds": median, "ratio_deep_amtfl_over_cnn": ratio,
        "target_ratio": 1.3, "meets_target": ratio <= 1.3,
        "machine": machine_info(), "versions": package_versions(),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"median step: CNN {1e3 * median['cnn']:.2f} ms, Deep-AMTFL "
          f"{1e3 * median['deep-amtfl']:.2f} ms; ratio {ratio:.3f} "
          f"(target <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}) -> "
          f"{args.out}")


if __name__ == "__main__":
    main()
