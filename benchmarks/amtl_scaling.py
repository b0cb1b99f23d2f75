"""AMTFL vs AMTL: training time as the number of tasks T grows.

Deep-AMTFL's Fig. 5(c) argues that AMTL's task-to-task matrix B (T × T)
scales worse in T than AMTFL's task-to-feature A (T × k). Both models are
trained side by side on the synthetic problem (Sec. 4.1) at each T with the
same steps and fixed hyper-parameters; the best of --repeats timed fits is
kept. Prints the times, the log-log slopes and the AMTL/AMTFL ratio per T,
and writes benchmarks/results/amtl_scaling.json.
"""

import argparse
import json
import os


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+",
                        default=[12, 24, 48, 96])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "amtl_scaling.json"))
    args = parser.parse_args()

    import dataclasses

    from amtfl_tf import metrics
    from amtfl_tf.experiments import search as sh
    from amtfl_tf.experiments.amtfl import synthetic as syn
    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    s = syn.settings_for("quick", args.seed, train=sh.TrainConfig(
        steps=args.steps, learning_rate=0.05,
        steps_per_execution=min(args.steps, 250)))
    hp = {"AMTL": {"alpha": 0.01, "gamma": 0.01, "lam": 1e-3},
          "AMTFL": {"alpha": 0.01, "gamma": 0.01, "mu": 1e-3, "lam": 1e-3}}
    seconds = {m: [] for m in hp}
    for t in args.tasks:
        data = syn.make_data(dataclasses.replace(s, num_splits=1), t)
        for m in hp:
            r = syn.timed_fit(m, data, s, hp[m], repeats=args.repeats)
            seconds[m].append(r["seconds"])
        print(f"T={t}: AMTL {seconds['AMTL'][-1]:.2f}s, AMTFL "
              f"{seconds['AMTFL'][-1]:.2f}s", flush=True)
    slopes = {m: metrics.loglog_slope(args.tasks, v)
              for m, v in seconds.items()}
    ratios = [a / b for a, b in zip(seconds["AMTL"], seconds["AMTFL"])]
    result = {"benchmark": "amtl_scaling", "tasks": args.tasks,
              "steps": args.steps, "seconds": seconds,
              "loglog_slope": slopes, "ratio_amtl_over_amtfl": ratios,
              "machine": machine_info(), "versions": package_versions()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"log-log slope of time in T: AMTL {slopes['AMTL']:.2f}, AMTFL "
          f"{slopes['AMTFL']:.2f}; AMTL/AMTFL at T={args.tasks[-1]}: "
          f"{ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
