"""DMTRL Appendix A, Table 1 (MNIST, 1% training data): classic shallow
MTL on PCA and CNN features vs the deep models, beside the paper.

  python reproductions/dmtrl_table_a1.py [--profile=quick]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.dmtrl import appendix as dmtrl_appendix

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_dmtrl_flags(FLAGS, extra=("test_size",))


def main(argv):
    cfg = cli.common_config(FLAGS, "dmtrl_table_a1", argv)
    cli.report(cfg, dmtrl_appendix.run_table_a1(
        cfg, **cli.dmtrl_overrides(FLAGS)))


if __name__ == "__main__":
    cli.run_main(main)
