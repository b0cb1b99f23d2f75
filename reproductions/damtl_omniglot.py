"""DAMTL Tables 4-7 and Figs. 4-6 as an offline PROXY on Omniglot.

  python reproductions/damtl_omniglot.py [--setting=all|po|no]
      [--profile=quick]

An auxiliary VGG is trained on many Omniglot characters (some drawers);
pairs of 10-class tasks drawn from them (other drawers) share 3 classes
(po) or none (no); all seven methods are trained on every draw
(faithful and paper: every output layer from the auxiliary network, the
controlled comparison, and the baselines again with random heads, the
paper's setting). Writes
<workdir>/<setting>/ (default
figures/<profile>/damtl_omniglot/<setting>/). Not the
paper's datasets: their numbers are shown beside ours, never as ours.
Every choice the paper leaves open is a flag (docs/damtl.md).
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.damtl import omniglot as damtl_omniglot

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("setting", "all", ["all", *damtl_omniglot.SETTINGS],
                  "Label-set setting: po (3 shared classes), no (disjoint) "
                  "or all (both).")
flags.DEFINE_integer("draws", None, "Task-pair draws (default: profile).")
flags.DEFINE_integer("image_size", None, "Image side after resizing.")
flags.DEFINE_enum("architecture", None,
                  ["vgg_small", "vgg_tiny", "vgg11", "vgg16"],
                  "VGG variant (default: the profile's, vgg_small).")
flags.DEFINE_integer("aux_characters", None,
                     "Characters of the auxiliary big task (max 1623).")
flags.DEFINE_integer("aux_drawers", None,
                     "Drawers (of 20) the auxiliary network trains on.")
flags.DEFINE_integer("images_per_class", None,
                     "Images per class and task (from the other drawers).")
flags.DEFINE_integer("classes_per_task", None, "Classes per task (10).")
flags.DEFINE_integer("overlap", None, "Shared classes in setting po (3).")
flags.DEFINE_float("train_fraction", None, "Per-class training fraction.")
flags.DEFINE_enum("test_images", None, ["own", "free"],
                  "Test images per task: own (the rest of its own drawers) "
                  "or free (every drawer of its characters no one trained "
                  "on; faithful and paper profiles).")
cli.define_damtl_flags(FLAGS)

_PROTOCOL = ("draws", "image_size", "architecture", "aux_characters",
             "aux_drawers", "images_per_class", "classes_per_task",
             "overlap", "train_fraction", "test_images")


def main(argv):
    cfg = cli.common_config(FLAGS, "damtl_omniglot", argv)
    settings = damtl_omniglot.SETTINGS if FLAGS.setting == "all" \
        else (FLAGS.setting,)
    results = damtl_omniglot.run(
        cfg, settings, **cli.given_flags(FLAGS, _PROTOCOL),
        **cli.damtl_overrides(FLAGS))
    for setting, res in results.items():
        cli.report(cfg, res, workdir=f"{cfg.workdir}/{setting}")


if __name__ == "__main__":
    cli.run_main(main)
