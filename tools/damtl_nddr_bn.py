"""NDDR-CNN on the DAMTL proxy with and without its batch normalisation.

NDDR-CNN's fusion unit is concatenation, a 1×1 convolution, batch
normalisation and ReLU (Gao et al., CVPR 2019); its backbones (VGG-16-BN,
ResNets) normalise every layer, so the unit's batch normalisation keeps
the features in the form the next layer expects. The proxy's backbone
(``vgg_small``) and the auxiliary network every method starts from have
no batch normalisation, and at the faithful profile NDDR-CNN ends below
every other method (0.885 / 0.871 controlled, 0.49 with a random head).

This tool reruns only NDDR-CNN (controlled and random-head arms) on the
experiment's draws with ``nddr_batch_norm=False`` (the unit keeps its 1×1
fusion, initialised [0.9 I, 0.1 I], and ReLU), with the experiment's
data, auxiliary network, seeds and training, and sets the result beside
the draws' recorded methods, paired by draw (95% t intervals). It
decides no claim of the paper; the experiment's records are not changed.

Each (setting, draw) is one record in ``<out>/splits/`` (a
:class:`~amtfl_tf.results.RunDir`: resumable, tied to the profile's
settings with ``nddr_batch_norm=False``; ``--overwrite`` discards them);
``table.md`` and ``results.json`` are rebuilt from them.

  python tools/damtl_nddr_bn.py [--profile=faithful] [--settings po no]
      [--draws=20] [--out=DIR] [--data_dir=DIR] [--experiment_dir=DIR]
      [--overwrite]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

ARMS = ("nddr", "nddr_rh")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="faithful",
                        choices=["smoke", "quick", "faithful", "paper"])
    parser.add_argument("--settings", nargs="+", default=["po", "no"],
                        choices=["po", "no"])
    parser.add_argument("--draws", type=int, default=None,
                        help="draws 1..N (default: the profile's)")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--experiment_dir", default=None,
                        help="the experiment's run folder (default "
                             "figures/<profile>/damtl_omniglot)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard the records made earlier")
    args = parser.parse_args(argv)
    if args.draws is not None and args.draws < 1:
        parser.error(f"--draws must be >= 1. Received: {args.draws}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    out = args.out or os.path.join(root, "figures", args.profile,
                                   "damtl_nddr_bn")

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
    draws = args.draws or s.draws
    train = dataclasses.replace(s.train, nddr_batch_norm=False)
    # the random-head arm exists in the profiles that run the paper's
    # setting beside the controlled comparison
    arms = tuple(m for m in ARMS if m in dc.methods_for(s.train))
    # what is in a record (``train`` holds nddr_batch_norm=False); the
    # keys name its setting and draw
    settings = dc.fingerprint_settings(dataclasses.replace(s, train=train))
    del settings["draws"]
    try:
        run = RunDir(out, args.overwrite, folder_flag="--out", fingerprint={
            "tool": "damtl_nddr_bn", "methods": list(arms), **settings})
    except ResumeMismatchError as e:
        parser.exit(1, f"ResumeMismatchError: {e}\n")
    conv_blocks, fc_units = vgg_architecture(s.architecture)
    cfg = CommonConfig(experiment="damtl_omniglot", profile=args.profile,
                       data_dir=args.data_dir, workdir=out, seed=0,
                       overwrite=False, jit_compile="auto")
    experiment = args.experiment_dir or os.path.join(
        root, "figures", args.profile, "damtl_omniglot")
    jobs = {f"{st}_draw{d}": (st, d) for st in args.settings
            for d in range(1, draws + 1)}
    if not all(run.has_split(k) for k in jobs):
        data = do.load_proxy_data(cfg, s)
        # the experiment's auxiliary network (its cache: the same one)
        aux, _ = do.train_auxiliary(data, s, conv_blocks, fc_units,
                                    os.path.join(experiment, "checkpoints"))
    progress = Progress(len(jobs), "damtl_nddr_bn", stream=sys.stdout)

    def compute(key):
        st, d = jobs[key]
        problem = do.make_problem(data, s, st, d)
        rec = dc.run_draw(problem, aux, conv_blocks, fc_units, train,
                          seed=s.seed * 1000 + d, methods=arms,
                          log=lambda m: None)["methods"]
        progress.info(f"{st} draw {d}: NDDR-CNN without batch norm " +
                      ", ".join(f"{m} {np.mean(rec[m]['accuracy']):.3f}"
                                for m in arms))
        return {"setting": st, "draw": d,
                **{m: {"accuracy": r["accuracy"], "loss": r["loss"],
                       "train_seconds": r["train_seconds"]}
                   for m, r in rec.items()}}

    records = run_splits(run, jobs, compute, progress=progress)

    def recorded(st, d):
        """The experiment's record of this draw (None if not run)."""
        f = os.path.join(experiment, st, "splits", f"draw{d}.json")
        return json.load(open(f))["record"]["methods"] \
            if os.path.exists(f) else None

    rows, lines = [], [
        f"# NDDR-CNN without batch normalisation ({args.profile} profile, "
        f"Omniglot proxy, {draws} draws per setting)", "",
        f"`python tools/damtl_nddr_bn.py --profile={args.profile}`. Only "
        "NDDR-CNN is retrained, with `nddr_batch_norm=False`, on the "
        "experiment's draws, seeds, auxiliary network and training; the "
        "other columns are the experiment's records of the same draws "
        f"(`{os.path.relpath(experiment, root)}/<setting>/splits/`). "
        "Accuracy: mean of the two tasks per draw, mean over draws ± 95% "
        "t interval; differences are paired by draw.", "",
        "| setting | head | NDDR-CNN with BN (recorded) | without BN | "
        "Single-Task | DAMTL | without BN − with BN | DAMTL − NDDR-CNN "
        "without BN | without BN − Single-Task |", "|" + "---|" * 9]
    for st in args.settings:
        pairs = [(records[f"{st}_draw{d}"], recorded(st, d))
                 for d in range(1, draws + 1)]
        if any(r is None for _, r in pairs):
            continue
        for arm, single, head in (("nddr", "single", "auxiliary"),
                                  ("nddr_rh", "single_rh", "random")):
            if arm not in arms:
                continue
            new = np.array([np.mean(n[arm]["accuracy"]) for n, _ in pairs])
            old = np.array([np.mean(r[arm]["accuracy"]) for _, r in pairs])
            one = np.array([np.mean(r[single]["accuracy"])
                            for _, r in pairs])
            dam = np.array([np.mean(r["damtl"]["accuracy"])
                            for _, r in pairs])
            stats = {k: mean_ci95(v) for k, v in (
                ("with_bn", old), ("without_bn", new), ("single", one),
                ("damtl", dam), ("without_minus_with", new - old),
                ("damtl_minus_without", dam - new),
                ("without_minus_single", new - one))}
            rows.append({"setting": st, "head": head, "draws": draws,
                         **{k: {"mean": m, "ci95": c}
                            for k, (m, c) in stats.items()}})

            def cell(k, signed=False):
                m, c = stats[k]
                if signed:
                    return (f"{m:+.3f} [{m - c:+.3f}, {m + c:+.3f}]"
                            if c is not None else f"{m:+.3f}")
                return f"{m:.3f} ± {c:.3f}" if c is not None else f"{m:.3f}"
            lines.append(
                f"| {st.upper()} | {head} | {cell('with_bn')} | "
                f"{cell('without_bn')} | {cell('single')} | "
                f"{cell('damtl')} | {cell('without_minus_with', True)} | "
                f"{cell('damtl_minus_without', True)} | "
                f"{cell('without_minus_single', True)} |")
    atomic_write_text(os.path.join(out, "table.md"), "\n".join(lines) + "\n")
    atomic_write_json(os.path.join(out, "results.json"), {
        "profile": args.profile, "draws": draws, "rows": rows,
        "command": " ".join(["python", "tools/damtl_nddr_bn.py"]
                            + (argv if argv is not None else sys.argv[1:]))})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
