"""DAMTL Tables 4-7 and Figs. 4-6 as an offline PROXY on Omniglot.

  python reproductions/damtl_omniglot.py [--setting=all|po|no]
      [--profile=quick]

An auxiliary VGG is trained on many Omniglot characters (some drawers);
pairs of 10-class tasks drawn from them (other drawers) share 3 classes
(po) or none (no); all seven methods are trained on every draw. Writes
<workdir>/<setting>/ (default figures/damtl_omniglot/<setting>/). Not the
paper's datasets: their numbers are shown beside ours, never as ours.
Every choice the paper leaves open is a flag below (docs/damtl.md).
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments import damtl_common
from amtfl_tf.experiments import damtl_omniglot

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("setting", "all", ["all", *damtl_omniglot.SETTINGS],
                  "Label-set setting: po (3 shared classes), no (disjoint) "
                  "or all (both).")
flags.DEFINE_integer("draws", None, "Task-pair draws (default: profile).")
flags.DEFINE_integer("image_size", None, "Image side after resizing.")
flags.DEFINE_enum("architecture", None,
                  ["vgg_small", "vgg_tiny", "vgg11", "vgg16"],
                  "VGG variant (default: profile; vgg_small).")
flags.DEFINE_integer("aux_characters", None,
                     "Characters of the auxiliary big task (max 1623).")
flags.DEFINE_integer("aux_drawers", None,
                     "Drawers (of 20) the auxiliary network trains on.")
flags.DEFINE_integer("images_per_class", None,
                     "Images per class and task (from the other drawers).")
flags.DEFINE_float("train_fraction", None, "Per-class training fraction.")
flags.DEFINE_integer("overlap", None, "Shared classes in setting po.")
flags.DEFINE_integer("epochs", None, "Full-batch iterations per method.")
flags.DEFINE_integer("batch_size", None, "Mini-batch size; 0: full batch.")
flags.DEFINE_enum("optimizer", None, list(damtl_common.OPTIMIZERS),
                  "Optimiser of every method (default momentum SGD).")
flags.DEFINE_float("learning_rate", None, "η (paper: 0.01).")
flags.DEFINE_float("alpha", None, "α_{T_j} (paper: 0.01).")
flags.DEFINE_float("lambda1", None, "λ1 of ‖Ψ‖₁ (paper: 0.9).")
flags.DEFINE_float("lambda2", None, "λ2 of CMMD (paper: 0.9).")
flags.DEFINE_enum("ce_reduction", None, ["sum", "mean"],
                  "Cross-entropy over a task's samples (Eq. 4: sum).")
flags.DEFINE_enum("l1_reduction", None, ["mean", "sum"],
                  "‖Ψ‖₁ per entry (mean) or summed.")
flags.DEFINE_enum("mask_granularity", None, ["weight", "filter"],
                  "Ψ per kernel weight (Eq. 1) or per output filter.")
flags.DEFINE_enum("mask_param", None, ["constraint", "softplus", "abs"],
                  "How Ψ >= 0 is kept.")
flags.DEFINE_float("mask_init_low", None, "Ψ ~ U(low, high) at start.")
flags.DEFINE_float("mask_init_high", None, "Ψ ~ U(low, high) at start.")
flags.DEFINE_enum("train_conv", None, ["copy", "frozen"],
                  "Train the per-task copy of W_aux (Algorithm 1) or not.")
flags.DEFINE_enum("head_init", None, ["aux", "random"],
                  "DAMTL output layers from the auxiliary class columns.")
flags.DEFINE_enum("align_layers", None,
                  ["all", "hidden", "output", "none"],
                  "FC layers aligned by CMMD (Eq. 3).")
flags.DEFINE_enum("cmmd_kernel", None,
                  ["multi_gaussian", "gaussian", "linear"],
                  "Kernel of CMMD.")
flags.DEFINE_enum("baseline_init", None, ["aux", "random"],
                  "Baselines fine-tune the auxiliary network or start "
                  "from scratch.")
flags.DEFINE_float("mtal_threshold", None, "MTAL's similarity threshold ρ.")
flags.DEFINE_integer("aux_epochs", None, "Auxiliary pre-training epochs.")

_OVERRIDES = ("draws", "image_size", "architecture", "aux_characters",
              "aux_drawers", "images_per_class", "train_fraction",
              "overlap", "epochs", "batch_size", "optimizer",
              "learning_rate", "alpha", "lambda1", "lambda2",
              "ce_reduction", "l1_reduction", "mask_granularity",
              "mask_init_low", "mask_init_high", "head_init",
              "align_layers", "cmmd_kernel", "baseline_init",
              "mtal_threshold", "aux_epochs")


def overrides_from_flags(fv):
    out = {n: fv[n].value for n in _OVERRIDES if fv[n].value is not None}
    if fv["mask_param"].value is not None:
        out["mask_parameterization"] = fv["mask_param"].value
    if fv["train_conv"].value is not None:
        out["train_conv"] = fv["train_conv"].value == "copy"
    return out


def main(argv):
    cfg = cli.common_config(FLAGS, "damtl_omniglot", argv)
    settings = damtl_omniglot.SETTINGS if FLAGS.setting == "all" \
        else (FLAGS.setting,)
    results = damtl_omniglot.run(cfg, settings,
                                 **overrides_from_flags(FLAGS))
    for setting, res in results.items():
        cli.report(cfg, res, workdir=f"{cfg.workdir}/{setting}")


if __name__ == "__main__":
    cli.run_main(main)
