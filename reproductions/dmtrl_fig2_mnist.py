"""DMTRL Fig. 2 (MNIST, ten one-vs-all tasks): binary and multi-class
error vs training fraction for STL, UD-MTL and DMTRL-LAF/Tucker/TT.

  python reproductions/dmtrl_fig2_mnist.py [--profile=quick]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.dmtrl import mnist as dmtrl_mnist

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_dmtrl_flags(FLAGS, extra=("test_size", "ud_select",
                                      "ud_cv_fraction"))


def main(argv):
    cfg = cli.common_config(FLAGS, "dmtrl_fig2_mnist", argv)
    cli.report(cfg, dmtrl_mnist.run_fig2(cfg, **cli.dmtrl_overrides(FLAGS)))


if __name__ == "__main__":
    cli.run_main(main)
