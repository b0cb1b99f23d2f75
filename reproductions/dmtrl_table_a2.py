"""DMTRL Appendix B, Table 2 (MNIST, 1% training data): parameter counts
and errors of STL, DMTRL-LAF/Tucker/TT, UD-MTL and UD-MTL-Large.

  python reproductions/dmtrl_table_a2.py [--profile=quick]

Reuses the Appendix A runs in --source_workdir (default
figures/<profile>/dmtrl_table_a1), training them first if they are missing.
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.dmtrl import appendix as dmtrl_appendix

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_dmtrl_flags(FLAGS, extra=("test_size",))
flags.DEFINE_string("source_workdir", None,
                    "Run folder of dmtrl_table_a1.py (default "
                    "figures/<profile>/dmtrl_table_a1).")


def main(argv):
    cfg = cli.common_config(FLAGS, "dmtrl_table_a2", argv)
    source = FLAGS.source_workdir or cli.default_workdir(
        "dmtrl_table_a1", FLAGS.profile)
    cli.report(cfg, dmtrl_appendix.run_table_a2(
        cfg, source, **cli.dmtrl_overrides(FLAGS)))


if __name__ == "__main__":
    cli.run_main(main)
