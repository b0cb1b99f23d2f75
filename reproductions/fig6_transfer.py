"""Deep-AMTFL Fig. 6 (MNIST-Imbalanced): per-task accuracy change over the
CNN and the inter-task transfer |A W| of Deep-AMTFL.

  python reproductions/fig6_transfer.py [--profile=quick]

Reuses the Table 2 runs in --source_workdir (default figures/<profile>/table2),
training them first if they are missing.
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import fig6_transfer

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_string("source_workdir", None,
                    "Run folder of table2.py (default "
                    "figures/<profile>/table2).")


def main(argv):
    cfg = cli.common_config(FLAGS, "fig6_transfer", argv)
    source = FLAGS.source_workdir or cli.default_workdir(
        "table2", FLAGS.profile)
    cli.report(cfg, fig6_transfer.run(cfg, source))


if __name__ == "__main__":
    cli.run_main(main)
