"""AMTFL vs AMTL: training time as the number of tasks T grows.

Deep-AMTFL's Fig. 5(c) argues that AMTL's task-to-task matrix B (T × T)
scales worse in T than AMTFL's task-to-feature A (T × k). Both models are
trained side by side in this one process on the synthetic problem
(Sec. 4.1) at each T with the same steps and fixed hyper-parameters: one
warm-up fit each (compiles the step), then --repeats rounds in which each
model is fitted once (the order alternates between rounds). Every timed fit
is recorded (``repeat_seconds[method][repeat][T index]``), so the claim
"AMTL's time grows faster in T" is a paired test across repeats of the
per-repeat log-log slopes (``repeat_loglog_slope``), which
``amtfl_tf/experiments/amtfl/fig5_synthetic.py`` reads from the JSON.
Prints the times, the slopes and the AMTL/AMTFL ratio per T, and writes
benchmarks/results/amtl_scaling.json.
"""

import argparse
import os


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+",
                        default=[12, 24, 48, 96])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed rounds per T (each fits both models)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="",
                        help="free text kept in the JSON (e.g. machine "
                             "load)")
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "amtl_scaling.json"))
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (a paired test across "
                     f"repeats needs two). Received: {args.repeats}")
    if len(set(args.tasks)) < 2:
        parser.error("--tasks needs at least two distinct values. "
                     f"Received: {args.tasks}")

    import dataclasses

    import numpy as np

    from amtfl_tf import metrics
    from amtfl_tf.experiments import search as sh
    from amtfl_tf.experiments.amtfl import synthetic as syn
    from amtfl_tf.results import atomic_write_json
    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    s = syn.settings_for("quick", args.seed, train=sh.TrainConfig(
        steps=args.steps, learning_rate=0.05,
        steps_per_execution=min(args.steps, 250)))
    hp = {"AMTL": {"alpha": 0.01, "gamma": 0.01, "lam": 1e-3},
          "AMTFL": {"alpha": 0.01, "gamma": 0.01, "mu": 1e-3, "lam": 1e-3}}
    methods = list(hp)
    # repeat_seconds[m][r][i]: method m, round r, T = args.tasks[i]
    rep = {m: [[0.0] * len(args.tasks) for _ in range(args.repeats)]
           for m in methods}
    for i, t in enumerate(args.tasks):
        data = syn.make_data(dataclasses.replace(s, num_splits=1), t)
        trainers = {m: syn.trainer_for(m, data, s) for m in methods}
        for m in methods:
            trainers[m].fit(**hp[m])          # warm-up: compiles the step
        for r in range(args.repeats):
            order = methods if r % 2 == 0 else methods[::-1]
            for m in order:
                rep[m][r][i] = syn.timed_fits(trainers[m], hp[m], 1)[0]
        print(f"T={t}: " + ", ".join(
            f"{m} min {min(rep[m][r][i] for r in range(args.repeats)):.3f}s"
            for m in methods), flush=True)
    best = {m: np.min(np.asarray(rep[m]), axis=0).tolist() for m in methods}
    slopes = {m: metrics.loglog_slope(args.tasks, v)
              for m, v in best.items()}
    rep_slopes = {m: [metrics.loglog_slope(args.tasks, row)
                      for row in rep[m]] for m in methods}
    ratios = [a / b for a, b in zip(best["AMTL"], best["AMTFL"])]
    result = {
        "benchmark": "amtl_scaling", "tasks": args.tasks,
        "steps": args.steps, "repeats": args.repeats,
        "hyperparameters": hp,
        "seconds": best, "loglog_slope": slopes,
        "ratio_amtl_over_amtfl": ratios,
        "repeat_seconds": rep, "repeat_loglog_slope": rep_slopes,
        "protocol": (
            "both models timed side by side in one process: per T one "
            "warm-up fit each, then per repeat one fit of each (order "
            "alternating); 'seconds' is the minimum over repeats, "
            "'repeat_loglog_slope' the slope of log time on log T within "
            "one repeat"),
        "note": args.note,
        "machine": machine_info(), "versions": package_versions()}
    atomic_write_json(args.out, result)
    diffs = [round(a - b, 3)
             for a, b in zip(rep_slopes["AMTL"], rep_slopes["AMTFL"])]
    print(f"log-log slope of time in T (best of {args.repeats}): AMTL "
          f"{slopes['AMTL']:.2f}, AMTFL {slopes['AMTFL']:.2f}; per repeat "
          f"AMTL − AMTFL: {diffs}; AMTL/AMTFL at T={args.tasks[-1]}: "
          f"{ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
