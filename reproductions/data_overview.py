"""Load every offline dataset, compare its size with the papers' and draw a
sample sheet per dataset.

  python reproductions/data_overview.py [--data_dir=...] [--workdir=...]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments import data_overview

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)


def main(argv):
    cfg = cli.common_config(FLAGS, "data_overview", argv)
    cli.report(cfg, data_overview.run(cfg))


if __name__ == "__main__":
    cli.run_main(main)
