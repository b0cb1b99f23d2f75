"""Does DAMTL's soft mask prune? Accuracy and pruned fraction against λ₁.

The paper's objective (Eq. 4) sums the cross-entropy over the task's
samples and adds λ₁ Σ_l ‖Ψ^l‖₁, "to make the soft masking matrix Ψ
sparse", and the masks "selectively prune the neurons in the
convolutional layers" (§1, §3.2); §4.3 sets λ₁ = λ₂ = 0.9 and η = 0.01.
This tool trains DAMTL alone on the Omniglot proxy's draws
(:mod:`amtfl_tf.experiments.damtl.omniglot`, the profile's data,
auxiliary network and training length) for every mask reading below and
a sweep of λ₁, and writes per reading and λ₁ the mean accuracy over the
draws (± 95% CI), the fraction of Ψ entries at or below
``PRUNE_THRESHOLD`` (0.01, 1% of the initial value) per conv layer and
the mean Ψ per layer:

- ``filter``/``sum``: one Ψ per output neuron (filter), ‖Ψ‖₁ summed;
  the reading that prunes neurons (the profiles' default from issue 20);
- ``weight``/``sum``: one Ψ per kernel entry (Eq. 1's Hadamard product
  taken literally), summed;
- ``weight``/``mean``: the first protocol's per-entry mean (λ₁ moves an
  entry by at most ~1e-4: nothing can prune).

Each (reading, λ₁, draw) is one record in ``<out>/splits/`` (a
:class:`~amtfl_tf.results.RunDir`: resumable, tied to the profile's
settings and the setting; ``--overwrite`` discards them); ``table.md``,
``results.json`` and ``mask_sweep.png`` are rebuilt from them. It
decides no claim of the paper (the paper reports no pruning numbers);
the note of issue 20 quotes it.

  python tools/damtl_mask_sweep.py [--profile=faithful] [--draws=3]
      [--setting=po] [--lambdas 0 0.1 0.9 3 10 30] [--out=DIR]
      [--overwrite]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import numpy as np

READINGS = {"filter/sum": ("filter", "sum"),
            "weight/sum": ("weight", "sum"),
            "weight/mean": ("weight", "mean")}
DEFAULT_LAMBDAS = (0.0, 0.1, 0.9, 3.0, 10.0, 30.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="faithful",
                        choices=["smoke", "quick", "faithful", "paper"])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--setting", default="po", choices=["po", "no"])
    parser.add_argument("--lambdas", type=float, nargs="+",
                        default=list(DEFAULT_LAMBDAS))
    parser.add_argument("--readings", nargs="+", default=list(READINGS),
                        choices=list(READINGS))
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--overwrite", action="store_true",
                        help="discard the records made earlier")
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error(f"--draws must be >= 1. Received: {args.draws}")
    bad = [v for v in args.lambdas if not v >= 0]
    if bad:
        parser.error(f"--lambdas must be >= 0. Received: {bad}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    out = args.out or os.path.join(root, "figures", args.profile,
                                   "damtl_mask_sweep")

    from amtfl_tf import plotting
    from amtfl_tf.metrics import mean_ci95
    from amtfl_tf.experiments.progress import Progress
    from amtfl_tf.experiments.config import CommonConfig
    from amtfl_tf.experiments.damtl import common as dc
    from amtfl_tf.experiments.damtl import omniglot as do
    from amtfl_tf.experiments.runner import run_splits
    from amtfl_tf.models.backbones import vgg_architecture
    from amtfl_tf.results import ResumeMismatchError
    from amtfl_tf.results import RunDir
    from amtfl_tf.results import atomic_write_json
    from amtfl_tf.results import atomic_write_text

    s = do.settings_for(args.profile)
    # what is in a record; the keys name its reading, λ₁ and draw
    settings = dc.fingerprint_settings(s)
    del settings["draws"]
    for name in ("mask_granularity", "l1_reduction", "lambda1"):
        del settings["train"][name]
    try:
        run = RunDir(out, args.overwrite, folder_flag="--out", fingerprint={
            "tool": "damtl_mask_sweep", "setting": args.setting,
            "threshold": dc.PRUNE_THRESHOLD, **settings})
    except ResumeMismatchError as e:
        parser.exit(1, f"ResumeMismatchError: {e}\n")
    conv_blocks, fc_units = vgg_architecture(s.architecture)
    cfg = CommonConfig(experiment="damtl_omniglot", profile=args.profile,
                       data_dir=args.data_dir, workdir=out, seed=0,
                       overwrite=False, jit_compile="auto")
    # the experiment's auxiliary-network cache (same key: shared)
    cache = os.path.join(root, "figures", args.profile, "damtl_omniglot",
                         "checkpoints")

    def key(r, lam, d):
        # e.g. filter_sum_l0.9_draw1 ("+" of 1e+06 is no key character)
        return f"{r.replace('/', '_')}_l{lam:g}_draw{d}".replace("+", "")

    jobs = {key(r, lam, d): (r, lam, d) for r in args.readings
            for lam in args.lambdas for d in range(1, args.draws + 1)}
    if not all(run.has_split(k) for k in jobs):
        data = do.load_proxy_data(cfg, s)
        aux, _ = do.train_auxiliary(data, s, conv_blocks, fc_units,
                                    cache)
    progress = Progress(len(jobs), "damtl_mask_sweep", stream=sys.stdout)

    def compute(k):
        r, lam, d = jobs[k]
        gran, red = READINGS[r]
        train = dataclasses.replace(s.train, mask_granularity=gran,
                                    l1_reduction=red, lambda1=lam)
        problem = do.make_problem(data, s, args.setting, d)
        rec = dc.run_draw(problem, aux, conv_blocks, fc_units, train,
                          seed=s.seed * 1000 + d, methods=("damtl",),
                          log=lambda m: None)["methods"]["damtl"]
        rec = {"reading": r, "lambda1": lam, "draw": d,
               "accuracy": rec["accuracy"], "masks": rec["masks"],
               "train_seconds": rec["train_seconds"],
               "final_l1": [v[-1] for v in rec["l1"]],
               "final_ce": [v[-1] for v in rec["ce"]]}
        progress.info(f"{r} λ₁={lam:g} draw {d}: accuracy "
                      f"{np.mean(rec['accuracy']):.3f}, pruned "
                      f"{rec['masks']['pruned_fraction']:.1%}")
        return rec

    records = run_splits(run, jobs, compute, progress=progress)

    rows = []
    for r in args.readings:
        for lam in args.lambdas:
            recs = [records[key(r, lam, d)]
                    for d in range(1, args.draws + 1)]
            acc = mean_ci95([np.mean(x["accuracy"]) for x in recs])
            layers = np.mean([x["masks"]["pruned_per_layer"] for x in recs],
                             axis=0)
            means = np.mean([x["masks"]["mean_per_layer"] for x in recs],
                            axis=0)
            rows.append({"reading": r, "lambda1": lam, "accuracy": acc[0],
                         "accuracy_ci95": acc[1],
                         "pruned": float(np.mean(
                             [x["masks"]["pruned_fraction"] for x in recs])),
                         "pruned_per_layer": layers.tolist(),
                         "mean_psi_per_layer": means.tolist(),
                         "draws": len(recs)})
    nl = len(rows[0]["pruned_per_layer"])
    lines = [
        f"# DAMTL soft-mask sweep ({args.profile} profile, Omniglot proxy "
        f"{args.setting.upper()}, {args.draws} draws)", "",
        f"`python tools/damtl_mask_sweep.py --profile={args.profile} "
        f"--draws={args.draws} --setting={args.setting}`. DAMTL alone, "
        f"{s.train.epochs} full-batch iterations, η = "
        f"{s.train.learning_rate}, α = {s.train.alpha}, λ₂ = "
        f"{s.train.lambda2}, CE {s.train.ce_reduction} over the samples "
        "(Eq. 4); Ψ ~ U(0.9, 1.1), kept ≥ 0. Pruned: Ψ ≤ "
        f"{dc.PRUNE_THRESHOLD}. Accuracy: mean over draws of the two "
        "tasks' mean ± 95% CI (t).", "",
        "| reading | λ₁ | accuracy | pruned (all) | "
        + " | ".join(f"pruned conv{i + 1}" for i in range(nl))
        + " | " + " | ".join(f"mean Ψ conv{i + 1}" for i in range(nl))
        + " |", "|" + "---|" * (4 + 2 * nl)]
    for row in rows:
        lines.append(
            f"| {row['reading']} | {row['lambda1']:g} | "
            f"{row['accuracy']:.3f} ± "
            + (f"{row['accuracy_ci95']:.3f}" if row["accuracy_ci95"]
               is not None else "–") + " | "
            f"{row['pruned']:.1%} | "
            + " | ".join(f"{v:.1%}" for v in row["pruned_per_layer"])
            + " | " + " | ".join(f"{v:.3f}"
                                 for v in row["mean_psi_per_layer"])
            + " |")
    atomic_write_text(os.path.join(out, "table.md"), "\n".join(lines) + "\n")
    atomic_write_json(os.path.join(out, "results.json"), {
        "profile": args.profile, "setting": args.setting,
        "draws": args.draws, "threshold": dc.PRUNE_THRESHOLD,
        "rows": rows, "command": " ".join(sys.argv)})
    fig, ax = plotting.new_figure(1, 2, size=(11, 3.8), layout="constrained")
    a, b = ax[0]
    for r in args.readings:
        sub = [x for x in rows if x["reading"] == r]
        xs = [max(x["lambda1"], 0.01) for x in sub]
        a.errorbar(xs, [x["accuracy"] for x in sub],
                   yerr=[x["accuracy_ci95"] or 0.0 for x in sub],
                   marker="o", capsize=3, label=r)
        b.plot(xs, [x["pruned"] for x in sub], marker="o", label=r)
    for axis in (a, b):
        axis.set_xscale("log")
        axis.set_xlabel("λ₁ (0 drawn at 0.01)")
        axis.axvline(0.9, color="gray", ls=":", lw=1)
        axis.legend(fontsize=8)
    a.set_ylabel("test accuracy (mean of the tasks)")
    b.set_ylabel(f"fraction of Ψ ≤ {dc.PRUNE_THRESHOLD}")
    a.set_title("accuracy against λ₁ (dotted: the paper's 0.9)")
    b.set_title("pruned mask entries against λ₁")
    plotting.save_figure(fig, out, "mask_sweep")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
