"""Which reading of Deep-AMTFL's synthetic generator gives the paper's regime?

The paper (§4.1): "we generate parameters for 12 tasks from them with noise
ε ~ N(0, σ) ... Easy tasks have noise level of σ = 1 and hard tasks have
σ = 2". It leaves open where the noise goes, the model's number of latent
bases k and any noise on the targets. This tool fits STL, GO-MTL, AMTL and
AMTFL (the Fig. 5 code, quick training budget, coordinate search on the
validation data) on T = 12 tasks for several readings and prints the mean
easy/hard test RMSE of each, with which of the paper's four Fig. 5(a)
statements the means agree with. It decides nothing by itself (two splits,
no CIs): the faithful runs of the readings it points to do
(docs/deep_amtfl.md).

  python tools/synthetic_readings.py [--splits=2] [--out=DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

#: name -> (generator arguments, k of GO-MTL and AMTFL; None: rank W*)
READINGS = {
    "parameters, k = 6, no target noise": ({"noise_on": "parameters"}, 6),
    "parameters, k = 8, target noise 1": (
        {"noise_on": "parameters", "output_noise": 1.0}, 8),
    "parameters, k = 10, target noise 1": (
        {"noise_on": "parameters", "output_noise": 1.0}, 10),
    "parameters, k = rank W*, no target noise (default)": (
        {"noise_on": "parameters"}, None),
    "parameters, k = 6, target noise 1": (
        {"noise_on": "parameters", "output_noise": 1.0}, 6),
    "parameters, k = rank W*, target noise 1": (
        {"noise_on": "parameters", "output_noise": 1.0}, None),
    "parameters, k = 6, target noise 5": (
        {"noise_on": "parameters", "output_noise": 5.0}, 6),
    "parameters, coefficients N(0, 5²), k = 6, target noise 1": (
        {"noise_on": "parameters", "output_noise": 1.0, "coef_scale": 5.0},
        6),
    "parameters_norm, k = 6, target noise 1": (
        {"noise_on": "parameters_norm", "output_noise": 1.0}, 6),
    "outputs (the former default), k = 6": ({"noise_on": "outputs"}, 6),
}

#: the paper's Fig. 5(a) statements, as tests of the means
STATEMENTS = {
    "AMTFL < STL easy": lambda r: r["AMTFL"]["easy"] < r["STL"]["easy"],
    "AMTFL < STL hard": lambda r: r["AMTFL"]["hard"] < r["STL"]["hard"],
    "GO-MTL > STL hard": lambda r: r["GO-MTL"]["hard"] > r["STL"]["hard"],
    "AMTFL < AMTL": lambda r: r["AMTFL"]["all"] < r["AMTL"]["all"],
}


def run_reading(generator: dict, k: int | None, splits: int) -> dict:
    from amtfl_tf.datasets.synthetic import make_synthetic_amtfl
    from amtfl_tf.experiments.amtfl import synthetic as syn

    settings = syn.settings_for("quick", 0, num_splits=splits,
                                num_latent=k,
                                noise_on=generator["noise_on"])
    data = make_synthetic_amtfl(seed=0, num_tasks=12, num_splits=splits,
                                **generator)
    out = {"k": syn.latent_units(settings, data)}
    for method in syn.METHODS:
        rows = [syn.split_summary(data, syn.fit_method(method, data, i,
                                                       settings))
                for i in range(splits)]
        out[method] = {g: float(np.mean([r[g] for r in rows]))
                       for g in ("easy", "hard", "all")}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(
        "figures", "quick", "synthetic_readings"))
    args = parser.parse_args(argv)
    if args.splits < 1:
        print(f"--splits must be >= 1. Received: --splits={args.splits}",
              file=sys.stderr)
        return 2
    results = {}
    for name, (generator, k) in READINGS.items():
        start = time.monotonic()
        results[name] = run_reading(generator, k, args.splits)
        results[name]["seconds"] = time.monotonic() - start
        print(f"[synthetic_readings] {name}: "
              f"{results[name]['seconds']:.0f}s", flush=True)
    lines = ["| reading | k | STL easy / hard | GO-MTL | AMTL | AMTFL | "
             + " | ".join(STATEMENTS) + " |",
             "|---" * (6 + len(STATEMENTS)) + "|"]
    for name, r in results.items():
        cells = [f"{r[m]['easy']:.2f} / {r[m]['hard']:.2f}"
                 for m in ("STL", "GO-MTL", "AMTL", "AMTFL")]
        agree = ["yes" if test(r) else "no" for test in STATEMENTS.values()]
        lines.append(f"| {name} | {r['k']} | " + " | ".join(cells + agree)
                     + " |")
    table = "\n".join(lines)
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "readings.json"), "w") as f:
        json.dump({"splits": args.splits, "profile": "quick",
                   "readings": results}, f, indent=1)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(f"# Synthetic generator readings (quick budget, "
                f"{args.splits} splits, T = 12; "
                "`python tools/synthetic_readings.py`)\n\n"
                "Mean test RMSE easy / hard per method; the last columns "
                "say whether the means agree with each of the paper's "
                "Fig. 5(a) statements (no CIs: an exploration; the "
                "faithful runs decide).\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
