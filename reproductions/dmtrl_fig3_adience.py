"""DMTRL Fig. 3 (AdienceFaces: gender + age group as two heterogeneous
tasks with the Levi & Hassner CNN): each task's test error vs training
fraction for STL, UD-MTL and DMTRL-LAF / -Tucker / -TT.

AdienceFaces cannot be downloaded automatically: put the official
fold_0_data.txt ... fold_4_data.txt and the unpacked aligned.tar.gz in
<data_dir>/adience/ (see amtfl_tf/datasets/adience.py). Without them the
script stops at once with one message.

  python reproductions/dmtrl_fig3_adience.py --data_dir=<dir> \
      [--profile=quick]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.dmtrl import fig3_adience as dmtrl_adience

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_dmtrl_flags(FLAGS, extra=("image_size", "per_task"))
flags.DEFINE_integer(
    "test_fold", None, "The official fold (0-4) that tests; the others "
    "train. Default 0: Levi & Hassner's split, whose sizes the paper "
    "quotes.")
flags.DEFINE_float(
    "holdout", None, "Fraction of the training faces left out, as Levi & "
    "Hassner's validation set. Default: the profile's (0.1).")
flags.DEFINE_enum(
    "age_mapping", None, ["levi_hassner", "nearest"],
    "Age labels: only the 8 group strings (levi_hassner, default) or every "
    "numeric age to its nearest group (nearest).")
_OWN = ("test_fold", "holdout", "age_mapping")


def main(argv):
    cfg = cli.common_config(FLAGS, "dmtrl_fig3_adience", argv)
    overrides = cli.dmtrl_overrides(FLAGS)
    overrides.update({n: FLAGS[n].value for n in _OWN
                      if FLAGS[n].value is not None})
    cli.report(cfg, dmtrl_adience.run(cfg, **overrides))


if __name__ == "__main__":
    cli.run_main(main)
