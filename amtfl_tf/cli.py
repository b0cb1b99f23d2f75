"""The absl flags shared by every reproduction script.

This is the only module of the package that touches absl flags, and it only
defines them on, and reads them from, the ``FlagValues`` object it is given;
the rest of the library takes plain arguments or a
:class:`~amtfl_tf.experiments.config.CommonConfig` (defined there; no
library module imports this one).

A script::

    from absl import app, flags
    from amtfl_tf import cli

    cli.define_common_flags(flags.FLAGS)

    def main(argv):
        cfg = cli.common_config(flags.FLAGS, "table1", argv)
        ...

    if __name__ == "__main__":
        app.run(main)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

from amtfl_tf.experiments.config import PROFILES
from amtfl_tf.experiments.config import CommonConfig

# TensorFlow turns its oneDNN kernels on by default only on x86 CPUs with
# AVX-512 VNNI, BF16 or AMX; elsewhere (AMD, AVX2-only Intel) its fallback
# convolutions make our CNN training steps 1.4-4.5x slower (benchmarks/
# levers.py --only onednn_opts; the two paths agree to float32 rounding,
# tests/test_onednn_opts.py). Scripts turn them on unless the environment
# says otherwise; it must happen before TensorFlow is imported, and no
# module this one imports imports it.
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
os.environ.setdefault(ONEDNN_ENV, "1")

COMMON_FLAGS = ("profile", "data_dir", "workdir", "seed", "overwrite",
                "jit_compile", "download", "deterministic", "tensorboard",
                "strategy", "checkpoint")
PROFILE_HELP = {
    "smoke": "1-3 minutes per script; tiny data and one split, for tests "
             "only (written to the git-ignored figures/smoke/)",
    "quick": "minutes on a 2-core CPU; fewer splits/epochs/fractions, "
             "labelled as such in every output",
    "faithful": "every single run as published (data, image size, "
                "architecture, training length, schedule, grid values); "
                "fewer repeats/splits/draws; hours",
    "paper": "the published protocol, all repeats (slow)",
}
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_workdir(experiment: str, profile: str = "quick") -> str:
    """``figures/<profile>/<experiment>`` in the source checkout (or the
    current directory when the package is installed elsewhere): each
    profile has its own folder, so a quick run never overwrites faithful
    or paper outputs, and ``figures/smoke/`` is git-ignored."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}. Received: "
                         f"profile={profile!r}")
    root = _REPO_ROOT if os.path.isdir(
        os.path.join(_REPO_ROOT, "reproductions")) else os.getcwd()
    return os.path.join(root, "figures", profile, experiment)


def define_common_flags(flag_values, default_profile: str = "quick") -> None:
    """Define --profile, --data_dir, --workdir, --seed, --overwrite,
    --jit_compile and --download on ``flag_values`` (usually
    ``absl.flags.FLAGS``)."""
    from absl import flags

    if default_profile not in PROFILES:
        raise ValueError(
            f"default_profile must be one of {PROFILES}. Received: "
            f"default_profile={default_profile!r}")
    flags.DEFINE_enum(
        "profile", default_profile, list(PROFILES),
        "Run size. " + "; ".join(f"{k}: {v}" for k, v in
                                 PROFILE_HELP.items()) + ".",
        flag_values=flag_values)
    flags.DEFINE_string(
        "data_dir", None,
        "Folder with the datasets (mnist/, omniglot/, school/). Default: "
        "$AMTFL_TF_DATA_DIR, else ~/.cache/amtfl_tf/data.",
        flag_values=flag_values)
    flags.DEFINE_string(
        "workdir", None,
        "Run folder for config.json, results.json, table.md and figures. "
        "Default: figures/<profile>/<script name>.", flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Global random seed.",
                         flag_values=flag_values)
    flags.DEFINE_bool(
        "overwrite", False,
        "Discard the splits already recorded in --workdir instead of "
        "resuming from them.", flag_values=flag_values)
    flags.DEFINE_enum(
        "jit_compile", "auto", ["auto", "true", "false"],
        "XLA compilation for Keras models: 'auto' lets Keras decide (XLA on "
        "GPU, not on CPU), 'true'/'false' force it.",
        flag_values=flag_values)
    flags.DEFINE_bool(
        "deterministic", False,
        "Turn on TensorFlow's op determinism "
        "(tf.config.experimental.enable_op_determinism): with one --seed, "
        "two runs give identical numbers (slower on some ops).",
        flag_values=flag_values)
    flags.DEFINE_bool(
        "tensorboard", False,
        "Also write TensorBoard logs to <workdir>/tensorboard/<run>: "
        "per-task losses, the objective's terms, transfer matrices as "
        "images, DMTRL's sharing strength per layer.",
        flag_values=flag_values)
    flags.DEFINE_enum(
        "strategy", "default", ["default", "mirrored", "multi_worker", "tpu"],
        "tf.distribute strategy for every model the script trains "
        "(amtfl_tf.distribute): mirrored = all local GPUs, multi_worker = "
        "the TF_CONFIG cluster, tpu = the resolver's TPU.",
        flag_values=flag_values)
    flags.DEFINE_bool(
        "checkpoint", False,
        "Checkpoint model, optimizer and epoch of every deep fit each epoch "
        "under <workdir>/checkpoints (deleted when the fit ends), so a run "
        "killed mid-fit resumes that fit; finished splits are always kept.",
        flag_values=flag_values)
    flags.DEFINE_bool(
        "download", True,
        "Download missing datasets from their official sources (where the "
        "network allows). --nodownload fails at once instead.",
        flag_values=flag_values)
    # Key flags of the script (absl names the main module by sys.argv[0]),
    # so a script's --help lists them, not only --helpfull.
    for name in COMMON_FLAGS:
        flag_values.register_key_flag_for_module(sys.argv[0],
                                                 flag_values[name])


def common_config(flag_values, experiment: str,
                  argv: Sequence[str] = ()) -> CommonConfig:
    """Freeze the common flags into a :class:`CommonConfig`.

    Raises:
      ValueError: stray positional arguments in ``argv`` (beyond the program
        name) or a negative seed.
    """
    if len(argv) > 1:
        raise ValueError(
            f"Unexpected positional arguments. Received: argv={list(argv)!r}")
    if flag_values.seed < 0:
        raise ValueError(
            f"--seed must be >= 0. Received: seed={flag_values.seed}")
    jit = {"auto": "auto", "true": True, "false": False}[
        flag_values.jit_compile]
    workdir = os.path.abspath(flag_values.workdir
                              or default_workdir(experiment,
                                                 flag_values.profile))
    cfg = CommonConfig(
        experiment=experiment,
        profile=flag_values.profile,
        data_dir=flag_values.data_dir,
        workdir=workdir,
        seed=flag_values.seed,
        overwrite=flag_values.overwrite,
        jit_compile=jit,
        download=flag_values.download,
        deterministic=bool(flag_values.deterministic),
        tensorboard=bool(flag_values.tensorboard),
        strategy=flag_values.strategy,
        checkpoint=bool(flag_values.checkpoint),
    )
    if cfg.strategy != "default":
        # A collective strategy must exist before TensorFlow runs anything
        # (a script may load data before its experiment starts): make the
        # run's strategy now; it is kept on the config, not in a global.
        cfg.runtime()
    _determinism(cfg.deterministic)
    return cfg


def _determinism(on: bool) -> None:
    if on:
        from amtfl_tf.experiments.runner import enable_determinism
        enable_determinism()


def flags_dict(flag_values, script: str | None = None) -> dict[str, Any]:
    """The common flags plus every flag the script itself defines, as a dict
    for ``config.json``. ``script`` defaults to ``sys.argv[0]``, the name
    absl registers a main module's flags under."""
    out = {n: flag_values[n].value for n in COMMON_FLAGS if n in flag_values}
    for flag in flag_values.get_flags_for_module(script or sys.argv[0]):
        out[flag.name] = flag.value
    return dict(sorted(out.items()))


def run_main(main) -> None:
    """``absl.app.run(main)``, but the errors a user can fix (missing or
    corrupt data, a workdir made with other settings, a bad argument) end
    the script with one message and exit status 1 instead of a traceback."""
    from absl import app

    from amtfl_tf.datasets import DatasetError
    from amtfl_tf.results import ResumeMismatchError

    import logging
    # TensorFlow's Python warnings (e.g. "triggered tf.function retracing",
    # expected when a grid search builds one model per method) are noise
    # in script output.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

    def guarded(argv):
        try:
            return main(argv)
        except (DatasetError, ResumeMismatchError, ValueError) as e:
            print(f"\n{type(e).__name__}: {e}", file=sys.stderr, flush=True)
            sys.exit(1)
        except KeyboardInterrupt:
            # finished splits are already recorded; say so instead of a
            # traceback through TensorFlow's frames
            print("\nInterrupted: the splits finished so far are recorded "
                  "in --workdir; run the same command again to resume.",
                  file=sys.stderr, flush=True)
            sys.exit(130)

    app.run(guarded)


def report(cfg: CommonConfig, results, workdir: str | None = None) -> None:
    """Print what a script wrote and its claims' verdicts."""
    from amtfl_tf.results import verdict_counts
    files = ", ".join(["results.json", "table.md", *results.figures])
    counts = verdict_counts(results.claims) if results.claims else "no claims"
    print(f"[{cfg.experiment}] wrote {workdir or cfg.workdir}: {files}; "
          f"claims: {counts}; {results.wall_seconds:.0f}s", flush=True)
    for c in results.claims:
        print(f"  - {c.verdict}: {c.text} ({c.evidence})", flush=True)


# DMTRL's free choices (papers-spec 2.f), shared by its four scripts. Every
# flag defaults to None: the profile's value (see the experiment module).
_DMTRL_FLAGS = (
    ("fractions", "list", "Training fractions (comma-separated)."),
    ("repeats", "int", "Random training subsets per fraction."),
    ("epochs", "int", "Epochs of STL and UD-MTL training."),
    ("finetune_epochs", "int",
     "Epochs of DMTRL training after the STL initialisation."),
    ("batch_size", "int", "Mini-batch size (MNIST)."),
    ("lr", "float", "Learning rate."),
    ("optimizer", "enum:adam,sgd,momentum", "Optimiser."),
    ("eps", "float",
     "Relative error of the SVDs that pick every DMTRL rank (paper 0.1)."),
    ("tt_eps_split", "enum:per_unfolding,oseledets",
     "TT-SVD error split: the same eps per unfolding (authors' code) or "
     "eps/sqrt(N-1) (Oseledets)."),
    ("rank_rule", "enum:frobenius,interpolative",
     "How eps picks each DMTRL rank: the smallest rank whose Frobenius "
     "error is <= eps (ours) or scipy's interpolative SVD at precision eps "
     "per unfolding (the authors' toolbox)."),
    ("stopping", "enum:fixed,holdout",
     "Train every fit for --epochs (fixed) or stop each one on held-out "
     "data (holdout: patience --patience, at most --epochs)."),
    ("patience", "int",
     "Epochs without a better held-out loss before a fit stops."),
    ("init", "enum:stl,random",
     "DMTRL initialisation: decompose the trained STL networks (paper) or "
     "a random draw at full rank."),
    ("init_unshared", "enum:stl,random",
     "Unshared layers and biases of DMTRL: copied from STL or random."),
    ("stl_init", "enum:shared,independent",
     "The STL networks start from one random draw (shared) or from one "
     "draw each (independent)."),
    ("ud_folds", "int",
     "k of the k-fold CV that picks UD-MTL's N (1 = one 80/20 hold-out)."),
    ("ud_options", "list", "The N UD-MTL's CV tries (default: the paper's)."),
    ("task_reduction", "enum:mean,sum", "Mean or sum of the task losses."),
)


def define_synthetic_flags(flag_values) -> None:
    """Define Deep-AMTFL's synthetic-data flags (``--noise_on``,
    ``--num_latent``) of the Fig. 4 and Fig. 5 scripts."""
    from absl import flags

    flags.DEFINE_enum(
        "noise_on", "parameters", ["parameters", "parameters_norm",
                                   "outputs"],
        "Where the easy/hard noise σ goes: 'parameters' (the paper's text: "
        "N(0, σ²) on every coordinate of w_t), 'parameters_norm' "
        "(‖ε‖ ≈ σ) or 'outputs' (y = x·w_t + N(0, σ²)); see "
        "amtfl_tf/datasets/synthetic.py.", flag_values=flag_values)
    flags.DEFINE_integer(
        "num_latent", None,
        "Latent bases k of GO-MTL and AMTFL (default: the rank of the true "
        "parameters W*: min(T, 30) with the noise on the parameters, 6 on "
        "the outputs).", lower_bound=1, flag_values=flag_values)


def define_dmtrl_flags(flag_values, extra: Sequence[str] = ()) -> None:
    """Define the DMTRL flags (and the ``extra`` ones of ``image_size``,
    ``test_size``, ``per_task``) on ``flag_values``."""
    more = {"image_size": ("int", "Image side in pixels (Omniglot)."),
            "test_size": ("int", "Test images (MNIST; default all 10k in "
                                 "the paper profile)."),
            "per_task": ("int", "Samples of every task per batch."),
            "ud_select": ("enum:per_subset,once",
                          "UD-MTL's N: CV on every training subset, or "
                          "once on one subset of --ud_cv_fraction (the "
                          "paper; MNIST Fig. 2)."),
            "ud_cv_fraction": ("float",
                               "Fraction of the split UD-MTL's N is "
                               "cross-validated on with --ud_select=once.")}
    specs = list(_DMTRL_FLAGS) + [(n, *more[n]) for n in extra]
    _define_optional_flags(flag_values, specs)


def _define_optional_flags(flag_values, specs) -> None:
    """Flags that default to None (= the profile's value); ``kind`` is
    ``list``, ``int``, ``float`` or ``enum:a,b,c``."""
    from absl import flags

    for name, kind, help_ in specs:
        help_ += " Default: the profile's."
        if kind == "list":
            flags.DEFINE_list(name, None, help_, flag_values=flag_values)
        elif kind == "int":
            flags.DEFINE_integer(name, None, help_, flag_values=flag_values)
        elif kind == "float":
            flags.DEFINE_float(name, None, help_, flag_values=flag_values)
        else:
            flags.DEFINE_enum(name, None, kind[5:].split(","), help_,
                              flag_values=flag_values)


def dmtrl_overrides(flag_values) -> dict[str, Any]:
    """The DMTRL flags that were given, as settings overrides."""
    out = {}
    for name in [s[0] for s in _DMTRL_FLAGS] + [
            "image_size", "test_size", "per_task", "ud_select",
            "ud_cv_fraction"]:
        if name not in flag_values or flag_values[name].value is None:
            continue
        value = flag_values[name].value
        if name == "fractions":
            value = tuple(float(v) for v in value)
        elif name == "ud_options":
            value = tuple(int(v) for v in value)
        out[name] = value
    return out


# DAMTL's free choices (docs/damtl.md), shared by damtl_omniglot.py and
# damtl_tables.py: how the seven methods train. Default None: the
# profile's value (amtfl_tf.experiments.damtl.common.TrainSettings).
_DAMTL_FLAGS = (
    ("epochs", "int", "Iterations (full-batch steps) of every method."),
    ("batch_size", "int", "Mini-batch size; 0: full batch (Eq. 4 sums "
                          "over all N_j samples)."),
    ("optimizer", "enum:sgd,momentum,adam",
     "Optimiser of every method (default: momentum SGD, momentum 0.9)."),
    ("learning_rate", "float", "η (paper: 0.01)."),
    ("momentum", "float", "Momentum of --optimizer=momentum (0.9)."),
    ("alpha", "float", "α_{T_j}, the task weight (paper: 0.01)."),
    ("lambda1", "float", "λ1 of Σ‖Ψ‖₁ (paper: 0.9)."),
    ("lambda2", "float", "λ2 of the CMMD alignment (paper: 0.9)."),
    ("ce_reduction", "enum:sum,mean",
     "Cross-entropy over a task's samples: summed (Eq. 4) or averaged."),
    ("l1_reduction", "enum:mean,sum",
     "‖Ψ‖₁ per mask entry (mean) or summed (Eq. 4 as printed)."),
    ("mask_granularity", "enum:weight,filter",
     "Ψ per kernel weight (Eq. 1) or per output filter (pruning "
     "neurons)."),
    ("mask_param", "enum:constraint,softplus,abs",
     "How Ψ >= 0 is kept: projection (NonNeg), softplus or abs."),
    ("mask_init_low", "float", "Ψ starts ~ U(low, high) (random, Alg. 1)."),
    ("mask_init_high", "float", "Ψ starts ~ U(low, high)."),
    ("train_conv", "enum:copy,frozen",
     "Train each task's copy W_{T_j} of W_aux (Algorithm 1) or keep W_aux "
     "fixed (Eq. 1)."),
    ("aux_fc", "enum:frozen,trained",
     "The auxiliary FC layers f_aux of Eq. (3) stay frozen (Algorithm 1) "
     "or train with the task networks."),
    ("head_init", "enum:aux,random",
     "DAMTL output layers start from the auxiliary output columns of "
     "their classes, or at random."),
    ("head_stddev", "float",
     "Std of the N(0, s²) initial output layers that are not copied."),
    ("align_layers", "enum:all,hidden,output,none",
     "FC layers aligned by CMMD (Eq. 3)."),
    ("cmmd_kernel", "enum:multi_gaussian,gaussian,linear",
     "Kernel of the CMMD."),
    ("cmmd_num_kernels", "int", "Gaussians of the multi-Gaussian kernel."),
    ("cmmd_kernel_mul", "float",
     "Bandwidth ratio between successive Gaussians (2)."),
    ("baseline_init", "enum:aux,random",
     "Baselines fine-tune the auxiliary network (aux) or start from "
     "scratch (random)."),
    ("baseline_head_init", "enum:aux,random",
     "Baselines' output layers: random (N(0, head_stddev^2)) or the "
     "auxiliary classifier's columns of each task's classes (aux, DAMTL's "
     "start: the controlled comparison)."),
    ("cross_stitch_granularity", "enum:channel,layer",
     "Cross-stitch α per channel or per layer."),
    ("cross_stitch_positions", "enum:conv,fc,all",
     "Where cross-stitch units go."),
    ("nddr_positions", "enum:conv,fc,all", "Where NDDR layers go."),
    ("nddr_momentum", "float",
     "Momentum of the NDDR batch norms' moving statistics."),
    ("nddr_batch_norm", "enum:on,off",
     "NDDR units end in batch normalisation (on, the original's) or not "
     "(off: fits a backbone without batch normalisation)."),
    ("mtal_threshold", "float", "MTAL's kernel-similarity threshold ρ."),
    ("mtal_pairs", "enum:all,across",
     "MTAL aggregates similar kernel pairs across tasks only, or also "
     "inside one network."),
    ("aux_epochs", "int", "Auxiliary pre-training epochs."),
    ("aux_learning_rate", "float", "Auxiliary pre-training Adam rate."),
)


def define_damtl_flags(flag_values) -> None:
    """Define DAMTL's training flags on ``flag_values``."""
    _define_optional_flags(flag_values, _DAMTL_FLAGS)


def damtl_overrides(flag_values) -> dict[str, Any]:
    """The DAMTL training flags that were given, as TrainSettings
    overrides."""
    out = {}
    for name, _, _ in _DAMTL_FLAGS:
        value = flag_values[name].value
        if value is None:
            continue
        if name == "mask_param":
            out["mask_parameterization"] = value
        elif name == "train_conv":
            out["train_conv"] = value == "copy"
        elif name == "nddr_batch_norm":
            out["nddr_batch_norm"] = value == "on"
        elif name == "aux_fc":
            out["train_aux_fc"] = value == "trained"
        else:
            out[name] = value
    return out


def given_flags(flag_values, names: Sequence[str]) -> dict[str, Any]:
    """The flags among ``names`` that were set (not None)."""
    return {n: flag_values[n].value for n in names
            if flag_values[n].value is not None}
